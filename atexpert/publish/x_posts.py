"""The publisher's edge to X: post one reply, read the host's own timeline.

:class:`Poster` is what the publisher needs; :class:`TweepyPoster` implements it with the
async tweepy client of :mod:`atexpert.x.client`. Every outcome of a post is one of:

- a :class:`Posted` (with the daily limits X reported, and its rate-limit headers);
- :class:`RateLimited`: 429, nothing was posted; retry after ``reset_at`` (None: now);
- :class:`Refused`: X said no (400/401/402/403/404) with its reason; nothing was posted
  (except a 403 "duplicate content", which the publisher reconciles);
- :class:`Ambiguous`: no verdict (timeout, connection dropped after sending, 5xx): the post
  may exist, so the publisher reconciles against the timeline before posting again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import aiohttp
import tweepy
from tweepy.asynchronous import AsyncClient

DUPLICATE = "duplicate content"
_URL = re.compile(r"https?://\S+")
_LIMIT_HEADERS = ("x-rate-limit-", "x-user-limit-", "x-app-limit-")
T = TypeVar("T")

#: The brand's current OAuth 2.0 access token; given the token X just refused (401), a fresh
#: one (:meth:`atexpert.x.accounts.XAccountStore.session_token`).
TokenSource = Callable[[str | None], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class DailyLimit:
    """X's ``x-user-limit-24hour-*`` headers: posts left today and when the day resets."""

    remaining: int
    reset_at: datetime


@dataclass(frozen=True, slots=True)
class Posted:
    tweet_id: str
    daily: DailyLimit | None = None
    #: X's ``x-rate-limit-*``, ``x-user-limit-*`` and ``x-app-limit-*`` headers (lower case).
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OwnPost:
    """A post of the host's timeline, as reconciliation needs it."""

    tweet_id: str
    text: str
    reply_to: str | None


class PostError(Exception):
    """Base of the failures of one post."""


class RateLimited(PostError):
    def __init__(
        self,
        reset_at: datetime | None,
        daily: DailyLimit | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        until = "" if reset_at is None else f" until {reset_at:%H:%M:%S} UTC"
        super().__init__(f"rate limited by X{until}")
        self.reset_at = reset_at
        self.daily = daily
        self.headers: Mapping[str, str] = headers or {}


class Refused(PostError):
    """X refused the post; ``reason`` is X's own words (the problem's detail)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"X refused the post ({status}): {reason}")
        self.status = status
        self.reason = reason

    @property
    def duplicate(self) -> bool:
        return self.status == 403 and DUPLICATE in self.reason


class Ambiguous(PostError):
    """No verdict from X: the post may or may not exist."""


class Poster(Protocol):
    async def post(self, text: str, reply_to: str | None) -> Posted: ...

    async def own_posts(self, since_id: str | None) -> list[OwnPost]:
        """The host's posts newer than ``since_id`` (the latest ones when None), newest first."""
        ...


def same_text(ours: str, theirs: str) -> bool:
    """Texts equal up to URL rewriting (X shows links as t.co) and surrounding whitespace."""
    return _URL.sub("<url>", ours).strip() == _URL.sub("<url>", theirs).strip()


def _headers(response: Any) -> Any:
    return getattr(response, "headers", None) or {}


def limit_headers(headers: Any) -> dict[str, str]:
    """The rate-limit headers of an X answer, names in lower case."""
    return {
        str(k).lower(): str(v)
        for k, v in headers.items()
        if str(k).lower().startswith(_LIMIT_HEADERS)
    }


def daily_limit(headers: Any) -> DailyLimit | None:
    remaining = headers.get("x-user-limit-24hour-remaining")
    reset = headers.get("x-user-limit-24hour-reset")
    if remaining is None or reset is None or not remaining.isdigit() or not reset.isdigit():
        return None
    return DailyLimit(int(remaining), datetime.fromtimestamp(int(reset), UTC))


def _reset_at(headers: Any) -> datetime | None:
    reset = str(headers.get("x-rate-limit-reset", ""))
    return datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else None


def reason_of(exc: tweepy.HTTPException) -> str:
    """X's explanation: its error messages, else the problem's detail or title."""
    if exc.api_messages:
        return "; ".join(str(m) for m in exc.api_messages)
    return str(exc)


class TweepyPoster:
    """:class:`Poster` over an ``AsyncClient`` acting as the host account.

    ``host_user_id``: the account's id (read with ``GET /2/users/me`` when not given).
    ``token``: where the OAuth 2.0 user token comes from, asked before every call (it
    refreshes the token before it expires, however long the poster runs); after a 401 the
    call is made once more with the token it then gives (a 401 posted nothing). Without it
    the client's own credentials are used as they are.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        user_auth: bool,
        host_user_id: str | None = None,
        token: TokenSource | None = None,
    ) -> None:
        self.client = client
        self.user_auth = user_auth
        self.host_user_id = host_user_id
        self.token = token

    async def _authorized(self, call: Callable[[], Awaitable[T]]) -> T:
        if self.token is None:
            return await call()
        used = self.client.bearer_token = await self.token(None)
        try:
            return await call()
        except tweepy.Unauthorized:
            self.client.bearer_token = await self.token(used)
            return await call()

    async def post(self, text: str, reply_to: str | None) -> Posted:
        try:
            body: dict[str, Any] = {"text": text}
            if reply_to is not None:
                body["reply"] = {"in_reply_to_tweet_id": reply_to}
            # tweepy's request() (not create_tweet) returns the response: we need its headers.
            response = await self._authorized(
                lambda: self.client.request(
                    "POST", "/2/tweets", json=body, user_auth=self.user_auth
                )
            )
            data = await response.json(content_type=None)
        except ValueError as exc:
            raise Ambiguous(f"X accepted the post but its answer is not JSON: {exc}") from exc
        except tweepy.TooManyRequests as exc:
            headers = _headers(exc.response)
            raise RateLimited(
                _reset_at(headers), daily_limit(headers), limit_headers(headers)
            ) from exc
        except tweepy.TwitterServerError as exc:
            raise Ambiguous(f"X answered {exc}") from exc
        except tweepy.HTTPException as exc:
            status = getattr(exc.response, "status", 0) or 0
            raise Refused(int(status), reason_of(exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise Ambiguous(f"cannot reach X: {exc}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Ambiguous(f"no answer from X: {exc!r}") from exc
        try:
            headers = response.headers
            return Posted(str(data["data"]["id"]), daily_limit(headers), limit_headers(headers))
        except (KeyError, TypeError) as exc:
            raise Ambiguous(f"X accepted the post but its answer has no id: {data!r:.200}") from exc

    async def own_posts(self, since_id: str | None) -> list[OwnPost]:
        try:
            user_id = await self._user_id()
            response = await self._authorized(
                lambda: self.client.get_users_tweets(
                    user_id,
                    since_id=since_id,
                    max_results=100,
                    tweet_fields=["referenced_tweets"],
                    user_auth=self.user_auth,
                )
            )
        except tweepy.TooManyRequests as exc:
            raise RateLimited(_reset_at(_headers(exc.response)), None) from exc
        except (tweepy.TweepyException, aiohttp.ClientError, TimeoutError) as exc:
            raise Ambiguous(f"cannot read the host's timeline: {exc!r}") from exc
        out: list[OwnPost] = []
        for tweet in response.data or []:
            refs = tweet.referenced_tweets or []
            reply_to = next((str(r.id) for r in refs if r.type == "replied_to"), None)
            out.append(OwnPost(str(tweet.id), str(tweet.text), reply_to))
        return out

    async def _user_id(self) -> str:
        if self.host_user_id is None:
            me = await self._authorized(lambda: self.client.get_me(user_auth=self.user_auth))
            self.host_user_id = str(me.data.id)
        return self.host_user_id
