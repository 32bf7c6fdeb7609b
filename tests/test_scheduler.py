"""Scheduler: local wall times across DST, the fenced lease, and exactly-once start/close."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from atexpert.domain.clock import ManualClock, is_ambiguous, local_to_utc, utc_to_local
from atexpert.domain.errors import Conflict, InvalidInput
from atexpert.domain.events import Event, EventKind
from atexpert.domain.sessions import HostAccount, SessionFields, SessionStatus
from atexpert.store import keys
from atexpert.store.redis_conn import RedisClient
from atexpert.store.scheduler import Lease, Scheduler, TickReport
from atexpert.store.store import Store

RedisFactory = Callable[[], Awaitable[RedisClient]]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Wait until ``check()`` is true (polling), failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.01)


# --- local wall time -> UTC -------------------------------------------------------------


def test_wall_time_in_summer_and_winter() -> None:
    assert local_to_utc(datetime(2026, 7, 1, 14, 0), "Europe/Paris") == datetime(
        2026, 7, 1, 12, 0, tzinfo=UTC
    )
    assert local_to_utc(datetime(2026, 12, 1, 14, 0), "Europe/Paris") == datetime(
        2026, 12, 1, 13, 0, tzinfo=UTC
    )


def test_wall_time_in_the_spring_gap_is_refused() -> None:
    with pytest.raises(InvalidInput, match="does not exist in Europe/Paris") as info:
        local_to_utc(datetime(2026, 3, 29, 2, 30), "Europe/Paris")
    assert info.value.errors[0].loc == ("scheduled_start",)
    # Either side of the gap is fine, and only one hour apart in real time.
    before = local_to_utc(datetime(2026, 3, 29, 1, 59), "Europe/Paris")
    after = local_to_utc(datetime(2026, 3, 29, 3, 0), "Europe/Paris")
    assert after - before == timedelta(minutes=1)


def test_wall_time_in_the_autumn_fold_defaults_to_the_first_occurrence() -> None:
    wall = datetime(2026, 10, 25, 2, 30)
    assert is_ambiguous(wall, "Europe/Paris")
    assert not is_ambiguous(datetime(2026, 10, 25, 3, 30), "Europe/Paris")
    first = local_to_utc(wall, "Europe/Paris")
    second = local_to_utc(wall, "Europe/Paris", fold=1)
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert second - first == timedelta(hours=1)
    assert utc_to_local(first, "Europe/Paris").strftime("%H:%M %Z") == "02:30 CEST"
    assert utc_to_local(second, "Europe/Paris").strftime("%H:%M %Z") == "02:30 CET"


def test_session_across_the_night_clocks_go_back_lasts_three_hours() -> None:
    start = local_to_utc(datetime(2026, 10, 25, 1, 30), "Europe/Paris")
    end = local_to_utc(datetime(2026, 10, 25, 3, 30), "Europe/Paris")
    assert end - start == timedelta(hours=3)


def test_bad_wall_time_inputs() -> None:
    with pytest.raises(InvalidInput, match="unknown time zone"):
        local_to_utc(datetime(2026, 7, 1, 14, 0), "Mars/Olympus")
    with pytest.raises(InvalidInput, match="no UTC offset") as info:
        local_to_utc(datetime(2026, 7, 1, 14, 0, tzinfo=UTC), "UTC", field="scheduled_end")
    assert info.value.errors[0].loc == ("scheduled_end",)


def test_manual_clock() -> None:
    clock = ManualClock(datetime(2026, 10, 24, 23, 0, tzinfo=UTC))
    assert clock.advance(timedelta(hours=2)) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    clock.set(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    assert clock.now() == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        clock.set(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))


# --- the lease ----------------------------------------------------------------------------


async def test_only_one_of_two_racing_processes_gets_the_lease(
    redis: RedisClient, redis_factory: RedisFactory
) -> None:
    a, b = Lease(redis), Lease(await redis_factory())
    tokens = await asyncio.gather(a.acquire(), b.acquire())
    assert sorted(tokens, key=lambda t: t is None) == [1, None]
    holder = a if a.token else b
    assert await holder.acquire() == 1  # renewed: same token, no new one


async def test_released_lease_goes_to_the_other_with_a_higher_token(
    redis: RedisClient, redis_factory: RedisFactory
) -> None:
    a, b = Lease(redis), Lease(await redis_factory())
    first = await a.acquire()
    assert first is not None
    assert await b.acquire() is None
    assert await a.release()
    second = await b.acquire()
    assert second is not None and second > first
    assert await a.acquire() is None


async def test_expired_lease_is_taken_over_and_the_stale_holder_cannot_renew(
    redis: RedisClient, redis_factory: RedisFactory
) -> None:
    a = Lease(redis, ttl=timedelta(milliseconds=100))
    b = Lease(await redis_factory(), ttl=timedelta(seconds=10))
    first = await a.acquire()
    assert first is not None

    async def b_took_over() -> bool:
        return await b.acquire() is not None

    await eventually(b_took_over)
    assert b.token is not None and b.token > first
    assert not await a.renew()
    assert a.token is None
    assert await a.acquire() is None
    assert not await a.release()  # a stale holder cannot free the new holder's lease
    assert await b.renew()


async def test_stale_release_does_not_delete_the_successors_lease(
    redis: RedisClient, redis_factory: RedisFactory
) -> None:
    a = Lease(redis, ttl=timedelta(milliseconds=50), owner="a")
    b = Lease(await redis_factory(), owner="b")
    await a.acquire()
    await eventually(lambda: _acquired(b))
    stale = Lease(redis, owner="a")
    stale.token = a.token  # what a stalled process still believes
    assert not await stale.release()
    assert await redis.get(b.holder_key) == f"b {b.token}"


async def _acquired(lease: Lease) -> bool:
    return await lease.acquire() is not None


# --- the scheduler on the real store -----------------------------------------------------

PARIS = "Europe/Paris"


async def scheduled_session(store: Store, start: datetime, end: datetime) -> str:
    fields = SessionFields(
        title="Ask our pilots",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=start,
        scheduled_end=end,
        time_zone=PARIS,
    )
    created_at = start - timedelta(days=2)
    session = await store.create_session(fields, actor="brand", at=created_at)
    await store.schedule_session(session.id, actor="brand", at=created_at)
    return session.id


async def kinds(store: Store, session_id: str, *wanted: EventKind) -> list[Event]:
    return [e for e in await store.read_events(session_id, count=1000) if e.kind in wanted]


async def two_processes(
    redis: RedisClient, redis_factory: RedisFactory, clock: ManualClock
) -> tuple[Store, Scheduler, Scheduler]:
    """Two app processes: each its own client, store, lease and scheduler; one clock."""
    schedulers = []
    for client in (redis, await redis_factory()):
        schedulers.append(Scheduler(Store(client), Lease(client), clock))
    return Store(redis), schedulers[0], schedulers[1]


async def race_through(
    clock: ManualClock,
    a: Scheduler,
    b: Scheduler,
    until: datetime,
    step: timedelta,
    handover_at: datetime,
) -> list[tuple[datetime, TickReport]]:
    """Both schedulers tick at once at every step of the clock up to ``until``.

    At ``handover_at`` the leader gives the lease up (a rolling restart) and the other
    process leads from then on.
    """
    reports = []
    while clock.now() <= until:
        ticking = [a, b]
        if clock.now() == handover_at:
            leader = a if a.lease.token is not None else b
            await leader.lease.release()
            ticking.remove(leader)  # restarting: the other one ticks alone this time
        for report in await asyncio.gather(*(s.tick() for s in ticking)):
            reports.append((clock.now(), report))
        clock.advance(step)
    return reports


@pytest.mark.parametrize(
    ("night", "wall_start", "wall_end", "real_length"),
    [
        # Clocks go back at 03:00 CEST -> 02:00 CET: 01:30-03:30 lasts three hours.
        ("autumn", datetime(2026, 10, 25, 1, 30), datetime(2026, 10, 25, 3, 30), 3),
        # Clocks jump from 02:00 CET to 03:00 CEST: 01:30-03:30 lasts one hour.
        ("spring", datetime(2026, 3, 29, 1, 30), datetime(2026, 3, 29, 3, 30), 1),
    ],
)
async def test_racing_schedulers_start_and_close_once_across_a_dst_change(
    redis: RedisClient,
    redis_factory: RedisFactory,
    night: str,
    wall_start: datetime,
    wall_end: datetime,
    real_length: int,
) -> None:
    start, end = local_to_utc(wall_start, PARIS), local_to_utc(wall_end, PARIS)
    assert end - start == timedelta(hours=real_length)
    clock = ManualClock(start - timedelta(hours=2))
    store, a, b = await two_processes(redis, redis_factory, clock)
    session_id = await scheduled_session(store, start, end)

    midway = start + (end - start) / 2
    reports = await race_through(
        clock, a, b, end + timedelta(hours=1), timedelta(minutes=5), handover_at=midway
    )

    leaders_per_step: dict[datetime, int] = {}
    for when, r in reports:
        leaders_per_step[when] = leaders_per_step.get(when, 0) + r.leader
    assert set(leaders_per_step.values()) == {1}
    assert {r.token for _, r in reports} == {None, 1, 2}
    started = [when for when, r in reports if session_id in r.started]
    closed = [when for when, r in reports if session_id in r.closed]
    assert started == [start] and closed == [end]
    session = await store.get_session(session_id)
    assert session.status is SessionStatus.CLOSED
    assert (session.started_at, session.closed_at) == (start, end)
    assert session.started_at is not None and session.closed_at is not None
    assert utc_to_local(session.started_at, PARIS).replace(tzinfo=None) == wall_start
    assert utc_to_local(session.closed_at, PARIS).replace(tzinfo=None) == wall_end
    events = await kinds(store, session_id, EventKind.SESSION_STARTED, EventKind.SESSION_CLOSED)
    assert [(e.kind, e.actor, e.fence) for e in events] == [
        (EventKind.SESSION_STARTED, "scheduler", 1),
        (EventKind.SESSION_CLOSED, "scheduler", 2),
    ]


async def test_after_the_lease_expires_the_other_process_takes_over_and_the_stale_one_is_fenced(
    redis: RedisClient, redis_factory: RedisFactory
) -> None:
    start = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    end = start + timedelta(hours=1)
    clock = ManualClock(start - timedelta(minutes=1))
    store = Store(redis)
    a = Scheduler(store, Lease(redis, ttl=timedelta(milliseconds=100)), clock)
    other = await redis_factory()
    b = Scheduler(Store(other), Lease(other), clock)
    session_id = await scheduled_session(store, start, end)

    first = await a.tick()
    assert first.leader and first.started == []
    stale_token = first.token
    assert stale_token is not None

    clock.set(start)  # a stalls past its lease; b takes over and starts the session

    async def b_leads() -> bool:
        return (await b.tick()).leader

    await eventually(b_leads)
    assert b.lease.token is not None and b.lease.token > stale_token
    session = await store.get_session(session_id)
    assert session.status is SessionStatus.LIVE and session.fence == b.lease.token

    # a wakes up and goes on with what it was doing: the store refuses its old token.
    with pytest.raises(Conflict, match="stale scheduler lease"):
        await store.close_session(session_id, actor="scheduler", at=end, fence=stale_token)
    assert (await store.get_session(session_id)).status is SessionStatus.LIVE
    assert not (await a.tick()).leader

    clock.set(end)
    assert (await a.tick()).closed == []
    assert (await b.tick()).closed == [session_id]
    events = await kinds(store, session_id, EventKind.SESSION_STARTED, EventKind.SESSION_CLOSED)
    assert [e.fence for e in events] == [b.lease.token, b.lease.token]


async def test_manual_start_and_close_are_not_repeated_by_the_scheduler(
    redis: RedisClient,
) -> None:
    start = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    clock = ManualClock(start - timedelta(minutes=10))
    store = Store(redis)
    scheduler = Scheduler(store, Lease(redis), clock)
    early = await scheduled_session(store, start, start + timedelta(hours=1))
    cut_short = await scheduled_session(store, start, start + timedelta(hours=1))

    await store.start_session(early, actor="alice", at=clock.now())  # "start now" button
    clock.set(start)
    report = await scheduler.tick()
    assert report.started == [cut_short]
    await store.close_session(cut_short, actor="alice", at=start + timedelta(minutes=20))
    clock.set(start + timedelta(hours=1))
    report = await scheduler.tick()
    assert report.closed == [early]
    assert await scheduler.tick() == TickReport(token=report.token)

    started = await kinds(store, early, EventKind.SESSION_STARTED)
    closed = await kinds(store, cut_short, EventKind.SESSION_CLOSED)
    assert [e.actor for e in started] == ["alice"]
    assert [e.actor for e in closed] == ["alice"]


async def test_a_slot_missed_while_no_scheduler_ran_is_started_then_closed(
    redis: RedisClient,
) -> None:
    start = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    store = Store(redis)
    session_id = await scheduled_session(store, start, start + timedelta(hours=1))
    clock = ManualClock(start + timedelta(hours=5))
    report = await Scheduler(store, Lease(redis), clock).tick()
    assert (report.started, report.closed) == ([session_id], [session_id])
    events = await kinds(store, session_id, EventKind.SESSION_STARTED, EventKind.SESSION_CLOSED)
    assert len(events) == 2


async def test_a_new_leader_repairs_a_lost_due_index(redis: RedisClient) -> None:
    start = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    store = Store(redis)
    session_id = await scheduled_session(store, start, start + timedelta(hours=1))
    await redis.delete(keys.GLOBAL_DUE)  # as if a process died between step and mirror
    report = await Scheduler(store, Lease(redis), ManualClock(start)).tick()
    assert report.started == [session_id]


async def test_run_loop_acts_and_releases_the_lease_on_stop(redis: RedisClient) -> None:
    start = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    store = Store(redis)
    session_id = await scheduled_session(store, start, start + timedelta(hours=1))
    clock = ManualClock(start)
    lease = Lease(redis)
    scheduler = Scheduler(store, lease, clock, interval=timedelta(milliseconds=10))
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))

    async def live() -> bool:
        return (await store.get_session(session_id)).status is SessionStatus.LIVE

    await eventually(live)
    clock.set(start + timedelta(hours=1))

    async def closed() -> bool:
        return (await store.get_session(session_id)).status is SessionStatus.CLOSED

    await eventually(closed)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert await redis.get(lease.holder_key) is None


async def test_run_loop_survives_failing_ticks(
    redis: RedisClient, caplog: pytest.LogCaptureFixture
) -> None:
    start = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    store = Store(redis)
    session_id = await scheduled_session(store, start, start + timedelta(hours=1))
    await redis.delete(keys.GLOBAL_DUE)
    await redis.set(keys.GLOBAL_DUE, "not a sorted set")  # every tick now fails (WRONGTYPE)
    scheduler = Scheduler(
        store, Lease(redis), ManualClock(start), interval=timedelta(milliseconds=10)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))

    async def failed_twice() -> bool:
        return sum("scheduler tick failed" in r.message for r in caplog.records) >= 2

    await eventually(failed_twice)
    await redis.delete(keys.GLOBAL_DUE)  # repaired: the next tick rebuilds the index

    async def live() -> bool:
        return (await store.get_session(session_id)).status is SessionStatus.LIVE

    await eventually(live)
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_cancelled_run_loop_stops(redis: RedisClient) -> None:
    start = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    lease = Lease(redis)
    # Cancels land in a tick (inside redis-py, which may swallow them) or between ticks.
    for round_ in range(30):
        scheduler = Scheduler(
            Store(redis), lease, ManualClock(start), interval=timedelta(milliseconds=1)
        )
        task = asyncio.create_task(scheduler.run(asyncio.Event()))
        for _ in range(round_ % 7):
            await asyncio.sleep(0)
        await asyncio.sleep(0.001 * (round_ % 3))
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        assert done, f"round {round_}: the cancelled scheduler goes on ticking"
        assert task.cancelled()
