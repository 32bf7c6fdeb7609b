"""The announcements before an occurrence: previewed, priced, edited or skipped over the
API, missed when the app was down, and posted once even when the process dies mid-way."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from tests.support import emulator_fixtures
from tests.support.series_world import T0, SeriesWorld, series_body, series_world

server, control = emulator_fixtures.server, emulator_fixtures.control
ONE_DATE = "FREQ=MONTHLY;BYDAY=1TU;COUNT=1"  # 5 January 2027, 15:00 Paris


async def first_occurrence(w: SeriesWorld, **over: object) -> tuple[str, dict[str, object]]:
    r = await w.client.post(
        "/api/series", json=series_body(rrule=ONE_DATE, **over), headers=w.admin
    )
    assert r.status_code == 201, r.text
    series_id = r.json()["id"]
    planner = w.scheduler()
    await planner.tick()
    await planner.lease.release()
    [occurrence] = await w.occurrences(series_id)
    return series_id, occurrence


@pytest.mark.parametrize("after_post", [True, False], ids=["after the post", "before the post"])
async def test_a_process_dying_around_the_post_leaves_exactly_one_post(
    redis_standalone: aioredis.Redis,
    server: EmulatorServer,
    control: EmulatorControl,
    after_post: bool,
) -> None:
    async with series_world(redis_standalone, server.base_url, control) as w:
        series_id, _ = await first_occurrence(w)
        w.clock.set(T0 + timedelta(days=9, hours=5, minutes=5))  # 29 Dec: the 7-day one is due
        dying = w.scheduler(posters=w.crashing_posters(after_post=after_post))
        await dying.tick()  # dies mid-way: the announcer logs it and goes on
        [occurrence] = await w.occurrences(series_id)
        week = occurrence["announcements"][0]
        assert week["status"] == "posting"
        await dying.lease.release()

        await w.scheduler().tick()  # the next leader reconciles, then posts only if needed
        [occurrence] = await w.occurrences(series_id)
        week = occurrence["announcements"][0]
        assert week["status"] == "posted"
        texts = Counter(p["text"] for p in await w.timeline())
        assert texts[week["text"]] == 1 and len(texts) == 1
        # The log: the dying claim, the next leader's claim, one post with its tweet id.
        assert await w.announcement_events(occurrence["session"]["id"]) == [
            ("announcement.claimed", "10080", None),
            ("announcement.claimed", "10080", None),
            ("announcement.posted", "10080", week["tweet_id"]),
        ]


async def test_announcements_are_previewed_priced_edited_skipped_and_missed_when_down(
    redis_standalone: aioredis.Redis, server: EmulatorServer, control: EmulatorControl
) -> None:
    async with series_world(redis_standalone, server.base_url, control) as w:
        series_id, occurrence = await first_occurrence(w, language="fr")
        session = occurrence["session"]
        sid = session["id"]
        week, day, soon = occurrence["announcements"]
        assert week["text"].startswith("Dans 7 jours\u202f: Ask Airbus · 5 janv. 2027\n")
        assert "5 janv. 2027, 15:00 CET" in week["text"] and "@Airbus" in week["text"]
        assert day["text"].startswith("Demain\u202f: ") and soon["text"].startswith("Dans 15 ")
        assert (week["due_at"], week["price_usd"], week["status"]) == (
            "2026-12-29T14:00:00Z",  # date-ok: data, on the test clock
            "0.015",
            "scheduled",
        )
        assert week["weighted_length"] <= 280

        edit = f"/api/sessions/{sid}/series/announcements"
        r = await w.client.put(
            edit, json={"before_minutes": 1440, "text": "x" * 281}, headers=w.admin
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "text"
        r = await w.client.put(edit, json={"before_minutes": 60, "skip": True}, headers=w.admin)
        assert r.status_code == 422 and "10080, 1440, 15" in r.text
        mine = "Demain à 15:00, notre pilote d'essai répond à vos questions #AskAirbus"
        r = await w.client.put(edit, json={"before_minutes": 1440, "text": mine}, headers=w.admin)
        assert r.status_code == 200, r.text
        assert r.json()["announcements"][1] | {"due_at": None} == day | {
            "text": mine,
            "edited": True,
            "weighted_length": len(mine),
            "due_at": None,
        }
        r = await w.client.put(edit, json={"before_minutes": 15, "skip": True}, headers=w.admin)
        assert r.json()["announcements"][2]["status"] == "skipped"

        # The app is down from before the 7-day announcement until 4 January, 09:00 UTC:
        # over half its offset late, it is recorded as missed, never posted.
        w.clock.set(w.clock.now() + timedelta(days=15))
        scheduler = w.scheduler()
        await w.tick(scheduler)
        w.clock.set(w.clock.now() + timedelta(hours=5, minutes=1))  # 4 Jan, 14:01 UTC
        await w.tick(scheduler)
        w.clock.set(w.clock.now() + timedelta(days=1))  # 5 Jan, 14:01 UTC: started
        await w.tick(scheduler)
        [occurrence] = await w.occurrences(series_id)
        week, day, soon = occurrence["announcements"]
        assert (week["status"], day["status"], soon["status"]) == ("missed", "posted", "skipped")
        assert "not posted late" in week["reason"]
        timeline = await w.timeline()
        assert [p["text"] for p in timeline][:1] == [mine]
        assert timeline[0]["id"] == day["tweet_id"]

        r = await w.client.put(edit, json={"before_minutes": 15, "skip": False}, headers=w.admin)
        assert r.status_code == 409  # the session is live: too late to change
        assert await w.announcement_events(sid) == [
            ("announcement.edited", "1440", None),
            ("announcement.skipped", "15", None),
            ("announcement.missed", "10080", None),
            ("announcement.claimed", "1440", None),
            ("announcement.posted", "1440", day["tweet_id"]),
        ]


async def test_a_text_already_posted_is_refused_by_x_and_not_taken_for_ours(
    redis_standalone: aioredis.Redis, server: EmulatorServer, control: EmulatorControl
) -> None:
    async with series_world(redis_standalone, server.base_url, control) as w:
        series_id, occurrence = await first_occurrence(w)
        sid = occurrence["session"]["id"]
        old = "Our next #AskAirbus is on Tuesday!"
        control.post("Airbus", old)  # posted by hand on X long ago
        edit = f"/api/sessions/{sid}/series/announcements"
        r = await w.client.put(edit, json={"before_minutes": 10080, "text": old}, headers=w.admin)
        assert r.status_code == 200, r.text
        w.clock.set(T0 + timedelta(days=9, hours=5, minutes=5))  # 29 Dec: the 7-day one is due
        await w.tick(w.scheduler())
        [occurrence] = await w.occurrences(series_id)
        week = occurrence["announcements"][0]
        assert (week["status"], week["tweet_id"]) == ("failed", None)
        assert "duplicate content" in week["reason"]
        assert [p["text"] for p in await w.timeline()] == [old]
        assert [e[0] for e in await w.announcement_events(sid)] == [
            "announcement.edited",
            "announcement.claimed",
            "announcement.failed",
        ]
        events = await w.store.read_events(sid, count=1000)
        edited, _, failed = [e for e in events if e.entity == "announcement"]
        assert (edited.data["text"], edited.actor, failed.actor) == (old, "boss", "scheduler")
        assert "duplicate content" in failed.data["reason"] and failed.data["status"] == "failed"


async def test_the_series_api_refuses_bad_input_with_the_field_and_stale_versions(
    redis_standalone: aioredis.Redis, server: EmulatorServer, control: EmulatorControl
) -> None:
    async with series_world(redis_standalone, server.base_url, control) as w:
        r = await w.client.post(
            "/api/series", json=series_body(rrule="FREQ=DAILY;BYHOUR=9"), headers=w.admin
        )
        assert r.status_code == 422
        [error] = r.json()["detail"]
        assert error["loc"] == ["body", "rrule"] and "BYHOUR is not allowed" in error["msg"]
        r = await w.client.post("/api/series", json=series_body(), headers=w.admin)
        series = r.json()
        one = f"/api/series/{series['id']}"
        r = await w.client.patch(one, json={"start_time": "16:30"}, headers=w.admin)
        assert r.status_code == 200 and r.json()["version"] == 2
        assert r.json()["next_starts"][0].endswith("T15:30:00Z")  # 16:30 CET
        r = await w.client.patch(f"{one}?version=1", json={"title": "Old"}, headers=w.admin)
        assert r.status_code == 409 and "changed meanwhile" in r.text
        r = await w.client.patch(one, json={"rrule": "FREQ=DAILY;COUNT=0"}, headers=w.admin)
        assert r.status_code == 422
        r = await w.client.get("/api/series/sr_nope", headers=w.admin)
        assert r.status_code == 404
        r = await w.client.get("/api/series")
        assert r.status_code == 401
