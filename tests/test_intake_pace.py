"""Intake polls as often as X's rate limits allow, and never past them: the emulator
enforces each endpoint's limit per window with 429 and ``x-rate-limit-*`` as X does."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from atexpert.intake.x_reads import RateGate
from atexpert.store.intake_state import IntakeMode, IntakeState
from tests.support import emulator_fixtures
from tests.support.intake_world import IntakeWorld
from tests.support.intake_world import world as world
from tests.support.waiting import wait_for

server, control, settings = (
    emulator_fixtures.server,
    emulator_fixtures.control,
    emulator_fixtures.settings,
)

ENDPOINTS = {IntakeMode.MENTIONS: "user_mentions", IntakeMode.SEARCH: "search_recent"}


def test_the_gate_spreads_what_is_left_of_the_window() -> None:
    gate = RateGate()
    # Before X has answered: X's published 450 requests / 15 min, one every 2 s.
    assert gate.slot("search_recent", 100.0) == 100.0
    assert gate.slot("search_recent", 100.0) == 102.0
    # X says 90 requests are left for the next 90 s: one a second, shared by all pollers.
    gate.note("search_recent", {"x-rate-limit-remaining": "90", "x-rate-limit-reset": "200"})
    assert gate.slot("search_recent", 110.0) == 110.0
    assert gate.slot("search_recent", 110.0) == 111.0
    # Used up: nothing before the reset (and a margin for X's whole-second clock).
    gate.note("search_recent", {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "200"})
    assert gate.slot("search_recent", 120.0) == 201.0
    assert gate.slot("user_mentions", 120.0) == 120.0  # each endpoint has its own limit


@pytest.mark.parametrize("mode", [IntakeMode.MENTIONS, IntakeMode.SEARCH])
async def test_polls_keep_to_the_limit_without_a_429(world: IntakeWorld, mode: IntakeMode) -> None:
    # 4 requests per 3-second window: intake must spread them, never be refused.
    world.control.set_limit(ENDPOINTS[mode], app=4, window=3)
    stop = asyncio.Event()
    task = asyncio.create_task(world.poller(mode).run(stop))
    try:

        async def calls() -> int:
            return (await world.state.status(world.sid)).counters.get("calls", 0)

        async def crossed_windows() -> bool:
            return await calls() >= 6  # more than a window's worth

        first = world.post("fan_1", "@Airbus #AskAirbus asked in the first window")
        await wait_for(crossed_windows, timeout=30)
        later = world.post("fan_2", "@Airbus #AskAirbus asked windows later")
        await wait_for(lambda: _has(world, {first, later}), timeout=15)
        status = await world.state.status(world.sid)
        assert status.counters.get("errors", 0) == 0, status.last_error
        assert status.state is IntakeState.RUNNING
    finally:
        stop.set()
        await task


async def test_a_429_waits_for_the_reset_once(world: IntakeWorld) -> None:
    """Another client used the window up: intake gets one 429, then waits for the reset
    X gave (no storm of retries), and reads the question after it."""
    world.control.set_limit("search_recent", app=2, window=4)
    bearer = world.settings.x_bearer_token
    assert bearer is not None
    auth = {"Authorization": f"Bearer {bearer.get_secret_value()}"}
    url = world.settings.x_api_base_url.rstrip("/") + "/2/tweets/search/recent"
    with httpx.Client(timeout=10) as other:
        for _ in range(2):
            assert other.get(url, params={"query": "#x"}, headers=auth).status_code == 200
        refused = other.get(url, params={"query": "#x"}, headers=auth)
    assert refused.status_code == 429
    reset = int(refused.headers["x-rate-limit-reset"])
    assert refused.headers["x-rate-limit-remaining"] == "0"
    asked = world.post("fan_1", "#AskAirbus asked while the window is used up")
    stop = asyncio.Event()
    task = asyncio.create_task(world.poller(IntakeMode.SEARCH).run(stop))
    try:
        await wait_for(lambda: _state_is(world, IntakeState.RATE_LIMITED), timeout=10)
        limited = await world.state.status(world.sid)
        assert limited.retry_at is not None and limited.retry_at.timestamp() >= reset
        await wait_for(lambda: _has(world, {asked}), timeout=20)
        status = await world.state.status(world.sid)
        assert status.counters["errors"] == 1  # the one 429, no retry before the reset
    finally:
        stop.set()
        await task


async def _has(world: IntakeWorld, expected: set[str]) -> bool:
    return expected <= await world.tweet_ids()


async def _state_is(world: IntakeWorld, wanted: IntakeState) -> bool:
    return (await world.state.status(world.sid)).state is wanted
