"""tweepy clients pointed at a configurable X API base URL.

tweepy 4.17 hardcodes ``https://api.twitter.com`` in every request it builds. We never
patch tweepy; instead we hand it an HTTP session that *routes* requests for that origin
to ``Settings.x_api_base_url`` (X itself, the bundled emulator, or any compatible server):

- async (what the app uses): ``tweepy.asynchronous.AsyncClient`` and
  ``AsyncStreamingClient`` take an ``aiohttp.ClientSession`` through their public
  ``session`` attribute. Ours carries an aiohttp client middleware (aiohttp >= 3.12)
  that rewrites the request URL and ``Host`` header just before the connection is
  opened. ``AsyncStreamingClient`` closes its session when a stream ends and would
  then create a plain one talking to the real X: :class:`StreamingClient` installs a
  fresh routed session before every request and every ``filter()``/``sample()``.
- sync (scripts, benchmarks): ``tweepy.Client`` / ``tweepy.StreamingClient`` own a
  ``requests.Session``; we mount a transport adapter on ``https://api.twitter.com/``
  that rewrites the URL in ``send()``.

Why async for the app: intake (stream, search polling) and publishing run in the
app's event loop; the async client needs no thread pool and cancels cleanly.

OAuth 1.0a: tweepy signs the URL it believes it calls (``https://api.twitter.com`` +
path + query); routing happens after signing and re-signs nothing. A server behind a
routed base URL therefore verifies signatures against ``X_ORIGIN`` + path, exactly as
X verifies them against its own public URL.

OAuth 2.0 user tokens travel as the client's bearer token; tweepy defaults
``create_tweet``/``delete_tweet``/``get_me`` to OAuth 1.0a, so callers pass
``user_auth=uses_oauth1(client)``. They are obtained with the authorization code flow
with PKCE (:func:`authorization_request`, :func:`exchange_code`) and expire after two
hours (:func:`refresh_user_token`). Those three calls do not go through tweepy's
``OAuth2UserHandler``: it keeps the PKCE verifier in process memory (the app keeps it
in the user's session instead) and refuses ``http://`` callbacks (the local demo's).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import requests
import tweepy
from aiohttp import hdrs
from requests.adapters import HTTPAdapter
from tweepy.asynchronous import AsyncClient, AsyncStreamingClient
from yarl import URL

from atexpert.settings import Settings

X_ORIGIN = "https://api.twitter.com"
"""The origin tweepy hardcodes; requests for it are routed to the configured base URL."""

X_AUTHORIZE_URL = "https://x.com/i/oauth2/authorize"
"""Where X asks a user to authorize the app; a routed base URL serves it at the same path."""

USER_SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access")
"""What atexpert asks of a brand account: read, post answers, refresh without the user."""

STREAM_STALL_TIMEOUT = 21.0
"""Seconds without a byte (X sends a heartbeat at least every 20 s) before reconnecting."""


@dataclass(frozen=True, slots=True)
class OAuth1Token:
    """An OAuth 1.0a user access token; tweepy reads the user id from its ``<id>-`` prefix."""

    token: str
    secret: str


def normalize_base_url(base_url: str) -> URL:
    """Validate a base URL (``http(s)://host[:port][/prefix]``)."""
    url = URL(base_url.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"X API base URL must be an absolute http(s) URL, got {base_url!r}")
    if url.raw_query_string or url.raw_fragment:
        raise ValueError(f"X API base URL must not carry a query or fragment: {base_url!r}")
    return url


def route_url(url: URL, base: URL) -> URL:
    """Map ``https://api.twitter.com/<path>?<query>`` onto ``base``; other URLs are kept.

    The path and query are carried over byte for byte (still percent-encoded), so a
    server sees exactly what tweepy signed.
    """
    if url.scheme != "https" or url.host != "api.twitter.com" or url.port != 443:
        return url
    return URL.build(
        scheme=base.scheme,
        host=base.raw_host or "",
        port=base.explicit_port,
        path=base.raw_path.rstrip("/") + url.raw_path,
        query_string=url.raw_query_string,
        encoded=True,
    )


def _is_routed(base: URL) -> bool:
    """Whether ``base`` is somewhere else than X's own origin."""
    return route_url(URL(X_ORIGIN + "/2"), base) != URL(X_ORIGIN + "/2")


# -- sync (requests) ---------------------------------------------------------------


class RoutingAdapter(HTTPAdapter):
    """A requests transport adapter sending ``https://api.twitter.com`` traffic to ``base``."""

    def __init__(self, base: URL) -> None:
        super().__init__()
        self.base = base

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        request.url = str(route_url(URL(request.url or "", encoded=True), self.base))
        return super().send(request, **kwargs)


def route_requests_session(session: requests.Session, base_url: str) -> requests.Session:
    """Mount the routing adapter on ``session`` (a no-op when the base URL is X itself)."""
    base = normalize_base_url(base_url)
    if _is_routed(base):
        session.mount(X_ORIGIN + "/", RoutingAdapter(base))
    return session


def _bearer(settings: Settings) -> str | None:
    return settings.x_bearer_token.get_secret_value() if settings.x_bearer_token else None


def _consumer(settings: Settings) -> tuple[str | None, str | None]:
    key = settings.x_consumer_key.get_secret_value() if settings.x_consumer_key else None
    secret = settings.x_consumer_secret.get_secret_value() if settings.x_consumer_secret else None
    return key, secret


def _client_kwargs(
    settings: Settings, user_access_token: str | None, oauth1: OAuth1Token | None
) -> dict[str, Any]:
    if user_access_token is not None and oauth1 is not None:
        raise ValueError("pass either an OAuth 2.0 user access token or an OAuth 1.0a token")
    key, secret = _consumer(settings)
    return {
        "bearer_token": user_access_token or _bearer(settings),
        "consumer_key": key,
        "consumer_secret": secret,
        "access_token": oauth1.token if oauth1 else None,
        "access_token_secret": oauth1.secret if oauth1 else None,
    }


def make_client(
    settings: Settings,
    *,
    user_access_token: str | None = None,
    oauth1: OAuth1Token | None = None,
    wait_on_rate_limit: bool = False,
) -> tweepy.Client:
    """A sync ``tweepy.Client`` talking to ``settings.x_api_base_url``.

    Without a user credential it authenticates as the app (bearer token); with
    ``user_access_token`` (OAuth 2.0 PKCE) that token replaces the bearer; with
    ``oauth1`` it signs user-context calls with the app's consumer key/secret.
    """
    client = tweepy.Client(
        **_client_kwargs(settings, user_access_token, oauth1),
        wait_on_rate_limit=wait_on_rate_limit,
    )
    route_requests_session(client.session, settings.x_api_base_url)
    return client


def _app_bearer(settings: Settings, bearer_token: str | None) -> str:
    bearer = bearer_token or _bearer(settings)
    if bearer is None:
        raise ValueError("the filtered stream needs the app bearer token (x_bearer_token)")
    return bearer


def make_sync_streaming_client(
    settings: Settings,
    *,
    bearer_token: str | None = None,
    cls: type[tweepy.StreamingClient] = tweepy.StreamingClient,
    **kwargs: Any,
) -> tweepy.StreamingClient:
    """A sync ``tweepy.StreamingClient`` (or subclass ``cls``) for the configured base URL.

    ``kwargs`` go to tweepy (``max_retries``, ``wait_on_rate_limit``, ...).
    """
    stream = cls(_app_bearer(settings, bearer_token), **kwargs)
    route_requests_session(stream.session, settings.x_api_base_url)
    return stream


def uses_oauth1(client: tweepy.Client | AsyncClient) -> bool:
    """The ``user_auth`` value for user-context calls of ``client``.

    True when the client holds an OAuth 1.0a access token; False when its bearer is an
    OAuth 2.0 user access token (tweepy would otherwise try OAuth 1.0a and fail).
    """
    return client.access_token is not None


# -- async (aiohttp) ---------------------------------------------------------------


def _routing_middleware(base: URL) -> aiohttp.ClientMiddlewareType:
    async def route(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        routed = route_url(request.url, base)
        if routed is not request.url:
            request.url = routed
            request.headers[hdrs.HOST] = routed.host_port_subcomponent or ""
        return await handler(request)

    return route


def routed_session(
    base_url: str, *, timeout: aiohttp.ClientTimeout | None = None
) -> aiohttp.ClientSession:
    """An ``aiohttp.ClientSession`` that sends ``https://api.twitter.com`` to ``base_url``.

    Must be created inside a running event loop; the caller closes it.
    """
    base = normalize_base_url(base_url)
    middlewares = (_routing_middleware(base),) if _is_routed(base) else ()
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(enable_cleanup_closed=True),
        timeout=timeout or aiohttp.ClientTimeout(total=60),
        middlewares=middlewares,
    )


@asynccontextmanager
async def async_client(
    settings: Settings,
    *,
    user_access_token: str | None = None,
    oauth1: OAuth1Token | None = None,
    wait_on_rate_limit: bool = False,
    request_timeout: float = 60.0,
) -> AsyncIterator[AsyncClient]:
    """An ``AsyncClient`` (see :func:`make_client` for auth) with a routed session.

    The session is shared by all calls of the client and closed on exit. A request
    taking longer than ``request_timeout`` seconds raises ``TimeoutError`` (a post may
    then have been applied or not).
    """
    client = AsyncClient(
        **_client_kwargs(settings, user_access_token, oauth1),
        wait_on_rate_limit=wait_on_rate_limit,
    )
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    client.session = routed_session(settings.x_api_base_url, timeout=timeout)
    try:
        yield client
    finally:
        await client.session.close()


class StreamingClient(AsyncStreamingClient):  # type: ignore[misc]
    """``AsyncStreamingClient`` for the filtered stream at ``base_url``.

    Subclass it and override tweepy's ``on_*`` coroutines. Rule calls and every
    ``filter()``/``sample()`` get a live routed session (tweepy closes the session
    when a stream ends); tweepy's own reconnect loop reuses it while running.
    """

    session: aiohttp.ClientSession | None

    def __init__(
        self,
        bearer_token: str,
        *,
        base_url: str = X_ORIGIN,
        stall_timeout: float = STREAM_STALL_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(bearer_token, **kwargs)
        self.base_url = str(normalize_base_url(base_url))
        self.stall_timeout = stall_timeout

    def _ensure_session(self) -> None:
        if self.session is None or self.session.closed:
            self.session = routed_session(
                self.base_url,
                timeout=aiohttp.ClientTimeout(total=None, sock_read=self.stall_timeout),
            )

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        self._ensure_session()
        return await super().request(*args, **kwargs)

    def filter(self, **params: Any) -> Any:
        self._ensure_session()
        return super().filter(**params)

    def sample(self, **params: Any) -> Any:
        self._ensure_session()
        return super().sample(**params)

    async def close(self) -> None:
        """Stop the stream (if running) and close the session."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.session is not None and not self.session.closed:
            await self.session.close()


def make_streaming_client(
    settings: Settings,
    *,
    bearer_token: str | None = None,
    cls: type[StreamingClient] = StreamingClient,
    **kwargs: Any,
) -> StreamingClient:
    """A :class:`StreamingClient` (or subclass ``cls``) for the app bearer of ``settings``."""
    return cls(_app_bearer(settings, bearer_token), base_url=settings.x_api_base_url, **kwargs)


# -- OAuth 2.0 authorization code flow with PKCE -----------------------------------


class XAuthError(Exception):
    """The token endpoint refused a code or refresh token (or the app is not configured)."""

    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(f"{status} {error}: {description}" if description else error)
        self.status = status
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Send the user to ``url``; keep ``state`` and ``code_verifier`` for the callback."""

    url: str
    state: str
    code_verifier: str


@dataclass(frozen=True, slots=True)
class OAuth2Tokens:
    access_token: str
    refresh_token: str | None
    #: The access token's lifetime in seconds, as X gave it.
    expires_in: float
    scopes: tuple[str, ...]


def _client_id(settings: Settings) -> str:
    if not settings.x_client_id:
        raise XAuthError(0, "not_configured", "x_client_id is not set")
    return settings.x_client_id


def authorization_request(
    settings: Settings, *, redirect_uri: str, scopes: tuple[str, ...] = USER_SCOPES
) -> AuthorizationRequest:
    """A fresh authorize URL with its ``state`` and S256 PKCE verifier."""
    verifier = secrets.token_urlsafe(96)[:128]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(24)
    base = normalize_base_url(settings.x_api_base_url)
    page = str(route_url(URL(X_ORIGIN + "/i/oauth2/authorize"), base))
    query = urlencode(
        {
            "response_type": "code",
            "client_id": _client_id(settings),
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
    )
    url = (page if _is_routed(base) else X_AUTHORIZE_URL) + "?" + query
    return AuthorizationRequest(url, state, verifier)


async def _token_call(settings: Settings, form: dict[str, str]) -> OAuth2Tokens:
    client_id = _client_id(settings)
    headers = {}
    if settings.x_client_secret is not None:  # confidential client: HTTP Basic
        secret = settings.x_client_secret.get_secret_value()
        headers["Authorization"] = aiohttp.encode_basic_auth(client_id, secret)
    else:
        form = {**form, "client_id": client_id}
    async with (
        routed_session(settings.x_api_base_url) as session,
        session.post(X_ORIGIN + "/2/oauth2/token", data=form, headers=headers) as response,
    ):
        body = await response.json(content_type=None)
    if response.status != 200 or not isinstance(body, dict) or "access_token" not in body:
        error = body if isinstance(body, dict) else {}
        raise XAuthError(
            response.status,
            str(error.get("error", "invalid_response")),
            str(error.get("error_description", "")),
        )
    return OAuth2Tokens(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token"),
        expires_in=float(body.get("expires_in", 7200)),
        scopes=tuple(str(body.get("scope", "")).split()),
    )


async def exchange_code(
    settings: Settings, *, code: str, code_verifier: str, redirect_uri: str
) -> OAuth2Tokens:
    """Trade the callback's ``code`` (after checking its ``state``) for user tokens."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": code_verifier,
        "redirect_uri": redirect_uri,
    }
    return await _token_call(settings, form)


async def refresh_user_token(settings: Settings, refresh_token: str) -> OAuth2Tokens:
    """New tokens from a refresh token; X rotates it, so store the returned one."""
    return await _token_call(
        settings, {"grant_type": "refresh_token", "refresh_token": refresh_token}
    )
