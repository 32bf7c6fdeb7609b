"""Like counts: read with every question in each intake mode, then kept current by the
periodic refresh (tweepy against the emulator over HTTP, real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from atexpert.domain.costs import CallKind
from atexpert.domain.events import EventKind
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.intake.likes import LikesRefresh
from atexpert.live.views import View, event_message
from atexpert.store.intake_state import IntakeMode
from atexpert.web.intake_service import IntakeService
from tests.support import emulator_fixtures
from tests.support.intake_world import FAST, IntakeWorld
from tests.support.intake_world import world as world
from tests.support.waiting import wait_for

server, control, settings = (
    emulator_fixtures.server,
    emulator_fixtures.control,
    emulator_fixtures.settings,
)


def refresher(world: IntakeWorld, interval: float = 300.0, reserve: int = 100) -> LikesRefresh:
    return LikesRefresh(
        world.redis, world.store, world.meter, interval_seconds=interval, reserve=reserve
    )


async def likes_of(world: IntakeWorld) -> dict[str, int]:
    return {q.tweet_id: q.likes for q in await world.store.list_questions(world.sid)}


async def events_of(world: IntakeWorld, kind: EventKind) -> list[tuple[str, dict[str, object]]]:
    events = await world.store.read_events(world.sid, count=10_000)
    return [(e.entity_id, e.data) for e in events if e.kind is kind]


async def test_polling_modes_store_the_like_count_read_with_the_post(world: IntakeWorld) -> None:
    liked = world.post("fan_1", "@Airbus #AskAirbus will the A350F fly soon?")
    quiet = world.post("fan_2", "@Airbus #AskAirbus and the A400M?")
    world.control.set_likes(liked, 31)
    assert await world.poller(IntakeMode.MENTIONS).poll_once() == 2
    assert await likes_of(world) == {liked: 31, quiet: 0}
    received = dict(await events_of(world, EventKind.QUESTION_RECEIVED))
    assert received["q_" + liked]["likes"] == 31  # the event carries it: replay rebuilds it
    hashtag_only = world.post("fan_3", "#AskAirbus what about hydrogen?")
    world.control.set_likes(hashtag_only, 4)
    assert await world.poller(IntakeMode.SEARCH).poll_once() == 1
    assert (await likes_of(world))[hashtag_only] == 4


async def test_the_stream_stores_the_like_count_too(world: IntakeWorld) -> None:
    # A post liked before the stream connects: its catch-up search reads it...
    early = world.post("fan_1", "#AskAirbus liked before the stream connects")
    world.control.set_likes(early, 8)
    intake = world.streamer()
    stop = asyncio.Event()
    task = asyncio.create_task(intake.run(stop))
    try:
        await wait_for(lambda: world.control.stream_status()["connected"])
        await wait_for(lambda: _has(world, {early}))
        # ...and one delivered live, liked by nobody yet.
        live = world.post("fan_2", "#AskAirbus live from the stream")
        await wait_for(lambda: _has(world, {early, live}))
        assert await likes_of(world) == {early: 8, live: 0}
    finally:
        stop.set()
        await task


async def _has(world: IntakeWorld, expected: set[str]) -> bool:
    return expected <= set(await likes_of(world))


async def test_refresh_updates_changed_counts_with_one_event_each_and_no_version_bump(
    world: IntakeWorld,
) -> None:
    posts = [world.post(f"fan_{i}", f"@Airbus #AskAirbus question {i}") for i in (1, 2, 3)]
    await world.poller(IntakeMode.MENTIONS).poll_once()
    approved = await world.store.approve_question(world.sid, "q_" + posts[1], actor="mod")
    pending = await world.store.get_question(world.sid, "q_" + posts[0])
    world.control.set_likes(posts[0], 12)
    world.control.set_likes(posts[1], 5)  # posts[2] stays at 0: nothing to write
    reader = world.reader()
    spent = await world.meter.spend(world.sid)
    updated = await refresher(world).refresh(reader, world.sid)
    assert sorted(updated) == sorted("q_" + p for p in posts[:2])
    assert await likes_of(world) == {posts[0]: 12, posts[1]: 5, posts[2]: 0}
    metrics = await events_of(world, EventKind.QUESTION_METRICS)
    assert sorted(metrics) == sorted(
        [("q_" + posts[0], {"likes": 12}), ("q_" + posts[1], {"likes": 5})]
    )
    # Three posts looked up, billed as post reads.
    after = await world.meter.spend(world.sid)
    assert after.counts[CallKind.SEARCH_READ] - spent.counts.get(CallKind.SEARCH_READ, 0) == 3
    # The versions did not move: a moderator acting on what they saw still succeeds.
    now_pending = await world.store.get_question(world.sid, "q_" + posts[0])
    assert now_pending.version == pending.version and now_pending.likes == 12
    rejected = await world.store.reject_question(
        world.sid, pending.id, "off topic", actor="mod", version=pending.version
    )
    assert rejected.likes == 12
    assert (await world.store.get_question(world.sid, approved.id)).version == approved.version
    # Nothing changed on X: a second refresh writes nothing.
    assert await refresher(world).refresh(reader, world.sid) == []
    assert len(await events_of(world, EventKind.QUESTION_METRICS)) == 2
    assert await world.store.replay(world.sid) == await world.store.snapshot(world.sid)


async def test_refresh_skips_closed_and_old_questions(world: IntakeWorld) -> None:
    answered_like = world.post("fan_1", "@Airbus #AskAirbus rejected one")
    await world.poller(IntakeMode.MENTIONS).poll_once()
    await world.store.reject_question(world.sid, "q_" + answered_like, "spam", actor="mod")
    old_time = datetime.now(UTC) - timedelta(hours=25)
    old = world.post("fan_2", "#AskAirbus asked yesterday", created_at=old_time.isoformat())
    await world.store.add_question(
        world.sid,
        IncomingQuestion(
            tweet_id=old,
            author=Author(id="42", handle="fan_2"),
            text="#AskAirbus asked yesterday",
            created_at=old_time,
        ),
    )
    for post in (answered_like, old):
        world.control.set_likes(post, 99)
    spent = await world.meter.spend(world.sid)
    assert await refresher(world).refresh(world.reader(), world.sid) == []
    assert await likes_of(world) == {answered_like: 0, old: 0}
    assert await world.meter.spend(world.sid) == spent  # nothing looked up, nothing billed


async def test_refresh_keeps_within_the_budget_newest_first(world: IntakeWorld) -> None:
    posts = [world.post("fan_1", f"@Airbus #AskAirbus budget question {i}") for i in range(4)]
    await world.poller(IntakeMode.MENTIONS).poll_once()
    for post in posts:
        world.control.set_likes(post, 3)
    spent = (await world.meter.spend(world.sid)).total
    # Room for 2 + 10 post reads at $0.005; 10 are kept for intake itself.
    await world.meter.set_budget(world.sid, spent + Decimal("0.06"))
    updated = await refresher(world, reserve=10).refresh(world.reader(), world.sid)
    assert sorted(updated) == sorted("q_" + p for p in posts[2:])
    assert (await world.meter.spend(world.sid)).total == spent + Decimal("0.010")


async def test_the_interval_is_claimed_once_across_processes_and_zero_is_off(
    world: IntakeWorld,
) -> None:
    post = world.post("fan_1", "@Airbus #AskAirbus refresh me")
    await world.poller(IntakeMode.MENTIONS).poll_once()
    world.control.set_likes(post, 2)
    off = refresher(world, interval=0)
    assert not off.enabled and not await off.claim(world.sid)
    quick = refresher(world, interval=0.2)
    assert await quick.claim(world.sid)
    assert not await quick.claim(world.sid)  # within the interval
    await wait_for(lambda: quick.claim(world.sid))  # once it has passed
    one, other = refresher(world, interval=60), refresher(world, interval=60)
    await wait_for(lambda: one.claim(world.sid))
    await other.run_once(world.reader(), world.sid)  # another process: not its turn
    assert (await likes_of(world))[post] == 0
    await one.refresh(world.reader(), world.sid)
    assert (await likes_of(world))[post] == 2


@asynccontextmanager
async def intake_running(world: IntakeWorld, likes_refresh_seconds: float) -> AsyncIterator[None]:
    """The intake service, ticking every 50 ms, for the block's duration."""
    settings = world.settings.model_copy(update={"likes_refresh_seconds": likes_refresh_seconds})
    service = IntakeService(world.redis, world.store, settings, FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop, interval=0.05))
    try:
        yield
    finally:
        stop.set()
        await task


async def test_the_intake_service_refreshes_likes_at_its_interval(world: IntakeWorld) -> None:
    async with intake_running(world, likes_refresh_seconds=0.2):
        post = world.post("fan_1", "@Airbus #AskAirbus liked later")
        await wait_for(lambda: _has(world, {post}))
        world.control.set_likes(post, 21)
        await wait_for(lambda: _likes_are(world, post, 21))
        world.control.set_likes(post, 34)
        await wait_for(lambda: _likes_are(world, post, 34))
    assert len(await events_of(world, EventKind.QUESTION_METRICS)) == 2


async def test_the_intake_service_does_not_refresh_when_off(world: IntakeWorld) -> None:
    async with intake_running(world, likes_refresh_seconds=0):
        post = world.post("fan_1", "@Airbus #AskAirbus never refreshed")
        await wait_for(lambda: _has(world, {post}))
        world.control.set_likes(post, 5)
        seen = {post}
        for n in range(3):  # three more ticks of the loop, each shown by a new question
            seen.add(world.post("fan_2", f"@Airbus #AskAirbus later question {n}"))
            await wait_for(lambda: _has(world, seen))
        assert CallKind.SEARCH_READ not in (await world.meter.spend(world.sid)).counts
    assert (await likes_of(world))[post] == 0


async def _likes_are(world: IntakeWorld, tweet_id: str, likes: int) -> bool:
    return (await likes_of(world)).get(tweet_id) == likes


def test_moderators_and_experts_see_like_updates_the_public_does_not() -> None:
    before = {"id": "q_1", "status": "answered", "text": "Why?", "likes": 1, "version": 4}
    after = {**before, "likes": 2}
    head = {"kind": "question.metrics", "actor": "intake", "at": "2026-11-26T09:00:00+00:00"}
    seen = {
        view: event_message(view, "1-0", head, "question", "q_1", before, after) for view in View
    }
    assert seen[View.STAFF] is not None and seen[View.STAFF]["record"]["likes"] == 2
    assert seen[View.EXPERT] is not None
    assert seen[View.PUBLIC] is None
