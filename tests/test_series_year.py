"""MUST SHOW: one year of a monthly series on the test clock, against the X emulator.

"First Tuesday of the month, 15:00 Europe/Paris" for 2027, created over the API: exactly 12
sessions, each starting at 15:00 in Paris (14:00 UTC in winter, 13:00 UTC in summer) across
both DST changes, every announcement (3 x 12) posted exactly once on @Airbus's timeline
with its text, and said once in its session's event log (``announcement.posted``), then
the start and closing posts. The clock jumps from one due moment to the next and the
scheduler's ticks are driven directly.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import redis.asyncio as aioredis

from atexpert.domain.clock import utc_to_local
from atexpert.domain.sessions import SessionStatus
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.store.redis_conn import RedisClient
from tests.support import emulator_fixtures
from tests.support.series_world import T0, SeriesWorld, series_body, series_world

server, control = emulator_fixtures.server, emulator_fixtures.control
RedisFactory = Callable[[], Awaitable[RedisClient]]
#: How late after its moment each tick comes (the scheduler ticks every second or so).
LATE = timedelta(seconds=30)
#: Past the last date of 2027 (7 December) and its closing post: T0 + 386 days is 10 Jan 2028.
END = T0 + timedelta(days=386)


TOPIC = "Flying the A350 with our test pilot"


async def set_first_topic_and_expert(w: SeriesWorld, series_id: str) -> str:
    """The admin gives January's occurrence its own topic and expert; its id."""
    [january, _] = await w.occurrences(series_id)
    sid = january["session"]["id"]
    r = await w.client.patch(f"/api/sessions/{sid}", json={"title": TOPIC}, headers=w.admin)
    assert r.status_code == 200, r.text
    pilot = await w.staff.create_user("pilot", "s3cret-password")
    body = {"user_id": pilot.id, "role": "expert"}
    r = await w.client.post(f"/api/sessions/{sid}/roles", json=body, headers=w.admin)
    assert r.status_code == 200, r.text
    return sid


async def run_year(w: SeriesWorld, series_id: str) -> str:
    """A year of ticks; the id of January's occurrence."""
    scheduler = w.scheduler()
    await w.tick(scheduler)
    january = await set_first_topic_and_expert(w, series_id)
    while w.clock.now() < END:
        w.clock.set(await w.next_moment(series_id, timedelta(days=3)) + LATE)
        await w.tick(scheduler)
    return january


async def test_one_year_of_a_monthly_series(
    redis_standalone: aioredis.Redis, server: EmulatorServer, control: EmulatorControl
) -> None:
    async with series_world(redis_standalone, server.base_url, control) as w:
        r = await w.client.post("/api/series", json=series_body(), headers=w.admin)
        assert r.status_code == 201, r.text
        series = r.json()
        assert series["announce_before_minutes"] == [10080, 1440, 15]
        assert [d[11:16] for d in series["next_starts"]] == ["14:00"] * 3 + ["13:00"] * 7 + [
            "14:00"
        ] * 2

        january = await run_year(w, series["id"])

        r = await w.client.get(f"/api/series/{series['id']}/occurrences", headers=w.admin)
        occurrences = r.json()
        assert len(occurrences) == 12
        starts = [datetime.fromisoformat(o["session"]["started_at"]) for o in occurrences]
        local = [utc_to_local(s, "Europe/Paris") for s in starts]
        assert [(t.month, t.weekday(), t.day <= 7) for t in local] == [
            (m, 1, True) for m in range(1, 13)
        ]
        assert {t.strftime("%H:%M") for t in local} == {"15:00"}
        # CET (UTC+1) until March, CEST (UTC+2) from April to October, CET again after.
        assert [s.strftime("%H:%M") for s in starts] == ["14:00"] * 3 + ["13:00"] * 7 + [
            "14:00"
        ] * 2
        assert {o["session"]["status"] for o in occurrences} == {SessionStatus.CLOSED}

        timeline = await w.timeline()
        texts = Counter(p["text"] for p in timeline)
        announced = [a for o in occurrences for a in o["announcements"]]
        assert len(announced) == 36
        assert {a["status"] for a in announced} == {"posted"}
        assert all(texts[a["text"]] == 1 for a in announced)
        by_id = {p["id"]: p for p in timeline}
        assert all(by_id[a["tweet_id"]]["text"] == a["text"] for a in announced)
        assert [a["text"].split(":")[0] for a in announced[:3]] == [
            "In 7 days",
            "Tomorrow",
            "In 15 minutes",
        ]
        assert occurrences[0]["session"]["id"] == january
        assert occurrences[0]["session"]["title"] == TOPIC
        assert len(occurrences[0]["session"]["expert_ids"]) == 1
        assert all(a["text"].split(": ")[1].startswith(TOPIC) for a in announced[:3])
        for o in occurrences:
            session = o["session"]
            root, closing = by_id[session["thread_root_id"]], by_id[session["closing_tweet_id"]]
            assert root["text"].startswith(f"We're live: {session['title']}\n")
            assert closing["text"].startswith(f"That's a wrap: {session['title']}\n")
            assert closing["replied_to"] == root["id"]
            # Before the start: the three announcements, in order; the start post after them.
            posted = [int(a["tweet_id"]) for a in o["announcements"]]
            assert posted == sorted(posted) and posted[-1] < int(root["id"])
        assert len(timeline) == 36 + 12 + 12
        assert len(texts) == len(timeline)  # no post twice
        # Each session's log says so: 3 announcement.posted events, one per post, and it
        # replays to the announcements stored.
        for o in occurrences:
            posted = [
                (e[1], e[2])
                for e in await w.announcement_events(o["session"]["id"])
                if e[0] == "announcement.posted"
            ]
            assert posted == [(str(a["before_minutes"]), a["tweet_id"]) for a in o["announcements"]]


async def test_two_schedulers_never_post_an_announcement_twice(
    redis: RedisClient,
    redis_factory: RedisFactory,
    server: EmulatorServer,
    control: EmulatorControl,
) -> None:
    async with series_world(redis, server.base_url, control) as w:
        body = series_body(rrule="FREQ=MONTHLY;BYDAY=1TU;COUNT=2")
        r = await w.client.post("/api/series", json=body, headers=w.admin)
        series_id = r.json()["id"]
        other = w.scheduler(await redis_factory())
        mine = w.scheduler()
        while w.clock.now() < T0 + timedelta(days=45):  # past 2 February, the second date
            w.clock.set(await w.next_moment(series_id, timedelta(days=3)) + LATE)
            reports = await asyncio.gather(w.tick(mine), w.tick(other))
            assert sum(r.leader for r in reports) == 1
            if w.clock.now() > T0 + timedelta(days=26):  # past the first date, 5 January
                await mine.lease.release()  # a rolling restart: the other one leads now
        r = await w.client.get(f"/api/series/{series_id}/occurrences", headers=w.admin)
        announced = [a for o in r.json() for a in o["announcements"]]
        assert [a["status"] for a in announced] == ["posted"] * 6
        texts = Counter(p["text"] for p in await w.timeline())
        assert [texts[a["text"]] for a in announced] == [1] * 6
        for o in r.json():
            kinds = Counter(e[0] for e in await w.announcement_events(o["session"]["id"]))
            assert kinds == {"announcement.claimed": 3, "announcement.posted": 3}
