"""Series as commands (see :mod:`atexpert.web.commands`): create and update a series
(global: they act on no session; the target of an update is the series id), and edit one
announcement of an occurrence (a session command, until the session starts)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from atexpert.domain import series_announce
from atexpert.domain.errors import InvalidInput
from atexpert.domain.series import Series, SeriesFields, SeriesUpdate
from atexpert.domain.series_announce import AnnouncementEdit, PlannedAnnouncement
from atexpert.domain.sessions import Session, SessionStatus
from atexpert.domain.staff import Action
from atexpert.store.redis_conn import RedisClient
from atexpert.store.series import SeriesStore
from atexpert.store.series_announcements import AnnouncementStore
from atexpert.web.commands import GLOBAL, Command, Stores, Target

#: Announcements are edited until the occurrence starts.
BEFORE_START = frozenset({SessionStatus.DRAFT, SessionStatus.SCHEDULED})


class Occurrence(BaseModel):
    """One session of a series with its announcements (text, time, price, state)."""

    session: Session
    announcements: list[PlannedAnnouncement]


async def occurrence(redis: RedisClient, series: Series, session: Session) -> Occurrence:
    states = await AnnouncementStore(redis).states(session.id)
    plan = series_announce.planned(session, series.announce_before_minutes, states)
    return Occurrence(session=session, announcements=plan)


async def _create(s: Stores, t: Target, body: SeriesFields) -> Series:
    return await SeriesStore(s.redis).create(body, t.actor, at=t.at)


async def _update(s: Stores, t: Target, body: SeriesUpdate) -> Series:
    return await SeriesStore(s.redis).update(
        t.id, body, t.actor, at=t.at, expected_version=t.version
    )


async def _announcement(s: Stores, t: Target, body: AnnouncementEdit) -> Occurrence:
    session = t.session
    if session.series_id is None:
        raise InvalidInput(f"session {session.id} is not an occurrence of a series")
    series = await SeriesStore(s.redis).get(session.series_id)
    if body.before_minutes not in series.announce_before_minutes:
        offsets = ", ".join(str(m) for m in series.announce_before_minutes)
        raise InvalidInput.field(("before_minutes",), f"the announcements are at {offsets}")
    if body.text is not None:
        try:
            series_announce.check_text(body.text)
        except ValueError as exc:
            raise InvalidInput.field(("text",), str(exc)) from None
    patch = {"status": "skipped" if body.skip else "scheduled", "text": body.text}
    await AnnouncementStore(s.redis).edit(
        session.id, body.before_minutes, patch, actor=t.actor, at=t.at
    )
    return await occurrence(s.redis, series, session)


SERIES_COMMANDS: dict[str, Command[Any, Any]] = {
    c.name: c
    for c in (
        Command("series_create", SeriesFields, Action.SESSION_CREATE, _create, states=GLOBAL),
        Command(
            "series_update",
            SeriesUpdate,
            Action.SESSION_CREATE,
            _update,
            states=GLOBAL,
            versioned=True,
        ),
        Command(
            "announcement",
            AnnouncementEdit,
            Action.SESSION_UPDATE,
            _announcement,
            states=BEFORE_START,
            refusal="its announcements can no longer change",
        ),
    )
}
