"""Invitations by link in real headless Chromium: an admin makes an expert link on the admin
page and copies it; someone without an account opens it in another browser, creates the
account and lands in the expert console; the link is then spent. A staff member who has an
account logs in from the invitation and comes back to it. The pages pass axe."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import WebSocket

from tests.support.browser_fixtures import PASSWORD, BrowserWorld, expect
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world

axe_module = pytest.importorskip(
    "axe_playwright_python.sync_playwright", reason="axe-playwright-python is not installed"
)


def violations(page: Any) -> list[str]:
    results = axe_module.Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]]


def test_admin_invites_an_expert_who_joins_with_a_new_account(world: BrowserWorld) -> None:
    sid = world.session_id
    admin = world.page("root", "/admin")
    page = admin.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator(f'#sessions tr[data-session="{sid}"]').get_by_role(
        "button", name="Details"
    ).click()
    expect(page.locator("#detail-title")).to_have_text("Inside the A350 cabin")
    invite = page.locator("#invite-by-link")
    expect(invite.get_by_text("No pending invitation.")).to_be_visible()
    invite.get_by_label("Role").select_option("expert")
    invite.get_by_label("Note (optional)").fill("Dr. Ada, cabin acoustics")
    invite.get_by_role("button", name="Create link").click()

    link = invite.get_by_label("Invitation link (shown only once)")
    pattern = rf"^{re.escape(world.base_url)}/invite/[A-Za-z0-9_-]{{43}}$"
    expect(link).to_have_value(re.compile(pattern))
    url = link.input_value()
    pending = invite.get_by_role("list", name="Pending invitations").get_by_role("listitem")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("Expert · Dr. Ada, cabin acoustics · valid until")
    invite.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("status")).to_have_text("Link copied.")
    assert page.evaluate("navigator.clipboard.readText()") == url
    assert violations(page) == []

    # Someone with no account opens the link in another browser.
    guest = world.page(None, url)
    gp = guest.page
    expect(gp.get_by_role("heading", level=2)).to_have_text(
        "You are invited to answer questions as an expert in “Inside the A350 cabin”."
    )
    expect(gp.get_by_text("Note from the organizers: Dr. Ada, cabin acoustics")).to_be_visible()
    expect(gp.get_by_role("link", name="Log in first")).to_have_attribute(
        "href", "/login?next=" + re.sub("/", "%2F", url.removeprefix(world.base_url))
    )
    assert violations(gp) == []
    gp.get_by_label("Username", exact=True).fill("ada")
    gp.get_by_label("Display name").fill("Ada Lovelace")
    gp.get_by_label("Password", exact=True).fill("analytical-1")
    gp.get_by_label("Repeat the password").fill("analytical-2")
    gp.get_by_role("button", name="Create my account and join").click()
    expect(gp.get_by_role("alert").filter(has_text="differ")).to_have_text(
        "The two passwords differ."
    )
    gp.get_by_label("Username", exact=True).fill("erin")  # taken: seeded expert
    gp.get_by_label("Repeat the password").fill("analytical-1")
    gp.get_by_role("button", name="Create my account and join").click()
    expect(gp.get_by_role("alert").filter(has_text="taken")).to_have_text(
        "This username is taken: choose another one."
    )
    gp.get_by_label("Username", exact=True).fill("ada")
    gp.get_by_role("button", name="Create my account and join").click()

    # The new expert lands in the session's expert console, logged in.
    gp.wait_for_url(f"**/sessions/{sid}/expert")
    expect(gp.locator("#whoami")).to_have_text("Ada Lovelace")
    expect(gp.get_by_role("listbox", name="Approved questions")).to_be_visible()
    session = world.http.get(f"/api/sessions/{sid}").json()
    ada = world.http.get("/api/users").json()
    ada_id = next(u["id"] for u in ada if u["username"] == "ada")
    assert ada_id in session["expert_ids"]

    # The link is spent: opening it again says so.
    gp.goto(url)
    expect(gp.get_by_role("alert")).to_have_text("This invitation link has already been used.")
    expect(gp.locator("#invite")).to_be_hidden()

    # The admin's pending list is empty again.
    page.locator(f'#sessions tr[data-session="{sid}"]').get_by_role(
        "button", name="Details"
    ).click()
    expect(invite.get_by_text("No pending invitation.")).to_be_visible()

    admin.assert_clean()
    for expected in ("401", "409", "410"):  # not logged in yet; username taken; spent link
        guest.allow(expected)
    guest.assert_clean()


def test_the_admin_page_follows_someone_joining_by_link(world: BrowserWorld) -> None:
    sid = world.session_id
    r = world.http.post(
        f"/api/sessions/{sid}/invitations", json={"role": "expert", "note": "Dr. Ada"}
    )
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    admin = world.page("root", "/admin")
    page = admin.page
    # The details open the session's admin websocket; its snapshot says it is following.
    # The frame listener is attached as the socket opens, so an early snapshot isn't missed.
    frames: list[str] = []

    def follow(ws: WebSocket) -> None:
        if ws.url.endswith(f"/{sid}/admin"):
            ws.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", follow)
    page.locator(f'#sessions tr[data-session="{sid}"]').get_by_role(
        "button", name="Details"
    ).click()
    deadline = time.monotonic() + 15
    while not any('"snapshot"' in frame for frame in frames):
        assert time.monotonic() < deadline, "no snapshot on the admin websocket"
        page.wait_for_timeout(50)
    roles = page.get_by_role("list", name="Moderators and experts")
    pending = page.get_by_role("list", name="Pending invitations")
    expect(pending.get_by_role("listitem")).to_have_count(1)
    expect(pending).to_contain_text("Expert · Dr. Ada · valid until")
    expect(roles).not_to_contain_text("Ada Lovelace")

    # Someone accepts in another browser; the admin clicks nothing.
    guest = world.page(None, url)
    gp = guest.page
    gp.get_by_label("Username", exact=True).fill("ada")
    gp.get_by_label("Display name").fill("Ada Lovelace")
    gp.get_by_label("Password", exact=True).fill("analytical-1")
    gp.get_by_label("Repeat the password").fill("analytical-1")
    gp.get_by_role("button", name="Create my account and join").click()
    gp.wait_for_url(f"**/sessions/{sid}/expert")

    expect(roles.get_by_role("listitem").filter(has_text="Ada Lovelace")).to_have_text(
        "Expert: Ada Lovelace Remove"
    )
    expect(pending).to_have_text("No pending invitation.")
    expect(page.get_by_label("Staff member")).to_contain_text("Ada Lovelace · login ada")
    admin.assert_clean()
    guest.allow("401")  # /api/me before the account exists
    guest.assert_clean()


def test_a_staff_member_logs_in_from_the_invitation_and_joins(world: BrowserWorld) -> None:
    sid = world.session_id
    r = world.http.post(
        "/api/users", json={"username": "carl", "display_name": "Carl", "password": PASSWORD}
    )
    assert r.status_code == 201, r.text
    r = world.http.post(f"/api/sessions/{sid}/invitations", json={"role": "moderator"})
    assert r.status_code == 201, r.text
    url = r.json()["url"]

    guest = world.page(None, url)
    page = guest.page
    expect(page.get_by_role("heading", level=2)).to_have_text(
        "You are invited to moderate the questions of “Inside the A350 cabin”."
    )
    page.get_by_label("Language").select_option("fr")
    expect(page.get_by_role("heading", level=2)).to_have_text(
        "Vous êtes invité·e à modérer les questions de « Inside the A350 cabin »."
    )
    assert violations(page) == []
    page.get_by_label("Langue").select_option("en")
    page.get_by_role("link", name="Log in first").click()
    page.wait_for_url("**/login?next=*")
    page.get_by_label("Username").fill("carl")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url)
    join = page.get_by_role("button", name="Join as Carl")
    expect(join).to_be_visible()
    expect(page.locator("#signup")).to_be_hidden()
    join.click()
    page.wait_for_url(f"**/sessions/{sid}/moderate")
    expect(page.get_by_role("listbox", name="Queue")).to_be_visible()
    guest.allow("401")  # /api/me before logging in
    guest.assert_clean()


@pytest.mark.parametrize("next_", ["//evil.example/", "/%09/evil.example/", "/%5Cevil.example"])
def test_login_only_goes_back_to_this_site(world: BrowserWorld, next_: str) -> None:
    watched = world.page(None, f"/login?next={next_}")
    page = watched.page
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{world.base_url}/admin")
    watched.assert_clean()


def test_an_unknown_link_says_so(world: BrowserWorld) -> None:
    watched = world.page(None, "/invite/" + "x" * 43)
    expect(watched.page.get_by_role("alert")).to_have_text(
        "This invitation link is not valid: check that it was copied whole."
    )
    expect(watched.page.get_by_role("link", name="Go to the login page")).to_be_visible()
    watched.allow("404")
    watched.assert_clean()
