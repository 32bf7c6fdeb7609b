"""The budget against X's real billing (the emulator's): a burst through the filtered
stream, and the poll modes. X bills every post it delivers or returns, so the emulator's
bill is the truth our meter must match, and the budget must bound. And the pauses of intake
(budget, X errors, a refused token) as the events the consoles' banner follows.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from pydantic import SecretStr

from atexpert.domain.costs import DEFAULT_RATE_CARD, CallKind
from atexpert.intake.poll import PollIntake
from atexpert.intake.x_reads import XReader
from atexpert.settings import Settings
from atexpert.store.intake_state import OUTCOMES, IntakeMode, IntakeState, PauseReason
from atexpert.x.client import async_client
from tests.support import emulator_fixtures
from tests.support.intake_world import FAST, IntakeWorld
from tests.support.intake_world import world as world
from tests.support.waiting import wait_for

server, control, settings = (
    emulator_fixtures.server,
    emulator_fixtures.control,
    emulator_fixtures.settings,
)

PRICE = DEFAULT_RATE_CARD.price(CallKind.SEARCH_READ)
#: The burst: 120 posts, 6 at once every 20 ms (300 posts a second, far above any AMA).
#: Faster than one rule removal's round trip, X delivers (and bills) whatever is posted.
BURST, CHUNK, PACE = 120, 6, 0.02


def billed(world: IntakeWorld, kind: str) -> Decimal:
    """What the emulator (X) billed for ``kind``."""
    return Decimal(world.control.balance()["spent_usd"].get(kind, "0"))


async def _state_is(world: IntakeWorld, state: IntakeState) -> bool:
    return (await world.state.status(world.sid)).state is state


def _burst(world: IntakeWorld) -> list[str]:
    """Many matching posts at once: chunks of posts each published in one go, at the pace
    of a storm (from another thread while intake runs; the pace makes the load, it waits
    for nothing)."""
    ids: list[str] = []
    for start in range(0, BURST, CHUNK):
        time.sleep(PACE)
        ids += world.control.post_many(
            [
                {"username": f"fan_{1 + i % 3}", "text": f"#AskAirbus burst question {i}"}
                for i in range(start, start + CHUNK)
            ]
        )
    return ids


async def test_a_stream_burst_never_passes_the_budget_by_more_than_one_post(
    world: IntakeWorld,
) -> None:
    budget = Decimal("0.25")  # 50 posts of the 120 of the burst
    await world.meter.set_budget(world.sid, budget)
    intake = world.streamer()
    stop = asyncio.Event()
    task = asyncio.create_task(intake.run(stop))
    try:
        await wait_for(lambda: intake.connects == 1 and intake.caught_up(world.sid))
        ids = set(await asyncio.to_thread(_burst, world))
        await wait_for(lambda: _state_is(world, IntakeState.PAUSED_BUDGET), timeout=30)
        pause = await world.state.pause(world.sid)
        assert pause.paused and pause.reason is PauseReason.BUDGET
        # Every post X delivered is metered (our meter catches up with X's bill), then
        # stored or counted as skipped.
        await wait_for(lambda: _meter_is(world, billed(world, "search_read")), timeout=30)
        delivered = int(billed(world, "search_read") / PRICE)
        await wait_for(lambda: _handled(world, delivered), timeout=30)
        spent = (await world.meter.spend(world.sid)).total
        stored = await world.tweet_ids()
        counters = (await world.state.status(world.sid)).counters
        print(
            f"burst: {len(ids)} posts, {len(stored)} stored, "
            f"{counters.get('over_budget', 0)} delivered past the budget, "
            f"spend ${spent} against a budget of ${budget}"
        )
        assert spent <= budget + PRICE
        assert stored <= ids and len(stored) <= budget / PRICE  # nothing stored past the cap
        assert len(stored) < len(ids)
        # The posts not read stay on X: a bigger budget reads each of them, once.
        await world.meter.set_budget(world.sid, Decimal("5"))
        await wait_for(lambda: _has(world, ids), timeout=30)
        await wait_for(lambda: _state_is(world, IntakeState.RUNNING))
        assert not (await world.state.pause(world.sid)).paused
        events = await world.received_events()
        assert sorted(events) == sorted("q_" + t for t in ids), "a question received twice"
    finally:
        stop.set()
        await task


async def _meter_is(world: IntakeWorld, bill: Decimal) -> bool:
    return (await world.meter.spend(world.sid)).by_kind.get(CallKind.SEARCH_READ) == bill


async def _handled(world: IntakeWorld, delivered: int) -> bool:
    """Each delivered post is stored or counted as skipped (or past the budget)."""
    counters = (await world.state.status(world.sid)).counters
    return sum(counters.get(k, 0) for k in OUTCOMES) == delivered


async def _has(world: IntakeWorld, expected: set[str]) -> bool:
    return expected <= await world.tweet_ids()


@pytest.mark.parametrize(
    ("mode", "kind", "budget"),
    [
        (IntakeMode.MENTIONS, "mentions_read", Decimal("0.007")),
        (IntakeMode.SEARCH, "search_read", Decimal("0.06")),
    ],
)
async def test_poll_modes_stay_within_the_budget(
    world: IntakeWorld, mode: IntakeMode, kind: str, budget: Decimal
) -> None:
    world.control.post_many(
        [{"username": "fan_1", "text": f"@Airbus #AskAirbus budget {i}"} for i in range(30)]
    )
    await world.meter.set_budget(world.sid, budget)
    stop = asyncio.Event()
    task = asyncio.create_task(world.poller(mode).run(stop))
    try:
        await wait_for(lambda: _state_is(world, IntakeState.PAUSED_BUDGET))
        assert (await world.state.pause(world.sid)).reason is PauseReason.BUDGET
        spent = (await world.meter.spend(world.sid)).total
        assert spent <= budget and billed(world, kind) == spent
        assert 0 < len(await world.tweet_ids()) < 30
    finally:
        stop.set()
        await task


async def _events_of(world: IntakeWorld, kind: str) -> list[dict[str, object]]:
    events = await world.store.read_events(world.sid, count=10_000)
    return [e.data for e in events if e.kind == kind]


async def test_x_errors_pause_intake_and_say_so_until_it_resumes(world: IntakeWorld) -> None:
    first = world.post("fan_1", "@Airbus #AskAirbus while X fails")
    world.control.faults(fail_next=3, endpoints=["user_mentions"])
    stop = asyncio.Event()
    task = asyncio.create_task(world.poller(IntakeMode.MENTIONS).run(stop))
    try:
        await wait_for(lambda: _has(world, {first}))
        await wait_for(lambda: _paused(world, None))
        # One event when X failed (not one per failure), one when intake resumed.
        pauses = [
            {"paused": e["paused"], "reason": e["reason"]}
            for e in await _events_of(world, "intake_pause.changed")
        ]
        assert pauses == [
            {"paused": True, "reason": "x_errors"},
            {"paused": False, "reason": None},
        ]
    finally:
        stop.set()
        await task


async def test_a_refused_token_pauses_intake_and_says_why(
    world: IntakeWorld, settings: Settings
) -> None:
    revoked = settings.model_copy(update={"x_bearer_token": SecretStr("revoked-token")})
    async with async_client(revoked) as client:
        poller = PollIntake(
            world.target,
            IntakeMode.MENTIONS,
            XReader(client, world.meter),
            world.ingestor(),
            world.meter,
            FAST,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        try:
            await wait_for(lambda: _paused(world, PauseReason.X_TOKEN))
        finally:
            stop.set()
            await task


async def _paused(world: IntakeWorld, reason: PauseReason | None) -> bool:
    pause = await world.state.pause(world.sid)
    return pause.reason is reason and pause.paused is (reason is not None) and pause.version > 0
