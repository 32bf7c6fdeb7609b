"""Random sequences of moderation actions: the store agrees with the pure state machine,
refuses exactly the illegal actions, and its event log replays to the stored state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atexpert.domain import questions
from atexpert.domain.errors import AtexpertError, IllegalTransition
from atexpert.domain.questions import Author, IncomingQuestion, QuestionAction, QuestionStatus
from atexpert.domain.sessions import SessionFields
from atexpert.store.store import Store

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
N = 3
ACTIONS = [a for a in QuestionAction if a not in (QuestionAction.MERGE_INTO, QuestionAction.ANSWER)]

steps = st.lists(
    st.tuples(st.sampled_from(ACTIONS), st.integers(0, N - 1), st.integers(0, N - 1)),
    max_size=25,
)


async def perform(store: Store, sid: str, action: QuestionAction, qid: str, other: str) -> None:
    at, who = T0, "mod"
    match action:
        case QuestionAction.APPROVE:
            await store.approve_question(sid, qid, actor=who, at=at)
        case QuestionAction.REJECT:
            await store.reject_question(sid, qid, "no", actor=who, at=at)
        case QuestionAction.MERGE:
            await store.merge_question(sid, qid, other, actor=who, at=at)
        case QuestionAction.REQUEUE:
            await store.requeue_question(sid, qid, actor=who, at=at)
        case QuestionAction.RESTORE:
            await store.restore_question(sid, qid, actor=who, at=at)
        case QuestionAction.EDIT:
            await store.edit_question(sid, qid, "edited", actor=who, at=at)
        case QuestionAction.STAR:
            await store.star_question(sid, qid, True, actor=who, at=at)
        case QuestionAction.PRIORITIZE:
            await store.set_question_priority(sid, qid, 2, actor=who, at=at)
        case QuestionAction.TAG:
            await store.set_question_tags(sid, qid, ["t"], actor=who, at=at)
        case QuestionAction.NOTE:
            await store.set_question_note(sid, qid, "n", actor=who, at=at)
        case QuestionAction.ASSIGN:  # unassigned: nobody needs to be on duty
            await store.assign_question(sid, qid, None, actor=who, at=at)


def expected_ok(status: dict[str, QuestionStatus], action: QuestionAction, q: str, o: str) -> bool:
    if (status[q], action) not in questions.MACHINE.table:
        return False
    if action is QuestionAction.MERGE:
        return q != o and (status[o], QuestionAction.MERGE_INTO) in questions.MACHINE.table
    return True


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=steps)
async def test_random_moderation_matches_the_machine(
    redis_url: str, sequence: list[tuple[QuestionAction, int, int]]
) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        store = Store(client)
        s = await store.create_session(
            SessionFields(
                title="Props",
                hashtags=["#Props"],
                host_account={"handle": "brand"},  # type: ignore[arg-type]
                scheduled_start=T0 + timedelta(hours=1),
                scheduled_end=T0 + timedelta(hours=2),
            ),
            actor="brand",
            at=T0,
        )
        await store.schedule_session(s.id, actor="brand", at=T0)
        ids = []
        for n in range(N):
            q, _ = await store.add_question(
                s.id,
                IncomingQuestion(
                    tweet_id=str(100 + n),
                    author=Author(id="1", handle="a"),
                    text="?",
                    created_at=T0,
                ),
                at=T0,
            )
            ids.append(q.id)
        model = {qid: QuestionStatus.PENDING for qid in ids}
        for action, i, j in sequence:
            qid, other = ids[i], ids[j]
            ok = expected_ok(model, action, qid, other)
            try:
                await perform(store, s.id, action, qid, other)
            except IllegalTransition:
                assert not ok
            except AtexpertError:
                assert not ok and action is QuestionAction.MERGE
            else:
                assert ok
                model[qid] = questions.MACHINE.next(model[qid], action)
        stored = await store.snapshot(s.id)
        assert {q.id: q.status for q in stored.questions.values()} == model
        assert await store.replay(s.id) == stored
    finally:
        await client.aclose()
