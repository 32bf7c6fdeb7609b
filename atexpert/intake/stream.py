"""Filtered-stream intake: the app's one stream connection serves every stream-mode session.

Each session has one rule (its hashtags, no retweets, not the host's posts) tagged with
the session id; a delivered post goes to the sessions whose tags match.

No gap is left: on every (re)connect, and whenever a session's rule is (re)added, the
session gets a *catch-up* (recent search since its cursor). While a catch-up is pending
the stream stores questions but does not move the cursor; when it completes the cursor
moves to the newest post seen by either. A crash anywhere leaves the cursor behind, so
the next catch-up reads those posts again (the store dedupes by tweet id).

Lines are parsed by us (``on_data``), not by tweepy: a line that is not JSON, or a post
missing fields, is logged and skipped. Delivered lines are queued and stored in batches
so a burst costs a few Redis round trips per batch, not per post.

Budget: X bills every post the stream delivers, and a rule removal takes a round trip to
take effect, so a session's rule goes *before* its budget is used up: once fewer posts of
budget are left than may arrive while the rule is being removed (the observed rate of the
last :data:`RATE_WINDOW` seconds times the observed removal time, doubled; at least
``stream_budget_margin``). Each line is counted against its sessions' budgets as it
arrives, before it is stored, so a storm starts the removal at once (:meth:`StreamIntake.guard`).
A post delivered past the budget anyway is billed but never stored, and the cursor stays
behind it: it stays on X for a catch-up once the storm has passed or the budget grows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import tweepy

from atexpert.domain.costs import CallKind
from atexpert.intake.poll import (
    Ingestor,
    IntakeClosed,
    IntakeSettings,
    PollIntake,
    search_query,
)
from atexpert.intake.posts import (
    EXPANSIONS,
    TWEET_FIELDS,
    USER_FIELDS,
    Page,
    Target,
    Users,
    newer,
    read_page,
)
from atexpert.intake.x_reads import XFailure, XReader, call_x, sleep_or_stop
from atexpert.store.intake_state import (
    IntakeMode,
    IntakeState,
    PauseReason,
    pause_reason,
)
from atexpert.store.scheduler import Lease
from atexpert.x.client import StreamingClient
from atexpert.x.meter import Meter

log = logging.getLogger(__name__)
BATCH = 500
#: Seconds the deliveries a session's observed rate is taken from are kept.
RATE_WINDOW = 10.0
#: Shortest span a rate is taken over: a burst counts as arriving within it.
MIN_SPAN = 0.05
#: Seconds a rule removal is assumed to take, at least (and until one is measured).
MIN_REACTION = 0.5
#: How many times the posts expected during a removal the budget must still cover.
SAFETY = 2.0


class _Stream(StreamingClient):
    """tweepy's async stream, handing raw lines and connection events to the intake."""

    def __init__(self, bearer_token: str, *, owner: StreamIntake, **kwargs: Any) -> None:
        super().__init__(bearer_token, **kwargs)
        self.owner = owner

    async def on_connect(self) -> None:
        self.owner.connected()
        await self.owner.resumed()

    async def on_data(self, raw_data: bytes) -> None:
        self.owner.delivered(raw_data)

    async def on_request_error(self, status_code: int) -> None:
        await self.owner.failed(f"stream: HTTP {status_code}", status_code)

    async def on_connection_error(self) -> None:
        await self.owner.failed("stream: connection error or stall")

    async def on_closed(self, resp: Any) -> None:
        log.info("stream closed by X; reconnecting")

    async def on_exception(self, exception: Exception) -> None:
        log.error("stream stopped on %r; restarting", exception)


StreamFactory = Callable[["StreamIntake"], StreamingClient]


def stream_factory(bearer_token: str, base_url: str, **kwargs: Any) -> StreamFactory:
    """Makes the stream client for a :class:`StreamIntake` (kwargs go to tweepy)."""

    def make(owner: StreamIntake) -> StreamingClient:
        return _Stream(bearer_token, base_url=base_url, owner=owner, **kwargs)

    return make


@dataclass
class _Served:
    """One session taken in by the stream, and its catch-up (a recent-search poll)."""

    target: Target
    poll: PollIntake = field(repr=False)
    paused: bool = False
    #: Catch-up generation requested / completed; pending while they differ.
    wanted: int = 0
    done: int = 0
    #: Newest id the stream stored while a catch-up was pending.
    stream_newest: str | None = None
    #: (unix time, posts) of the deliveries of the last RATE_WINDOW seconds.
    arrivals: deque[tuple[float, int]] = field(default_factory=deque)
    #: What this process last told the consoles about a pause of the session's intake
    #: (``told``: whether it did yet; a previous process may have said otherwise).
    said: PauseReason | None = None
    told: bool = False
    #: Posts of budget left when last metered (None: no budget), and posts delivered since.
    room: int | None = None
    unmetered: int = 0

    @property
    def pending(self) -> bool:
        return self.wanted != self.done

    def arrived(self, now: float, count: int) -> None:
        self.arrivals.append((now, count))

    def rate(self, now: float) -> float:
        """Posts per second over the deliveries of the last RATE_WINDOW seconds, taken
        over their own span: a pause (no deliveries) does not make a storm look calm."""
        while self.arrivals and self.arrivals[0][0] < now - RATE_WINDOW:
            self.arrivals.popleft()
        if not self.arrivals:
            return 0.0
        count = sum(n for _, n in self.arrivals)
        return count / max(self.arrivals[-1][0] - self.arrivals[0][0], MIN_SPAN)


class StreamIntake:
    """The filtered stream for every session served, with rules, catch-ups and budgets."""

    def __init__(
        self,
        make_stream: StreamFactory,
        reader: XReader,
        ingestor: Ingestor,
        meter: Meter,
        settings: IntakeSettings,
        *,
        lease: Lease | None = None,
    ) -> None:
        self.make_stream = make_stream
        self.reader = reader
        self.ingestor = ingestor
        self.state = ingestor.state
        self.meter = meter
        self.settings = settings
        self.lease = lease
        self.served: dict[str, _Served] = {}
        self.connects = 0
        #: Seconds the last rule removal took (until X confirmed it).
        self.reaction = MIN_REACTION
        #: Delivered lines, parsed.
        self.lines: asyncio.Queue[Page] = asyncio.Queue()
        self._catchup = asyncio.Event()
        #: Set when a session's rule must go before its delivered posts are even stored.
        self._guard = asyncio.Event()
        self._syncing = asyncio.Lock()
        self._stream: StreamingClient | None = None

    # -- sessions ----------------------------------------------------------------------

    def serve(self, target: Target, opens_at: datetime | None = None) -> None:
        """Take ``target``'s session in (its rule is added on the next rule sync)."""
        if target.session_id not in self.served:
            poll = PollIntake(
                target,
                IntakeMode.SEARCH,
                self.reader,
                self.ingestor,
                self.meter,
                self.settings,
                opens_at=opens_at,
                keep_units=self.settings.stream_budget_margin,
            )
            self.served[target.session_id] = _Served(target, poll)

    def _floor(self, served: _Served) -> int:
        """Below this many posts of budget left, a session's rule is removed: the posts
        that may arrive while it is being removed (see the module's docstring)."""
        expected = served.rate(self.now()) * max(self.reaction, MIN_REACTION) * SAFETY
        return max(self.settings.stream_budget_margin, 1, math.ceil(expected))

    def now(self) -> float:
        return self.ingestor.clock.now().timestamp()

    async def _say(self, sid: str, served: _Served, reason: PauseReason | None) -> None:
        """Tell the consoles (through the session's event log) whether intake is paused."""
        if served.said != reason or not served.told:
            await self.state.set_pause(sid, reason, at=self.ingestor.clock.now())
            served.said, served.told = reason, True

    def caught_up(self, session_id: str) -> bool:
        """No catch-up is pending for the session (it is served and unpaused)."""
        served = self.served.get(session_id)
        return served is not None and not served.pending and not served.paused

    def drop(self, session_id: str) -> None:
        self.served.pop(session_id, None)

    def _want_catchup(self, served: _Served) -> None:
        served.wanted += 1
        self._catchup.set()

    def connected(self) -> None:
        """A (re)connect: whatever was posted while down comes from search."""
        self.connects += 1
        for served in self.served.values():
            if not served.paused:
                self._want_catchup(served)

    async def failed(self, message: str, status: int | None = None) -> None:
        log.warning("intake stream: %s", message)
        now = self.ingestor.clock.now()
        for sid, served in list(self.served.items()):
            await self.state.count(sid, {"errors": 1})
            await self.state.set_status(sid, last_error=message, last_error_at=now)
            if not served.paused:
                await self._say(sid, served, pause_reason(status))

    async def resumed(self) -> None:
        """The stream is connected again: sessions not paused by their budget run."""
        for sid, served in list(self.served.items()):
            if not served.paused:
                await self._say(sid, served, None)

    # -- rules -------------------------------------------------------------------------

    async def sync_rules(self) -> None:
        """Make the app's rules exactly one per served, unpaused session."""
        async with self._syncing:
            await self._sync_rules()

    async def _sync_rules(self) -> None:
        for served in self.served.values():
            room = await self.meter.headroom(served.target.session_id, CallKind.SEARCH_READ)
            served.room = room
            served.paused = room is not None and room - served.unmetered < self._floor(served)
        wanted = {(search_query(s.target), sid) for sid, s in self.served.items() if not s.paused}
        stream = self._client()
        body = await call_x(self.meter, "stream_rules_get", stream.get_rules())
        have: dict[tuple[str, str], str] = {}
        rules = body.get("data") if isinstance(body, dict) else None
        for rule in rules if isinstance(rules, list) else []:
            if isinstance(rule, dict):
                have[(str(rule.get("value")), str(rule.get("tag") or ""))] = str(rule.get("id"))
        stale = [rid for key, rid in have.items() if key not in wanted]
        if stale:
            started = self.now()
            await call_x(self.meter, "stream_rules_post", stream.delete_rules(stale))
            self.reaction = max(self.now() - started, 0.0)
        fresh = [tweepy.StreamRule(value, tag) for value, tag in wanted if (value, tag) not in have]
        if fresh:
            await call_x(self.meter, "stream_rules_post", stream.add_rules(fresh))
            for rule in fresh:
                self._want_catchup(self.served[rule.tag])
        # Said once X has the rules: "paused" means no post of the session comes any more.
        for sid, served in self.served.items():
            if served.paused:
                budget = await self.meter.budget(sid)
                await self.state.set_status(
                    sid,
                    state=IntakeState.PAUSED_BUDGET,
                    paused_reason=f"budget ${budget} nearly reached: stream rule removed",
                )
                await self._say(sid, served, PauseReason.BUDGET)
            else:
                await self.state.set_status(sid, state=IntakeState.RUNNING, paused_reason=None)
                if served.said is PauseReason.BUDGET or not served.told:
                    await self._say(sid, served, None)

    def _client(self) -> StreamingClient:
        if self._stream is None:
            self._stream = self.make_stream(self)
            self._stream.return_type = aiohttp.ClientResponse  # parsed by call_x
        return self._stream

    # -- delivered posts ---------------------------------------------------------------

    def delivered(self, raw: bytes) -> None:
        """A line of the stream: queued for storing, and counted at once against its
        sessions' budgets, so that a storm removes their rules without waiting."""
        try:
            page = read_page(json.loads(raw))
        except ValueError:
            log.warning("intake stream: a line is not JSON, skipped: %r", raw[:200])
            return
        now = self.now()
        for tag in dict.fromkeys(page.tags):
            served = self.served.get(tag)
            if served is not None:
                served.arrived(now, len(page.posts))
                served.unmetered += len(page.posts)
                if served.room is not None and served.room - served.unmetered < self._floor(served):
                    self._guard.set()
        self.lines.put_nowait(page)

    async def guard(self, stop: asyncio.Event) -> None:
        """Sync the rules as soon as :meth:`delivered` saw a session near its budget."""
        while not stop.is_set():
            await self._guard.wait()
            self._guard.clear()
            await self._remove_rule_early()

    async def _drain(self) -> list[Page]:
        batch = [await self.lines.get()]
        while len(batch) < BATCH and not self.lines.empty():
            batch.append(self.lines.get_nowait())
        return batch

    def _parse(self, batch: list[Page]) -> dict[str, tuple[list[Any], dict[str, Any]]]:
        """Posts of a batch of lines per served session (lines without a post skipped)."""
        out: dict[str, tuple[list[Any], dict[str, Any]]] = {}
        for page in batch:
            if not page.posts:
                log.info("intake stream: line without a post, tags %s", page.tags)
                continue
            for tag in dict.fromkeys(page.tags):
                if tag in self.served:
                    posts, users = out.setdefault(tag, ([], {}))
                    posts.extend(page.posts)
                    users.update(page.users)
        return out

    async def _store(self, sid: str, posts: list[Any], users: Users) -> None:
        served = self.served.get(sid)
        if served is None:
            return
        room = await self.meter.headroom(sid, CallKind.SEARCH_READ)
        delivered = len(posts)
        served.unmetered = max(served.unmetered - delivered, 0)
        served.room = None if room is None else room - delivered
        past = 0 if room is None else max(delivered - room, 0)
        posts = posts[: delivered - past]
        try:
            # X bills every post delivered; those past the budget are not stored.
            await self.meter.record(sid, CallKind.SEARCH_READ, delivered)
            if room is not None and room - delivered < self._floor(served):
                await self._remove_rule_early()
            if past:
                log.warning("intake stream: %d posts of %s past its budget", past, sid)
                await self.state.count(sid, {"over_budget": past})
            await self.ingestor.ingest(served.target, posts, users)
        except IntakeClosed:
            log.info("intake stream: session %s closed; dropping it", sid)
            self.drop(sid)
            return
        except Exception:
            log.exception("intake stream: storing posts of %s failed; catching up", sid)
            self._want_catchup(served)
            return
        ids = [p.get("id") for p in posts if isinstance(p, dict) and isinstance(p.get("id"), str)]
        newest: str | None = None
        for tweet_id in ids:
            newest = newer(newest, tweet_id)
        if past:  # the cursor stays behind the posts not stored: a catch-up reads them
            newest = None
        if served.pending:
            served.stream_newest = newer(served.stream_newest, newest)
        elif newest is not None:
            await self.state.advance(sid, newest)

    async def _remove_rule_early(self) -> None:
        """Sync the rules before storing: a rule near its budget goes without waiting."""
        try:
            await self.sync_rules()
        except XFailure as exc:
            await self.failed(f"rules: {exc}", exc.status)

    async def consume(self, stop: asyncio.Event) -> None:
        """Store delivered posts until stopped; a failure is logged and caught up on."""
        while not stop.is_set():
            batch = await self._drain()
            for sid, (posts, users) in self._parse(batch).items():
                try:
                    await self._store(sid, posts, users)
                except Exception:
                    log.exception("intake stream: after storing posts of %s", sid)
                    if sid in self.served:
                        self._want_catchup(self.served[sid])

    # -- catch-up ----------------------------------------------------------------------

    async def catch_up(self, stop: asyncio.Event) -> None:
        attempt = 0
        while not stop.is_set():
            await self._catchup.wait()
            self._catchup.clear()
            for sid, served in list(self.served.items()):
                if not served.pending or served.paused:
                    continue
                generation = served.wanted
                served.poll.keep_units = self._floor(served)  # left for the stream's posts
                try:
                    await served.poll.poll_once()
                except IntakeClosed:
                    self.drop(sid)
                    continue
                except Exception as exc:  # X, Redis or budget: retry later
                    if isinstance(exc, XFailure):
                        wait = self.settings.backoff.delay(
                            exc, attempt, self.ingestor.clock.now().timestamp()
                        )
                    else:
                        wait = self.settings.poll_interval_seconds
                    attempt += 1
                    log.warning("intake %s: catch-up failed: %s; retry in %.1fs", sid, exc, wait)
                    with contextlib.suppress(Exception):
                        await self.state.set_status(
                            sid,
                            last_error=f"catch-up: {exc}"[:500],
                            last_error_at=self.ingestor.clock.now(),
                        )
                    if await sleep_or_stop(stop, wait):
                        return
                    self._catchup.set()
                    continue
                attempt = 0
                if served.stream_newest is not None:
                    await self.state.advance(sid, served.stream_newest)
                if served.wanted == generation:
                    served.done = generation
                    served.stream_newest = None
                else:
                    self._catchup.set()

    # -- running -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Hold the stream lease, keep rules in sync and the stream connected until stopped."""
        stream: StreamingClient | None = None
        tasks = [
            asyncio.create_task(self.consume(stop)),
            asyncio.create_task(self.catch_up(stop)),
            asyncio.create_task(self.guard(stop)),
        ]
        try:
            while not stop.is_set():
                if self.lease is None or await self.lease.acquire() is not None:
                    try:
                        await self.sync_rules()
                    except XFailure as exc:
                        await self.failed(f"rules: {exc}")
                    except Exception:
                        log.exception("intake stream: rule sync failed; retrying")
                    stream = self._client()
                    if stream.task is None or stream.task.done():
                        stream.filter(
                            tweet_fields=list(TWEET_FIELDS),
                            expansions=list(EXPANSIONS),
                            user_fields=list(USER_FIELDS),
                        )
                elif stream is not None:
                    await stream.close()
                    stream = None
                if await sleep_or_stop(stop, self.settings.poll_interval_seconds):
                    break
        finally:
            if self._stream is not None:
                await self._stream.close()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self.lease is not None:
                await self.lease.release()
