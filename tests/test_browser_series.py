"""Series in real headless Chromium: the admin creates one (a bad rule is refused with its
reason), sees its upcoming occurrences once the scheduler made them, with each
announcement's time, text and price, skips one, gives another its own text, and reads it
all in French; on a series that already ran, the admin follows its links (public page,
calendar, analytics), sees the past occurrences with their recap, and gives an upcoming one
its guest, then shown on the series' page and the session's live page."""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis

from atexpert.domain.clock import SystemClock
from atexpert.store.scheduler import Lease
from atexpert.store.series import OccurrencePlanner, SeriesStore
from atexpert.store.series_announcements import AnnouncementStore
from atexpert.store.store import Store
from tests.support.browser_fixtures import BrowserWorld, expect, in_thread, settled
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world
from tests.support.browser_frames import frames_of, wait_for_frame
from tests.support.public_series import SLUG, plant_series

GUEST = "Capt. Jane Doe, A350 pilot"


def plan_occurrences(world: BrowserWorld) -> None:
    """One pass of the scheduler leader's job creating the occurrences."""

    async def run() -> None:
        client = aioredis.Redis.from_url(world.redis_url, decode_responses=True)
        try:
            clock = SystemClock()
            planner = OccurrencePlanner(Store(client, clock=clock), SeriesStore(client, clock))
            await planner(Lease(client), clock.now())
        finally:
            await client.aclose()

    in_thread(run)


def miss(world: BrowserWorld, session_id: str, before_minutes: int) -> None:
    """The scheduler's leader records an announcement missed (the app was down)."""

    async def run() -> None:
        client = aioredis.Redis.from_url(world.redis_url, decode_responses=True)
        try:
            patch = {"status": "missed", "reason": "too late: not posted late"}
            await AnnouncementStore(client).step(
                session_id,
                before_minutes,
                "missed",
                patch,
                actor="scheduler",
                at=SystemClock().now(),
            )
        finally:
            await client.aclose()

    in_thread(run)


def test_the_admin_creates_a_series_and_previews_its_announcements(world: BrowserWorld) -> None:
    admin = world.page("root", "/admin")
    page = admin.page
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    section = page.locator("#series")
    expect(section.get_by_text("No series yet.")).to_be_visible()
    page.locator("#sr-slug").fill("ask-airbus-monthly")
    page.locator("#sr-title").fill("Ask Airbus monthly")
    page.locator("#sr-hashtags").fill("#AskAirbus")
    page.locator("#sr-host").fill("@Airbus")
    page.locator("#sr-tz").fill("Europe/Paris")
    page.locator("#sr-rule").fill("FREQ=HOURLY")
    section.get_by_role("button", name="Create the series").click()
    expect(page.locator("#series-errors")).to_contain_text("rrule: Value error, FREQ is one of")
    # Half a year ahead, whatever today is: no announcement is due during the test.
    month = (datetime.now(UTC).month + 5) % 12 + 1
    page.locator("#sr-rule").fill(f"FREQ=YEARLY;BYMONTH={month};BYMONTHDAY=15")
    section.get_by_role("button", name="Create the series").click()
    expect(page.locator("#status")).to_contain_text("Series “Ask Airbus monthly” created.")
    row = page.locator("#series-list tr", has_text="Ask Airbus monthly")
    expect(row).to_contain_text(f"FREQ=YEARLY;BYMONTH={month};BYMONTHDAY=15")
    expect(row).to_contain_text("15:00")
    expect(page.locator("#series-occurrences")).to_contain_text("No upcoming occurrence.")

    plan_occurrences(world)
    row.get_by_role("button", name="Upcoming").click()
    occurrences = page.locator("#series-occurrences > li")
    expect(occurrences).to_have_count(2, timeout=20_000)
    first = occurrences.first
    expect(first.locator("h4")).to_contain_text("Ask Airbus monthly · 15 ")
    week = first.locator("li[data-before='10080']")
    expect(week).to_contain_text("In 7 days: Ask Airbus monthly")
    expect(week).to_contain_text("$0.015")
    expect(week).to_contain_text("/280")
    expect(week.locator(".badge")).to_have_text("scheduled")
    week.get_by_role("button", name="Skip").click()
    expect(week.locator(".badge")).to_have_text("skipped")
    expect(week.get_by_role("button", name="Post it after all")).to_be_visible()

    day = first.locator("li[data-before='1440']")
    day.get_by_role("button", name="Edit the text").click()
    field = day.get_by_label("Text of the post")
    expect(field).to_be_focused()
    field.fill("x" * 281)
    day.get_by_role("button", name="Save the text").click()
    expect(day.get_by_role("alert")).to_contain_text("weighs 281, more than one post")
    field.fill("Tomorrow at 15:00: our test pilot answers you! #AskAirbus")
    day.get_by_role("button", name="Save the text").click()
    expect(day.locator(".preview")).to_have_text(
        "Tomorrow at 15:00: our test pilot answers you! #AskAirbus"
    )
    expect(day).to_contain_text("$0.015 · 57/280")

    page.get_by_label("Language", exact=True).select_option("fr")
    expect(section.locator("h2")).to_have_text("Séries")
    expect(week.locator(".badge")).to_have_text("non publiée")
    expect(section.get_by_role("button", name="Créer la série")).to_be_visible()


def test_the_admin_follows_a_series_past_and_upcoming_and_sets_a_guest(world: BrowserWorld) -> None:
    async def seed() -> list[list[str]]:
        client = aioredis.Redis.from_url(world.redis_url, decode_responses=True)
        try:
            planted = await plant_series(client, datetime.now(UTC))
        finally:
            await client.aclose()
        return [[planted.series.id], planted.past, planted.upcoming]

    [series_id], past_ids, upcoming_ids = in_thread(seed)
    page = world.page("root", "/admin").page
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    row = page.locator("#series-list tr", has_text="Ask Airbus")
    links = {
        "Public page": f"/series/{SLUG}",
        "Calendar (iCal)": f"/series/{SLUG}.ics",
        "Analytics": f"/series/{series_id}/analytics",
    }
    for name, href in links.items():
        expect(row.get_by_role("link", name=name)).to_have_attribute("href", href)

    row.get_by_role("button", name="Upcoming").click()
    past = page.locator("#series-past > li")
    expect(past).to_have_count(2, timeout=20_000)
    latest = past.first
    expect(latest).to_have_attribute("data-session", past_ids[-1])  # latest first
    expect(latest.locator(".badge")).to_have_text("Ended")
    expect(latest.get_by_role("link", name="Recap")).to_have_attribute(
        "href", f"/recap/{past_ids[-1]}"
    )
    expect(latest.get_by_role("link", name="Analytics")).to_have_attribute(
        "href", f"/sessions/{past_ids[-1]}/analytics"
    )

    first = page.locator(f"#series-occurrences > li[data-session='{upcoming_ids[0]}']")
    first.get_by_label("Guest (shown in public)").fill("x" * 100 + "y")
    expect(first.get_by_label("Guest (shown in public)")).to_have_value("x" * 100)  # maxlength
    first.get_by_label("Guest (shown in public)").fill(GUEST)
    first.get_by_role("button", name="Save the guest").click()
    expect(page.locator("#status")).to_contain_text("Guest saved.")
    expect(first.locator("li[data-before='1440'] .preview")).to_contain_text(f", with {GUEST}")
    expect(first.get_by_label("Guest (shown in public)")).to_have_value(GUEST)

    # the scheduler's side changes the announcements' states: the open section reads them
    # again (every 30 s, and at once on an announcement event of the session it follows)
    # and shows what did not go out, with why
    frames = frames_of(page, f"/{upcoming_ids[1]}/admin")
    page.locator(f'#sessions tr[data-session="{upcoming_ids[1]}"]').get_by_role(
        "button", name="Details"
    ).click()
    wait_for_frame(page, frames, '"snapshot"')
    miss(world, past_ids[-1], 15)
    miss(world, upcoming_ids[1], 10080)
    wait_for_frame(page, frames, '"announcement.missed"')  # the admin's feed is told
    week = page.locator(f"[data-session='{upcoming_ids[1]}'] li[data-before='10080']")
    expect(week.locator(".badge.status-missed")).to_have_text("missed (app down)", timeout=60_000)
    expect(week).to_contain_text("Why: too late")
    expect(latest.locator("li[data-before='15'] .badge")).to_have_text("missed (app down)")

    page.get_by_label("Language", exact=True).select_option("fr")
    settled(page)
    expect(page.locator("#series h3", has_text="Occurrences passées")).to_be_visible()
    expect(row.get_by_role("link", name="Page publique")).to_be_visible()

    public = world.page(None, f"/series/{SLUG}").page
    entry = public.locator(f"#upcoming [data-session='{upcoming_ids[0]}']")
    expect(entry).to_contain_text(f"With {GUEST}")
    live = world.page(None, f"/live/{upcoming_ids[0]}").page
    expect(live.locator("#session-guest")).to_have_text(f"With {GUEST}", timeout=20_000)
