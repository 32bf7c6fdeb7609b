"""The store on a real Redis (standalone and a 3-master cluster): behaviour users notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atexpert.domain.answers import AnswerDraft, AnswerStatus
from atexpert.domain.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from atexpert.domain.questions import Author, IncomingQuestion, QuestionStatus
from atexpert.domain.sessions import Role, SessionFields, SessionStatus, SessionUpdate
from atexpert.store import keys
from atexpert.store.store import Store
from tests.support.redis_fixtures import RedisClient

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def fields(**over: Any) -> SessionFields:
    base: dict[str, Any] = {
        "title": "Ask Airbus",
        "hashtags": ["#AskAirbus"],
        "host_account": {"handle": "Airbus"},
        "scheduled_start": T0 + timedelta(hours=1),
        "scheduled_end": T0 + timedelta(hours=2),
    }
    return SessionFields.model_validate(base | over)


def tweet(n: int, text: str = "What fuel will the next airliner use?") -> IncomingQuestion:
    return IncomingQuestion(
        tweet_id=str(1_800_000_000_000_000_000 + n),
        author=Author(id=str(1000 + n), handle=f"user{n}", followers=10**9 + n),
        text=text,
        created_at=T0,
    )


async def scheduled(store: Store, **over: Any) -> str:
    s = await store.create_session(fields(**over), actor="brand", at=T0)
    await store.schedule_session(s.id, actor="brand", at=T0)
    return s.id


async def stream(redis: RedisClient, session_id: str) -> list[Any]:
    entries: list[Any] = await redis.xrange(keys.events(session_id))
    return entries


async def test_session_lifecycle_and_events(redis: RedisClient) -> None:
    store = Store(redis)
    s = await store.create_session(fields(), actor="brand", at=T0)
    assert (await store.get_session(s.id)).status is SessionStatus.DRAFT
    s = await store.update_session(s.id, SessionUpdate(title="Ask Airbus!"), actor="b", at=T0)
    assert s.title == "Ask Airbus!" and s.version == 2
    await store.schedule_session(s.id, actor="brand", at=T0)
    await store.start_session(s.id, actor="host", at=T0 + timedelta(hours=1))
    s = await store.close_session(s.id, actor="host", at=T0 + timedelta(hours=2))
    assert s.status is SessionStatus.CLOSED
    assert s.started_at == T0 + timedelta(hours=1)
    s = await store.archive_session(s.id, actor="brand", at=T0 + timedelta(days=1))
    events = await store.read_events(s.id)
    assert [e.kind.value for e in events] == [
        "session.created",
        "session.updated",
        "session.scheduled",
        "session.started",
        "session.closed",
        "session.archived",
    ]
    assert [e.version for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[3].actor == "host"
    with pytest.raises(IllegalTransition, match="is already archived"):
        await store.archive_session(s.id, actor="brand", at=T0)


async def test_update_of_a_live_session_is_refused(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await scheduled(store)
    await store.start_session(sid, actor="host", at=T0)
    with pytest.raises(IllegalTransition, match="is live"):
        await store.update_session(sid, SessionUpdate(title="x"), actor="brand", at=T0)


async def test_list_sessions_and_roles(redis: RedisClient) -> None:
    store = Store(redis)
    a = await store.create_session(fields(title="A"), actor="brand", at=T0)
    b = await store.create_session(fields(title="B"), actor="brand", at=T0 + timedelta(1))
    await store.schedule_session(b.id, actor="brand", at=T0)
    assert [s.title for s in await store.list_sessions()] == ["A", "B"]
    assert [s.id for s in await store.list_sessions(SessionStatus.SCHEDULED)] == [b.id]
    s = await store.assign_role(a.id, "u7", Role.EXPERT, actor="brand", at=T0)
    s = await store.assign_role(a.id, "u8", Role.MODERATOR, actor="brand", at=T0)
    assert s.expert_ids == ["u7"] and s.moderator_ids == ["u8"]
    s = await store.revoke_role(a.id, "u7", Role.EXPERT, actor="brand", at=T0)
    assert s.expert_ids == []
    assert (await store.get_session(a.id)).expert_ids == []


async def test_fencing_refuses_a_stale_scheduler(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await scheduled(store)
    s = await store.start_session(sid, actor="scheduler", at=T0, fence=5)
    assert s.fence == 5
    before = await stream(redis, sid)
    with pytest.raises(Conflict, match="stale scheduler lease"):
        await store.close_session(sid, actor="scheduler", at=T0, fence=4)
    assert (await store.get_session(sid)).status is SessionStatus.LIVE
    assert await stream(redis, sid) == before
    s = await store.close_session(sid, actor="scheduler", at=T0, fence=6)
    assert s.status is SessionStatus.CLOSED and s.fence == 6
    assert (await store.read_events(sid))[-1].fence == 6


async def test_due_sessions(redis: RedisClient) -> None:
    store = Store(redis)
    early = await scheduled(store)
    late = await scheduled(
        store, scheduled_start=T0 + timedelta(hours=5), scheduled_end=T0 + timedelta(hours=6)
    )
    draft = await store.create_session(fields(), actor="brand", at=T0)
    at_start = T0 + timedelta(hours=1)
    assert [s.id for s in await store.due_sessions(at_start)] == [early]
    await store.start_session(early, actor="scheduler", at=at_start)
    assert await store.due_sessions(at_start) == []
    due = await store.due_sessions(T0 + timedelta(hours=5))
    assert {s.id: s.status for s in due} == {
        early: SessionStatus.LIVE,
        late: SessionStatus.SCHEDULED,
    }
    assert draft.id not in {s.id for s in due}
    await redis.delete(keys.GLOBAL_DUE, keys.GLOBAL_SESSIONS)  # lost mirror: rebuilt
    assert await store.rebuild_session_index() == 3
    assert len(await store.due_sessions(T0 + timedelta(hours=5))) == 2
    assert len(await store.list_sessions()) == 3


async def test_add_question_is_idempotent_by_tweet_id(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await scheduled(store)
    q, created = await store.add_question(sid, tweet(1), at=T0)
    assert created and q.status is QuestionStatus.PENDING
    again, created_again = await store.add_question(sid, tweet(1, "edited"), at=T0)
    assert not created_again
    assert again == q and again.text == q.text
    assert again.author.followers == 10**9 + 1
    assert [e.kind.value for e in await store.read_events(sid)].count("question.received") == 1
    assert [x.id for x in await store.list_questions(sid)] == [q.id]


async def test_questions_are_refused_for_unknown_or_closed_sessions(redis: RedisClient) -> None:
    store = Store(redis)
    with pytest.raises(NotFound):
        await store.add_question("s_missing", tweet(1), at=T0)
    sid = await scheduled(store)
    q, _ = await store.add_question(sid, tweet(1), at=T0)
    await store.start_session(sid, actor="host", at=T0)
    await store.close_session(sid, actor="host", at=T0)
    closed = r"is closed \(by host at 09:00\); cannot receive questions for"
    with pytest.raises(IllegalTransition, match=closed):
        await store.add_question(sid, tweet(2), at=T0)
    seen, created = await store.add_question(sid, tweet(1), at=T0)  # still idempotent
    assert seen.id == q.id and not created
    with pytest.raises(NotFound):
        await store.get_question(sid, "q_2")
    with pytest.raises(NotFound):
        await store.get_session("s_{other}:x")


async def test_moderation_flow(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await scheduled(store)
    q1, _ = await store.add_question(sid, tweet(1), at=T0)
    q2, _ = await store.add_question(sid, tweet(2), at=T0 + timedelta(seconds=1))
    q3, _ = await store.add_question(sid, tweet(3), at=T0 + timedelta(seconds=2))
    q1 = await store.approve_question(sid, q1.id, actor="alice", at=T0)
    assert (q1.status, q1.decided_by, q1.version) == (QuestionStatus.APPROVED, "alice", 2)
    q2 = await store.reject_question(sid, q2.id, "off topic", actor="bob", at=T0)
    assert q2.reject_reason == "off topic"
    with pytest.raises(
        IllegalTransition, match=r"q_\d+ is rejected \(by bob at 09:00\); cannot approve"
    ):
        await store.approve_question(sid, q2.id, actor="alice", at=T0)
    q3 = await store.merge_question(sid, q3.id, q1.id, actor="alice", at=T0)
    assert q3.merged_into == q1.id
    merged = r"is merged \(by alice at 09:00\); cannot merge into"
    with pytest.raises(IllegalTransition, match=merged):
        await store.merge_question(sid, q2.id, q3.id, actor="alice", at=T0)
    with pytest.raises(NotFound):
        await store.merge_question(sid, q2.id, "q_404", actor="alice", at=T0)
    q2 = await store.restore_question(sid, q2.id, actor="bob", at=T0)
    assert (q2.status, q2.reject_reason) == (QuestionStatus.PENDING, None)
    q1 = await store.edit_question(sid, q1.id, "Which fuel?", actor="alice", at=T0)
    assert (q1.display_text, q1.shown_text, q1.text) == (
        "Which fuel?",
        "Which fuel?",
        tweet(1).text,
    )
    q1 = await store.star_question(sid, q1.id, True, actor="alice", at=T0)
    q1 = await store.set_question_priority(sid, q1.id, 3, actor="alice", at=T0)
    q1 = await store.set_question_tags(sid, q1.id, ["fuel"], actor="alice", at=T0)
    q1 = await store.set_question_tags(sid, q1.id, [], actor="alice", at=T0)
    q1 = await store.set_question_note(sid, q1.id, "ask the expert first", actor="a", at=T0)
    assert (q1.starred, q1.priority, q1.tags) == (True, 3, [])
    q1 = await store.requeue_question(sid, q1.id, actor="alice", at=T0)
    assert q1.status is QuestionStatus.PENDING
    pending = await store.list_questions(sid, QuestionStatus.PENDING)
    assert [q.id for q in pending] == [q1.id, q2.id]  # arrival order kept
    assert [
        q.id for q in await store.list_questions(sid, QuestionStatus.PENDING, offset=1, limit=1)
    ] == [q2.id]
    assert [q.id for q in await store.list_questions(sid)] == [q1.id, q2.id, q3.id]
    assert await store.list_questions(sid, QuestionStatus.APPROVED) == []


async def test_a_handed_back_question_says_who_and_why_until_restored(
    redis: RedisClient,
) -> None:
    store = Store(redis)
    sid = await scheduled(store)
    q, _ = await store.add_question(sid, tweet(1), at=T0)
    await store.approve_question(sid, q.id, actor="alice", at=T0)
    with pytest.raises(InvalidInput, match="at most 500"):
        await store.requeue_question(sid, q.id, actor="expert", at=T0, reason="x" * 501)
    q = await store.requeue_question(sid, q.id, actor="expert", at=T0, reason="  Too vague  ")
    assert (q.status, q.handed_back, q.handback_reason, q.decided_by) == (
        QuestionStatus.PENDING,
        True,
        "Too vague",
        "expert",
    )
    last = (await store.read_events(sid))[-1]
    assert (last.kind.value, last.actor) == ("question.requeued", "expert")
    await store.reject_question(sid, q.id, "off topic", actor="alice", at=T0)
    q = await store.restore_question(sid, q.id, actor="alice", at=T0)
    assert (q.handed_back, q.handback_reason) == (False, None)
    await store.approve_question(sid, q.id, actor="alice", at=T0)
    q = await store.requeue_question(sid, q.id, actor="expert", at=T0, reason="   ")
    assert (q.handed_back, q.handback_reason) == (True, None)


async def test_expected_version_detects_a_concurrent_edit(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await scheduled(store)
    q, _ = await store.add_question(sid, tweet(1), at=T0)
    await store.edit_question(sid, q.id, "Reworded", actor="alice", at=T0, version=1)
    with pytest.raises(Conflict, match="changed meanwhile"):
        await store.approve_question(sid, q.id, actor="bob", at=T0, version=1)
    assert (await store.get_question(sid, q.id)).status is QuestionStatus.PENDING


async def test_a_failing_guard_changes_nothing(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await scheduled(store)
    q, _ = await store.add_question(sid, tweet(1), at=T0)
    await store.reject_question(sid, q.id, "spam", actor="bob", at=T0)
    record_before = await redis.get(keys.question(sid, q.id))
    stream_before = await stream(redis, sid)
    pending_before = await redis.zrange(keys.question_index(sid, "pending"), 0, -1)
    for attempt in (
        store.approve_question(sid, q.id, actor="alice", at=T0),
        store.requeue_question(sid, q.id, actor="alice", at=T0),
        store.edit_question(sid, q.id, "x", actor="alice", at=T0),
        store.merge_question(sid, q.id, "q_404", actor="alice", at=T0),
    ):
        with pytest.raises((IllegalTransition, NotFound)):
            await attempt
    with pytest.raises(InvalidInput):
        await store.reject_question(sid, q.id, "  ", actor="bob", at=T0)
    assert await redis.get(keys.question(sid, q.id)) == record_before
    assert await stream(redis, sid) == stream_before
    assert await redis.zrange(keys.question_index(sid, "pending"), 0, -1) == pending_before


async def test_answer_flow_with_approval(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await scheduled(store, options={"require_answer_approval": True})
    q1, _ = await store.add_question(sid, tweet(1), at=T0)
    q2, _ = await store.add_question(sid, tweet(2), at=T0)
    with pytest.raises(IllegalTransition, match="is pending; cannot answer"):
        await store.create_answer(
            sid, AnswerDraft(question_ids=[q1.id], text="x"), expert_id="e", at=T0
        )
    await store.approve_question(sid, q1.id, actor="m", at=T0)
    await store.approve_question(sid, q2.id, actor="m", at=T0)
    draft = AnswerDraft(
        question_ids=[q1.id, q2.id], text="Hydrogen. Soon.", parts=["Hydrogen.", "Soon."]
    )
    a = await store.create_answer(sid, draft, expert_id="expert", at=T0)
    a = await store.edit_answer(
        sid,
        a.id,
        "SAF now, hydrogen later.",
        ["SAF now,", "hydrogen later."],
        actor="expert",
        at=T0,
    )
    a = await store.submit_answer(sid, a.id, actor="expert", at=T0)
    assert a.status is AnswerStatus.AWAITING_APPROVAL
    with pytest.raises(IllegalTransition, match="cannot edit"):
        await store.edit_answer(sid, a.id, "late change", actor="expert", at=T0)
    a = await store.return_answer(sid, a.id, actor="brand", at=T0)
    a = await store.submit_answer(sid, a.id, actor="expert", at=T0)
    a = await store.approve_answer(sid, a.id, actor="brand", at=T0)
    a = await store.withdraw_answer(sid, a.id, actor="expert", at=T0)
    a = await store.submit_answer(sid, a.id, actor="expert", at=T0)
    a = await store.approve_answer(sid, a.id, actor="brand", at=T0)
    assert a.status is AnswerStatus.QUEUED
    a = await store.start_publishing(sid, a.id, actor="publisher", at=T0)
    with pytest.raises(IllegalTransition, match="already publishing"):
        await store.start_publishing(sid, a.id, actor="publisher-2", at=T0)
    a = await store.record_part_posted(
        sid, a.id, 0, "1900000000000000001", actor="publisher", at=T0
    )
    with pytest.raises(InvalidInput):
        await store.record_part_posted(sid, a.id, 5, "1", actor="publisher", at=T0)
    a = await store.mark_failed(sid, a.id, "503 from X", actor="publisher", at=T0)
    assert (a.status, a.error, a.posted_tweet_ids) == (
        AnswerStatus.FAILED,
        "503 from X",
        ["1900000000000000001"],
    )
    a = await store.retry_answer(sid, a.id, actor="publisher", at=T0)
    a = await store.start_publishing(sid, a.id, actor="publisher", at=T0)
    await store.reject_question(sid, q2.id, "duplicate", actor="m", at=T0)  # meanwhile
    a = await store.record_part_posted(
        sid, a.id, 1, "1900000000000000002", actor="publisher", at=T0
    )
    a = await store.mark_published(sid, a.id, actor="publisher", at=T0)
    assert a.status is AnswerStatus.PUBLISHED and a.error is None
    assert a.posted_tweet_ids == ["1900000000000000001", "1900000000000000002"]
    answered = await store.get_question(sid, q1.id)
    assert (answered.status, answered.answer_id) == (QuestionStatus.ANSWERED, a.id)
    assert (await store.get_question(sid, q2.id)).status is QuestionStatus.REJECTED
    assert [x.id for x in await store.list_answers(sid, AnswerStatus.PUBLISHED)] == [a.id]


async def test_answer_without_approval_is_queued_directly(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await scheduled(store)
    q, _ = await store.add_question(sid, tweet(1), at=T0)
    await store.approve_question(sid, q.id, actor="m", at=T0)
    a = await store.create_answer(
        sid, AnswerDraft(question_ids=[q.id], text="Yes."), expert_id="e", at=T0
    )
    a = await store.submit_answer(sid, a.id, actor="e", at=T0)
    assert a.status is AnswerStatus.QUEUED


async def test_read_events_resumes_after_an_id(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await scheduled(store)
    first = await store.read_events(sid, count=1)
    assert [e.kind.value for e in first] == ["session.created"]
    rest = await store.read_events(sid, after=first[0].id)
    assert [e.kind.value for e in rest] == ["session.scheduled"]
    last = await store.last_event_id(sid)
    assert last == rest[-1].id
    assert await store.read_events(sid, after=last) == []
    assert await store.read_events(sid, after=last, block_ms=10) == []
    await store.add_question(sid, tweet(1), at=T0)
    new = await store.read_events(sid, after=last, block_ms=1000)
    assert [e.kind.value for e in new] == ["question.received"]
    assert new[0].data["author"]["followers"] == 10**9 + 1
    with pytest.raises(InvalidInput):
        await store.read_events(sid, after="yesterday")
    assert await store.last_event_id("s_none") == "0-0"


async def test_default_time_comes_from_the_clock(redis: RedisClient) -> None:
    from atexpert.domain.clock import ManualClock

    clock = ManualClock(T0 + timedelta(minutes=7))
    store = Store(redis, clock=clock)
    s = await store.create_session(fields(), actor="brand")
    assert s.created_at == T0 + timedelta(minutes=7)


async def test_claim_writes_the_outbox_with_its_event(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await scheduled(store)
    q, _ = await store.add_question(sid, tweet(1), at=T0)
    await store.approve_question(sid, q.id, actor="m", at=T0)
    a = await store.create_answer(sid, AnswerDraft(question_ids=[q.id], text="x"), expert_id="e")
    a = await store.submit_answer(sid, a.id, actor="e", at=T0)
    parts = [
        {"text": "Hydrogen, 1/2", "status": "pending", "reply_to": q.tweet_id, "route": "reply"},
        {"text": "later. 2/2", "status": "pending"},
    ]
    for bad, field in (([], "parts"), ([{"text": " ", "status": "pending"}], "parts")):
        with pytest.raises(InvalidInput) as refused:
            await store.start_publishing(sid, a.id, actor="p", at=T0, parts=bad)
        assert refused.value.errors[0].loc[0] == field
    with pytest.raises(InvalidInput, match="text: Field required") as refused:
        await store.start_publishing(sid, a.id, actor="p", parts=[{"status": "pending"}])
    assert refused.value.errors[0].loc == ("parts", 0)
    with pytest.raises(Conflict):  # changed since read: another publisher, or withdrawn
        await store.start_publishing(sid, a.id, actor="p", parts=parts, version=a.version - 1)
    claimed = await store.start_publishing(
        sid, a.id, actor="p", at=T0, parts=parts, version=a.version
    )
    assert claimed.status is AnswerStatus.PUBLISHING
    assert [p.text for p in claimed.parts] == ["Hydrogen, 1/2", "later. 2/2"]
    raw = await redis.get(keys.answer(sid, a.id))
    assert '"reply_to":"' + q.tweet_id + '"' in str(raw)  # the outbox keeps part 1's target
    [event] = [e for e in await store.read_events(sid) if e.kind.value == "answer.publishing"]
    assert event.data["parts"] == parts and event.data["status"] == "publishing"
    with pytest.raises(IllegalTransition, match="already publishing"):
        await store.start_publishing(sid, a.id, actor="p2", parts=parts, version=claimed.version)


async def test_announcements_set_the_thread_root_and_closing_post(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await scheduled(store)
    with pytest.raises(IllegalTransition, match=r"is scheduled .*; cannot announce"):
        await store.record_announcement(sid, "start", "1900000000000000001", actor="p", at=T0)
    await store.start_session(sid, actor="host", at=T0 + timedelta(hours=1))
    s = await store.record_announcement(sid, "start", "1900000000000000001", actor="p", at=T0)
    assert (s.thread_root_id, s.closing_tweet_id) == ("1900000000000000001", None)
    await store.close_session(sid, actor="host", at=T0 + timedelta(hours=2))
    s = await store.record_announcement(sid, "end", "1900000000000000009", actor="p", at=T0)
    assert (s.thread_root_id, s.closing_tweet_id) == ("1900000000000000001", "1900000000000000009")
    for moment, tweet_id, field in (("middle", "1", "moment"), ("end", "12ab", "tweet_id")):
        with pytest.raises(InvalidInput) as refused:
            await store.record_announcement(sid, moment, tweet_id, actor="p", at=T0)
        assert refused.value.errors[0].loc == (field,)
    announced = [e for e in await store.read_events(sid) if e.kind.value == "session.announced"]
    assert [e.data["closing_tweet_id"] for e in announced[1:]] == ["1900000000000000009"]
    assert await store.replay(sid) == await store.snapshot(sid)
