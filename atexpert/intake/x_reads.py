"""Intake's reads from X through tweepy: one page at a time, metered, errors classified.

tweepy's ``AsyncClient`` is switched to ``return_type=aiohttp.ClientResponse`` so that we
see X's headers (rate limits) and parse the body ourselves, leniently: an answer X sends
that is not JSON becomes an :class:`XFailure` to retry, never an exception that stops
intake. Backoff follows X's guidance: exponential for 5xx and network errors, until
``x-rate-limit-reset`` for a 429 (a minute when X gives no reset). Between polls,
:class:`RateGate` spreads the requests X still allows over what is left of the window.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import tweepy
from tweepy.asynchronous import AsyncClient

from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.costs import CallKind
from atexpert.intake.posts import (
    EXPANSIONS,
    TWEET_FIELDS,
    USER_FIELDS,
    Page,
    is_id,
    like_count,
    read_page,
)
from atexpert.x.meter import Meter

log = logging.getLogger(__name__)

#: Seconds to wait after a 429 that does not say when the window resets.
RATE_LIMIT_WAIT = 60.0


class XFailure(Exception):
    """A read from X failed; ``retry_at`` (unix time) is set for a 429 with its reset."""

    def __init__(self, message: str, *, status: int | None = None, retry_at: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_at = retry_at

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between failed reads: ``base * 2**n`` up to ``cap``; 429 waits for the reset."""

    base: float = 5.0
    cap: float = 320.0
    margin: float = 1.0

    def delay(self, failure: XFailure, attempt: int, now: float) -> float:
        if failure.retry_at is not None:
            return max(failure.retry_at - now, 0.0) + self.margin
        if failure.rate_limited:
            return RATE_LIMIT_WAIT + self.margin
        return float(min(self.base * 2 ** min(attempt, 30), self.cap))


#: X's published per-app limits of the polled endpoints, in requests per 15-minute
#: window (docs.x.com "Rate limits"; see docs/intake.md): the pace until X's own
#: ``x-rate-limit-*`` headers say how much of the window is left.
APP_LIMITS = {"user_mentions": 450, "search_recent": 450}
WINDOW_SECONDS = 900.0
#: Seconds after ``x-rate-limit-reset`` (whole seconds, X's clock) before calling again.
RESET_MARGIN = 1.0


class RateGate:
    """When each endpoint may be called again, from X's ``x-rate-limit-*`` headers.

    An endpoint whose window is used up (``x-rate-limit-remaining: 0``) is not called
    before ``x-rate-limit-reset``: no 429 needed. Pollers reserve their next call with
    :meth:`slot`, which spreads the requests left over the rest of the window, so the
    pollers of one process share an endpoint's limit and never run it out early.
    """

    def __init__(self) -> None:
        self.until: dict[str, float] = {}
        self.seen: dict[str, tuple[int, float]] = {}  # endpoint -> (remaining, reset)
        self.next_at: dict[str, float] = {}

    def note(self, endpoint: str, headers: Mapping[str, str]) -> None:
        reset = headers.get("x-rate-limit-reset", "")
        remaining = headers.get("x-rate-limit-remaining", "")
        if remaining.isdigit() and reset.isdigit():
            self.seen[endpoint] = (int(remaining), float(reset))
        if remaining == "0" and reset.isdigit():
            self.until[endpoint] = float(reset)
        else:
            self.until.pop(endpoint, None)

    def check(self, endpoint: str, now: float) -> None:
        until = self.until.get(endpoint)
        if until is not None and until > now:
            raise XFailure(
                f"{endpoint}: rate limit used up until its reset", status=429, retry_at=until
            )

    def spacing(self, endpoint: str, now: float) -> float:
        """Seconds between two calls that make the requests left last until the reset."""
        remaining, reset = self.seen.get(endpoint, (0, 0.0))
        if remaining > 0 and reset > now:
            return (reset - now) / remaining
        return WINDOW_SECONDS / APP_LIMITS.get(endpoint, 1)

    def slot(self, endpoint: str, earliest: float) -> float:
        """Reserve the next call to ``endpoint`` at ``earliest`` or later: its unix time."""
        reopens = self.until.get(endpoint, -RESET_MARGIN) + RESET_MARGIN
        at = max(earliest, self.next_at.get(endpoint, 0.0), reopens)
        self.next_at[endpoint] = at + self.spacing(endpoint, at)
        return at


async def call_x(
    meter: Meter | None, endpoint: str, request: Any, gate: RateGate | None = None
) -> Any:
    """Await a tweepy request made with ``return_type=ClientResponse``; its JSON body.

    Every failure (HTTP error, network, timeout, a body that is not JSON) becomes an
    :class:`XFailure`. Rate-limit headers go to the meter and the gate.
    """
    try:
        response: aiohttp.ClientResponse = await request
    except tweepy.TooManyRequests as exc:
        reset = exc.response.headers.get("x-rate-limit-reset", "")
        retry_at = float(reset) if reset.isdigit() else None
        raise XFailure(
            f"{endpoint}: 429 Too Many Requests", status=429, retry_at=retry_at
        ) from None
    except tweepy.HTTPException as exc:
        status = exc.response.status if hasattr(exc.response, "status") else None
        message = "; ".join(exc.api_messages)[:300]
        raise XFailure(f"{endpoint}: {status} {message}", status=status) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise XFailure(f"{endpoint}: network error {type(exc).__name__}: {exc}") from None
    except ValueError as exc:  # an error answer whose body is not JSON
        raise XFailure(f"{endpoint}: unreadable error answer: {exc}") from None
    if gate is not None:
        gate.note(endpoint, response.headers)
    if meter is not None:
        await meter.note_limits(endpoint, response.headers)
    body = await response.text(encoding="utf-8", errors="replace")  # read() refuses: released
    try:
        return json.loads(body)
    except ValueError:
        raise XFailure(f"{endpoint}: answer is not JSON: {body[:200]!r}") from None


class XReader:
    """The X reads intake makes, with the app bearer (mentions and search need no user)."""

    def __init__(
        self, client: AsyncClient, meter: Meter | None = None, *, clock: Clock | None = None
    ) -> None:
        client.return_type = aiohttp.ClientResponse
        self.client = client
        self.meter = meter
        self.clock = clock or SystemClock()
        self.gate = RateGate()
        self._user_ids: dict[str, str] = {}

    async def user_id(self, handle: str) -> str:
        """The X user id of ``handle`` (looked up once)."""
        key = handle.casefold()
        if key not in self._user_ids:
            body = await call_x(self.meter, "user_lookup", self.client.get_user(username=handle))
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, dict) or not isinstance(data.get("id"), str):
                raise XFailure(f"user_lookup: no X account @{handle}: {str(body)[:200]}")
            self._user_ids[key] = data["id"]
        return self._user_ids[key]

    def _view(self) -> dict[str, Any]:
        return {
            "tweet_fields": list(TWEET_FIELDS),
            "expansions": list(EXPANSIONS),
            "user_fields": list(USER_FIELDS),
        }

    async def mentions(
        self,
        session_id: str,
        host_id: str,
        *,
        since_id: str | None,
        max_results: int,
        token: str | None = None,
    ) -> Page:
        self.gate.check("user_mentions", self.clock.now().timestamp())
        request = self.client.get_users_mentions(
            host_id,
            since_id=since_id,
            max_results=max_results,
            pagination_token=token,
            **self._view(),
        )
        page = read_page(await call_x(self.meter, "user_mentions", request, self.gate))
        await self._bill(session_id, CallKind.OWN_MENTIONS_READ, len(page.posts))
        return page

    async def search(
        self,
        session_id: str,
        query: str,
        *,
        since_id: str | None,
        max_results: int,
        token: str | None = None,
    ) -> Page:
        self.gate.check("search_recent", self.clock.now().timestamp())
        request = self.client.search_recent_tweets(
            query, since_id=since_id, max_results=max_results, next_token=token, **self._view()
        )
        page = read_page(await call_x(self.meter, "search_recent", request, self.gate))
        await self._bill(session_id, CallKind.SEARCH_READ, len(page.posts))
        return page

    async def like_counts(self, session_id: str, tweet_ids: list[str]) -> dict[str, int]:
        """``GET /2/tweets?ids=`` (at most 100): tweet id -> like count, for the posts X
        still serves. Billed as post reads ($0.005 each, the search-read price)."""
        if not 1 <= len(tweet_ids) <= 100:
            raise ValueError(f"1 to 100 ids per lookup, got {len(tweet_ids)}")
        self.gate.check("tweet_lookup", self.clock.now().timestamp())
        request = self.client.get_tweets(tweet_ids, tweet_fields=["public_metrics"])
        page = read_page(await call_x(self.meter, "tweet_lookup", request, self.gate))
        counts = {
            post["id"]: like_count(post)
            for post in page.posts
            if isinstance(post, Mapping) and is_id(post.get("id"))
        }
        await self._bill(session_id, CallKind.SEARCH_READ, len(page.posts))
        return counts

    async def _bill(self, session_id: str, kind: CallKind, count: int) -> None:
        if self.meter is not None:
            await self.meter.record(session_id, kind, count)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; True if stopped.

    ``asyncio.timeout``, not ``wait_for``, which on Python 3.11 can lose a cancellation.
    """
    try:
        async with asyncio.timeout(max(seconds, 0.0)):
            await stop.wait()
    except TimeoutError:
        return False
    return True
