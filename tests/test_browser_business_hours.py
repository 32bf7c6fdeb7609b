"""Business hours in the admin page's session form (real headless Chromium): shown and
kept when the session is edited, changed in the form, in English and French."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.support.browser_fixtures import BrowserWorld, expect
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world
from tests.support.hours_session import create_desk

HOURS = {
    "windows": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "opens": "08:00:00", "closes": "20:00:00"}
    ],
    "closed_dates": [],
}


def test_editing_a_desk_keeps_its_business_hours(world: BrowserWorld) -> None:
    now = datetime.now(UTC)
    sid = create_desk(
        world,
        {"business_hours": HOURS, "after_hours": "auto_reply", "auto_reply_text": "Back {back}."},
    )
    admin = world.page("root", "/admin")
    page = admin.page
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    row = page.locator("tr", has_text="Customer desk")
    row.get_by_role("button", name="Edit").click()
    page.locator("#session-form").get_by_label("Title", exact=True).fill("Customer desk, Europe")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Customer desk, Europe")
    options = world.http.get(f"/api/sessions/{sid}").json()["options"]
    assert options["business_hours"] == HOURS
    assert (options["after_hours"], options["auto_reply_text"]) == ("auto_reply", "Back {back}.")

    row = page.locator("tr", has_text="Customer desk, Europe")
    row.get_by_role("button", name="Edit").click()
    expect(page.get_by_label("Closes at (00:00: midnight)")).to_have_value("20:00")
    expect(page.get_by_label("Outside business hours")).to_have_value("auto_reply")
    page.get_by_role("checkbox", name="Sat").check()
    page.get_by_label("Closes at (00:00: midnight)").fill("18:30")
    christmas, new_year = f"{now.year + 1}-12-25", f"{now.year + 2}-01-01"
    page.get_by_label("Closed dates (YYYY-MM-DD, separated by spaces)").fill(
        f"{christmas} {new_year}"
    )
    page.get_by_label("Outside business hours").select_option("pause")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Customer desk, Europe")
    options = world.http.get(f"/api/sessions/{sid}").json()["options"]
    assert options["business_hours"] == {
        "windows": [
            {
                "days": ["mon", "tue", "wed", "thu", "fri", "sat"],
                "opens": "08:00:00",
                "closes": "18:30:00",
            }
        ],
        "closed_dates": [christmas, new_year],
    }
    assert options["after_hours"] == "pause"
    page.get_by_label("Language", exact=True).select_option("fr")
    expect(page.get_by_label("En dehors des heures d'ouverture")).to_be_visible()
    expect(page.get_by_role("checkbox", name="sam.")).to_be_visible()
    admin.assert_clean()
