"""Business hours set through the API survive an edit of the session in the admin page
(real headless Chromium): the form sends back the options it has no field for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.browser_fixtures import BrowserWorld, expect
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world

HOURS = {
    "windows": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "opens": "08:00:00", "closes": "20:00:00"}
    ],
    "closed_dates": [],
}


def test_editing_a_desk_keeps_its_business_hours(world: BrowserWorld) -> None:
    now = datetime.now(UTC)
    body = {
        "title": "Customer desk",
        "hashtags": ["#AskAirbusDesk"],
        "host_account": {"handle": world.brand.username, "user_id": world.brand.id},
        "scheduled_start": (now + timedelta(days=1)).isoformat(),
        "scheduled_end": (now + timedelta(days=30)).isoformat(),
        "time_zone": "Europe/Paris",
        "options": {
            "announce": False,
            "business_hours": HOURS,
            "after_hours": "auto_reply",
            "auto_reply_text": "Back {back}.",
        },
    }
    r = world.http.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    admin = world.page("root", "/admin")
    page = admin.page
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    row = page.locator("tr", has_text="Customer desk")
    row.get_by_role("button", name="Edit").click()
    page.get_by_label("Title", exact=True).fill("Customer desk, Europe")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Customer desk, Europe")
    options = world.http.get(f"/api/sessions/{sid}").json()["options"]
    assert options["business_hours"] == HOURS
    assert (options["after_hours"], options["auto_reply_text"]) == ("auto_reply", "Back {back}.")
    admin.assert_clean()
