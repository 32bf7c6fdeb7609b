"""The Redis store: sessions, questions and answers, each change atomic with its event.

Every state change runs as ONE Lua step (``store_step.lua``, EVALSHA-cached) on the keys of
one session: guards checked, records patched, status indexes moved and one event per change
appended to the session's stream, or nothing at all. A question action is one round trip.

The global session list and the scheduler's due index (``{global}`` tag, another slot) are
mirrors written right after the session step; :meth:`Store.rebuild_session_index` rebuilds
them from the session records should a crash fall between the two.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from atexpert import answers, keys, lua, questions, sessions
from atexpert.answers import Answer, AnswerAction, AnswerDraft, AnswerStatus
from atexpert.automod_store import AutomodStore, StoredConfig
from atexpert.clock import Clock, SystemClock
from atexpert.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from atexpert.events import (
    Change,
    Create,
    Event,
    EventKind,
    Guard,
    Record,
    SessionState,
    Step,
    decode_event,
    replay,
    step_args,
)
from atexpert.intake_state import IntakeSetting, IntakeStore
from atexpert.questions import IncomingQuestion, Question, QuestionAction, QuestionStatus
from atexpert.sessions import (
    Role,
    Session,
    SessionAction,
    SessionFields,
    SessionStatus,
    SessionUpdate,
)

RedisClient = Redis | RedisCluster
_QA = QuestionAction
_AA = AnswerAction

STEP_LUA = lua.script(__name__, "store_step.lua")
STREAM_ID = re.compile(r"[0-9]{1,20}(-[0-9]{1,20})?")
REPLAY_CHUNK = 1000
ROLE_RETRIES = 5

_ILLEGAL: dict[str, Callable[[Record, str], IllegalTransition]] = {
    "session": sessions.illegal,
    "question": questions.illegal,
    "answer": answers.illegal,
}


class _Exists(Exception):
    def __init__(self, raw: str) -> None:
        self.raw = raw


class SessionSnapshot(BaseModel):
    """Every record and setting of one session, typed. Built from the store or the log."""

    session: Session
    questions: dict[str, Question]
    answers: dict[str, Answer]
    automod: StoredConfig = StoredConfig()
    intake: IntakeSetting = IntakeSetting()

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
        )


class Store:
    """All domain state in Redis. ``at`` defaults to the clock's now; ids are strings."""

    def __init__(self, redis: RedisClient, *, clock: Clock | None = None) -> None:
        self._redis = redis
        self._clock = clock or SystemClock()
        self._step = redis.register_script(STEP_LUA)

    def _now(self, at: datetime | None) -> datetime:
        return self._clock.now() if at is None else at

    # -- the atomic step ---------------------------------------------------------------

    async def _run(self, session_id: str, items: Sequence[Step]) -> list[str]:
        """Run ``items`` as one atomic step; per item its new record JSON ("" if none)."""
        step_keys, argv = step_args(session_id, items)
        reply = await self._step(keys=step_keys, args=argv)
        if reply[0] == "ok":
            return [str(raw) for raw in reply[2]]
        raise _failure(str(reply[0]), items[int(reply[1]) - 1], str(reply[2]))

    async def _apply(self, session_id: str, *changes: Change, guards: Sequence[Guard] = ()) -> str:
        """Run changes (+ guards) in one step; the first change's new record JSON."""
        results = await self._run(session_id, [*guards, *changes])
        return results[len(guards)]

    async def _get(self, key: str, entity: str, entity_id: str) -> str:
        raw = await self._redis.get(key)
        if raw is None:
            raise NotFound(entity, entity_id)
        return str(raw)

    # -- sessions ----------------------------------------------------------------------

    async def create_session(
        self,
        fields: SessionFields,
        *,
        actor: str,
        at: datetime | None = None,
        session_id: str | None = None,
    ) -> Session:
        """Create a draft session (``session.created``)."""
        at = self._now(at)
        session = sessions.new_session(
            fields, session_id=session_id or sessions.new_session_id(), actor=actor, at=at
        )
        record = session.model_dump(mode="json")
        try:
            await self._run(
                session.id, [Create("session", record, EventKind.SESSION_CREATED, actor, at)]
            )
        except _Exists:
            raise Conflict(f"session {session.id} already exists") from None
        await self._mirror(session)
        return session

    async def get_session(self, session_id: str) -> Session:
        raw = await self._get(keys.session(session_id), "session", session_id)
        return Session.model_validate_json(raw)

    async def list_sessions(self, status: SessionStatus | None = None) -> list[Session]:
        """All sessions (by creation time), optionally of one status."""
        ids = _strs(await self._redis.zrange(keys.GLOBAL_SESSIONS, 0, -1))
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
        self, session_id: str, *, actor: str, at: datetime | None = None, fence: int | None = None
    ) -> Session:
        """live -> closed. With ``fence``, refuse (Conflict) a stale scheduler lease."""
        at = self._now(at)
        change = sessions.transition(
            session_id, SessionAction.CLOSE, actor=actor, at=at, fence=fence
        )
        return await self._session_step(change)

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
        for _ in range(ROLE_RETRIES):  # read-modify-write guarded by the version
            current = await self.get_session(session_id)
            change = sessions.change_role(current, user_id, role, grant=grant, actor=actor, at=at)
            try:
                return await self._session_step(change)
            except IllegalTransition:
                raise
            except Conflict:
                continue
        raise Conflict(f"session {session_id} keeps changing; try again")

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
        ids = _strs(await self._redis.zrangebyscore(keys.GLOBAL_DUE, "-inf", keys.ms(now)))
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

    # -- questions ---------------------------------------------------------------------

    async def add_question(
        self, session_id: str, incoming: IncomingQuestion, *, at: datetime | None = None
    ) -> tuple[Question, bool]:
        """Store a tweeted question unless its tweet was seen: (question, created)."""
        at = self._now(at)
        question = questions.received(incoming, session_id=session_id, at=at)
        guard = sessions.MACHINE.guard(session_id, SessionAction.RECEIVE)
        actor = "@" + incoming.author.handle
        create = Create("question", question.record(), EventKind.QUESTION_RECEIVED, actor, at)
        try:
            await self._run(session_id, [create, guard])  # a seen tweet wins
        except _Exists as seen:
            return questions.load(seen.raw, session_id), False
        return question, True

    async def get_question(self, session_id: str, question_id: str) -> Question:
        key = keys.question(session_id, question_id)
        return questions.load(await self._get(key, "question", question_id), session_id)

    async def list_questions(
        self,
        session_id: str,
        status: QuestionStatus | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Question]:
        """Questions in arrival order, optionally of one status."""
        statuses = [status] if status is not None else list(QuestionStatus)
        raws = await self._list(
            [keys.question_index(session_id, s.value) for s in statuses],
            lambda i: keys.question(session_id, i),
            offset,
            limit,
        )
        return [questions.load(raw, session_id) for raw in raws]

    async def _list(
        self,
        indexes: list[str],
        key_of: Callable[[str], str],
        offset: int,
        limit: int | None,
    ) -> list[str]:
        if offset < 0 or (limit is not None and limit < 0):
            raise InvalidInput.field(("offset",), "offset and limit are >= 0")
        stop = -1 if limit is None else offset + limit - 1
        if len(indexes) == 1:
            ids = _strs(await self._redis.zrange(indexes[0], offset, stop))
        else:
            scored: list[Any] = await asyncio.gather(
                *(self._redis.zrange(i, 0, -1, withscores=True) for i in indexes)
            )
            merged = sorted((float(score), str(i)) for pairs in scored for i, score in pairs)
            ids = [i for _, i in merged][offset : None if limit is None else offset + limit]
        if not ids:
            return []
        raws = await self._redis.mget([key_of(i) for i in ids])
        return [str(r) for r in raws if r is not None]

    async def _question(
        self,
        session_id: str,
        question_id: str,
        action: QuestionAction,
        actor: str,
        at: datetime,
        patch: Record | None = None,
        expected_version: int | None = None,
    ) -> Question:
        change = questions.change(
            question_id, action, actor=actor, at=at, patch=patch, expected_version=expected_version
        )
        return questions.load(await self._apply(session_id, change), session_id)

    async def approve_question(
        self,
        session_id: str,
        question_id: str,
        *,
        actor: str,
        at: datetime | None = None,
        version: int | None = None,
    ) -> Question:
        """pending -> approved. ``version``: fail (Conflict) unless the question is at it."""
        at = self._now(at)
        return await self._question(session_id, question_id, _QA.APPROVE, actor, at, None, version)

    async def reject_question(
        self,
        session_id: str,
        question_id: str,
        reason: str,
        *,
        actor: str,
        at: datetime | None = None,
        version: int | None = None,
    ) -> Question:
        """pending|approved -> rejected, with a reason (required)."""
        at = self._now(at)
        patch = questions.reject_patch(reason)
        return await self._question(session_id, question_id, _QA.REJECT, actor, at, patch, version)

    async def merge_question(
        self,
        session_id: str,
        question_id: str,
        into: str,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Question:
        """pending|approved -> merged into another question of the session, not merged."""
        at = self._now(at)
        keys.check_id("question", into)
        change, guard = questions.merge_plan(question_id, into, actor=actor, at=at)
        return questions.load(await self._apply(session_id, change, guards=[guard]), session_id)

    async def requeue_question(
        self,
        session_id: str,
        question_id: str,
        *,
        actor: str,
        at: datetime | None = None,
        reason: str | None = None,
    ) -> Question:
        """approved -> pending: hand the question back to the moderators."""
        at = self._now(at)
        patch = questions.requeue_patch(reason)
        return await self._question(session_id, question_id, _QA.REQUEUE, actor, at, patch)

    async def restore_question(
        self, session_id: str, question_id: str, *, actor: str, at: datetime | None = None
    ) -> Question:
        """Undo a reject or a merge: back to pending."""
        at = self._now(at)
        patch = questions.RESTORE_PATCH
        return await self._question(session_id, question_id, _QA.RESTORE, actor, at, patch)

    async def edit_question(
        self,
        session_id: str,
        question_id: str,
        display_text: str | None,
        *,
        actor: str,
        at: datetime | None = None,
        version: int | None = None,
    ) -> Question:
        """Set the text shown to the expert (None: back to the original text)."""
        at = self._now(at)
        patch = questions.edit_patch(display_text)
        return await self._question(session_id, question_id, _QA.EDIT, actor, at, patch, version)

    async def star_question(
        self,
        session_id: str,
        question_id: str,
        starred: bool,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Question:
        at = self._now(at)
        patch = {"starred": starred}
        return await self._question(session_id, question_id, _QA.STAR, actor, at, patch)

    async def set_question_priority(
        self,
        session_id: str,
        question_id: str,
        priority: int,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Question:
        at = self._now(at)
        patch = questions.priority_patch(priority)
        return await self._question(session_id, question_id, _QA.PRIORITIZE, actor, at, patch)

    async def set_question_tags(
        self,
        session_id: str,
        question_id: str,
        tags: list[str],
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Question:
        at = self._now(at)
        patch = questions.tags_patch(tags)
        return await self._question(session_id, question_id, _QA.TAG, actor, at, patch)

    async def set_question_note(
        self,
        session_id: str,
        question_id: str,
        note: str | None,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Question:
        at = self._now(at)
        patch = questions.note_patch(note)
        return await self._question(session_id, question_id, _QA.NOTE, actor, at, patch)

    async def set_question_likes(
        self, session_id: str, likes: Mapping[str, int], *, actor: str, at: datetime | None = None
    ) -> list[str]:
        """Like counts read on X, by question id, in one step: one ``question.metrics``
        per count that changed, versions kept. The ids of the questions updated."""
        at = self._now(at)
        changes = [questions.likes_change(q, n, actor=actor, at=at) for q, n in likes.items()]
        for change in changes:
            keys.check_id("question", change.entity_id)
        done = await self._run(session_id, changes) if changes else []
        return [c.entity_id for c, raw in zip(changes, done, strict=True) if raw]

    # -- answers -----------------------------------------------------------------------

    async def create_answer(
        self, session_id: str, draft: AnswerDraft, *, expert_id: str, at: datetime | None = None
    ) -> Answer:
        """A draft answer to one or more approved questions (``answer.drafted``)."""
        at = self._now(at)
        answer = answers.drafted(
            draft,
            answer_id=answers.new_answer_id(),
            session_id=session_id,
            expert_id=expert_id,
            at=at,
        )
        for qid in answer.question_ids:
            keys.check_id("question", qid)
        steps: list[Step] = [
            questions.MACHINE.guard(qid, QuestionAction.ANSWER) for qid in answer.question_ids
        ]
        record = answer.model_dump(mode="json")
        steps.append(Create("answer", record, EventKind.ANSWER_DRAFTED, expert_id, at))
        await self._run(session_id, steps)
        return answer

    async def get_answer(self, session_id: str, answer_id: str) -> Answer:
        raw = await self._get(keys.answer(session_id, answer_id), "answer", answer_id)
        return Answer.model_validate_json(raw)

    async def list_answers(
        self, session_id: str, status: AnswerStatus | None = None
    ) -> list[Answer]:
        statuses = [status] if status is not None else list(AnswerStatus)
        raws = await self._list(
            [keys.answer_index(session_id, s.value) for s in statuses],
            lambda i: keys.answer(session_id, i),
            0,
            None,
        )
        return [Answer.model_validate_json(raw) for raw in raws]

    async def _answer(
        self,
        session_id: str,
        answer_id: str,
        action: AnswerAction,
        actor: str,
        at: datetime,
        patch: Record | None = None,
        version: int | None = None,
    ) -> Answer:
        change = answers.change(
            answer_id, action, actor=actor, at=at, patch=patch, expected_version=version
        )
        return Answer.model_validate_json(await self._apply(session_id, change))

    async def edit_answer(
        self,
        session_id: str,
        answer_id: str,
        text: str,
        parts: list[str] | None = None,
        *,
        actor: str,
        at: datetime | None = None,
        version: int | None = None,
    ) -> Answer:
        """Replace a draft's text and thread parts (draft only)."""
        at = self._now(at)
        patch = answers.edit_patch(text, parts)
        return await self._answer(session_id, answer_id, _AA.EDIT, actor, at, patch, version)

    async def submit_answer(
        self, session_id: str, answer_id: str, *, actor: str, at: datetime | None = None
    ) -> Answer:
        """draft -> awaiting_approval if the session requires approval, else -> queued."""
        at = self._now(at)
        session = await self.get_session(session_id)
        needs = session.options.require_answer_approval
        return await self._answer(
            session_id, answer_id, _AA.SUBMIT if needs else _AA.QUEUE, actor, at
        )

    async def approve_answer(
        self, session_id: str, answer_id: str, *, actor: str, at: datetime | None = None
    ) -> Answer:
        """awaiting_approval -> queued."""
        at = self._now(at)
        return await self._answer(session_id, answer_id, _AA.APPROVE, actor, at)

    async def return_answer(
        self, session_id: str, answer_id: str, *, actor: str, at: datetime | None = None
    ) -> Answer:
        """awaiting_approval -> draft (the approver sends it back to the expert)."""
        at = self._now(at)
        return await self._answer(session_id, answer_id, _AA.RETURN, actor, at)

    async def withdraw_answer(
        self, session_id: str, answer_id: str, *, actor: str, at: datetime | None = None
    ) -> Answer:
        """queued -> draft, before publishing starts."""
        at = self._now(at)
        return await self._answer(session_id, answer_id, _AA.WITHDRAW, actor, at)

    async def start_publishing(
        self,
        session_id: str,
        answer_id: str,
        *,
        actor: str,
        at: datetime | None = None,
        parts: Sequence[Record] | None = None,
        version: int | None = None,
    ) -> Answer:
        """queued -> publishing: the publisher claims the answer (exactly one wins).

        ``parts``: the planned thread (the outbox, see :func:`answers.claim_patch`), written
        in the same step as the claim and its ``answer.publishing`` event. ``version``: fail
        (Conflict) unless the answer is at it (withdrawn or re-queued since it was read).
        """
        at = self._now(at)
        patch = answers.claim_patch(parts) if parts is not None else None
        return await self._answer(session_id, answer_id, _AA.PUBLISH, actor, at, patch, version)

    async def record_part_posted(
        self,
        session_id: str,
        answer_id: str,
        index: int,
        tweet_id: str,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Answer:
        """Part ``index`` (0-based) of the thread was posted as ``tweet_id``."""
        at = self._now(at)
        patch = answers.post_part_patch(index, tweet_id)
        return await self._answer(session_id, answer_id, _AA.POST_PART, actor, at, patch)

    async def mark_published(
        self, session_id: str, answer_id: str, *, actor: str, at: datetime | None = None
    ) -> Answer:
        """publishing -> published; its still-approved questions become answered."""
        at = self._now(at)
        answer = await self.get_answer(session_id, answer_id)
        change = answers.change(
            answer_id,
            AnswerAction.PUBLISHED,
            actor=actor,
            at=at,
            patch={"error": None},
            expected_version=answer.version,
        )
        answered = [
            questions.change(
                qid,
                QuestionAction.ANSWER,
                actor=actor,
                at=at,
                patch={"answer_id": answer_id},
                optional=True,
            )
            for qid in answer.question_ids
        ]
        return Answer.model_validate_json(await self._apply(session_id, change, *answered))

    async def mark_failed(
        self, session_id: str, answer_id: str, error: str, *, actor: str, at: datetime | None = None
    ) -> Answer:
        """publishing -> failed, keeping the parts already posted."""
        at = self._now(at)
        patch = answers.fail_patch(error)
        return await self._answer(session_id, answer_id, _AA.FAIL, actor, at, patch)

    async def retry_answer(
        self, session_id: str, answer_id: str, *, actor: str, at: datetime | None = None
    ) -> Answer:
        """failed -> queued."""
        at = self._now(at)
        return await self._answer(session_id, answer_id, _AA.RETRY, actor, at)

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
        """Rebuild the session's state from its event log alone."""
        state = SessionState()
        stream = keys.events(session_id)
        start = "-"
        while True:
            chunk: Any = await self._redis.xrange(stream, min=start, count=REPLAY_CHUNK)
            state = replay((decode_event(session_id, eid, f) for eid, f in chunk), state)
            if len(chunk) < REPLAY_CHUNK:
                break
            start = "(" + str(chunk[-1][0])
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
        )


def _failure(reason: str, item: Step, raw: str) -> Exception:
    """The error for a refused step (see the return values of store_step.lua)."""
    what = f"{item.entity} {item.entity_id}"
    if reason == "missing":
        return NotFound(item.entity, item.entity_id)
    if reason == "exists":
        return _Exists(raw)
    record = _loads(raw)
    if reason == "status" and not isinstance(item, Create):
        return _ILLEGAL[item.entity](record, item.action)
    if reason == "version" and isinstance(item, Change):
        by = record.get("decided_by") or record.get("updated_by")
        return Conflict(
            f"{what} was changed meanwhile{f' by {by}' if by else ''} (it is "
            f"{record.get('status')}, version {record.get('version')}, not "
            f"{item.expected_version}); reload and retry"
        )
    if reason == "fence" and isinstance(item, Change):
        return Conflict(
            f"stale scheduler lease: fence {item.fence} is below {record.get('fence')} "
            f"already recorded on {what}"
        )
    return InvalidInput(f"{what} has no such part to change")


def _loads(raw: str) -> Record:
    value = json.loads(raw)
    return value if isinstance(value, dict) else {}


def _strs(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


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
