"""The merge step of :class:`~atexpert.store.store.Store`: a question merged into another,
and, when the other's answer is already claimed by the publisher (publishing or
published), its asker's reply added to that answer in the same atomic step."""

from __future__ import annotations

import contextlib
from datetime import datetime

from atexpert.domain import answers, merged, questions
from atexpert.domain.answers import Answer, AnswerAction, AnswerStatus
from atexpert.domain.errors import Conflict, NotFound, SessionClosed
from atexpert.domain.events import Change
from atexpert.domain.questions import Question, QuestionStatus
from atexpert.store import keys
from atexpert.store.answer_steps import AnswerSteps
from atexpert.store.question_steps import QuestionSteps

#: Tries of the merge when the answer changed meanwhile (the publisher recorded a post).
_TRIES = 5


class MergeSteps(QuestionSteps, AnswerSteps):
    async def merge_question(
        self,
        session_id: str,
        question_id: str,
        into: str,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Question:
        """pending|approved -> merged into another question of the session, not merged.

        Its asker is answered like the others of ``into`` (:mod:`atexpert.domain.merged`):
        planned at claim time, or, once the answer is claimed, added to it here with a
        version guard (``answer.merged_added``). SessionClosed when that reply could no
        longer be posted."""
        at = self._now(at)
        keys.check_id("question", into)
        change, guard = questions.merge_plan(question_id, into, actor=actor, at=at)
        tries = 0
        while True:
            tries += 1
            late = await self._late_reply(session_id, question_id, into, actor, at)
            try:
                raw = await self._apply(session_id, change, *late, guards=[guard])
            except Conflict:
                if not late or tries >= _TRIES:
                    raise
                continue  # the answer changed meanwhile (a post recorded): plan again
            return questions.load(raw, session_id)

    async def _late_reply(
        self, session_id: str, question_id: str, into: str, actor: str, at: datetime
    ) -> list[Change]:
        """The change adding the replies of the question once merged to the answer of
        ``into`` if that answer is claimed (none otherwise)."""
        answer = await self._claimed_answer(session_id, into)
        if answer is None:
            return []
        session = await self.get_session(session_id)
        refusal = merged.late_refusal(session)
        if refusal is not None:
            raise SessionClosed(f"cannot merge into a question already answered: {refusal}")
        answered = await self._questions(session_id, answer.question_ids)
        question = await self.get_question(session_id, question_id)
        mergeable = (QuestionStatus.PENDING, QuestionStatus.APPROVED)
        if question.status not in mergeable:
            return []  # the merge itself is refused
        now_merged = question.model_copy(
            update={"status": QuestionStatus.MERGED, "merged_into": into}
        )
        others = await self.list_questions(session_id, QuestionStatus.MERGED)
        replied = await self._questions(session_id, [r.question_id for r in answer.merged])
        added = [
            merged.plan_reply(answer, q, session, session.thread_root_id)
            for q in merged.late_askers(answered, [*others, now_merged], replied)
        ]
        if not added:
            return []
        patch = answers.merged_added_patch(answer, added)
        return [
            answers.change(
                answer.id,
                AnswerAction.ADD_MERGED,
                actor=actor,
                at=at,
                patch=patch,
                expected_version=answer.version,
            )
        ]

    async def _claimed_answer(self, session_id: str, question_id: str) -> Answer | None:
        """The publishing or published answer to ``question_id``, if any."""
        for status in (AnswerStatus.PUBLISHING, AnswerStatus.PUBLISHED):
            for answer in await self.list_answers(session_id, status):
                if question_id in answer.question_ids:
                    return answer
        return None

    async def _questions(self, session_id: str, ids: list[str]) -> list[Question]:
        """The questions of ``ids`` that exist, in that order."""
        out: list[Question] = []
        for qid in ids:
            with contextlib.suppress(NotFound):
                out.append(await self.get_question(session_id, qid))
        return out
