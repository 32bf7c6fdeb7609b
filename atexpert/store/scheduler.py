"""Sessions go live and close at their scheduled times, exactly once across app processes.

Every app process runs a :class:`Scheduler`, but only the holder of a Redis lease acts.
Acquiring the lease yields a fencing token, strictly larger than every earlier one; the
token goes with each start/close to the store, which records it on the session and
refuses a smaller one, so a holder that stalled past its lease cannot act after its
successor did. A close goes through :meth:`Store.close_session`, as the admin's does
(with its default: the answers still queued are posted before the closing post): a
session with a wrap-up period starts wrapping up at its end, and closes for good when the
wrap-up is over. The sessions' own state machine makes a second start or close an
:class:`~atexpert.domain.errors.IllegalTransition`, which the scheduler takes as "already done"
(by another process, or by a person who started or closed the session by hand).

Before starting and closing, the leader runs its ``jobs`` (:class:`LeaderJob`): creating the
occurrences of series ahead of time, posting their announcements. Each job gets the lease
(its token is the fence) and renews it before any call to X.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from redis.exceptions import RedisError

from atexpert.domain.clock import Clock
from atexpert.domain.errors import Conflict, NotFound
from atexpert.domain.sessions import Session, SessionStatus
from atexpert.domain.sessions import is_due as session_due
from atexpert.store import keys, lua
from atexpert.store.redis_conn import RedisClient

log = logging.getLogger(__name__)

ACTOR = "scheduler"

# KEYS[1] holder, KEYS[2] fence counter; ARGV[1] owner id, ARGV[2] ttl in ms.
_ACQUIRE = lua.script(__name__, "scheduler_acquire.lua")
# KEYS[1] holder; ARGV[1] "owner token", ARGV[2] ttl in ms.
_RENEW = lua.script(__name__, "scheduler_renew.lua")
_RELEASE = lua.script(__name__, "scheduler_release.lua")


class Lease:
    """A Redis lease with fencing tokens; both keys share one hash tag."""

    def __init__(
        self,
        redis: RedisClient,
        *,
        name: str = "scheduler",
        ttl: timedelta = timedelta(seconds=10),
        owner: str | None = None,
    ) -> None:
        if ttl < timedelta(milliseconds=1):
            raise ValueError("a lease lasts at least 1 ms")
        self.holder_key = keys.lease(name, "holder")
        self.fence_key = keys.lease(name, "fence")
        self.owner = owner or secrets.token_hex(8)
        self.ttl_ms = int(ttl / timedelta(milliseconds=1))
        self.token: int | None = None
        self._redis = redis
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    @property
    def _value(self) -> str:
        return f"{self.owner} {self.token}"

    async def acquire(self) -> int | None:
        """Our fencing token if we hold the lease now (renewed, or newly won), else None."""
        if self.token is not None and await self.renew():
            return self.token
        token = await self._acquire(
            keys=[self.holder_key, self.fence_key], args=[self.owner, self.ttl_ms]
        )
        self.token = None if token is None else int(token)
        return self.token

    async def renew(self) -> bool:
        """Extend the lease if it is still ours; forget the token if it is not."""
        if self.token is None:
            return False
        ok = await self._renew(keys=[self.holder_key], args=[self._value, self.ttl_ms])
        if not ok:
            self.token = None
        return bool(ok)

    async def release(self) -> bool:
        """Give the lease up (only if still ours), so another process takes over at once."""
        if self.token is None:
            return False
        released = await self._release(keys=[self.holder_key], args=[self._value])
        self.token = None
        return bool(released)


class SchedulerStore(Protocol):
    """What the scheduler needs from :mod:`atexpert.store.store`."""

    async def due_sessions(self, now: datetime) -> Sequence[Session]:
        """Scheduled sessions whose start, and live ones whose end, is at or before ``now``."""
        ...

    async def rebuild_session_index(self) -> int:
        """Rebuild the due index from the session records."""
        ...

    async def start_session(
        self, session_id: str, *, actor: str, at: datetime, fence: int | None = None
    ) -> Session: ...

    async def close_session(
        self, session_id: str, *, actor: str, at: datetime, fence: int | None = None
    ) -> Session: ...


@dataclass
class TickReport:
    """What one :meth:`Scheduler.tick` did."""

    token: int | None = None
    started: list[str] = field(default_factory=list)
    #: Sessions closed, or that began their wrap-up period.
    closed: list[str] = field(default_factory=list)
    #: Sessions another actor had already started or closed (or that vanished).
    already_done: list[str] = field(default_factory=list)
    #: What the jobs did (e.g. "created s_x-20270105").
    jobs: list[str] = field(default_factory=list)

    @property
    def leader(self) -> bool:
        return self.token is not None


class LeaderJob(Protocol):
    """Work only the lease holder does at each tick; returns what it did."""

    async def __call__(self, lease: Lease, now: datetime) -> list[str]: ...


class Scheduler:
    def __init__(
        self,
        store: SchedulerStore,
        lease: Lease,
        clock: Clock,
        *,
        interval: timedelta = timedelta(seconds=1),
        jobs: Sequence[LeaderJob] = (),
    ) -> None:
        self.store = store
        self.lease = lease
        self.clock = clock
        self.interval = interval
        self.jobs = list(jobs)
        self._indexed_under: int | None = None

    async def tick(self) -> TickReport:
        """One pass: if we hold the lease, start and close every session that is due.

        A session whose whole slot passed while no scheduler ran is started then closed.
        """
        token = await self.lease.acquire()
        report = TickReport(token=token)
        if token is None:
            return report
        if token != self._indexed_under:
            # New leader: the due index is a mirror that a crash may have left behind.
            await self.store.rebuild_session_index()
            self._indexed_under = token
        now = self.clock.now()
        for job in self.jobs:
            try:
                report.jobs.extend(await job(self.lease, now))
            except Exception:  # one failing job must not stop the starts and closes
                _reraise_cancel()
                log.exception("scheduler job %r failed; retrying at the next tick", job)
        for session in await self.store.due_sessions(now):
            status = session.status
            if status is SessionStatus.SCHEDULED and session.scheduled_start <= now:
                if not await self._act(self.store.start_session, session.id, now, token, report):
                    continue
                report.started.append(session.id)
                status = SessionStatus.LIVE
            end = session.scheduled_end  # None for a desk: it never closes by itself
            closing = status is SessionStatus.LIVE and end is not None and end <= now
            wrapped = status is SessionStatus.WRAPPING_UP and session_due(session, now)
            if (closing or wrapped) and await self._act(
                self.store.close_session, session.id, now, token, report
            ):
                report.closed.append(session.id)
        return report

    async def _act(
        self, action: _Action, session_id: str, now: datetime, token: int, report: TickReport
    ) -> bool:
        try:
            await action(session_id, actor=ACTOR, at=now, fence=token)
        except (Conflict, NotFound) as exc:
            log.info("scheduler: %s already done or gone: %s", session_id, exc)
            report.already_done.append(session_id)
            return False
        return True

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Tick every ``interval`` until ``stop`` is set (or the task is cancelled).

        A failing tick (Redis unreachable, a bad record...) is logged and the next one
        tries again: the loop only ends when told to. The lease is released on exit.
        """
        await run_ticks(self.tick, self.interval, stop or asyncio.Event(), self.lease, "scheduler")


async def run_ticks(
    tick: Callable[[], Awaitable[object]],
    interval: timedelta,
    stop: asyncio.Event,
    lease: Lease,
    what: str,
) -> None:
    """``tick()`` every ``interval`` until ``stop`` is set (or the task is cancelled); a
    failing tick is logged and the next one tries again; ``lease`` is released on exit."""
    try:
        while not stop.is_set():
            try:
                await tick()
            except Exception:
                _reraise_cancel()
                log.exception("%s tick failed; retrying in %s", what, interval)
            _reraise_cancel()  # redis-py may also swallow a cancel without an error
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can lose a cancel
            # that lands as the wait ends, and a cancelled loop must stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval.total_seconds()):
                    await stop.wait()
    finally:
        with contextlib.suppress(RedisError, OSError):
            await lease.release()


def _reraise_cancel() -> None:
    """A client library may turn our cancellation into its own error (redis-py does when
    a cancel lands mid-command): a cancelled loop must stop, never tick on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError()


class _Action(Protocol):
    async def __call__(
        self, session_id: str, *, actor: str, at: datetime, fence: int | None = None
    ) -> Session: ...
