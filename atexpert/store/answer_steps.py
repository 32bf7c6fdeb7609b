"""The answer steps of :class:`~atexpert.store.store.Store` (draft, review, publication)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from atexpert.domain import answers, questions
from atexpert.domain.answers import Answer, AnswerAction, AnswerDraft, AnswerStatus
from atexpert.domain.errors import Conflict
from atexpert.domain.events import Create, EventKind, Record, Step
from atexpert.domain.questions import QuestionAction
from atexpert.store import keys
from atexpert.store.steps import StepRunner

_AA = AnswerAction


class AnswerSteps(StepRunner):
    """Draft, review and publish answers: each action one atomic step with its event."""

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
        merged: Sequence[Record] = (),
        version: int | None = None,
    ) -> Answer:
        """queued -> publishing: the publisher claims the answer (exactly one wins).

        ``parts`` and ``merged``: the planned thread and the replies to merged askers (the
        outbox, see :func:`answers.claim_patch`), written in the same step as the claim and
        its ``answer.publishing`` event. ``version``: fail (Conflict) unless the answer is
        at it (withdrawn or re-queued since it was read).
        """
        at = self._now(at)
        patch = answers.claim_patch(parts, merged) if parts is not None else None
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

    async def record_merged_posted(
        self,
        session_id: str,
        answer_id: str,
        reply: int,
        index: int,
        text: str,
        tweet_id: str,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Answer:
        """Post ``index`` of the reply to merged asker ``reply`` was posted as ``tweet_id``."""
        at = self._now(at)
        patch = answers.merged_posted_patch(reply, index, text, tweet_id)
        return await self._answer(session_id, answer_id, _AA.POST_PART, actor, at, patch)

    async def record_merged_refused(
        self,
        session_id: str,
        answer_id: str,
        reply: int,
        reason: str,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Answer:
        """X refused the reply to merged asker ``reply`` (its post deleted, replies closed)."""
        at = self._now(at)
        patch = answers.merged_refused_patch(reply, reason)
        return await self._answer(session_id, answer_id, _AA.REFUSE_MERGED, actor, at, patch)

    async def mark_published(
        self, session_id: str, answer_id: str, *, actor: str, at: datetime | None = None
    ) -> Answer:
        """publishing -> published; its still-approved questions become answered.
        Conflict while a reply to a merged asker is still to post (one may be added by a
        merge until this step: the version guard sees it)."""
        at = self._now(at)
        answer = await self.get_answer(session_id, answer_id)
        if answer.replies_pending:
            raise Conflict(f"answer {answer_id} still has replies to merged askers to post")
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
