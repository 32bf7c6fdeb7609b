"""A series in public: its JSON, its page and its iCalendar feed (parsed back with the
icalendar package), on a series planted in real Redis around the test clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from atexpert.domain.series import SeriesFields, new_series, occurrences
from atexpert.domain.sessions import HostAccount, Session, SessionStatus
from atexpert.domain.views import PUBLIC_SERIES_FIELDS
from atexpert.recap.series_public import calendar, public_series
from tests.support.api_world import PASSWORD, Api
from tests.support.public_series import (
    DRAFT_TOPIC,
    PARIS,
    SLUG,
    PlantedSeries,
    plant_series,
    session_record,
    topic,
)

pytest_plugins = ("tests.support.api_world",)

#: Fields of a series or session the public never reads.
PRIVATE = {
    "expert_ids",
    "moderator_ids",
    "budget_usd",
    "options",
    "created_by",
    "updated_by",
    "announce_before_minutes",
    "create_ahead",
    "host_account",
}
#: Monday 8 March 2027: Paris moves to summer time on the 28th.
BEFORE_DST = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)  # date-ok: the app runs on a ManualClock


def _keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in _keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _keys(v)}
    return set()


async def _plant(api: Api, **options: Any) -> PlantedSeries:
    erin = await api.services.staff.create_user("erin", PASSWORD, display_name="Erin Pilot")
    return await plant_series(
        api.services.redis, api.clock.now(), expert_ids=(erin.id, "u_gone"), **options
    )


async def test_the_public_json_of_a_series(api: Api) -> None:
    api.clock.set(BEFORE_DST)
    planted = await _plant(api)
    r = await api.client.get(f"/api/public/series/{SLUG}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["title"], body["hashtags"], body["host_handle"]) == (
        "Ask Airbus",
        ["#AskAirbus"],
        "Airbus",
    )
    assert (body["time_zone"], body["language"], body["calendar_path"]) == (
        PARIS,
        "en",
        f"/series/{SLUG}.ics",
    )
    # upcoming soonest first, past latest first, each with its recap; the draft nowhere
    assert [s["id"] for s in body["upcoming"]] == planted.upcoming
    assert [s["title"] for s in body["upcoming"]] == [topic(2), topic(3)]
    assert [s["id"] for s in body["past"]] == planted.past[::-1]
    assert [s["recap_path"] for s in body["past"]] == [f"/recap/{i}" for i in planted.past[::-1]]
    assert all(s["recap_path"] is None for s in body["upcoming"])
    assert body["upcoming"][0]["live_path"] == f"/live/{planted.upcoming[0]}"
    assert planted.draft not in r.text and DRAFT_TOPIC not in r.text
    # no staff person: neither their ids nor their names (a name may be the username)
    assert "Erin Pilot" not in r.text and "u_gone" not in r.text
    assert not _keys(body) & PRIVATE
    assert set(PUBLIC_SERIES_FIELDS) <= set(body)
    # the next date: the first upcoming session, 15:00 in Paris on the first Tuesday
    nxt = datetime.fromisoformat(body["next_start"])
    assert nxt == datetime.fromisoformat(body["upcoming"][0]["scheduled_start"])
    assert nxt.astimezone(ZoneInfo(PARIS)).strftime("%a %d %H:%M") == "Tue 06 15:00"


async def test_the_next_date_of_a_draft_occurrence_is_shown_but_not_its_topic(api: Api) -> None:
    planted = await _plant(api, upcoming=0)
    body = (await api.client.get(f"/api/public/series/{SLUG}")).json()
    assert body["upcoming"] == []
    expected = occurrences(planted.series, api.clock.now(), 1)[0]
    assert datetime.fromisoformat(body["next_start"]) == expected
    assert DRAFT_TOPIC not in str(body)


async def test_unknown_slug_is_404_everywhere(api: Api) -> None:
    await _plant(api)
    for path in ("/api/public/series/nope", "/series/nope.ics"):
        r = await api.client.get(path)
        assert (r.status_code, r.json()["error"]) == (404, "not_found"), path
    page = await api.client.get("/series/nope")
    assert page.status_code == 404
    assert 'src="/static/js/series-page.js"' in page.text  # which says the series does not exist


async def test_the_page_is_served_with_the_strict_csp(api: Api) -> None:
    await _plant(api)
    r = await api.client.get(f"/series/{SLUG}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "<script>" not in r.text and "style=" not in r.text


def _events(feed: bytes) -> list[icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(feed)
    return [c for c in calendar.walk("VEVENT")]


async def test_the_calendar_feed_keeps_15_00_paris_across_the_dst_change(api: Api) -> None:
    api.clock.set(BEFORE_DST)
    planted = await _plant(api)
    r = await api.client.get(f"/series/{SLUG}.ics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "max-age" in r.headers["cache-control"]
    calendar = icalendar.Calendar.from_ical(r.content)
    assert str(calendar["X-WR-CALNAME"]) == "Ask Airbus"
    events = _events(r.content)
    # February and March (winter time), then April and May (summer time): never the draft
    assert [str(e["UID"]).split("@")[0] for e in events] == planted.past + planted.upcoming
    assert DRAFT_TOPIC.encode() not in r.content
    starts = [e.decoded("DTSTART") for e in events]
    assert [s.month for s in starts] == [2, 3, 4, 5]
    assert [(s.tzinfo.key, s.hour, s.minute) for s in starts] == [(PARIS, 15, 0)] * 4  # type: ignore[union-attr]
    assert [s.astimezone(UTC).hour for s in starts] == [14, 14, 13, 13]
    assert all(e["DTSTART"].params["TZID"] == PARIS for e in events)
    assert [e.decoded("DTEND") - s for e, s in zip(events, starts, strict=True)] == [
        timedelta(hours=1)
    ] * 4
    # the zone's rules travel with the feed: winter and summer time
    zones = list(calendar.walk("VTIMEZONE"))
    assert [str(z["TZID"]) for z in zones] == [PARIS]
    assert {c.name for c in zones[0].subcomponents} == {"STANDARD", "DAYLIGHT"}
    first = events[2]
    assert str(first["SUMMARY"]) == topic(2)
    base = api.services.settings.public_base_url
    assert str(first["URL"]) == f"{base}/live/{planted.upcoming[0]}"
    assert "Erin Pilot" not in r.text
    assert f"/recap/{planted.past[0]}" in str(events[0]["DESCRIPTION"])


async def test_the_feed_is_stable_and_answers_304_to_its_etag(api: Api) -> None:
    await _plant(api)
    first = await api.client.get(f"/series/{SLUG}.ics")
    api.clock.advance(timedelta(minutes=5))
    again = await api.client.get(f"/series/{SLUG}.ics")
    assert again.content == first.content
    etag = first.headers["etag"]
    assert again.headers["etag"] == etag
    cached = await api.client.get(f"/series/{SLUG}.ics", headers={"If-None-Match": etag})
    assert (cached.status_code, cached.content) == (304, b"")


async def test_a_slug_no_series_could_have_is_404_too(api: Api) -> None:
    for slug in ("Ask_Airbus", "-x", "a" * 65, "%7Bseries%7D"):
        r = await api.client.get(f"/api/public/series/{slug}")
        assert (r.status_code, r.json()["error"]) == (404, "not_found"), slug
        assert (await api.client.get(f"/series/{slug}.ics")).status_code == 404
        assert (await api.client.get(f"/series/{slug}")).status_code == 404


def test_which_sessions_are_upcoming_past_or_hidden() -> None:
    """Pure: each status, and a scheduled session whose end passed, on hand-made sessions."""
    now = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)  # date-ok: only data, no clock compared
    series = new_series(
        SeriesFields(
            slug=SLUG,
            title="Ask Airbus",
            hashtags=["#AskAirbus"],
            host_account=HostAccount(handle="Airbus"),
            time_zone=PARIS,
            rrule="FREQ=WEEKLY",
            start_time="15:00",
        ),
        series_id="sr_1",
        actor="root",
        at=now,
    )

    def session(name: str, status: SessionStatus, hours: int, ran: bool = False) -> Session:
        return session_record(name, now + timedelta(hours=hours), status, ran=ran)

    S = SessionStatus
    sessions = [
        session("overdue", S.SCHEDULED, -3),  # its end passed and it never started
        session("live", S.LIVE, -1, ran=True),
        session("wrapping", S.WRAPPING_UP, -2, ran=True),
        session("soon", S.SCHEDULED, 30),
        session("draft", S.DRAFT, 10),
        session("closed", S.CLOSED, -50, ran=True),
        session("archived", S.ARCHIVED, -200, ran=True),
        session("cancelled", S.ARCHIVED, -100),  # archived without running
    ]
    page = public_series(series, sessions, now)
    assert [s.id for s in page.upcoming] == ["wrapping", "live", "soon"]
    assert [s.id for s in page.past] == ["closed", "archived"]
    # the next date: "soon" (tomorrow 16:00 Paris) is later than the rule's next 15:00 today
    assert page.next_start == occurrences(series, now, 1)[0]
    assert page.next_start is not None and page.next_start < sessions[3].scheduled_start
    feed = calendar(series, sessions, now, "https://ama.example")
    uids = [str(e["UID"]) for e in _events(feed)]
    assert uids == [f"{n}@ama.example" for n in ("archived", "closed", "wrapping", "live", "soon")]
