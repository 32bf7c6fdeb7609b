"""The cost meter on real Redis (standalone and cluster): spend, budget, X's limits."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from atexpert.domain.clock import ManualClock
from atexpert.domain.costs import CallKind, RateCard
from atexpert.store.redis_conn import RedisClient
from atexpert.x.meter import Meter
from tests.support.redis_fixtures import RedisFactory


async def test_spend_is_counted_and_priced_per_session(redis: RedisClient) -> None:
    meter = Meter(redis)
    await meter.record("s_a", CallKind.OWN_MENTIONS_READ, 250)
    await meter.record("s_a", CallKind.SEARCH_READ, 3)
    await meter.record("s_a", CallKind.POST_WITH_URL)
    await meter.record("s_b", CallKind.POST, 2)
    await meter.record("s_b", CallKind.POST, 0)
    spend = await meter.spend("s_a")
    assert spend.total == Decimal("0.465")
    assert spend.counts == {
        CallKind.OWN_MENTIONS_READ: 250,
        CallKind.SEARCH_READ: 3,
        CallKind.POST_WITH_URL: 1,
    }
    assert (await meter.spend("s_b")).total == Decimal("0.03")
    assert (await meter.spend("s_none")).total == 0


async def test_concurrent_processes_add_up_exactly(
    redis: RedisClient, redis_factory: RedisFactory
) -> None:
    meters = [Meter(await redis_factory()) for _ in range(4)]
    await asyncio.gather(
        *(m.record("s_a", CallKind.SEARCH_READ) for m in meters for _ in range(50))
    )
    spend = await Meter(redis).spend("s_a")
    assert spend.total == Decimal("1.000") and spend.counts[CallKind.SEARCH_READ] == 200


async def test_a_custom_rate_card_prices_the_calls(redis: RedisClient) -> None:
    meter = Meter(redis, RateCard(search_read=Decimal("0.000125")))
    await meter.record("s_a", CallKind.SEARCH_READ, 8)
    assert (await meter.spend("s_a")).total == Decimal("0.001")


async def test_budget_headroom(redis: RedisClient) -> None:
    meter = Meter(redis)
    assert await meter.headroom("s_a", CallKind.SEARCH_READ) is None
    await meter.set_budget("s_a", Decimal("0.05"))
    assert await meter.headroom("s_a", CallKind.SEARCH_READ) == 10
    assert await meter.headroom("s_a", CallKind.OWN_MENTIONS_READ) == 50
    await meter.record("s_a", CallKind.SEARCH_READ, 9)
    assert await meter.headroom("s_a", CallKind.SEARCH_READ) == 1
    await meter.record("s_a", CallKind.SEARCH_READ, 2)  # X billed past it anyway
    assert await meter.headroom("s_a", CallKind.SEARCH_READ) == 0
    report = await meter.report("s_a")
    assert report.budget_usd == Decimal("0.05") and report.remaining_usd == 0
    await meter.set_budget("s_a", None)
    assert (await meter.report("s_a")).budget_usd is None
    with pytest.raises(ValueError):
        await meter.set_budget("s_a", Decimal("-1"))


async def test_limits_from_headers(redis: RedisClient) -> None:
    meter = Meter(redis)
    past = str(int(time.time()) - 5)
    await meter.note_limits(
        "search_recent",
        {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "3", "x-rate-limit-reset": past},
    )
    await meter.note_limits(
        "create_tweet",
        {
            "x-rate-limit-limit": "200",
            "x-rate-limit-remaining": "150",
            "x-rate-limit-reset": "9999999999",
            "x-app-limit-24hour-limit": "10000",
            "x-app-limit-24hour-remaining": "9990",
            "x-app-limit-24hour-reset": "9999999999",
        },
    )
    await meter.note_limits("user_lookup", {"content-type": "application/json"})
    await meter.note_limits("users_me", {"x-rate-limit-remaining": "junk"})
    limits = {item.endpoint: item for item in await meter.limits()}
    assert set(limits) == {"search_recent", "create_tweet"}
    assert limits["search_recent"].remaining == 450  # its window has reset since
    assert limits["create_tweet"].remaining == 150
    assert limits["create_tweet"].app_24h_remaining == 9990


async def test_limits_follow_the_injected_clock(redis: RedisClient) -> None:
    clock = ManualClock(datetime.now(UTC))
    meter = Meter(redis, clock=clock)
    reset = int(clock.now().timestamp()) + 60
    headers = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "3"}
    await meter.note_limits("search_recent", headers | {"x-rate-limit-reset": str(reset)})
    [seen] = await meter.limits()
    assert (seen.remaining, seen.seen_at) == (3, clock.now().timestamp())
    clock.advance(timedelta(seconds=61))
    assert [x.remaining for x in await meter.limits()] == [450]  # the window has reset
