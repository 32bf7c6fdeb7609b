"""Series: the recurrence across DST, rule validation, the store and occurrences created once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from atexpert.domain import series_announce
from atexpert.domain.automod_config import AutomodConfig
from atexpert.domain.clock import ManualClock, utc_to_local
from atexpert.domain.errors import Conflict, InvalidInput, NotFound
from atexpert.domain.series import (
    Series,
    SeriesFields,
    SeriesUpdate,
    new_series,
    occurrence_fields,
    occurrence_session_id,
    occurrences,
)
from atexpert.domain.series_announce import AnnouncementState
from atexpert.domain.sessions import HostAccount, SessionStatus
from atexpert.settings import Settings
from atexpert.store.automod import AutomodStore
from atexpert.store.redis_conn import RedisClient
from atexpert.store.scheduler import Lease, Scheduler
from atexpert.store.series import OccurrencePlanner, SeriesStore
from atexpert.store.series_announcements import AnnouncementStore, Op
from atexpert.store.store import Store
from atexpert.web.series_service import series_jobs
from atexpert.x.meter import Meter

RedisFactory = Callable[[], Awaitable[RedisClient]]
PARIS = "Europe/Paris"
CREATED = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)


def fields(**over: object) -> SeriesFields:
    base: dict[str, object] = {
        "slug": "ask-airbus",
        "title": "Ask Airbus",
        "hashtags": ["AskAirbus"],
        "host_account": HostAccount(handle="Airbus"),
        "time_zone": PARIS,
        "rrule": "FREQ=MONTHLY;BYDAY=1TU",
        "start_time": "15:00",
    }
    return SeriesFields.model_validate(base | over)


def monthly(**over: object) -> Series:
    return new_series(fields(**over), series_id="sr_abc", actor="admin", at=CREATED)


def test_first_tuesday_at_15_paris_stays_15_local_across_both_dst_changes() -> None:
    starts = occurrences(monthly(), CREATED, 12)
    local = [utc_to_local(s, PARIS) for s in starts]
    assert [(w.weekday(), w.day <= 7, w.hour, w.minute) for w in local] == [(1, True, 15, 0)] * 12
    assert [s.hour for s in starts] == [14, 14, 14] + [13] * 7 + [14, 14]  # CET, CEST, CET
    assert [s.month for s in starts] == list(range(1, 13))
    assert all(s.tzinfo is UTC for s in starts)


def test_a_local_time_the_clocks_skip_moves_on_by_the_gap_and_a_doubled_one_takes_the_first() -> (
    None
):
    series = monthly(rrule="FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU", start_time="02:30")
    spring, autumn = occurrences(series, CREATED, 2)
    # 02:30 does not exist on 28 March 2027: 03:30 summer time, the instant 02:30 CET would be.
    assert spring == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert utc_to_local(spring, PARIS).strftime("%H:%M %Z") == "03:30 CEST"
    # 02:30 happens twice on 31 October 2027: the first, still summer time.
    assert autumn == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert utc_to_local(autumn, PARIS).strftime("%H:%M %Z") == "02:30 CEST"


def test_occurrences_after_a_moment_are_strictly_after_it() -> None:
    series = monthly()
    first, second = occurrences(series, CREATED, 2)
    assert occurrences(series, first, 1) == [second]
    assert occurrences(series, first - timedelta(seconds=1), 1) == [first]


def test_until_in_utc_and_count_end_the_rule() -> None:
    assert len(occurrences(monthly(rrule="FREQ=MONTHLY;BYDAY=1TU;COUNT=3"), CREATED, 10)) == 3
    until = monthly(rrule="FREQ=WEEKLY;BYDAY=MO;UNTIL=20270118T140000Z")
    assert [s.day for s in occurrences(until, CREATED, 10)] == [21, 28, 4, 11, 18]


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("FREQ=HOURLY", "at most one a day"),
        ("FREQ=MINUTELY;INTERVAL=5", "at most one a day"),
        ("FREQ=DAILY;BYHOUR=9,17", "BYHOUR is not allowed"),
        ("DTSTART:20270101T000000\nFREQ=DAILY", "is not allowed"),
        ("FREQ=MONTHLY;BYDAY=XX", "not a valid RFC 5545 rule"),
        ("FREQ=MONTHLY;FREQ=WEEKLY", "given twice"),
        ("every tuesday", "is not NAME=VALUE"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20270101", "COUNT and UNTIL"),
    ],
)
def test_a_bad_rule_is_refused_with_a_reason(rule: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why) as info:
        fields(rrule=rule)
    assert info.value.errors()[0]["loc"] == ("rrule",)


def test_a_rule_that_has_ended_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no occurrence left") as info:
        monthly(rrule="FREQ=DAILY;UNTIL=20261201")
    assert info.value.errors[0].loc == ("rrule",)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slug", "Ask Airbus"),
        ("slug", "-ask"),
        ("start_time", "25:00"),
        ("time_zone", "Mars/Olympus"),
        ("announce_before_minutes", [15, 15]),
        ("announce_before_minutes", [0]),
        ("create_ahead", 0),
    ],
)
def test_bad_fields_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        fields(**{field: value})
    assert info.value.errors()[0]["loc"][0] == field


# --- the store --------------------------------------------------------------------------


async def test_a_series_is_found_by_id_and_slug_and_a_slug_names_one_series(
    redis: RedisClient,
) -> None:
    clock = ManualClock(CREATED)
    store = SeriesStore(redis, clock)
    series = await store.create(fields(), "admin")
    assert series.starts_on == date(2026, 12, 20)
    assert await store.get(series.id) == series
    assert await store.by_slug("ask-airbus") == series
    with pytest.raises(InvalidInput, match="taken"):
        await store.create(fields(), "admin")
    clock.advance(timedelta(minutes=1))
    other = await store.create(fields(slug="ask-af"), "admin")
    assert [s.id for s in await store.list()] == [series.id, other.id]
    renamed = await store.update(series.id, SeriesUpdate(slug="airbus"), "admin")
    assert renamed.version == 2 and await store.by_slug("airbus") == renamed
    with pytest.raises(NotFound):
        await store.by_slug("ask-airbus")
    with pytest.raises(InvalidInput, match="taken"):
        await store.update(other.id, SeriesUpdate(slug="airbus"), "admin")
    with pytest.raises(NotFound):
        await store.get("sr_nope")


async def test_two_schedulers_create_each_occurrence_once_as_a_scheduled_session(
    redis: RedisClient, redis_factory: RedisFactory
) -> None:
    clock = ManualClock(CREATED)
    series = await SeriesStore(redis, clock).create(fields(create_ahead=2), "admin")
    schedulers = []
    for client in (redis, await redis_factory()):
        planner = OccurrencePlanner(Store(client, clock=clock), SeriesStore(client, clock))
        schedulers.append(Scheduler(Store(client), Lease(client), clock, jobs=[planner]))
    reports = []
    for _ in range(3):
        reports += await asyncio.gather(*(s.tick() for s in schedulers))
    created = [j for r in reports for j in r.jobs]
    jan, feb = (occurrence_session_id(series.id, date(2027, m, d)) for m, d in ((1, 5), (2, 2)))
    assert created == [f"created {jan}", f"created {feb}"]
    sessions = await SeriesStore(redis, clock).sessions(series.id)
    assert [(s.id, s.status, s.series_id) for s in sessions] == [
        (jan, SessionStatus.SCHEDULED, series.id),
        (feb, SessionStatus.SCHEDULED, series.id),
    ]
    assert sessions[0].occurrence_on == date(2027, 1, 5)
    assert sessions[0].scheduled_start == datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
    assert sessions[0].scheduled_end == datetime(2027, 1, 5, 15, 0, tzinfo=UTC)


async def test_an_occurrence_created_but_not_scheduled_before_a_crash_is_scheduled_next_time(
    redis: RedisClient,
) -> None:
    clock = ManualClock(CREATED)
    series_store = SeriesStore(redis, clock)
    series = await series_store.create(fields(create_ahead=1), "admin")
    store = Store(redis, clock=clock)
    on = date(2027, 1, 5)
    start = datetime(2027, 1, 5, 14, 0, tzinfo=UTC)
    await store.create_session(
        occurrence_fields(series, start),
        actor="scheduler",
        session_id=occurrence_session_id(series.id, on),
        series_id=series.id,
        occurrence_on=on,
    )  # ... and the process died here
    done = await OccurrencePlanner(store, series_store)(Lease(redis), clock.now())
    assert done == []
    [session] = await series_store.sessions(series.id)
    assert session.status is SessionStatus.SCHEDULED


async def test_an_occurrence_gets_the_series_budget_and_auto_moderation(
    redis: RedisClient,
) -> None:
    clock = ManualClock(CREATED)
    config = AutomodConfig(blocklist=["spoiler"])
    body = fields(create_ahead=1, budget_usd="2.5", automod=config.model_dump(mode="json"))
    series = await SeriesStore(redis, clock).create(body, "admin")
    planner, _ = series_jobs(redis, Store(redis, clock=clock), Settings(), clock)
    assert await planner(Lease(redis), clock.now()) == [
        f"created {occurrence_session_id(series.id, date(2027, 1, 5))}"
    ]
    [session] = await SeriesStore(redis, clock).sessions(series.id)
    assert await Meter(redis).budget(session.id) == Decimal("2.5")
    assert (await AutomodStore(redis).get(session.id)).config == config


async def test_an_announcement_step_of_a_stale_leader_is_refused(redis: RedisClient) -> None:
    clock = ManualClock(CREATED)
    series = await SeriesStore(redis, clock).create(fields(create_ahead=1), "admin")
    await OccurrencePlanner(Store(redis, clock=clock), SeriesStore(redis, clock))(
        Lease(redis), clock.now()
    )
    [session] = await SeriesStore(redis, clock).sessions(series.id)
    states = AnnouncementStore(redis)
    before = await Store(redis).last_event_id(session.id)

    async def step(op: Op, patch: dict[str, str], fence: int) -> tuple[str, AnnouncementState]:
        return await states.step(
            session.id, 10080, op, patch, fence=fence, actor="scheduler", at=CREATED
        )

    claim = {"status": "posting", "text": "In 7 days: …"}
    assert (await step("claim", claim, 1))[0] == "ok"
    # The lease passed to a new leader (fence 2): it finds the claim and must reconcile.
    verdict, state = await step("claim", claim, 2)
    assert (verdict, state.status, state.text, state.fence) == (
        "retry",
        "posting",
        claim["text"],
        2,
    )
    posted = {"status": "posted", "tweet_id": "1"}
    assert (await step("posted", posted, 1))[0] == "fence"
    assert (await step("posted", posted, 2))[0] == "ok"
    assert (await step("claim", claim, 3))[0] == "done"
    with pytest.raises(Conflict, match="posted; it can no longer be changed"):
        await states.edit(session.id, 10080, {"status": "skipped"}, actor="admin", at=CREATED)
    # Each change wrote its event in the session's log, the refused steps none.
    events = await Store(redis).read_events(session.id, before)
    assert [(e.kind, e.entity, e.entity_id, e.fence, e.version) for e in events] == [
        ("announcement.claimed", "announcement", "10080", 1, 1),
        ("announcement.claimed", "announcement", "10080", 2, 2),
        ("announcement.posted", "announcement", "10080", 2, 3),
    ]
    assert events[-1].data["tweet_id"] == "1" and events[-1].actor == "scheduler"
    replayed = await Store(redis).replay(session.id)
    assert replayed == await Store(redis).snapshot(session.id)
    assert replayed.announcements[10080].status == "posted"


async def test_an_announcement_of_an_account_not_connected_is_not_claimed_then_missed(
    redis: RedisClient,
) -> None:
    clock = ManualClock(CREATED)
    series = await SeriesStore(redis, clock).create(fields(create_ahead=1), "admin")
    planner, announcer = series_jobs(redis, Store(redis, clock=clock), Settings(), clock)
    lease = Lease(redis)
    await lease.acquire()
    await planner(lease, clock.now())
    [session] = await SeriesStore(redis, clock).sessions(series.id)
    week = series_announce.due_at(session, 10080)
    assert await announcer(lease, week) == []  # @Airbus is not connected: logged, retried
    assert (await AnnouncementStore(redis).states(session.id)) == {}
    late = week + timedelta(days=3, hours=13)
    assert await announcer(lease, late) == [f"missed {session.id} -10080"]
    [state] = (await AnnouncementStore(redis).states(session.id)).values()
    assert state.status == "missed"
