"""The Redis store: sessions, questions and answers, each change atomic with its event.

Every state change runs as ONE Lua step on the keys of one session (see
:mod:`atexpert.store.steps`): question steps live in :mod:`atexpert.store.question_steps`, answer
steps in :mod:`atexpert.store.answer_steps`; sessions and the event log here. A question action
is one round trip.

The global session list and the scheduler's due index (``{global}`` tag, another slot) are
mirrors written right after the session step; :meth:`Store.rebuild_session_index` rebuilds
them from the session records should a crash fall between the two.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from atexpert.domain import desk, sessions
from atexpert.domain.answers import Answer, AnswerStatus
from atexpert.domain.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from atexpert.domain.events import (
    Change,
    Create,
    Event,
    EventKind,
    SessionState,
    decode_event,
)
from atexpert.domain.questions import Question, QuestionAction
from atexpert.domain.saved_replies import SavedReply
from atexpert.domain.series_announce import AnnouncementState
from atexpert.domain.sessions import (
    QueuedAtClose,
    Role,
    Session,
    SessionAction,
    SessionFields,
    SessionStatus,
    SessionUpdate,
)
from atexpert.store import checkpoint, keys
from atexpert.store.automod import AutomodStore, StoredConfig
from atexpert.store.intake_state import IntakePause, IntakeSetting, IntakeStore
from atexpert.store.merge_steps import MergeSteps
from atexpert.store.series_announcements import AnnouncementStore
from atexpert.store.steps import Exists, strs

STREAM_ID = re.compile(r"[0-9]{1,20}(-[0-9]{1,20})?")
REPLAY_CHUNK = 1000
ROLE_RETRIES = 5


class SessionSnapshot(BaseModel):
    """Every record and setting of one session, typed. Built from the store or the log."""

    session: Session
    questions: dict[str, Question]
    answers: dict[str, Answer]
    automod: StoredConfig = StoredConfig()
    intake: IntakeSetting = IntakeSetting()
    intake_pause: IntakePause = IntakePause()
    #: A series occurrence's announcements, by minutes before the start (each changed).
    announcements: dict[int, AnnouncementState] = {}

    @classmethod
    def of(cls, state: SessionState) -> SessionSnapshot:
        if state.session is None:
            raise NotFound("session", "?", "the event log holds no session.created event")
        return cls(
            session=Session.model_validate(state.session),
            questions={k: Question.model_validate(v) for k, v in state.questions.items()},
            answers={k: Answer.model_validate(v) for k, v in state.answers.items()},
            automod=StoredConfig.model_validate(state.automod or {}),
            intake=IntakeSetting.model_validate(state.intake or {}),
            intake_pause=IntakePause.model_validate(state.intake_pause or {}),
            announcements={
                int(k): AnnouncementState.model_validate(v) for k, v in state.announcements.items()
            },
        )


class Store(MergeSteps):
    """All domain state in Redis. ``at`` defaults to the clock's now; ids are strings."""

    # -- sessions ----------------------------------------------------------------------

    async def create_session(
        self,
        fields: SessionFields,
        *,
        actor: str,
        at: datetime | None = None,
        session_id: str | None = None,
        series_id: str | None = None,
        occurrence_on: date | None = None,
    ) -> Session:
        """Create a draft session (``session.created``), an occurrence of ``series_id``
        on local day ``occurrence_on`` when given."""
        at = self._now(at)
        session = sessions.new_session(
            fields,
            session_id=session_id or sessions.new_session_id(),
            actor=actor,
            at=at,
            series_id=series_id,
            occurrence_on=occurrence_on,
        )
        record = session.model_dump(mode="json")
        try:
            await self._run(
                session.id, [Create("session", record, EventKind.SESSION_CREATED, actor, at)]
            )
        except Exists:
            raise Conflict(f"session {session.id} already exists") from None
        await self._mirror(session)
        return session

    async def list_sessions(self, status: SessionStatus | None = None) -> list[Session]:
        """All sessions (by creation time), optionally of one status."""
        ids = strs(await self._redis.zrange(keys.GLOBAL_SESSIONS, 0, -1))
        raws = await asyncio.gather(*(self._redis.get(keys.session(i)) for i in ids))
        found = [Session.model_validate_json(r) for r in raws if r is not None]
        return [s for s in found if status is None or s.status is status]

    async def _session_step(self, change: Change) -> Session:
        session = Session.model_validate_json(await self._apply(change.entity_id, change))
        await self._mirror(session)
        return session

    async def update_session(
        self, session_id: str, changes: SessionUpdate, *, actor: str, at: datetime | None = None
    ) -> Session:
        """Change fields of a draft or scheduled session (``session.updated``)."""
        at = self._now(at)
        current = await self.get_session(session_id)
        return await self._session_step(sessions.update(current, changes, actor=actor, at=at))

    async def schedule_session(
        self, session_id: str, *, actor: str, at: datetime | None = None
    ) -> Session:
        at = self._now(at)
        current = await self.get_session(session_id)
        return await self._session_step(sessions.schedule(current, actor=actor, at=at))

    async def unschedule_session(
        self, session_id: str, *, actor: str, at: datetime | None = None
    ) -> Session:
        at = self._now(at)
        change = sessions.transition(session_id, SessionAction.UNSCHEDULE, actor=actor, at=at)
        return await self._session_step(change)

    async def start_session(
        self, session_id: str, *, actor: str, at: datetime | None = None, fence: int | None = None
    ) -> Session:
        """scheduled -> live. With ``fence``, refuse (Conflict) a stale scheduler lease."""
        at = self._now(at)
        change = sessions.transition(
            session_id, SessionAction.START, actor=actor, at=at, fence=fence
        )
        return await self._session_step(change)

    async def close_session(
        self,
        session_id: str,
        *,
        actor: str,
        at: datetime | None = None,
        fence: int | None = None,
        queued: QueuedAtClose | None = None,
    ) -> Session:
        """live -> wrapping_up (with a wrap-up period) or closed; wrapping_up -> closed.

        ``queued``: post the answers still queued before the closing post, or withdraw
        them (None: the choice recorded when the wrap-up began), see
        :func:`~atexpert.domain.sessions.close_plan`. With ``fence``, refuse (Conflict) a
        stale scheduler lease."""
        at = self._now(at)
        current = await self.get_session(session_id)
        pending = [a.id for a in await self.list_answers(session_id, AnswerStatus.QUEUED)]
        plan = sessions.close_plan(current, pending, actor=actor, at=at, choice=queued, fence=fence)
        session = Session.model_validate_json(await self._apply(session_id, *plan))
        await self._mirror(session)
        return session

    async def archive_session(
        self, session_id: str, *, actor: str, at: datetime | None = None
    ) -> Session:
        at = self._now(at)
        change = sessions.transition(session_id, SessionAction.ARCHIVE, actor=actor, at=at)
        return await self._session_step(change)

    async def assign_role(
        self, session_id: str, user_id: str, role: Role, *, actor: str, at: datetime | None = None
    ) -> Session:
        """Make ``user_id`` an expert or moderator of the session."""
        at = self._now(at)
        return await self._change_role(session_id, user_id, role, True, actor, at)

    async def revoke_role(
        self, session_id: str, user_id: str, role: Role, *, actor: str, at: datetime | None = None
    ) -> Session:
        at = self._now(at)
        return await self._change_role(session_id, user_id, role, False, actor, at)

    async def _change_role(
        self, session_id: str, user_id: str, role: Role, grant: bool, actor: str, at: datetime
    ) -> Session:
        return await self._retried(
            session_id,
            lambda s: sessions.change_role(s, user_id, role, grant=grant, actor=actor, at=at),
        )

    async def _retried(self, session_id: str, plan: Callable[[Session], Change]) -> Session:
        """The change ``plan`` makes of the current session, read-modify-write guarded by
        the version: retried when the session changed meanwhile."""
        for _ in range(ROLE_RETRIES):
            change = plan(await self.get_session(session_id))
            try:
                return await self._session_step(change)
            except IllegalTransition:
                raise
            except Conflict:
                continue
        raise Conflict(f"session {session_id} keeps changing; try again")

    # -- desk mode: shifts and assignment (atexpert.domain.desk) --------------------------

    async def set_on_duty(
        self,
        session_id: str,
        user_id: str,
        on_duty: bool,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Session:
        """``user_id`` starts (``on_duty``) or ends a shift: ``session.shift_changed``."""
        at = self._now(at)
        return await self._retried(
            session_id, lambda s: desk.shift(s, user_id, on_duty, actor=actor, at=at)
        )

    async def change_saved_replies(
        self,
        session_id: str,
        plan: Callable[[list[SavedReply]], list[SavedReply]],
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Session:
        """The session's saved replies become ``plan`` of the current ones:
        ``session.replies_changed`` (retried when the session changed meanwhile)."""
        at = self._now(at)
        return await self._retried(
            session_id,
            lambda s: desk.replies_change(s, plan(list(s.saved_replies)), actor=actor, at=at),
        )

    async def set_first_response(
        self, session_id: str, minutes: int, *, actor: str, at: datetime | None = None
    ) -> Session:
        """The first-response target becomes ``minutes``: ``session.target_changed``."""
        at = self._now(at)
        return await self._retried(
            session_id, lambda s: desk.target_change(s, minutes, actor=actor, at=at)
        )

    async def assign_question(
        self,
        session_id: str,
        question_id: str,
        assignee: str | None,
        note: str | None = None,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Question:
        """Assign a waiting question to an agent on duty (None: unassign), or hand it over
        with a ``note``: ``question.assigned``."""
        at = self._now(at)
        patch = desk.assignment_patch(await self.get_session(session_id), assignee, note)
        return await self._question(
            session_id, question_id, QuestionAction.ASSIGN, actor, at, patch
        )

    async def record_announcement(
        self,
        session_id: str,
        moment: str,
        tweet_id: str,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Session:
        """The ``moment`` ("start"|"end") announcement was posted as ``tweet_id``: set the
        session's ``thread_root_id`` / ``closing_tweet_id`` (``session.announced``)."""
        at = self._now(at)
        change = sessions.announced(session_id, moment, tweet_id, actor=actor, at=at)
        return await self._session_step(change)

    async def due_sessions(self, now: datetime) -> list[Session]:
        """Scheduled sessions whose start has come and live sessions whose end has come."""
        ids = strs(await self._redis.zrangebyscore(keys.GLOBAL_DUE, "-inf", keys.ms(now)))
        raws = await asyncio.gather(*(self._redis.get(keys.session(i)) for i in ids))
        found = [Session.model_validate_json(r) for r in raws if r is not None]
        return [s for s in found if sessions.is_due(s, now)]

    async def _mirror(self, session: Session) -> None:
        """Reflect one session in the global indexes (idempotent, derived from the record)."""
        await self._redis.zadd(keys.GLOBAL_SESSIONS, {session.id: keys.ms(session.created_at)})
        due = sessions.due_at(session)
        if due is None:
            await self._redis.zrem(keys.GLOBAL_DUE, session.id)
        else:
            await self._redis.zadd(keys.GLOBAL_DUE, {session.id: keys.ms(due)})

    async def rebuild_session_index(self) -> int:
        """Rebuild the global mirrors from the session records; returns the session count."""
        count = 0
        async for key in self._redis.scan_iter(match=keys.SESSION_PATTERN, count=500):
            session = await self.get_session(keys.session_id_of(str(key)))
            await self._mirror(session)
            count += 1
        return count

    # -- events ------------------------------------------------------------------------

    async def read_events(
        self, session_id: str, after: str = "0-0", count: int = 100, *, block_ms: int | None = None
    ) -> list[Event]:
        """Events after stream id ``after`` (exclusive), oldest first, at most ``count``.

        With ``block_ms``, wait up to that long for the first new event (XREAD BLOCK).
        """
        if STREAM_ID.fullmatch(after) is None:
            raise InvalidInput.field(("after",), "an event id looks like 1732612345678-0")
        if not 1 <= count <= 10_000:
            raise InvalidInput.field(("count",), "count is between 1 and 10000")
        if block_ms is not None and not 1 <= block_ms <= 600_000:
            raise InvalidInput.field(("block_ms",), "block_ms is between 1 and 600000")
        reply = await self._redis.xread(
            {keys.events(session_id): after}, count=count, block=block_ms
        )
        return [decode_event(session_id, eid, f) for eid, f in _stream_entries(reply)]

    async def last_event_id(self, session_id: str) -> str:
        """Id of the newest event, "0-0" if none: a console resumes after it."""
        entries = await self._redis.xrevrange(keys.events(session_id), count=1)
        return str(entries[0][0]) if entries else "0-0"

    async def replay(self, session_id: str) -> SessionSnapshot:
        """Rebuild the session's state from its event log alone: the checkpoint's state
        (:mod:`atexpert.store.checkpoint`), then every event after it."""
        state = await checkpoint.fold_log(self._redis, session_id, chunk=REPLAY_CHUNK)
        if state.session is None:
            raise NotFound("session", session_id)
        return SessionSnapshot.of(state)

    async def snapshot(self, session_id: str) -> SessionSnapshot:
        """Every record and setting of the session as stored now."""
        session = await self.get_session(session_id)
        qs = await self.list_questions(session_id)
        ans = await self.list_answers(session_id)
        return SessionSnapshot(
            session=session,
            questions={q.id: q for q in qs},
            answers={a.id: a for a in ans},
            automod=await AutomodStore(self._redis).get(session_id),
            intake=await IntakeStore(self._redis).setting(session_id),
            intake_pause=await IntakeStore(self._redis).pause(session_id),
            announcements=await AnnouncementStore(self._redis).states(session_id),
        )


def _stream_entries(reply: Any) -> list[tuple[str, Mapping[str, str]]]:
    """XREAD's reply (RESP2 list or RESP3 dict) as a flat list of (id, fields)."""
    if not reply:
        return []
    streams = reply.values() if isinstance(reply, dict) else [s[1] for s in reply]
    out: list[tuple[str, Mapping[str, str]]] = []
    for entries in streams:
        if isinstance(entries, list) and entries and isinstance(entries[0], list):
            entries = entries[0]  # RESP3: {stream: [[entries]]}
        out.extend((str(eid), fields) for eid, fields in entries)
    return out
