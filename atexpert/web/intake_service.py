"""Runs intake for every session that receives questions (the app starts one of these).

A session receives questions from its intake window (``intake_opens_before_minutes``
before its start) while it is scheduled, and while it is live. Each tick starts a poller
per session in a polling mode (one process wins the session's lease) and hands stream-mode
sessions to the one :class:`~atexpert.intake.stream.StreamIntake` (one process wins the
stream lease). Changing a session's mode takes effect at the next tick. Each tick also
starts the session's like refresh (:mod:`atexpert.intake.likes`), which calls X once per
``likes_refresh_seconds``. A session with business hours whose ``after_hours`` is
``pause`` is not read while closed: the tick stops its intake and says so (pause reason
``outside_hours``), and starts it again at the first tick once it opens; with ``auto_reply``
intake goes on and each new question asked while closed gets an automatic reply, once per
asker and closed period (:mod:`atexpert.store.after_hours`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from atexpert.domain.business_hours import AfterHours, is_open
from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.sessions import Session, SessionStatus
from atexpert.intake.likes import LikesRefresh
from atexpert.intake.poll import (
    Ingestor,
    IntakeSettings,
    PollIntake,
    target_of,
)
from atexpert.intake.stream import StreamIntake, stream_factory
from atexpert.intake.x_reads import XFailure, XReader, sleep_or_stop
from atexpert.settings import Settings
from atexpert.store.after_hours import AfterHoursSink
from atexpert.store.automod import AutomodSink, AutomodStore
from atexpert.store.intake_state import IntakeMode, IntakeStore, PauseReason
from atexpert.store.redis_conn import RedisClient
from atexpert.store.scheduler import Lease
from atexpert.store.store import Store
from atexpert.web.api_routing import Services
from atexpert.web.logs import in_session
from atexpert.web.tasks import stop_task
from atexpert.x.client import async_client
from atexpert.x.meter import Meter

log = logging.getLogger(__name__)


def receiving(session: Session, now: datetime) -> bool:
    if session.status is SessionStatus.LIVE:
        return True
    return session.status is SessionStatus.SCHEDULED and session.intake_opens_at <= now


@dataclass
class _Poller:
    mode: IntakeMode
    stop: asyncio.Event
    task: asyncio.Task[None]


class IntakeService:
    def __init__(
        self,
        redis: RedisClient,
        store: Store,
        settings: Settings,
        intake: IntakeSettings | None = None,
        *,
        meter: Meter | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.redis = redis
        self.store = store
        self.settings = settings
        self.intake = intake or IntakeSettings()
        self.clock = clock or SystemClock()
        self.meter = meter or Meter(redis, clock=self.clock)
        self.state = IntakeStore(redis, self.intake.mode)
        # Every new question meets the session's auto-moderation rules as it arrives.
        sink = AfterHoursSink(AutomodSink(store, AutomodStore(redis)), store, redis, self.clock)
        self.ingestor = Ingestor(sink, self.state, clock=self.clock)
        self.pollers: dict[str, _Poller] = {}
        self.likes = LikesRefresh(
            redis,
            store,
            self.meter,
            interval_seconds=settings.likes_refresh_seconds,
            reserve=self.intake.page_size,
            clock=self.clock,
        )
        self._likes_tasks: dict[str, asyncio.Task[None]] = {}
        self.stream: StreamIntake | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._stream_stop = asyncio.Event()

    def _lease(self, name: str) -> Lease:
        return Lease(self.redis, name=name, ttl=timedelta(seconds=self.intake.lease_seconds))

    async def tick(self, reader: XReader, now: datetime | None = None) -> None:
        """Start and stop intakes to match the sessions receiving questions now."""
        now = now or self.clock.now()
        sessions = [s for s in await self.store.list_sessions() if receiving(s, now)]
        wanted: set[str] = set()
        for session in sessions:
            if await self._closed(session, now):
                continue
            try:
                host_id = session.host_account.user_id or await reader.user_id(
                    session.host_account.handle
                )
            except XFailure as exc:
                log.warning("intake %s: host account lookup failed: %s", session.id, exc)
                continue
            wanted.add(session.id)
            mode = await self.state.mode(session.id)
            await self._place(session, mode, host_id, reader)
            self._refresh_likes(session.id, reader)
        for sid in [s for s in self.pollers if s not in wanted]:
            await self._stop_poller(sid)
        for sid in [s for s, t in self._likes_tasks.items() if s not in wanted and t.done()]:
            del self._likes_tasks[sid]
        if self.stream is not None:
            for sid in [s for s in self.stream.served if s not in wanted]:
                self.stream.drop(sid)

    async def _closed(self, session: Session, now: datetime) -> bool:
        """Whether intake is paused because the session is closed (after_hours ``pause``);
        says so once when it closes, and that it runs again once it opens."""
        hours = session.options.business_hours
        if hours is None or session.options.after_hours is not AfterHours.PAUSE:
            return False
        if is_open(now, hours, session.time_zone):
            pause = await self.state.pause(session.id)
            if pause.reason is PauseReason.OUTSIDE_HOURS:
                await self.state.set_pause(session.id, None, at=now)
            return False
        if session.id in self.pollers:  # stopped first: its last read would say "running"
            await self._stop_poller(session.id)
        if self.stream is not None:
            self.stream.drop(session.id)
        await self.state.set_pause(session.id, PauseReason.OUTSIDE_HOURS, at=now)
        return True

    async def _place(
        self, session: Session, mode: IntakeMode, host_id: str, reader: XReader
    ) -> None:
        target = target_of(session, host_id)
        current = self.pollers.get(session.id)
        if current is not None and (current.mode is not mode or current.task.done()):
            await self._stop_poller(session.id)
            current = None
        if mode is IntakeMode.STREAM:
            self._stream_for(reader).serve(target, session.intake_opens_at)
            return
        if self.stream is not None:
            self.stream.drop(session.id)
        if current is None:
            poll = PollIntake(
                target,
                mode,
                reader,
                self.ingestor,
                self.meter,
                self.intake,
                lease=self._lease(f"intake:{session.id}"),
                opens_at=session.intake_opens_at,
            )
            stop = asyncio.Event()
            task = asyncio.create_task(poll.run(stop), context=in_session(session.id))
            self.pollers[session.id] = _Poller(mode, stop, task)

    def _refresh_likes(self, session_id: str, reader: XReader) -> None:
        """Start the session's like refresh in the background unless one is running (it
        only calls X once its interval has passed)."""
        task = self._likes_tasks.get(session_id)
        if self.likes.enabled and (task is None or task.done()):
            self._likes_tasks[session_id] = asyncio.create_task(
                _logged(self.likes.run_once(reader, session_id), f"likes refresh {session_id}")
            )

    def _stream_for(self, reader: XReader) -> StreamIntake:
        if self.stream is None:
            bearer = self.settings.x_bearer_token
            if bearer is None:
                raise ValueError("stream intake needs the app bearer token (x_bearer_token)")
            make = stream_factory(bearer.get_secret_value(), self.settings.x_api_base_url)
            self.stream = StreamIntake(
                make, reader, self.ingestor, self.meter, self.intake, lease=self._lease("stream")
            )
        if self._stream_task is None or self._stream_task.done():
            self._stream_task = asyncio.create_task(self.stream.run(self._stream_stop))
        return self.stream

    async def _stop_poller(self, session_id: str) -> None:
        poller = self.pollers.pop(session_id)
        poller.stop.set()
        with contextlib.suppress(Exception):
            await poller.task

    async def run(self, stop: asyncio.Event, interval: float | None = None) -> None:
        """Tick until ``stop`` is set; then stop every intake of this process."""
        every = interval or self.intake.poll_interval_seconds
        if self.settings.x_bearer_token is None:
            log.warning("intake is off: no X app bearer token (x_bearer_token) is set")
            await stop.wait()
            return
        async with async_client(self.settings) as client:
            reader = XReader(client, self.meter, clock=self.clock)
            try:
                while not stop.is_set():
                    try:
                        await self.tick(reader)
                    except Exception:
                        log.exception("intake tick failed; retrying")
                    if await sleep_or_stop(stop, every):
                        break
            finally:
                await self.shutdown()

    async def shutdown(self) -> None:
        for sid in list(self.pollers):
            await self._stop_poller(sid)
        for task in self._likes_tasks.values():
            task.cancel()
        await asyncio.gather(*self._likes_tasks.values(), return_exceptions=True)
        self._stream_stop.set()
        if self._stream_task is not None:
            with contextlib.suppress(Exception):
                await self._stream_task


async def _logged(job: Coroutine[Any, Any, None], what: str) -> None:
    try:
        await job
    except Exception:
        log.exception("%s failed", what)


def intake_hook(
    intake: IntakeSettings | None = None,
) -> Callable[[Services], AbstractAsyncContextManager[IntakeService]]:
    """A lifespan hook for :func:`atexpert.web.app.create_app`: intake runs beside the app."""

    @asynccontextmanager
    async def run(services: Services) -> AsyncIterator[IntakeService]:
        service = IntakeService(
            services.redis, services.store, services.settings, intake, clock=services.clock
        )
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop), name="atexpert-intake")
        try:
            yield service
        finally:
            await stop_task(task, stop, timeout=10)

    return run
