"""A series' public page and its analytics page in real headless Chromium, in English and
French: the next date in the series' time zone (the server's shown_time writes the same
form), upcoming sessions, past ones with their recaps, never the draft; axe finds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from atexpert.domain.clock import shown_time
from tests.support.browser_fixtures import (
    Browser,
    browser,
    expect,
    in_thread,
    pages_app,
    seed_staff,
)
from tests.support.public_series import DRAFT_TOPIC, PARIS, SLUG, PlantedSeries, plant_series, topic

__all__ = ["browser"]

axe_module = pytest.importorskip(
    "axe_playwright_python.sync_playwright", reason="axe-playwright-python is not installed"
)


@dataclass
class Site:
    base: str
    planted: PlantedSeries
    users: dict[str, str]


@pytest.fixture
def site(redis_url: str) -> Iterator[Site]:
    """The app under uvicorn in a thread, and a series planted around now."""
    users = seed_staff(redis_url)

    async def seed() -> PlantedSeries:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            return await plant_series(
                client,
                datetime.now(UTC),
                moderator_ids=(users["alice"],),
                expert_ids=(users["erin"],),
            )
        finally:
            await client.aclose()

    planted = in_thread(seed)
    with pages_app(redis_url, "series-app") as base:
        yield Site(base, planted, users)


def violations(page: Any) -> list[str]:
    results = axe_module.Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']}" for v in results.response["violations"]]


def _watch(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def _next_start(site: Site) -> datetime:
    """The first upcoming session's start, as the API gives it."""
    body = httpx.get(f"{site.base}/api/public/series/{SLUG}", timeout=10).json()
    return datetime.fromisoformat(body["next_start"])


def test_the_public_page_in_english_then_french(
    site: Site, browser: Browser, tmp_path: Any
) -> None:
    context = browser.new_context(locale="en-GB", timezone_id="America/New_York")
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems = _watch(page)
    page.goto(f"{site.base}/series/{SLUG}")
    nxt = _next_start(site)
    expect(page.locator("#series-title")).to_have_text("Ask Airbus")
    expect(page.locator("#series-tags")).to_have_text("#AskAirbus")
    expect(page.locator("#series-host")).to_have_text("@Airbus")
    # in the series' zone, named, whatever the browser's zone (New York here)
    expect(page.locator("#series-next")).to_have_text(
        f"Next session: {shown_time(nxt, PARIS, 'en')} · time zone {PARIS}"
    )
    upcoming = page.locator("#upcoming > li")
    expect(upcoming).to_have_count(2)
    expect(upcoming.locator("h4")).to_have_text([topic(2), topic(3)])
    first = upcoming.first.get_by_role("link", name=topic(2))
    expect(first).to_have_attribute("href", f"/live/{site.planted.upcoming[0]}")
    expect(upcoming.first.locator("time")).to_have_text(shown_time(nxt, PARIS, "en"))
    past = page.locator("#past > li")
    expect(past.locator("h4")).to_have_text([topic(1), topic(0)])
    recap = past.first.get_by_role("link", name="Read the recap")
    expect(recap).to_have_attribute("href", f"/recap/{site.planted.past[1]}")
    calendar = page.get_by_role("link", name="Add the sessions to your calendar (iCalendar)")
    expect(calendar).to_have_attribute("href", f"/series/{SLUG}.ics")
    expect(page.locator("body")).not_to_contain_text(DRAFT_TOPIC)
    assert violations(page) == []

    page.get_by_label("Language").select_option("fr")
    expect(page.locator("#series-next")).to_have_text(
        f"Prochaine session : {shown_time(nxt, PARIS, 'fr')} · fuseau horaire {PARIS}"
    )
    expect(page.get_by_role("heading", name="Sessions à venir")).to_be_visible()
    expect(past.first.get_by_role("link", name="Lire le récapitulatif")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert violations(page) == []
    page.screenshot(path=str(tmp_path / "series.png"), full_page=True)

    # the recap it links to is there
    past.first.get_by_role("link", name=topic(1)).click()
    expect(page.locator("h1")).to_have_text(topic(1))
    assert problems == []
    context.close()


def test_an_unknown_series_says_so(site: Site, browser: Browser) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    response = page.goto(f"{site.base}/series/no-such-series")
    assert response is not None and response.status == 404
    expect(page.locator("#missing")).to_have_text("Cette série n'existe pas.")
    expect(page.locator("#series")).to_be_hidden()
    context.close()


def test_the_analytics_page_in_english_then_french(site: Site, browser: Browser) -> None:
    context = browser.new_context(
        locale="en-GB", extra_http_headers={"Authorization": f"Bearer {site.users['token']}"}
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems = _watch(page)
    page.goto(f"{site.base}/series/{site.planted.series.id}/analytics")
    rows = page.locator("#rows > tr")
    expect(rows).to_have_count(5)  # 2 past, 2 upcoming, the draft (staff see it)
    first = rows.first
    expect(first.get_by_role("link", name=topic(0))).to_have_attribute(
        "href", f"/sessions/{site.planted.past[0]}/analytics"
    )
    # 3 received, 1 answered (33 %), answered after 4 min, 2 posts ($0.03)
    expect(first.locator("td.num")).to_have_text(
        ["3", "1", "33%", "4 min 00 s", "4 min 00 s", "$0.030"]
    )
    totals = page.locator("#totals tr")
    expect(totals.locator("th")).to_have_text("Total")
    expect(totals.locator("td").first).to_have_text("5 sessions")
    expect(totals.locator("td.num")).to_have_text(
        ["6", "2", "33%", "7 min 00 s", "10 min 00 s", "$0.060"]
    )
    csv = page.get_by_role("link", name="Download as CSV")
    expect(csv).to_have_attribute("href", f"/api/series/{site.planted.series.id}/analytics.csv")
    assert violations(page) == []
    page.get_by_label("Language").select_option("fr")
    expect(page.get_by_role("columnheader", name="Part répondue")).to_be_visible()
    expect(totals.locator("td").first).to_have_text("5 sessions")
    expect(first.locator("td.num").nth(3)).to_have_text("4 min 00 s")
    assert problems == []
    context.close()
