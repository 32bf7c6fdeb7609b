"""Spend per day and month in the session's time zone, and a monthly budget that pauses
intake when the month's spend reaches it and resumes it the next month (ManualClock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from atexpert.domain.clock import ManualClock
from atexpert.domain.costs import CallKind
from atexpert.domain.sessions import HostAccount, SessionFields
from atexpert.intake.poll import PollIntake
from atexpert.intake.x_reads import XReader
from atexpert.store.intake_state import IntakeMode, IntakeState, PauseReason
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from atexpert.x.meter import Meter
from tests.support import emulator_fixtures
from tests.support.intake_world import FAST, IntakeWorld
from tests.support.intake_world import world as world
from tests.support.waiting import wait_for

server, control, settings = (
    emulator_fixtures.server,
    emulator_fixtures.control,
    emulator_fixtures.settings,
)

#: 23:30 UTC on January 31st: already February 1st in Paris.
EVE = datetime(2027, 1, 31, 23, 30, tzinfo=UTC)


async def paris_session(redis: RedisClient) -> str:
    fields = SessionFields(
        title="After-sales desk",
        hashtags=["#AskAirFrance"],
        host_account=HostAccount(handle="AirFrance", user_id="42"),
        scheduled_start=EVE,
        scheduled_end=EVE + timedelta(days=365),
        time_zone="Europe/Paris",
    )
    return (await Store(redis).create_session(fields, actor="admin")).id


async def test_spend_is_totalled_per_local_day_and_month(redis: RedisClient) -> None:
    sid = await paris_session(redis)
    clock = ManualClock(EVE - timedelta(hours=1))  # 23:30 in Paris, January 31st
    meter = Meter(redis, clock=clock)
    await meter.record(sid, CallKind.POST, 2)  # $0.03
    clock.set(EVE)  # 00:30 in Paris: a new day and a new month
    await meter.record(sid, CallKind.SEARCH_READ, 4)  # $0.02
    await meter.record(sid, CallKind.POST)  # $0.015
    report = await meter.report(sid)
    assert (report.day, report.today_usd) == ("2027-02-01", Decimal("0.035"))
    assert (report.month, report.month_usd) == ("2027-02", Decimal("0.035"))
    assert report.total_usd == Decimal("0.065")
    january = await meter.report(sid, at=EVE - timedelta(hours=1))
    assert (january.day, january.today_usd, january.month_usd) == (
        "2027-01-31",
        Decimal("0.03"),
        Decimal("0.03"),
    )
    assert report.monthly_budget_usd is None and report.month_remaining_usd is None


async def test_the_monthly_budget_bounds_the_headroom_until_the_next_month(
    redis: RedisClient,
) -> None:
    sid = await paris_session(redis)
    clock = ManualClock(EVE)
    meter = Meter(redis, clock=clock)
    await meter.set_monthly_budget(sid, Decimal("0.05"))  # 10 posts read by search
    await meter.set_budget(sid, Decimal("1"))
    assert await meter.headroom(sid, CallKind.SEARCH_READ) == 10
    await meter.record(sid, CallKind.SEARCH_READ, 10)
    assert await meter.headroom(sid, CallKind.SEARCH_READ) == 0
    assert await meter.budget_reached(sid) == "monthly budget $0.05 of 2027-02"
    report = await meter.report(sid)
    assert (report.month_remaining_usd, report.remaining_usd) == (Decimal(0), Decimal("0.95"))

    clock.set(datetime(2027, 2, 28, 23, 0, tzinfo=UTC))  # March 1st, 00:00 in Paris
    assert await meter.headroom(sid, CallKind.SEARCH_READ) == 10
    await meter.set_monthly_budget(sid, None)
    assert await meter.headroom(sid, CallKind.SEARCH_READ) == 190  # the session's budget


async def _paused(world: IntakeWorld) -> bool:
    status = await world.state.status(world.sid)
    pause = await world.state.pause(world.sid)
    return status.state is IntakeState.PAUSED_BUDGET and pause.reason is PauseReason.BUDGET


async def test_intake_pauses_at_the_monthly_budget_and_resumes_the_next_month(
    world: IntakeWorld,
) -> None:
    clock = ManualClock(EVE)  # the session's time zone is UTC: January 31st, 23:30
    meter = Meter(world.redis, clock=clock)
    await meter.set_monthly_budget(world.sid, Decimal("0.007"))  # 7 mentions read
    world.control.post_many(
        [{"username": "fan_1", "text": f"@Airbus #AskAirbus month {i}"} for i in range(5)]
    )
    poller = PollIntake(
        world.target,
        IntakeMode.MENTIONS,
        XReader(world.client, meter),
        world.ingestor(),
        meter,
        FAST,
        opens_at=world.session.intake_opens_at,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        await wait_for(lambda: _paused(world))
        status = await world.state.status(world.sid)
        assert "monthly budget $0.007 of 2027-01 reached" in (status.paused_reason or "")
        january = len(await world.tweet_ids())
        assert january == 5  # $0.005 spent: $0.002 left cannot pay the smallest page
        clock.advance(timedelta(hours=1))  # February: the month's spend starts again
        world.control.post_many(
            [{"username": "fan_2", "text": f"@Airbus #AskAirbus february {i}"} for i in range(2)]
        )
        await wait_for(lambda: _more_than(world, january))
        await wait_for(lambda: _paused_then_resumed(world))
        report = await meter.report(world.sid)
        assert report.month == "2027-02" and report.month_usd <= Decimal("0.007")
        assert report.total_usd > report.month_usd
    finally:
        stop.set()
        await task


async def _more_than(world: IntakeWorld, count: int) -> bool:
    return len(await world.tweet_ids()) > count


async def _paused_then_resumed(world: IntakeWorld) -> bool:
    """The banner's events: paused by the budget, then resumed."""
    events = await world.store.read_events(world.sid, count=10_000)
    pauses = [
        (e.data["paused"], e.data["reason"]) for e in events if e.kind == "intake_pause.changed"
    ]
    return pauses[:2] == [(True, "budget"), (False, None)]
