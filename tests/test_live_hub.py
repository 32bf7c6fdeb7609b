"""The live hub in process, on standalone Redis and on Redis Cluster."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import SessionUpdate
from atexpert.live.hub import LiveConfig, LiveHub
from atexpert.live.views import View
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from tests.support.live_listener import Listener
from tests.support.live_world import scheduled_session


async def ask(store: Store, session_id: str, tweet: int) -> str:
    author = Author(id="7", handle="ann", name="Ann")
    incoming = IncomingQuestion(
        tweet_id=str(tweet), author=author, text=f"question {tweet}", created_at=datetime.now(UTC)
    )
    question, _ = await store.add_question(session_id, incoming)
    return question.id


async def test_feed_follows_the_stream_and_resumes_from_its_window(
    redis: RedisClient, redis_factory: Any
) -> None:
    store = Store(redis)
    sid = await scheduled_session(store)
    first = await ask(store, sid, 1)
    hub = LiveHub(await redis_factory(), LiveConfig(heartbeat_s=0.05))
    await hub.start()
    try:
        feed = await hub.feed(sid)
        staff, public = Listener(), Listener(view=View.PUBLIC, staff=False)
        [snapshot, presence] = [json.loads(f) for f in hub.attach(feed, staff, None)]
        assert [q["id"] for q in snapshot["questions"]] == [first]
        assert presence["type"] == "presence"
        [public_snapshot] = [json.loads(f) for f in hub.attach(feed, public, None)]
        assert public_snapshot["questions"] == []

        second = await ask(store, sid, 2)
        await store.approve_question(sid, second, actor="mia")
        approved = await staff.wait_for(lambda f: f.get("kind") == "question.approved")
        assert approved["record"]["status"] == "approved"
        await public.wait_for(lambda f: f["type"] == "ping")
        assert all(f["type"] == "ping" for f in public.frames)  # nothing public happened

        missed = Listener()
        replayed = [json.loads(f) for f in hub.attach(feed, missed, snapshot["last_event_id"])]
        assert [f.get("kind") for f in replayed[:-1]] == ["question.received", "question.approved"]
        assert [json.loads(f)["type"] for f in hub.attach(feed, Listener(), "1-0")][:2] == [
            "resync",
            "snapshot",
        ]

        await store.update_session(sid, SessionUpdate(title="Ask Airbus, live"), actor="root")
        await staff.wait_for(lambda f: f.get("kind") == "session.updated")
        assert staff.sessions[-1].title == "Ask Airbus, live"
    finally:
        await hub.stop()


async def test_claims_and_presence_are_shared_and_expire(
    redis: RedisClient, redis_factory: Any
) -> None:
    store = Store(redis)
    sid = await scheduled_session(store)
    qid = await ask(store, sid, 1)
    a, b = LiveHub(await redis_factory()), LiveHub(await redis_factory())
    try:
        feed_a, feed_b = await a.feed(sid), await b.feed(sid)
        watcher = Listener()
        a.attach(feed_a, watcher, None)
        mia = {"user_id": "u1", "username": "mia", "role": "moderator"}
        max_ = {"user_id": "u2", "username": "max", "role": "moderator"}
        await feed_b.presence.join("c2", max_, ttl_s=30)
        await feed_b.presence.join("c3", mia, ttl_s=30)
        assert await feed_b.presence.claim("c3", mia, qid, ttl_s=30) is None
        holder = await feed_a.presence.claim("c1", max_, qid, ttl_s=30)
        assert holder is not None and holder["username"] == "mia"
        frame = await watcher.wait_for(lambda f: f["type"] == "presence" and f["claims"])
        assert frame["claims"][0]["username"] == "mia"
        assert {m["username"] for m in frame["moderators"]} == {"mia", "max"}

        await feed_b.presence.leave("c3")  # leaving drops the claims of the connection
        await watcher.wait_for(
            lambda f: f["type"] == "presence" and not f["claims"] and len(f["moderators"]) == 1
        )
        assert await feed_a.presence.claim("c1", max_, qid, ttl_s=0) is None  # expired at once
        assert await feed_a.presence.claim("c9", mia, qid, ttl_s=30) is None
    finally:
        await a.stop()
        await b.stop()


async def test_resume_older_than_the_window_is_a_resync(
    redis: RedisClient, redis_factory: Any
) -> None:
    store = Store(redis)
    sid = await scheduled_session(store)
    for tweet in range(5):
        await ask(store, sid, tweet)
    ids = [str(e[0]) for e in await redis.xrange(f"ama:{{{sid}}}:events")]
    hub = LiveHub(await redis_factory(), LiveConfig(window=3))
    try:
        feed = await hub.feed(sid)
        inside = [json.loads(f) for f in hub.attach(feed, Listener(staff=False), ids[-3])]
        assert [f["id"] for f in inside] == ids[-2:]
        outside = [json.loads(f) for f in hub.attach(feed, Listener(staff=False), ids[-4])]
        assert [f["type"] for f in outside] == ["resync", "snapshot"]
        assert len(outside[1]["questions"]) == 5
    finally:
        await hub.stop()
