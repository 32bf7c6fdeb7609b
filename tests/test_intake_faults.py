"""Intake under faults: stream gaps, X errors, restarts, a second process, a budget.

Always the same promise: the exact set of questions, each received once.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from atexpert.intake.poll import PollIntake
from atexpert.store.intake_state import IntakeMode, IntakeState, IntakeStore
from atexpert.store.scheduler import Lease
from tests.support import emulator_fixtures
from tests.support.intake_world import IntakeWorld
from tests.support.intake_world import world as world
from tests.support.redis_fixtures import RedisFactory
from tests.support.waiting import wait_for

# The emulator and the live session of tests/support/intake_world.py.
server, control, settings = (
    emulator_fixtures.server,
    emulator_fixtures.control,
    emulator_fixtures.settings,
)


async def _has(world: IntakeWorld, expected: set[str]) -> bool:
    return expected <= await world.tweet_ids()


async def _exactly_once(world: IntakeWorld, expected: set[str]) -> None:
    assert await world.tweet_ids() == expected
    events = await world.received_events()
    assert sorted(events) == sorted("q_" + t for t in expected), "a question received twice"


async def test_stream_gap_is_caught_up_by_search(world: IntakeWorld) -> None:
    intake = world.streamer()
    stop = asyncio.Event()
    task = asyncio.create_task(intake.run(stop))
    try:
        await wait_for(lambda: world.control.stream_status()["connected"])
        first = world.post("fan_1", "#AskAirbus before the drop")
        await wait_for(lambda: _has(world, {first}))
        # Drop the stream; its reconnect fails once (tweepy then waits 5 s, X's guidance).
        world.control.faults(fail_next=1, endpoints=["stream"])
        world.control.faults(stream_drop="now")
        await wait_for(lambda: not world.control.stream_status()["connected"])
        while_down = {
            world.post("fan_2", "#AskAirbus posted while the stream is down"),
            world.post("fan_3", "@Airbus #AskAirbus also while down"),
        }
        world.post("fan_3", "#AskBoeing not ours, also while down")
        await wait_for(lambda: world.control.stream_status()["connected"], timeout=30)
        after = world.post("fan_1", "#AskAirbus after the reconnect")
        expected = {first, after} | while_down
        await wait_for(lambda: _has(world, expected))
        await asyncio.sleep(0.3)
        await _exactly_once(world, expected)
        assert world.control.stream_status()["connects"] >= 2
    finally:
        stop.set()
        await task


async def test_stream_drop_with_notice_and_fast_reconnect(world: IntakeWorld) -> None:
    intake = world.streamer()
    stop = asyncio.Event()
    task = asyncio.create_task(intake.run(stop))
    try:
        await wait_for(lambda: world.control.stream_status()["connected"])
        world.control.faults(stream_drop_after=3, stream_drop_notice=True)
        posted = {world.post(f"fan_{1 + i % 3}", f"#AskAirbus burst {i}") for i in range(12)}
        await wait_for(lambda: _has(world, posted))
        await asyncio.sleep(0.3)
        await _exactly_once(world, posted)
    finally:
        stop.set()
        await task


@pytest.mark.parametrize("mode", [IntakeMode.MENTIONS, IntakeMode.SEARCH])
async def test_5xx_and_429_lose_nothing(world: IntakeWorld, mode: IntakeMode) -> None:
    endpoint = "user_mentions" if mode is IntakeMode.MENTIONS else "search_recent"
    first = {world.post("fan_1", f"@Airbus #AskAirbus early {i}") for i in range(3)}
    world.control.faults(fail_next=2, endpoints=[endpoint])
    poller = world.poller(mode)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        await wait_for(lambda: _has(world, first))
        status = await world.state.status(world.sid)
        assert status.counters["errors"] == 2
        assert status.last_error is not None and "503" in status.last_error
        world.control.faults(force_429=1, reset_in=1, endpoints=[endpoint])
        await wait_for(
            lambda: _state_is(world.state, world.sid, IntakeState.RATE_LIMITED), timeout=5
        )
        limited = await world.state.status(world.sid)
        assert limited.retry_at is not None and "429" in (limited.last_error or "")
        second = {world.post("fan_2", f"@Airbus #AskAirbus during the limit {i}") for i in range(3)}
        await wait_for(lambda: _has(world, first | second))
        await asyncio.sleep(0.2)
        await _exactly_once(world, first | second)
        await wait_for(lambda: _state_is(world.state, world.sid, IntakeState.RUNNING))
    finally:
        stop.set()
        await task


async def _state_is(state: IntakeStore, sid: str, wanted: IntakeState) -> bool:
    return (await state.status(sid)).state is wanted


async def test_restart_resumes_from_the_cursor(
    world: IntakeWorld, redis_factory: RedisFactory
) -> None:
    one = {world.post("fan_1", f"@Airbus #AskAirbus first run {i}") for i in range(4)}
    stop = asyncio.Event()
    task = asyncio.create_task(world.poller(IntakeMode.MENTIONS).run(stop))
    await wait_for(lambda: _has(world, one))
    stop.set()
    await task
    cursor = await world.state.cursor(world.sid)
    two = {world.post("fan_2", f"@Airbus #AskAirbus while the app is down {i}") for i in range(4)}
    # A new "process": its own Redis connection, X client and intake objects.
    other = IntakeStore(await redis_factory())
    assert await other.cursor(world.sid) == cursor
    stop = asyncio.Event()
    task = asyncio.create_task(world.poller(IntakeMode.MENTIONS).run(stop))
    try:
        await wait_for(lambda: _has(world, one | two))
        await asyncio.sleep(0.2)
        await _exactly_once(world, one | two)
        assert (await world.state.status(world.sid)).counters.get("duplicates", 0) == 0
    finally:
        stop.set()
        await task


async def test_crash_before_the_cursor_moved_rereads_without_duplicates(world: IntakeWorld) -> None:
    posted = {world.post("fan_1", f"@Airbus #AskAirbus q{i}") for i in range(5)}
    poller = world.poller(IntakeMode.SEARCH)
    assert await poller.poll_once() == 5
    # As if the process died after storing the questions but before moving the cursor.
    await world.redis.delete(f"ama:{{{world.sid}}}:intake:cursor")
    assert await poller.poll_once() == 0
    await _exactly_once(world, posted)
    assert (await world.state.status(world.sid)).counters["duplicates"] == 5


async def test_one_process_at_a_time_polls_a_session(
    world: IntakeWorld, redis_factory: RedisFactory
) -> None:
    posted = {world.post("fan_1", f"@Airbus #AskAirbus leased {i}") for i in range(3)}
    pollers: list[PollIntake] = []
    for _ in range(2):
        lease = Lease(await redis_factory(), name=f"intake:{world.sid}")
        pollers.append(world.poller(IntakeMode.MENTIONS, lease=lease))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in pollers]
    try:
        await wait_for(lambda: _has(world, posted))
        holders = [p.lease is not None and p.lease.token is not None for p in pollers]
        assert holders.count(True) == 1
        await _exactly_once(world, posted)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_budget_pauses_intake_before_it_is_exceeded(world: IntakeWorld) -> None:
    ids = world.control.post_many(
        [{"username": "fan_1", "text": f"@Airbus #AskAirbus budget {i}"} for i in range(10)]
    )
    await world.meter.set_budget(world.sid, Decimal("0.007"))  # 7 mention reads
    poller = world.poller(IntakeMode.MENTIONS)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        await wait_for(lambda: _state_is(world.state, world.sid, IntakeState.PAUSED_BUDGET))
        status = await world.state.status(world.sid)
        assert status.paused_reason is not None and "budget" in status.paused_reason
        spent = (await world.meter.spend(world.sid)).total
        assert spent <= Decimal("0.007")
        assert len(await world.tweet_ids()) == 7
        assert Decimal(world.control.balance()["spent_usd"]["mentions_read"]) == spent
        await world.meter.set_budget(world.sid, Decimal("1"))
        await wait_for(lambda: _has(world, set(ids)))
        await wait_for(lambda: _state_is(world.state, world.sid, IntakeState.RUNNING))
        await _exactly_once(world, set(ids))
    finally:
        stop.set()
        await task


async def test_budget_removes_the_stream_rule(world: IntakeWorld) -> None:
    await world.meter.set_budget(world.sid, Decimal("0.10"))  # 20 stream posts
    intake = world.streamer()
    stop = asyncio.Event()
    task = asyncio.create_task(intake.run(stop))
    try:
        # Connected, and the connect's catch-up done: from now on only the stream reads.
        await wait_for(lambda: intake.connects == 1 and intake.caught_up(world.sid))
        for i in range(15):  # the rule goes once less than 10 posts of budget are left
            world.post("fan_1", f"#AskAirbus streamed {i}")
        await wait_for(lambda: _state_is(world.state, world.sid, IntakeState.PAUSED_BUDGET))
        assert (await world.meter.spend(world.sid)).total <= Decimal("0.10")
        world.post("fan_2", "#AskAirbus after the pause")
        await asyncio.sleep(0.3)
        assert (await world.meter.spend(world.sid)).total <= Decimal("0.10")
        assert await world.tweet_ids() and len(await world.tweet_ids()) <= 15
    finally:
        stop.set()
        await task


async def test_stream_restart_catches_up_what_was_posted_while_down(world: IntakeWorld) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(world.streamer().run(stop))
    await wait_for(lambda: world.control.stream_status()["connected"])
    one = {world.post("fan_1", f"#AskAirbus first process {i}") for i in range(3)}
    await wait_for(lambda: _has(world, one))
    stop.set()
    await task
    await wait_for(lambda: not world.control.stream_status()["connected"])
    two = {world.post("fan_2", f"#AskAirbus while no process runs {i}") for i in range(3)}
    stop = asyncio.Event()
    task = asyncio.create_task(world.streamer().run(stop))
    try:
        three = {world.post("fan_3", "#AskAirbus right after the restart")}
        await wait_for(lambda: _has(world, one | two | three))
        await asyncio.sleep(0.3)
        await _exactly_once(world, one | two | three)
    finally:
        stop.set()
        await task
