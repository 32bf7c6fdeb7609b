"""The question steps of :class:`~atexpert.store.store.Store` (intake, moderation, tags...)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from atexpert.domain import questions, sessions
from atexpert.domain.events import Create, EventKind, Record
from atexpert.domain.questions import IncomingQuestion, Question, QuestionAction, QuestionStatus
from atexpert.domain.sessions import SessionAction
from atexpert.store import keys
from atexpert.store.steps import Exists, StepRunner

_QA = QuestionAction


class QuestionSteps(StepRunner):
    """Add, list and moderate questions: each action one atomic step with its event."""

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
        except Exists as seen:
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

    async def list_questions_by(self, session_id: str, author_id: str) -> list[Question]:
        """The questions of one X account (``author.id``), in arrival order: reads only
        theirs, through the asker index written with each question (``keys.asker_questions``).
        A session without the index (stored before it existed, or imported) gets it built
        from its question records at this first read."""
        if keys.ID.fullmatch(author_id) is None:
            return []
        if not await self._redis.exists(keys.askers_indexed(session_id)):
            await self._index_askers(session_id)
        raws = await self._list(
            [keys.asker_questions(session_id, author_id)],
            lambda i: keys.question(session_id, i),
            0,
            None,
        )
        return [questions.load(raw, session_id) for raw in raws]

    async def _index_askers(self, session_id: str) -> None:
        """Build the asker index of every question (idempotent: questions created meanwhile
        are indexed by their own step), then mark the session indexed."""
        everything = await self.list_questions(session_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for q in everything:
                key = keys.asker_questions(session_id, q.author.id)
                pipe.zadd(key, {q.id: keys.ms(q.received_at)})
            pipe.set(keys.askers_indexed(session_id), "1")
            await pipe.execute()

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
