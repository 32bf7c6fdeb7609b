"""The bounded event log: checkpoints trim the log, and everything that reads it (replay,
the live hub) still rebuilds exactly the stored state from the checkpoint plus the tail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atexpert.domain.answers import AnswerDraft
from atexpert.domain.errors import AtexpertError
from atexpert.domain.events import dumps
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import HostAccount, SessionFields
from atexpert.live.hub import LiveConfig, LiveHub
from atexpert.live.views import View, snapshot_message
from atexpert.store import checkpoint, keys
from atexpert.store.checkpoint import Checkpointer, Policy
from atexpert.store.redis_conn import RedisClient
from atexpert.store.scheduler import Lease
from atexpert.store.store import SessionSnapshot, Store
from tests.support.live_listener import Listener
from tests.support.waiting import wait_for

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def new_session(store: Store) -> str:
    fields = SessionFields(
        title="Ask Airbus",
        hashtags=["AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=T0 + timedelta(hours=1),
        scheduled_end=T0 + timedelta(days=30),
        options={"require_answer_approval": False},  # type: ignore[arg-type]
    )
    session = await store.create_session(fields, actor="root", at=T0)
    await store.schedule_session(session.id, actor="root", at=T0)
    await store.start_session(session.id, actor="root", at=T0 + timedelta(hours=1))
    return session.id


async def ask(store: Store, sid: str, n: int) -> str:
    incoming = IncomingQuestion(
        tweet_id=str(1000 + n),
        author=Author(id=str(n % 7), handle=f"fan{n % 7}", name="Fan"),
        text=f"question {n}",
        created_at=T0,
    )
    question, _ = await store.add_question(sid, incoming, at=T0 + timedelta(minutes=n))
    return question.id


def frames_of(hub: LiveHub, sid: str) -> dict[View, Any]:
    """Each view's snapshot as the hub serves it."""
    feed = hub.feeds[sid]
    return {view: json.loads(feed.snapshot(view)) for view in View}


def expected_frames(state: Any, position: str) -> dict[View, Any]:
    """Each view's snapshot built from scratch (the message the hub's joins must equal)."""
    return {
        view: json.loads(
            dumps(
                snapshot_message(
                    view,
                    position,
                    state.session,
                    list(state.questions.values()),
                    list(state.answers.values()),
                    state.intake_pause,
                )
            )
        )
        for view in View
    }


async def test_a_checkpoint_trims_the_log_and_replay_still_equals_the_store(
    redis: RedisClient, redis_factory: Any
) -> None:
    store = Store(redis)
    sid = await new_session(store)
    qids = [await ask(store, sid, n) for n in range(12)]
    for qid in qids[:6]:
        await store.approve_question(sid, qid, actor="mia", at=T0)
    total = await redis.xlen(keys.events(sid))
    assert await checkpoint.write(redis, sid, Policy(every=100, keep=3)) == 0  # not due
    assert await checkpoint.write(redis, sid, Policy(every=5, keep=3)) == total - 3
    assert await redis.xlen(keys.events(sid)) == 3
    kept = [e.id for e in await store.read_events(sid, count=100)]
    base = await checkpoint.load(redis, sid)
    assert checkpoint.id_key(base.id) < checkpoint.id_key(kept[0])
    assert base.at == T0  # the last event folded in: an approval at T0
    assert await store.replay(sid) == await store.snapshot(sid)
    hub = LiveHub(await redis_factory())
    try:
        feed = await hub.feed(sid)
        assert SessionSnapshot.of(feed.state) == await store.snapshot(sid)
        assert frames_of(hub, sid) == expected_frames(feed.state, kept[-1])
    finally:
        await hub.stop()


async def test_the_lua_step_refuses_a_stale_or_older_checkpoint(redis: RedisClient) -> None:
    store = Store(redis)
    sid = await new_session(store)
    for n in range(6):
        await ask(store, sid, n)
    ids = [str(e[0]) for e in await redis.xrange(keys.events(sid))]
    script = redis.register_script(checkpoint.WRITE_LUA)

    async def put(base: str, new: str) -> int:
        state = checkpoint.encode_state((await checkpoint.load(redis, sid)).state)
        args = [base, new, T0.isoformat(), state, checkpoint.after_id(new)]
        return int(await script(keys=[keys.checkpoint(sid), keys.events(sid)], args=args))

    assert await put("0-0", checkpoint.after_id(ids[-1])) == -1  # beyond the log's head
    assert await put("0-0", ids[2]) == 3
    assert await put("0-0", ids[4]) == -1  # folded from another base: another process won
    assert await put(ids[2], ids[1]) == -1  # older than the current one
    assert await put(ids[2], ids[2]) == -1
    assert (await checkpoint.load(redis, sid)).id == ids[2]
    assert await redis.xlen(keys.events(sid)) == len(ids) - 3


async def test_one_checkpointer_works_at_a_time_and_a_second_pass_is_harmless(
    redis: RedisClient,
) -> None:
    store = Store(redis)
    sid = await new_session(store)
    other = await new_session(store)
    for n in range(10):
        await ask(store, sid, n)
    policy = Policy(every=4, keep=2)
    first = Checkpointer(redis, policy, lease=Lease(redis, name="checkpoint"))
    second = Checkpointer(redis, policy, lease=Lease(redis, name="checkpoint"))
    assert await second.tick() != {}
    assert await first.tick() == {}  # the lease is the other's
    assert await second.tick() == {}  # nothing due any more
    assert await redis.xlen(keys.events(sid)) == 2
    assert await redis.xlen(keys.events(other)) == 3  # created, scheduled, started: not due
    assert await store.replay(sid) == await store.snapshot(sid)


async def test_a_feed_that_falls_behind_a_trim_reloads_and_resyncs_its_clients(
    redis: RedisClient, redis_factory: Any
) -> None:
    store = Store(redis)
    sid = await new_session(store)
    await ask(store, sid, 0)
    hub = LiveHub(await redis_factory(), LiveConfig(window=50))
    try:
        feed = await hub.feed(sid)
        listener = Listener()
        hub.attach(feed, listener, None)
        await feed.stop()  # stalled, as if its process had been frozen
        for n in range(1, 6):
            await ask(store, sid, n)
        await checkpoint.write(redis, sid, Policy(every=1, keep=1))
        await feed.follow()
        await listener.wait_for(lambda f: f["type"] == "resync")
        snap = await listener.wait_for(lambda f: f["type"] == "snapshot")
        assert len(snap["questions"]) == 6
        head = await store.last_event_id(sid)
        assert snap["last_event_id"] == head
    finally:
        await hub.stop()


# -- random commands, random checkpoints ----------------------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["ask", "approve", "reject", "answer", "likes", "checkpoint"]),
        st.integers(0, 30),
    ),
    min_size=1,
    max_size=30,
)


async def perform(store: Store, redis: RedisClient, sid: str, op: str, n: int) -> None:
    qids = [q.id for q in await store.list_questions(sid)]
    qid = qids[n % len(qids)] if qids else ""
    try:
        match op:
            case "ask":
                await ask(store, sid, n + len(qids) * 31)
            case "approve" if qid:
                await store.approve_question(sid, qid, actor="mia", at=T0)
            case "reject" if qid:
                await store.reject_question(sid, qid, "no", actor="mia", at=T0)
            case "answer" if qid:
                draft = AnswerDraft(question_ids=[qid], text=f"answer {n}")
                answer = await store.create_answer(sid, draft, expert_id="eve", at=T0)
                await store.submit_answer(sid, answer.id, actor="eve", at=T0)
            case "likes" if qid:
                await store.set_question_likes(sid, {qid: n}, actor="intake", at=T0)
            case "checkpoint":
                await checkpoint.write(redis, sid, Policy(every=1, keep=1 + n % 4))
    except AtexpertError:
        pass  # refused: leaves no trace in the records nor in the log


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
async def test_random_commands_and_checkpoints_replay_to_the_stored_state(
    redis_url: str, ops: list[tuple[str, int]]
) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    hub = LiveHub(aioredis.Redis.from_url(redis_url, decode_responses=True))
    try:
        store = Store(client)
        sid = await new_session(store)
        following = await hub.feed(sid)  # follows every event and trim as they happen
        for op, n in ops:
            await perform(store, client, sid, op, n)
        stored = await store.snapshot(sid)
        assert await store.replay(sid) == stored
        head = await store.last_event_id(sid)
        await wait_for(lambda: following.position == head)
        assert SessionSnapshot.of(following.state) == stored
        assert frames_of(hub, sid) == expected_frames(following.state, head)
        loading = LiveHub(client)
        try:
            loaded = await loading.feed(sid)  # starts from the last checkpoint
            assert SessionSnapshot.of(loaded.state) == stored
            assert frames_of(loading, sid) == frames_of(hub, sid)
        finally:
            await loading.stop()
    finally:
        await hub.stop()
        await client.aclose()


@pytest.mark.parametrize("keep", [1, 2, 5])
async def test_a_resume_from_a_trimmed_id_gets_resync_snapshot_then_the_tail(
    redis: RedisClient, redis_factory: Any, keep: int
) -> None:
    store = Store(redis)
    sid = await new_session(store)
    for n in range(8):
        await ask(store, sid, n)
    ids = [str(e[0]) for e in await redis.xrange(keys.events(sid))]
    await checkpoint.write(redis, sid, Policy(every=1, keep=keep))
    hub = LiveHub(await redis_factory())
    try:
        feed = await hub.feed(sid)
        trimmed = [json.loads(f) for f in hub.attach(feed, Listener(staff=False), ids[0])]
        assert [f["type"] for f in trimmed] == ["resync", "snapshot"]
        assert trimmed[1]["last_event_id"] == ids[-1] and len(trimmed[1]["questions"]) == 8
        kept = [json.loads(f) for f in hub.attach(feed, Listener(staff=False), ids[-keep])]
        assert [f["id"] for f in kept] == ids[len(ids) - keep + 1 :]  # exactly the tail after
        listener = Listener(staff=False)
        hub.attach(feed, listener, ids[0])
        later = await ask(store, sid, 99)
        event = await listener.wait_for(lambda f: f["type"] == "event")
        assert event["entity_id"] == later  # then the events that follow, no gap
    finally:
        await hub.stop()
