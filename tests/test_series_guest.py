"""Each occurrence of a series has its own guest (the expert of the month, in public): set
with the session's update, shown on the series' public page, in its calendar feed, in the
session's public view and in the announcements; and a recap links back to its series."""

from __future__ import annotations

from datetime import UTC, datetime

import icalendar

from atexpert.domain import twittertext
from atexpert.domain.series_announce import render
from atexpert.domain.sessions import SessionStatus
from atexpert.domain.views import Audience, project
from atexpert.recap.summary import Recap
from atexpert.web.api_recap import render_recap
from tests.support.api_world import Api, bearer
from tests.support.public_series import SLUG, plant_series, session_record

pytest_plugins = ("tests.support.api_world",)

GUEST = "Capt. Jane Doe, A350 pilot"
#: A start for hand-made sessions.
START = datetime(2027, 3, 2, 14, 0, tzinfo=UTC)  # date-ok: only data, no clock compared


def test_the_announcements_name_the_guest_only_when_there_is_one() -> None:
    start = session_record("s_1", START, SessionStatus.SCHEDULED, title="The A350 cabin")
    plain = render(start, 1440)
    assert plain.startswith("Tomorrow: The A350 cabin\n") and "with" not in plain.split("\n")[0]
    guest = start.model_copy(update={"guest": GUEST})
    assert render(guest, 1440).startswith(f"Tomorrow: The A350 cabin, with {GUEST}\n")
    french = guest.model_copy(update={"language": "fr"})
    assert render(french, 10080).startswith(f"Dans 7 jours\u202f: The A350 cabin, avec {GUEST}\n")


def test_a_long_title_is_shortened_before_the_guest_and_the_text_fits_one_post() -> None:
    base = session_record("s_1", START, SessionStatus.SCHEDULED, title="T" * 200)
    for language in ("en", "fr"):
        session = base.model_copy(update={"guest": "G" * 100, "language": language})
        for before in (10080, 1440, 15):
            text = render(session, before)
            assert twittertext.weighted_length(text) <= 280, (language, before)
            assert "G" * 100 in text and "…" in text


async def test_the_admin_sets_and_clears_the_guest_and_the_public_sees_it(api: Api) -> None:
    _, token = await api.user("root", admin=True)
    planted = await plant_series(api.services.redis, api.clock.now())
    sid = planted.upcoming[0]
    url = f"/api/sessions/{sid}"

    r = await api.client.patch(url, json={"guest": "x" * 101}, headers=bearer(token))
    assert r.status_code == 422 and "guest" in r.text
    r = await api.client.patch(url, json={"guest": f"  {GUEST} "}, headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["guest"] == GUEST

    page = (await api.client.get(f"/api/public/series/{SLUG}")).json()
    assert [s["guest"] for s in page["upcoming"]] == [GUEST, ""]
    feed = (await api.client.get(f"/series/{SLUG}.ics")).content
    events = {
        str(e["UID"]).split("@")[0]: str(e["DESCRIPTION"])
        for e in icalendar.Calendar.from_ical(feed).walk("VEVENT")
    }
    assert events[sid].startswith(GUEST + "\n\n")
    assert GUEST not in events[planted.upcoming[1]]
    listed = (await api.client.get("/api/public/sessions")).json()
    assert next(s["guest"] for s in listed if s["id"] == sid) == GUEST
    session = await api.services.store.get_session(sid)
    seen = project(Audience.PUBLIC, "session", session.model_dump(mode="json"))
    assert seen is not None and seen["guest"] == GUEST  # the live page's header
    occurrences = (
        await api.client.get(f"/api/series/{planted.series.id}/occurrences", headers=bearer(token))
    ).json()
    day = next(o for o in occurrences if o["session"]["id"] == sid)["announcements"][1]
    assert f", with {GUEST}\n" in day["text"]

    r = await api.client.patch(url, json={"guest": ""}, headers=bearer(token))
    assert r.status_code == 200 and r.json()["guest"] == ""
    page = (await api.client.get(f"/api/public/series/{SLUG}")).json()
    assert GUEST not in str(page)


async def test_a_recap_links_back_to_its_series_page(api: Api) -> None:
    planted = await plant_series(api.services.redis, api.clock.now())
    r = await api.client.get(f"/recap/{planted.past[0]}")
    assert r.status_code == 200, r.text
    assert f'<a href="/series/{SLUG}">Every session of Ask Airbus</a>' in r.text
    assert '<p class="guest">' not in r.text


def test_a_recap_names_its_guest_and_without_a_series_links_to_none() -> None:
    view = Recap(
        session_id="s_1",
        title="The A350 cabin",
        description="",
        guest="Capt. Jane <Doe>",
        language="fr",
        hashtags=["#AskAirbus"],
        host_handle="Airbus",
        started_at=START,
        closed_at=START,
        items=[],
        unanswered=[],
    )
    html = render_recap(view, "Europe/Paris", "https://ama.example")
    assert '<p class="guest">Avec Capt. Jane &lt;Doe&gt;</p>' in html
    assert 'class="series"' not in html


def test_the_guest_goes_too_when_even_an_empty_title_does_not_fit() -> None:
    tags = [f"#{c * 40}" for c in "abcdefg"]
    session = session_record("s_1", START, SessionStatus.SCHEDULED).model_copy(
        update={"guest": GUEST, "hashtags": tags}
    )
    assert GUEST not in render(session, 1440)
