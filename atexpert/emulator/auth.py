"""Request authentication: app bearer, OAuth 2.0 user tokens, OAuth 1.0a (RFC 5849).

OAuth 1.0a signatures are verified for real (HMAC-SHA1). Clients such as tweepy sign
the URL they believe they call (``https://api.twitter.com/...``) even when their
transport sends the request here, so the signature is accepted when it matches the
URL as received or the same path on ``api.twitter.com`` / ``api.x.com``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

from starlette.requests import Request

from atexpert.emulator.problems import XError, unauthorized, unsupported_auth
from atexpert.emulator.state import State

SIGNED_HOSTS = ("https://api.twitter.com", "https://api.x.com")
_TIMESTAMP_SKEW = 300


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "app", "oauth1" or "oauth2"
    user_id: str | None
    scopes: tuple[str, ...] = ()

    @property
    def rate_key(self) -> str:
        return self.user_id or "app"


def _enc(value: str) -> str:
    return quote(value, safe="~")


def parse_oauth_header(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in value.split(","):
        key, sep, raw = part.strip().partition("=")
        if sep and raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            params[unquote(key)] = unquote(raw[1:-1])
    return params


def base_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    """RFC 5849 section 3.4.1 signature base string."""
    pairs = sorted((_enc(k), _enc(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join((method.upper(), _enc(url), _enc(normalized)))


def hmac_sha1(base: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{_enc(consumer_secret)}&{_enc(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base.encode(), hashlib.sha1).digest()).decode()


def _received_url(request: Request) -> str:
    url = request.url
    scheme = url.scheme.lower()
    host = (url.hostname or "").lower()
    port = url.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{url.path}"


class NonceCache:
    """Remembers (consumer, token, nonce, timestamp) for the skew window to refuse replays."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str, str], float] = {}

    def fresh(self, key: tuple[str, str, str, str], now: float) -> bool:
        if len(self._seen) > 50_000:
            self._seen = {k: t for k, t in self._seen.items() if t > now - 2 * _TIMESTAMP_SKEW}
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


async def verify_oauth1(
    request: Request, state: State, nonces: NonceCache, header: str
) -> Principal:
    oauth = parse_oauth_header(header[len("OAuth ") :])
    signature = oauth.pop("oauth_signature", "")
    if (
        oauth.get("oauth_signature_method") != "HMAC-SHA1"
        or oauth.get("oauth_consumer_key") != state.app.consumer_key
    ):
        raise unauthorized()
    token = oauth.get("oauth_token", "")
    entry = state.oauth1.get(token)
    if entry is None or entry[0] not in state.accounts:
        raise unauthorized()
    user_id, token_secret = entry
    try:
        ts = int(oauth.get("oauth_timestamp", ""))
    except ValueError:
        raise unauthorized() from None
    if abs(time.time() - ts) > _TIMESTAMP_SKEW:
        raise unauthorized()
    params = list(oauth.items()) + parse_qsl(request.url.query, keep_blank_values=True)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params += parse_qsl(
            (await request.body()).decode("utf-8", "replace"), keep_blank_values=True
        )
    path = request.url.path
    for url in (_received_url(request), *(host + path for host in SIGNED_HOSTS)):
        expected = hmac_sha1(
            base_string(request.method, url, params), state.app.consumer_secret, token_secret
        )
        if hmac.compare_digest(expected, signature):
            key = (state.app.consumer_key, token, oauth.get("oauth_nonce", ""), str(ts))
            if not nonces.fresh(key, time.time()):
                raise unauthorized()
            return Principal("oauth1", user_id)
    raise unauthorized()


async def authenticate(request: Request, state: State, nonces: NonceCache) -> Principal:
    """Who is calling; 401 problem when nobody valid is."""
    try:
        return await _authenticate(request, state, nonces)
    except XError:
        state.auth_counts["unauthorized"] += 1
        raise


async def _authenticate(request: Request, state: State, nonces: NonceCache) -> Principal:
    header = request.headers.get("authorization", "")
    if header.startswith("OAuth "):
        return await verify_oauth1(request, state, nonces, header)
    if header[:7].lower() == "bearer ":
        token = header[7:].strip()
        if token and hmac.compare_digest(token, state.app.bearer_token):
            return Principal("app", None)
        grant = state.oauth2.get(token)
        if grant is not None and grant.user_id in state.accounts:
            if grant.expires_at > state.clock.now():
                return Principal("oauth2", grant.user_id, grant.scopes)
            state.auth_counts["expired_refused"] += 1  # X: the same 401 as any bad token
    raise unauthorized()


_NAMES = {
    "app": "OAuth 2.0 Application-Only",
    "oauth1": "OAuth 1.0a User Context",
    "oauth2": "OAuth 2.0 User Context",
}


def require(principal: Principal, allowed: tuple[str, ...]) -> None:
    """403 Unsupported Authentication when ``principal.kind`` is not allowed here."""
    if principal.kind in allowed:
        return
    supported = ", ".join(_NAMES[k] for k in allowed)
    raise unsupported_auth(
        f"Authenticating with {_NAMES[principal.kind]} is forbidden for this endpoint.  "
        f"Supported authentication types are [{supported}]."
    )


def require_scope(principal: Principal, scope: str) -> None:
    if principal.kind == "oauth2" and scope not in principal.scopes:
        raise XError(
            403,
            {
                "title": "Forbidden",
                "type": "about:blank",
                "status": 403,
                "detail": f"Missing OAuth 2.0 scope {scope}.",
            },
        )
