"""The budget in real headless Chromium: the admin's budget field and cost meter (dollars,
posts per endpoint, in English and French), and the banner the moderators and experts see
while intake is paused, with why, gone once intake resumes."""

from __future__ import annotations

from datetime import UTC, datetime

import redis.asyncio as aioredis

from atexpert.domain.costs import CallKind
from atexpert.store.intake_state import IntakeStore, PauseReason
from atexpert.x.meter import Meter
from tests.support.browser_fixtures import BrowserWorld, expect, in_thread
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world


def read_on_x(world: BrowserWorld, mentions: int, searched: int) -> None:
    """Intake read that many posts from X for the session (metered, counted)."""

    async def run() -> None:
        client = aioredis.Redis.from_url(world.redis_url, decode_responses=True)
        try:
            meter = Meter(client)
            await meter.record(world.session_id, CallKind.OWN_MENTIONS_READ, mentions)
            await meter.record(world.session_id, CallKind.SEARCH_READ, searched)
            await IntakeStore(client).count(world.session_id, {"received": mentions + searched})
        finally:
            await client.aclose()

    in_thread(run)


def pause(world: BrowserWorld, reason: PauseReason | None) -> None:
    """Intake says it is paused for ``reason`` (None: it runs again), as intake does."""

    async def run() -> None:
        client = aioredis.Redis.from_url(world.redis_url, decode_responses=True)
        try:
            await IntakeStore(client).set_pause(world.session_id, reason, at=datetime.now(UTC))
        finally:
            await client.aclose()

    in_thread(run)


def test_the_admin_sets_a_budget_and_reads_the_meter(world: BrowserWorld) -> None:
    read_on_x(world, mentions=3, searched=12)
    admin = world.page("root", "/admin")
    page = admin.page
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.locator("tr", has_text="Inside the A350 cabin").get_by_role(
        "button", name="Details"
    ).click()
    spend = page.locator("#spend")
    expect(spend).to_contain_text("none")
    field = page.get_by_label("Budget in US dollars (empty: no budget)")
    field.fill("-1")
    page.get_by_role("button", name="Set the budget").click()
    expect(page.locator("#budget-errors")).to_contain_text("budget_usd")
    field.fill("0.5")
    page.get_by_role("button", name="Set the budget").click()
    expect(spend).to_contain_text("$0.063 of $0.50")
    expect(spend).to_contain_text("Posts read from the host's mentions3 · $0.003")
    expect(spend).to_contain_text("Posts read by search, the stream or like counts12 · $0.06")
    meter = page.get_by_role("meter", name="Share of the budget spent")
    expect(meter).to_be_visible()
    assert abs(float(meter.get_attribute("value") or 0) - 0.126) < 0.001
    expect(page.locator("#intake")).to_contain_text("Questions received15")
    assert world.http.get(f"/api/sessions/{world.session_id}/spend").json()["budget_usd"] == "0.5"
    # Spend per day and month of the session's time zone, against a monthly budget.
    expect(spend).to_contain_text("Monthly budgetnone")
    page.get_by_label("Monthly budget in US dollars (empty: none)").fill("2")
    page.get_by_role("button", name="Set the monthly budget").click()
    expect(spend).to_contain_text("Monthly budget$2.00")
    expect(spend.locator("dt", has_text="This month")).to_be_visible()
    expect(spend).to_contain_text("$0.063 of $2.00")
    expect(spend.locator("dt", has_text="Today")).to_be_visible()
    # In French, and never a raw key or status anywhere.
    page.get_by_label("Language", exact=True).select_option("fr")
    expect(spend).to_contain_text("Publications lues dans les mentions de l'hôte")
    expect(spend).to_contain_text("sur")
    details = page.locator("#detail").inner_text()
    for raw in ("own_mentions_read", "search_read", "received", "paused_budget", "running"):
        assert raw not in details
    # Emptying the field removes the budget.
    page.get_by_label("Budget en dollars US (vide : pas de budget)").fill("")
    page.get_by_role("button", name="Fixer le budget", exact=True).click()
    expect(spend).to_contain_text("aucun")
    expect(meter).to_be_hidden()
    admin.allow("status of 422")
    admin.assert_clean()


def test_moderators_and_experts_see_why_intake_is_paused(world: BrowserWorld) -> None:
    sid = world.session_id
    mod = world.page("alice", f"/sessions/{sid}/moderate")
    expert = world.page("erin", f"/sessions/{sid}/expert")
    banners = [w.page.locator("#intake-pause") for w in (mod, expert)]
    for watched in (mod, expert):
        expect(watched.page.locator("#session-title")).to_have_text("Inside the A350 cabin")
    for banner in banners:
        expect(banner).to_be_hidden()
    pause(world, PauseReason.BUDGET)
    for banner in banners:
        expect(banner).to_be_visible(timeout=20_000)
        expect(banner).to_contain_text("this session's X budget is reached")
    pause(world, PauseReason.X_TOKEN)
    for banner in banners:
        expect(banner).to_contain_text("X refuses the app's access token", timeout=20_000)
    # A console opened while intake is paused shows it at once, in its language.
    late = world.page("erin", f"/sessions/{sid}/expert")
    expect(late.page.locator("#intake-pause")).to_contain_text("X refuses the app's access token")
    late.page.get_by_label("Language", exact=True).select_option("fr")
    expect(late.page.locator("#intake-pause")).to_contain_text("X refuse le jeton d'accès")
    pause(world, None)
    for banner in [*banners, late.page.locator("#intake-pause")]:
        expect(banner).to_be_hidden(timeout=20_000)
    for watched in (mod, expert, late):
        watched.assert_clean()
