"""Replaying a session's event log rebuilds exactly the state the store holds.

The scenario performs every kind of action (and so emits every event kind), including
refused ones, which must leave no trace in either the records or the log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atexpert.domain import saved_replies
from atexpert.domain.answers import AnswerDraft
from atexpert.domain.automod_config import AutomodConfig
from atexpert.domain.errors import AtexpertError
from atexpert.domain.events import EventKind
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.saved_replies import SavedReplyIn
from atexpert.domain.sessions import Role, SessionFields, SessionUpdate
from atexpert.live.hub import LiveHub, SessionFeed
from atexpert.store import checkpoint
from atexpert.store.automod import AutomodStore
from atexpert.store.checkpoint import Policy
from atexpert.store.intake_state import IntakeMode, IntakeStore, PauseReason
from atexpert.store.series_announcements import AnnouncementStore
from atexpert.store.store import SessionSnapshot, Store
from tests.support.redis_fixtures import RedisClient
from tests.support.waiting import wait_for

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def tweet(n: int) -> IncomingQuestion:
    return IncomingQuestion(
        tweet_id=str(1_850_000_000_000_000_000 + n),
        author=Author(
            id=str(9_000_000_000_000_000_000 + n),  # beyond 2**53: must stay exact
            handle=f"fan{n}",
            name=f"Fan “{n}” 🛫",
            followers=123_456_789_012 + n,
            verified=n % 2 == 0,
            account_created_at=T0 - timedelta(days=3000),
        ),
        text=f'Question {n}: will the A350 fly on hydrogen? 🚀 "quoted" \\ back/slash',
        created_at=T0 - timedelta(seconds=n),
        replyable=(True, False, None)[n % 3],
        likes=7 * n,
    )


async def run_every_action(
    store: Store, redis: RedisClient, created: Callable[[str], Awaitable[object]] | None = None
) -> str:
    """Every action on a new session; ``created`` is awaited with its id once it exists."""
    t = T0
    s = await store.create_session(
        SessionFields(
            title="Ask Airbus",
            hashtags=["#AskAirbus"],
            host_account={"handle": "Airbus", "user_id": "1234567890123456789"},  # type: ignore[arg-type]
            scheduled_start=T0 + timedelta(hours=1),
            scheduled_end=T0 + timedelta(hours=2),
            time_zone="Europe/Paris",
            language="fr",
            options={"require_answer_approval": True, "signature": "— Airbus"},  # type: ignore[arg-type]
        ),
        actor="brand",
        at=t,
    )
    sid = s.id
    if created is not None:
        await created(sid)
    changes = SessionUpdate(description="Live Q&A", wrap_up_minutes=30)
    await store.update_session(sid, changes, actor="brand", at=t)
    await store.schedule_session(sid, actor="brand", at=t)
    await store.unschedule_session(sid, actor="brand", at=t)
    await store.assign_role(sid, "u_exp", Role.EXPERT, actor="brand", at=t)
    await store.assign_role(sid, "u_mod", Role.MODERATOR, actor="brand", at=t)
    await store.assign_role(sid, "u_tmp", Role.MODERATOR, actor="brand", at=t)
    await store.revoke_role(sid, "u_tmp", Role.MODERATOR, actor="brand", at=t)
    await store.schedule_session(sid, actor="brand", at=t)
    # The session's settings: auto-moderation (raid mode on, then a new config) and intake.
    automod, intake = AutomodStore(redis), IntakeStore(redis)
    raid = AutomodConfig(raid_mode=True, blocklist=["pub « gratuite »"], banned=["@Troll"])
    await automod.put(sid, raid, actor="u_mod", at=t)
    calm = AutomodConfig(language="fr", max_per_hour=3, actions={"spam-shouting": "reject"})
    await automod.put(sid, calm, actor="brand", at=t, expected_version=1)
    await intake.set_mode(sid, IntakeMode.STREAM, actor="brand", at=t)
    await intake.set_mode(sid, IntakeMode.SEARCH, actor="brand", at=t + timedelta(seconds=1))
    assert await intake.set_pause(sid, PauseReason.X_ERRORS, at=t)
    assert not await intake.set_pause(sid, PauseReason.X_ERRORS, at=t)  # no change, no event
    assert await intake.set_pause(sid, PauseReason.BUDGET, at=t)
    # Announcements before it (as for an occurrence of a series): each state it can take.
    steps = AnnouncementStore(redis)
    await steps.edit(sid, 1440, {"status": "scheduled", "text": "Demain !"}, actor="brand", at=t)
    await steps.edit(sid, 60, {"status": "skipped", "text": None}, actor="brand", at=t)
    await steps.edit(sid, 60, {"status": "scheduled", "text": None}, actor="brand", at=t)
    for before, op, patch in [
        (1440, "claim", {"status": "posting", "text": "Demain !"}),
        (1440, "release", {"status": "scheduled"}),
        (1440, "claim", {"status": "posting", "text": "Demain !"}),
        (1440, "posted", {"status": "posted", "tweet_id": "1860000000000000001"}),
        (60, "missed", {"status": "missed", "reason": "too late"}),
        (15, "claim", {"status": "posting", "text": "Dans 15 minutes"}),
        (15, "failed", {"status": "failed", "reason": "duplicate content"}),
        (15, "claim", {"status": "posting"}),  # failed: no step, no event
    ]:
        await steps.step(sid, before, op, patch, fence=2, actor="scheduler", at=t)  # type: ignore[arg-type]
    qs = [
        (await store.add_question(sid, tweet(n), at=t + timedelta(seconds=n)))[0] for n in range(6)
    ]
    await store.add_question(sid, tweet(0), at=t)  # duplicate: no event
    # Without the approval option, a submitted answer is queued directly.
    no_approval = SessionUpdate(options={"require_answer_approval": False})  # type: ignore[arg-type]
    await store.update_session(sid, no_approval, actor="brand", at=t)
    early, _ = await store.add_question(sid, tweet(6), at=t)
    await store.approve_question(sid, early.id, actor="u_mod", at=t)
    first = AnswerDraft(question_ids=[early.id], text="Yes.")
    first_id = (await store.create_answer(sid, first, expert_id="u_exp", at=t)).id
    await store.submit_answer(sid, first_id, actor="u_exp", at=t)
    approval = SessionUpdate(options={"require_answer_approval": True})  # type: ignore[arg-type]
    await store.update_session(sid, approval, actor="brand", at=t)
    await store.start_session(sid, actor="scheduler", at=t + timedelta(hours=1), fence=3)
    q = [x.id for x in qs]
    await store.approve_question(sid, q[0], actor="u_mod", at=t)
    await store.approve_question(sid, q[1], actor="u_mod", at=t)
    await store.reject_question(sid, q[2], "off topic", actor="u_mod", at=t)
    await store.restore_question(sid, q[2], actor="u_mod", at=t)
    await store.merge_question(sid, q[3], q[0], actor="u_mod", at=t)
    await store.merge_question(sid, q[4], q[1], actor="u_mod", at=t)
    await store.restore_question(sid, q[4], actor="u_mod", at=t)
    await store.approve_question(sid, q[5], actor="u_mod", at=t)
    await store.requeue_question(sid, q[5], actor="u_exp", at=t, reason="Needs context")
    await store.edit_question(sid, q[0], "Hydrogen A350?", actor="u_mod", at=t)
    await store.edit_question(sid, q[0], None, actor="u_mod", at=t)
    await store.edit_question(sid, q[0], "Hydrogen A350 – when?", actor="u_mod", at=t)
    await store.star_question(sid, q[0], True, actor="u_mod", at=t)
    await store.set_question_priority(sid, q[0], 5, actor="u_mod", at=t)
    await store.set_question_tags(sid, q[0], ["fuel", "a350"], actor="u_mod", at=t)
    await store.set_question_tags(sid, q[2], [], actor="u_mod", at=t)
    await store.set_question_note(sid, q[0], "great one", actor="u_mod", at=t)
    # Desk mode: an agent on duty, a question assigned then handed back to no one.
    await store.set_on_duty(sid, "u_exp", True, actor="u_exp", at=t)
    await store.assign_question(sid, q[5], "u_exp", "call back", actor="u_mod", at=t)
    await store.assign_question(sid, q[5], None, actor="u_exp", at=t)
    await store.assign_question(sid, q[1], "u_exp", actor="u_mod", at=t)
    reply = SavedReplyIn(title="Thanks", variables=["topic"], text="Thanks {asker} for {topic}")
    await store.change_saved_replies(
        sid, lambda rs: saved_replies.added(rs, reply, "r_1"), actor="u_mod", at=t
    )
    await store.set_first_response(sid, 45, actor="u_admin", at=t)
    # Like counts read on X: changed ones only (q[2] still has 14), the version kept.
    likes = {q[0]: 40, q[1]: 3, q[2]: 14, "q_1": 5}
    assert await store.set_question_likes(sid, likes, actor="intake", at=t) == [q[0], q[1]]
    for refused in (
        automod.put(sid, raid, actor="u_mod", at=t, expected_version=1),  # stale: now 2
        store.approve_question(sid, q[3], actor="u_mod", at=t),
        store.merge_question(sid, q[2], q[3], actor="u_mod", at=t),
        store.start_session(sid, actor="scheduler", at=t, fence=2),
    ):
        with pytest.raises(AtexpertError):
            await refused
    draft = AnswerDraft(question_ids=[q[0], q[1]], text="Around 2035.", parts=["Around", "2035."])
    a = await store.create_answer(sid, draft, expert_id="u_exp", at=t)
    await store.edit_answer(
        sid, a.id, "By 2035, we hope.", ["By 2035,", "we hope."], actor="u_exp", at=t
    )
    await store.submit_answer(sid, a.id, actor="u_exp", at=t)
    await store.return_answer(sid, a.id, actor="brand", at=t)
    await store.submit_answer(sid, a.id, actor="u_exp", at=t)
    await store.approve_answer(sid, a.id, actor="brand", at=t)
    await store.withdraw_answer(sid, a.id, actor="u_exp", at=t)
    await store.submit_answer(sid, a.id, actor="u_exp", at=t)
    await store.approve_answer(sid, a.id, actor="brand", at=t)
    outbox = [
        {"text": "By 2035,", "status": "pending", "reply_to": q[0][2:], "route": "reply"},
        {"text": "we hope. 🛫", "status": "pending"},
    ]
    merged = [  # q[3] was merged into q[0]: its asker gets the answer too
        {
            "question_id": q[3],
            "handle": "fan_3",
            "route": "session_thread",
            "parts": [{"text": "@fan_3 By 2035"}],
        },
        {
            "question_id": q[3],
            "handle": "fan_4",
            "route": "reply",
            "reply_to": q[3][2:],
            "parts": [{"text": "x"}],
        },
    ]
    version = (await store.get_answer(sid, a.id)).version
    await store.start_publishing(
        sid, a.id, actor="publisher", at=t, parts=outbox, merged=merged, version=version
    )
    await store.record_part_posted(sid, a.id, 0, "1860000000000000001", actor="publisher", at=t)
    await store.record_merged_posted(
        sid, a.id, 0, 0, "@fan_3 By 2035", "1860000000000000003", actor="publisher", at=t
    )
    await store.record_merged_refused(sid, a.id, 1, "X said 403", actor="publisher", at=t)
    await store.mark_failed(sid, a.id, "X said 503", actor="publisher", at=t)
    await store.retry_answer(sid, a.id, actor="publisher", at=t)
    await store.start_publishing(sid, a.id, actor="publisher", at=t)
    await store.record_part_posted(sid, a.id, 1, "1860000000000000002", actor="publisher", at=t)
    await store.mark_published(sid, a.id, actor="publisher", at=t)
    # q[4], merged once the answer is published: its asker's reply is added, then posted
    await store.merge_question(sid, q[4], q[0], actor="u_mod", at=t)
    late = (await store.get_answer(sid, a.id)).merged[2]
    assert (late.question_id, late.handle) == (q[4], "fan4")
    text = late.parts[0].text
    await store.record_merged_posted(
        sid, a.id, 2, 0, text, "1860000000000000004", actor="publisher", at=t
    )
    await store.record_announcement(sid, "start", "1860000000000000000", actor="publisher", at=t)
    await store.close_session(sid, actor="scheduler", at=t + timedelta(hours=2), fence=4)
    await store.close_session(sid, actor="scheduler", at=t + timedelta(hours=3), fence=5)
    await store.record_announcement(sid, "end", "1860000000000000009", actor="publisher", at=t)
    await store.archive_session(sid, actor="brand", at=t + timedelta(days=1))
    return sid


async def test_replay_equals_the_stored_state(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await run_every_action(store, redis)
    events = await store.read_events(sid, count=10_000)
    assert {e.kind for e in events} == set(EventKind), set(EventKind) - {e.kind for e in events}
    replayed = await store.replay(sid)
    stored = await store.snapshot(sid)
    assert replayed == stored
    assert replayed.questions[f"q_{1_850_000_000_000_000_000}"].author.id == "9000000000000000000"
    assert len(stored.answers) == 2
    assert stored.session.thread_root_id == "1860000000000000000"
    assert stored.session.closing_tweet_id == "1860000000000000009"
    assert [q.replyable for q in stored.questions.values()].count(None) == 2
    likes = {q.tweet_id[-1]: q.likes for q in stored.questions.values()}
    assert likes == {"0": 40, "1": 3, "2": 14, "3": 21, "4": 28, "5": 35, "6": 42}
    published = [a for a in stored.answers.values() if a.status.value == "published"]
    assert any(p.text == "we hope. 🛫" for a in published for p in a.parts)
    assert stored.session.options.require_answer_approval
    assert stored.automod.version == 2 and stored.automod.updated_by == "brand"
    assert stored.automod.config.language == "fr" and not stored.automod.config.raid_mode
    assert stored.intake.mode is IntakeMode.SEARCH and stored.intake.version == 2
    assert stored.intake_pause.reason is PauseReason.BUDGET and stored.intake_pause.version == 2
    announced = {k: (a.status, a.version) for k, a in stored.announcements.items()}
    assert announced == {1440: ("posted", 5), 60: ("missed", 3), 15: ("failed", 2)}
    assert stored.announcements[1440].tweet_id == "1860000000000000001"


async def test_replay_in_chunks(redis: RedisClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from atexpert.store import store as store_module

    monkeypatch.setattr(store_module, "REPLAY_CHUNK", 7)
    store = Store(redis)
    sid = await run_every_action(store, redis)
    assert await store.replay(sid) == await store.snapshot(sid)


async def test_the_live_hub_folds_the_log_as_replay_does(
    redis: RedisClient, redis_factory: Any
) -> None:
    """One feed follows every event as it happens, another loads the whole log at the end."""
    store = Store(redis)
    following, loading = LiveHub(await redis_factory()), LiveHub(await redis_factory())
    feeds: list[SessionFeed] = []

    async def follow(sid: str) -> None:
        feeds.append(await following.feed(sid))

    try:
        sid = await run_every_action(store, redis, created=follow)
        head = await store.last_event_id(sid)
        await wait_for(lambda: feeds[0].state.last_event_id == head)
        feeds.append(await loading.feed(sid))
        replayed = await store.replay(sid)
        assert [SessionSnapshot.of(f.state) for f in feeds] == [replayed, replayed]
        assert replayed == await store.snapshot(sid)
    finally:
        await following.stop()
        await loading.stop()


async def test_replay_from_a_checkpoint_at_any_point_equals_the_stored_state(
    redis: RedisClient, redis_factory: Any
) -> None:
    """The log of every action, checkpointed further and further: each time the checkpoint
    plus the tail rebuild the stored state, in the store and in a live hub loading it."""
    store = Store(redis)
    sid = await run_every_action(store, redis)
    stored = await store.snapshot(sid)
    total = len(await store.read_events(sid, count=10_000))
    for keep in (total - 1, total // 2, 7, 1):
        assert await checkpoint.write(redis, sid, Policy(every=1, keep=keep)) > 0
        assert len(await store.read_events(sid, count=10_000)) == keep
        assert await store.replay(sid) == stored
        hub = LiveHub(await redis_factory())
        try:
            assert SessionSnapshot.of((await hub.feed(sid)).state) == stored
        finally:
            await hub.stop()
