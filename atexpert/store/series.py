"""Series in Redis (``ama:{series}:*``, one slot) and the creation of their occurrences.

A series record, its slug and the set of all series are written by one Lua step
(``series_save.lua``): a slug names one series only. The sessions of a series are indexed
in ``ama:{series}:sessions:<id>`` (a mirror written after each occurrence is created, and
again at every pass of the planner, so a crash between the two heals itself).

:class:`OccurrencePlanner` is a job of the scheduler's leader
(:class:`~atexpert.store.scheduler.Scheduler`): at each tick it creates, as scheduled
sessions, the occurrences each series wants to exist (:func:`atexpert.domain.series.wanted`).
The session id is deterministic (series + local day), and creating a session whose id
exists is refused atomically by the store, so each occurrence is created exactly once
whatever the number of processes and retries.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from atexpert.domain import series as domain
from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.errors import Conflict, InvalidInput, NotFound
from atexpert.domain.series import Series, SeriesFields, SeriesUpdate
from atexpert.domain.sessions import Session, SessionStatus
from atexpert.store import keys, lua
from atexpert.store.automod import AutomodStore
from atexpert.store.redis_conn import RedisClient
from atexpert.store.scheduler import ACTOR, Lease
from atexpert.store.steps import strs
from atexpert.store.store import Store

log = logging.getLogger(__name__)

_SAVE = lua.script(__name__, "series_save.lua")

#: What to do once an occurrence is created (e.g. set its X budget).
OnCreated = Callable[[Series, Session], Awaitable[None]]


class SeriesStore:
    def __init__(self, redis: RedisClient, clock: Clock | None = None) -> None:
        self._redis = redis
        self._clock = clock or SystemClock()
        self._save = redis.register_script(_SAVE)

    async def create(
        self, fields: SeriesFields, actor: str, *, at: datetime | None = None
    ) -> Series:
        at = at or self._clock.now()
        series = domain.new_series(fields, series_id=domain.new_series_id(), actor=actor, at=at)
        await self._write(series, None)
        return series

    async def update(
        self,
        series_id: str,
        changes: SeriesUpdate,
        actor: str,
        *,
        at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Series:
        """Change the series; the occurrences already created keep their own fields."""
        at = at or self._clock.now()
        current = await self.get(series_id)
        if expected_version is not None and expected_version != current.version:
            raise _changed(current)
        updated = domain.updated(current, changes, actor=actor, at=at)
        await self._write(updated, current)
        return updated

    async def _write(self, series: Series, previous: Series | None) -> None:
        old_slug = keys.series_slug(previous.slug if previous else series.slug)
        verdict = await self._save(
            keys=[
                keys.series(series.id),
                keys.series_slug(series.slug),
                old_slug,
                keys.SERIES_ALL,
            ],
            args=[
                series.model_dump_json(),
                series.id,
                "" if previous is None else str(previous.version),
                keys.ms(series.created_at),
            ],
        )
        if verdict == -1:
            raise InvalidInput.field(("slug",), f"the slug {series.slug!r} is taken")
        if verdict == -3:
            raise NotFound("series", series.id)
        if verdict == -2:
            raise _changed(previous) if previous else Conflict(f"series {series.id} exists")

    async def get(self, series_id: str) -> Series:
        raw = await self._redis.get(keys.series(series_id))
        if raw is None:
            raise NotFound("series", series_id)
        return Series.model_validate_json(raw)

    async def by_slug(self, slug: str) -> Series:
        series_id = await self._redis.get(keys.series_slug(slug))
        if series_id is None:
            raise NotFound("series", slug)
        return await self.get(str(series_id))

    async def list(self) -> list[Series]:
        """Every series, oldest first."""
        ids = strs(await self._redis.zrange(keys.SERIES_ALL, 0, -1))
        raws = await asyncio.gather(*(self._redis.get(keys.series(i)) for i in ids))
        return [Series.model_validate_json(r) for r in raws if r is not None]

    async def sessions(self, series_id: str) -> builtins.list[Session]:
        """The series' sessions, by scheduled start."""
        await self.get(series_id)
        ids = strs(await self._redis.zrange(keys.series_sessions(series_id), 0, -1))
        raws = await asyncio.gather(*(self._redis.get(keys.session(i)) for i in ids))
        found = [Session.model_validate_json(r) for r in raws if r is not None]
        return sorted(found, key=lambda s: (s.scheduled_start, s.id))

    async def index_session(self, session: Session) -> None:
        """Mirror one occurrence in its series' index (idempotent)."""
        if session.series_id is not None:
            member = {session.id: keys.ms(session.scheduled_start)}
            await self._redis.zadd(keys.series_sessions(session.series_id), member)


def _changed(series: Series) -> Conflict:
    return Conflict(
        f"series {series.id} was changed meanwhile by {series.updated_by} (version "
        f"{series.version}); reload and retry"
    )


class OccurrencePlanner:
    """The scheduler leader's job: every occurrence each series wants exists, scheduled."""

    def __init__(
        self, store: Store, series: SeriesStore, *, on_created: OnCreated | None = None
    ) -> None:
        self.store = store
        self.series = series
        self.on_created = on_created

    async def __call__(self, lease: Lease, now: datetime) -> list[str]:
        """Create what is due; returns ``created <session id>`` per new occurrence."""
        done: list[str] = []
        for series in await self.series.list():
            for start in domain.wanted(series, now):
                if await self._occurrence(series, start, now):
                    on = domain.local_date(start, series.time_zone)
                    done.append("created " + domain.occurrence_session_id(series.id, on))
        return done

    async def _occurrence(self, series: Series, start: datetime, now: datetime) -> bool:
        on = domain.local_date(start, series.time_zone)
        session_id = domain.occurrence_session_id(series.id, on)
        fields = domain.occurrence_fields(series, start)
        created = True
        try:
            session = await self.store.create_session(
                fields,
                actor=ACTOR,
                at=now,
                session_id=session_id,
                series_id=series.id,
                occurrence_on=on,
            )
        except Conflict:
            created = False
            session = await self.store.get_session(session_id)
        await self.series.index_session(session)
        untouched = session.status is SessionStatus.DRAFT and session.version == 1
        if untouched and session.created_by == ACTOR:
            # New, or created then not scheduled (a crash between the two): schedule it.
            if series.automod is not None:
                await AutomodStore(self.series._redis).put(
                    session_id, series.automod, actor=ACTOR, at=now
                )
            try:
                session = await self.store.schedule_session(session_id, actor=ACTOR, at=now)
            except InvalidInput as exc:  # its slot passed meanwhile: leave it a draft
                log.warning("series %s: occurrence %s not scheduled: %s", series.id, on, exc)
                return created
            if self.on_created is not None:
                await self.on_created(series, session)
        return created
