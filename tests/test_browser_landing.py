"""Where people land, in real headless Chromium: ``/`` and the login page send each person
to their console (a visitor to the public list of sessions), the list of one's sessions,
and the admin's details brought into view."""

from __future__ import annotations

import re

from tests.support.browser_fixtures import (
    PASSWORD,
    BrowserWorld,
    Page,
    Watched,
    browser,
    emulator_server,
    expect,
    world,
)

__all__ = ["browser", "emulator_server", "world"]


def submit_login(page: Page, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def log_in(world: BrowserWorld, username: str, landing: str) -> Watched:
    """Log ``username`` in from the bare login page; they must land on ``landing``."""
    watched = world.page(None, "/login")
    submit_login(watched.page, username)
    watched.page.wait_for_url(world.base_url + landing)
    return watched


def test_a_visitor_lands_on_the_public_list_of_live_and_upcoming_sessions(
    world: BrowserWorld,
) -> None:
    visitor = world.page(None, "/")
    page = visitor.page
    page.wait_for_url(world.base_url + "/live")
    upcoming = page.get_by_role("list").filter(has_text="Inside the A350 cabin")
    expect(upcoming.get_by_role("link", name="Inside the A350 cabin")).to_have_attribute(
        "href", f"/live/{world.session_id}"
    )
    page.locator("#lang").select_option("fr")
    expect(page.get_by_role("heading", name="Sessions en direct et à venir")).to_be_visible()
    expect(page.locator("#upcoming")).to_contain_text("En direct")
    # Nothing of the staff: no user ids, no moderators, no settings.
    assert world.users["alice"] not in page.content()
    visitor.assert_clean()


def test_each_role_lands_on_its_console_after_logging_in(world: BrowserWorld) -> None:
    sid = world.session_id
    root = log_in(world, "root", "/admin")
    expect(root.page.locator("#not-admin")).to_be_hidden()
    # One live session: straight to its console, the moderator's or the expert's.
    alice = log_in(world, "alice", f"/sessions/{sid}/moderate")
    expect(alice.page.locator("#session-title")).to_have_text("Inside the A350 cabin")
    erin = log_in(world, "erin", f"/sessions/{sid}/expert")
    expect(erin.page.get_by_role("listbox", name="Approved questions")).to_be_visible()
    # A second live session: "/" lists both, each with the consoles of the person's roles.
    other = world.new_session(language="fr")
    alice.page.goto("/")
    alice.page.wait_for_url(world.base_url + "/sessions")
    cards = alice.page.locator("#mine > li")
    expect(cards).to_have_count(2)
    card = alice.page.locator(f"#mine > li[data-session='{other}']")
    expect(card.get_by_role("link", name="Moderate")).to_have_attribute(
        "href", f"/sessions/{other}/moderate"
    )
    expect(card.get_by_role("link", name="Answer")).to_have_count(0)  # alice is no expert
    nav = alice.page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="Your sessions")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Administration")).to_have_count(0)
    expect(alice.page.locator("#whoami")).to_have_text("Alice")
    card.get_by_role("link", name="Moderate").click()
    alice.page.wait_for_url(re.compile(f"/sessions/{other}/moderate$"))
    for watched in (root, alice, erin):
        watched.allow("status of 401")  # the login page asks who is there first
        watched.assert_clean()


def test_a_safe_next_is_followed_and_a_foreign_one_ignored(world: BrowserWorld) -> None:
    sid = world.session_id
    watched = world.page(None, f"/login?next=/live/{sid}")
    page = watched.page
    submit_login(page, "erin")
    page.wait_for_url(f"{world.base_url}/live/{sid}")
    page.goto("/login?next=https://evil.example/x")
    submit_login(page, "erin")
    page.wait_for_url(f"{world.base_url}/sessions/{sid}/expert")
    watched.allow("status of 401")
    watched.assert_clean()


def test_admin_details_are_brought_into_view_with_their_heading_focused(
    world: BrowserWorld,
) -> None:
    admin = world.page("root", "/admin")
    page = admin.page
    page.set_viewport_size({"width": 1280, "height": 600})
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    heading = page.locator("#detail-title")
    row = page.locator("tr", has_text="Inside the A350 cabin")
    row.get_by_role("button", name="Details").click()
    expect(heading).to_have_text("Inside the A350 cabin")
    expect(heading).to_be_focused()
    expect(heading).to_be_in_viewport()
    expect(page.locator("#roles")).to_contain_text("Expert: Erin")
    expect(page.locator("#roles")).not_to_contain_text("(erin)")
    admin.assert_clean()
