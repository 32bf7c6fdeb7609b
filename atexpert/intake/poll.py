"""Intake: public posts on X become pending questions, none lost, none twice.

Three modes (:class:`~atexpert.store.intake_state.IntakeMode`): the host's mentions timeline
filtered by the session hashtags (default; every question it yields can be replied to),
recent search (wider reach), and the filtered stream (:mod:`atexpert.intake.stream`,
lowest latency, with a search catch-up after every (re)connect).

Polling reads every page newer than the session's cursor (``since_id``), stores the
questions (the store dedupes by tweet id), and only once all are stored moves the cursor:
a crash or an X failure in between makes the next poll read those posts again, never
skip one. One process at a time polls a session (a :class:`~atexpert.store.scheduler.Lease`).
Polls come as often as X's rate limit of the endpoint allows (every 2 s with its
published 450 requests / 15 min per app), shared by the sessions of a process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.costs import CallKind
from atexpert.domain.errors import IllegalTransition, NotFound
from atexpert.domain.questions import IncomingQuestion, Question
from atexpert.domain.sessions import Session, SessionKind
from atexpert.intake.posts import (
    TWEPOCH_MS,
    Accepted,
    Page,
    Skip,
    Skipped,
    Target,
    Users,
    classify,
    id_key,
    newer,
)
from atexpert.intake.x_reads import Backoff, XFailure, XReader, sleep_or_stop
from atexpert.store import metrics
from atexpert.store.intake_state import (
    IntakeMode,
    IntakeState,
    IntakeStore,
    PauseReason,
    pause_reason,
)
from atexpert.store.scheduler import Lease
from atexpert.x.meter import Meter

log = logging.getLogger(__name__)

#: X's smallest ``max_results`` per polling endpoint, and what a post read there costs.
MIN_PAGE = {IntakeMode.MENTIONS: 5, IntakeMode.SEARCH: 10}
PRICE_KIND = {
    IntakeMode.MENTIONS: CallKind.OWN_MENTIONS_READ,
    IntakeMode.SEARCH: CallKind.SEARCH_READ,
}
#: The X endpoint each polling mode reads (the rate-limit name of :mod:`x_reads`).
ENDPOINT = {IntakeMode.MENTIONS: "user_mentions", IntakeMode.SEARCH: "search_recent"}


class IntakeSettings(BaseModel):
    """Intake tuning (the lead may fold these into :class:`atexpert.settings.Settings`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: IntakeMode = IntakeMode.MENTIONS
    poll_interval_seconds: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="how often the service and the stream re-check sessions and rules",
    )
    min_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="shortest wait between two polls; X's rate limits usually set more",
    )
    page_size: int = Field(default=100, ge=10, le=100)
    max_pages: int = Field(default=100, ge=1, le=1000)
    backoff_base_seconds: float = Field(default=5.0, gt=0, le=60)
    backoff_max_seconds: float = Field(default=320.0, gt=0, le=3600)
    lease_seconds: float = Field(default=30.0, gt=0, le=600)
    stream_budget_margin: int = Field(
        default=10,
        ge=0,
        le=10_000,
        description="posts of budget kept for the stream: its rule goes below that",
    )

    @property
    def backoff(self) -> Backoff:
        return Backoff(self.backoff_base_seconds, self.backoff_max_seconds)


class QuestionSink(Protocol):
    """What intake needs from :class:`atexpert.store.store.Store`."""

    async def add_question(
        self, session_id: str, incoming: IncomingQuestion, *, at: datetime | None = None
    ) -> tuple[Question, bool]: ...


class IntakeClosed(Exception):
    """The session no longer receives questions (closed, archived or gone)."""


class BudgetPaused(Exception):
    """The next read could take the session past its budget."""


def target_of(session: Session, host_id: str) -> Target:
    """What intake looks for: a desk takes every mention of the host, an event only the
    posts with one of its hashtags."""
    desk = session.kind is SessionKind.DESK
    handle = session.host_account.handle
    return Target.of(session.id, session.hashtags, host_id, handle, any_hashtag=desk)


def search_query(target: Target) -> str:
    """Recent-search / stream-rule query of a session: its hashtags, no retweets, not ours."""
    tags = " OR ".join("#" + t for t in sorted(target.hashtags))
    return f"({tags}) -is:retweet -from:{target.host_handle}"


def opening_cursor(opens_at: datetime) -> str:
    """A since_id just before ``opens_at`` (ids are snowflakes): a fresh session's cursor."""
    ms = max(int(opens_at.timestamp() * 1000) - TWEPOCH_MS, 0)
    return str(max((ms << 22) - 1, 1))


@dataclass
class Ingestor:
    """Stores the questions of a batch of posts for one session and counts the rest."""

    store: QuestionSink
    state: IntakeStore
    #: Questions stored at once (each is one atomic step, so order within a batch is free).
    concurrency: int = 32
    clock: Clock = field(default_factory=SystemClock)

    async def _store_all(
        self, session_id: str, accepted: list[Accepted]
    ) -> list[bool | BaseException]:
        """Store each question; per item whether it was new, or the error it raised."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(item: Accepted) -> bool:
            async with gate:
                _, created = await self.store.add_question(session_id, item.incoming)
                return created

        return await asyncio.gather(*(one(a) for a in accepted), return_exceptions=True)

    async def ingest(self, target: Target, posts: Sequence[Any], users: Users) -> int:
        """Classify and store ``posts``; the number of new questions.

        Questions are stored concurrently (each is its own atomic step with its event);
        if any fails, the error is raised after the others are stored and counted.
        """
        now = self.clock.now()
        counts: Counter[str] = Counter()
        accepted: list[Accepted] = []
        for post in posts:
            outcome = classify(post, users, target, now)
            if isinstance(outcome, Skipped):
                counts[outcome.reason.value] += 1
                if outcome.reason is Skip.MALFORMED:
                    log.warning(
                        "intake %s: malformed post %s from X skipped: %s",
                        target.session_id,
                        outcome.tweet_id,
                        outcome.detail,
                    )
            else:
                accepted.append(outcome)
                counts["truncated"] += outcome.truncated
        accepted.sort(key=lambda a: id_key(a.incoming.tweet_id))  # sent oldest first
        results = await self._store_all(target.session_id, accepted)
        failure: BaseException | None = None
        lag: float | None = None
        for item, result in zip(accepted, results, strict=True):
            if isinstance(result, BaseException):
                failure = failure or result
                continue
            counts["received" if result else "duplicates"] += 1
            lag = (self.clock.now() - item.incoming.created_at).total_seconds()
            if result:
                metrics.INTAKE_LAG.observe(max(lag, 0.0))
        for kind, n in counts.items():
            metrics.INTAKE_POSTS.labels(kind).inc(n)
        await self.state.count(target.session_id, dict(counts))
        if lag is not None:
            await self.state.set_status(target.session_id, lag_seconds=round(lag, 3))
        if isinstance(failure, IllegalTransition | NotFound):
            raise IntakeClosed(str(failure)) from failure
        if failure is not None:
            raise failure
        return counts["received"]


class PollIntake:
    """Mentions or recent-search polling for one session."""

    def __init__(
        self,
        target: Target,
        mode: IntakeMode,
        reader: XReader,
        ingestor: Ingestor,
        meter: Meter,
        settings: IntakeSettings,
        *,
        lease: Lease | None = None,
        opens_at: datetime | None = None,
        keep_units: int = 0,
    ) -> None:
        if mode is IntakeMode.STREAM:
            raise ValueError("the stream is run by StreamIntake")
        self.target = target
        self.mode = mode
        self.reader = reader
        self.ingestor = ingestor
        self.state = ingestor.state
        self.meter = meter
        self.settings = settings
        self.lease = lease
        self.opens_at = opens_at
        self.keep_units = keep_units

    @property
    def session_id(self) -> str:
        return self.target.session_id

    async def page_size(self) -> int:
        """Posts to ask for: the page size, less if the budget allows fewer.

        One poller reads for a session at a time, and a page costs at most its size, so
        the budget is never passed; ``keep_units`` leaves room for the stream's posts.
        """
        room = await self.meter.headroom(self.session_id, PRICE_KIND[self.mode])
        size = self.settings.page_size
        if room is not None:
            size = min(size, room - self.keep_units)
        if size < MIN_PAGE[self.mode]:
            budget = await self.meter.budget_reached(self.session_id)
            raise BudgetPaused(f"{budget} reached: the next read could cost more than what is left")
        return size

    async def read(self, since_id: str | None, size: int, token: str | None) -> Page:
        if self.mode is IntakeMode.MENTIONS:
            return await self.reader.mentions(
                self.session_id,
                self.target.host_id,
                since_id=since_id,
                max_results=size,
                token=token,
            )
        query = search_query(self.target)
        return await self.reader.search(
            self.session_id, query, since_id=since_id, max_results=size, token=token
        )

    async def poll_once(self) -> int:
        """Read everything newer than the cursor, store it, then move the cursor."""
        since = await self.state.cursor(self.session_id)
        if since is None and self.opens_at is not None:
            since = opening_cursor(self.opens_at)
        posts: list[Any] = []
        newest: str | None = None
        users: dict[str, Any] = {}
        token: str | None = None
        complete = False
        try:
            for _ in range(self.settings.max_pages):
                page = await self.read(since, await self.page_size(), token)
                await self.state.count(self.session_id, {"calls": 1})
                posts.extend(page.posts)
                users.update(page.users)
                newest = newer(newest, page.newest_id)
                token = page.next_token
                if token is None:
                    complete = True
                    break
            else:
                log.error(
                    "intake %s: more than %d pages; reading on next poll",
                    self.session_id,
                    self.settings.max_pages,
                )
        finally:
            stored = await self.ingestor.ingest(self.target, posts, users) if posts else 0
        await self.state.set_status(self.session_id, last_read_at=self.ingestor.clock.now())
        if complete and newest is not None:
            await self.state.advance(self.session_id, newest)
        elif complete and since is not None:
            await self.state.advance(self.session_id, since)
        return stored

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set or the session stops receiving questions.

        Without the lease this process stands by (and leaves the status to the holder).
        """
        attempt = 0
        held = False
        try:
            while not stop.is_set():
                wait = self.settings.poll_interval_seconds
                if self.lease is not None and await self.lease.acquire() is None:
                    held = False
                    if await sleep_or_stop(stop, wait):
                        break
                    continue
                held = True
                try:
                    await self.poll_once()
                    wait = self._pace()
                    attempt = 0
                    await self.state.set_status(
                        self.session_id,
                        state=IntakeState.RUNNING,
                        retry_at=None,
                        paused_reason=None,
                    )
                    await self.state.set_pause(self.session_id, None, at=self._now())
                except BudgetPaused as exc:
                    await self.state.set_status(
                        self.session_id, state=IntakeState.PAUSED_BUDGET, paused_reason=str(exc)
                    )
                    await self.state.set_pause(self.session_id, PauseReason.BUDGET, at=self._now())
                except XFailure as exc:
                    wait = self.settings.backoff.delay(
                        exc, attempt, self.ingestor.clock.now().timestamp()
                    )
                    attempt += 1
                    await self._failed(exc, wait)
                if await sleep_or_stop(stop, wait):
                    break
        except IntakeClosed as exc:
            log.info("intake %s: session stopped receiving questions: %s", self.session_id, exc)
        finally:
            if held:
                await self.state.set_status(
                    self.session_id, state=IntakeState.STOPPED, retry_at=None
                )
            if self.lease is not None:
                await self.lease.release()

    def _pace(self) -> float:
        """Seconds to the next poll: as soon as X's rate limit allows, shared by the
        sessions this process polls on the same endpoint (``RateGate.slot``)."""
        now = self._now().timestamp()
        at = self.reader.gate.slot(ENDPOINT[self.mode], now + self.settings.min_poll_seconds)
        return at - now

    def _now(self) -> datetime:
        return self.ingestor.clock.now()

    async def _failed(self, exc: XFailure, wait: float) -> None:
        log.warning("intake %s: %s; retrying in %.1fs", self.session_id, exc, wait)
        now = self._now()
        await self.state.set_pause(self.session_id, pause_reason(exc.status), at=now)
        await self.state.count(self.session_id, {"errors": 1})
        await self.state.set_status(
            self.session_id,
            state=IntakeState.RATE_LIMITED if exc.rate_limited else IntakeState.BACKOFF,
            last_error=str(exc)[:500],
            last_error_at=now,
            retry_at=now + timedelta(seconds=wait),
        )
