"""Connecting the brand's X account from the admin page, in real headless Chromium: the
browser goes to X's consent page (the emulator's, over HTTP), the admin approves or
cancels there as on X, and the browser comes back to /admin, which says what happened."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page

from tests.support.browser_fixtures import BrowserWorld, expect
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world


def x_accounts(page: Page) -> Locator:
    return page.get_by_role("region", name="X accounts")


def start_connecting(page: Page, world: BrowserWorld, handle: str = "") -> None:
    """Click "Connect an X account" (optionally for ``handle``): X's consent page opens."""
    if handle:
        page.get_by_label("Only accept this account").fill(handle)
    page.get_by_role("button", name="Connect an X account").click()
    page.wait_for_url(re.compile(re.escape(world.emulator.base_url) + r"/i/oauth2/authorize\?"))
    expect(page.get_by_role("heading", name="Authorize app")).to_be_visible()


def on_x(page: Page, account: str, button: str) -> None:
    """On X's consent page: choose ``account``, press ``button``."""
    page.get_by_label("Account").select_option(account)
    page.get_by_role("button", name=button).click()


def host_hint(page: Page) -> Locator:
    return page.locator("#s-host-hint")


def test_admin_connects_the_brand_account_on_x_then_disconnects_it(world: BrowserWorld) -> None:
    admin = world.page("root", "/admin")
    page = admin.page
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    accounts = x_accounts(page)
    expect(accounts.get_by_text("No X account is connected yet.")).to_be_visible()
    page.locator("#session-form").get_by_label("Host X account").fill("@Airbus")
    expect(host_hint(page)).to_have_text(re.compile("^Not connected: connect it below"))

    start_connecting(page, world, "@Airbus")
    on_x(page, "Airbus", "Authorize app")

    # Back on the admin page, which says so and lists the account, without the flag in
    # the address (a reload must not say it again).
    expect(page.get_by_role("status")).to_have_text("@Airbus connected.")
    expect(page).to_have_url(world.base_url + "/admin")
    row = accounts.get_by_role("row").filter(has_text="@Airbus")
    expect(row).to_contain_text("by root")
    expect(row).to_contain_text("renewed automatically")
    expect(row).to_contain_text("tweet.write")
    expect(accounts.get_by_text("No X account is connected yet.")).to_be_hidden()
    (listed,) = world.http.get("/api/x/accounts").json()
    assert (listed["handle"], listed["user_id"]) == ("Airbus", world.brand.id)
    # The session form knows the host account can post now.
    page.locator("#session-form").get_by_label("Host X account").fill("@airbus")
    expect(host_hint(page)).to_have_text("@Airbus is connected.")

    # Disconnecting asks first; cancelling keeps it.
    row.get_by_role("button", name="Disconnect").click()
    dialog = page.get_by_role("dialog", name="Disconnect @Airbus?")
    expect(dialog).to_contain_text("cannot post until it is connected again")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(row).to_be_visible()
    row.get_by_role("button", name="Disconnect").click()
    dialog.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("status")).to_have_text("@Airbus disconnected.")
    expect(accounts.get_by_text("No X account is connected yet.")).to_be_visible()
    expect(host_hint(page)).to_have_text(re.compile("^Not connected"))
    assert world.http.get("/api/x/accounts").json() == []
    admin.assert_clean()


def test_cancelling_on_x_or_the_wrong_account_comes_back_with_the_reason(
    world: BrowserWorld,
) -> None:
    world.emulator.create_account("someone_else", "Someone Else")
    admin = world.page("root", "/admin")
    page = admin.page
    expect(page.locator("body")).to_have_attribute("data-ready", "true")

    start_connecting(page, world)
    on_x(page, "Airbus", "Cancel")
    expect(page.get_by_role("status")).to_have_text(
        "The X account was not connected: it was not authorized on X (access_denied)"
    )
    expect(page).to_have_url(world.base_url + "/admin")
    expect(x_accounts(page).get_by_text("No X account is connected yet.")).to_be_visible()

    start_connecting(page, world, "Airbus")
    on_x(page, "someone_else", "Authorize app")
    expect(page.get_by_role("status")).to_contain_text(
        "you authorized @someone_else on X, not @Airbus"
    )
    expect(x_accounts(page).get_by_text("No X account is connected yet.")).to_be_visible()
    assert world.http.get("/api/x/accounts").json() == []

    # A handle that is no X handle never leaves the page.
    page.get_by_label("Only accept this account").fill("not a handle")
    page.get_by_role("button", name="Connect an X account").click()
    expect(x_accounts(page).get_by_role("alert")).to_contain_text("an X handle is 1-15 letters")
    expect(page).to_have_url(world.base_url + "/admin")
    admin.allow("status of 422")
    admin.assert_clean()


def test_in_french_and_only_for_admins(world: BrowserWorld) -> None:
    admin = world.page("root", "/admin")
    page = admin.page
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_label("Language", exact=True).select_option("fr")
    connect = page.get_by_role("button", name="Connecter un compte X")
    expect(page.get_by_text("Aucun compte X n’est encore connecté.")).to_be_visible()
    connect.click()
    page.wait_for_url(re.compile(re.escape(world.emulator.base_url) + "/i/oauth2/authorize"))
    on_x(page, "Airbus", "Authorize app")
    expect(page.get_by_role("status")).to_have_text("@Airbus connecté.")
    expect(page.get_by_role("region", name="Comptes X")).to_contain_text("renouvelé")
    admin.assert_clean()

    # Other staff never see the section (nor call its admin-only API).
    moderator = world.page("alice", "/admin")
    expect(moderator.page.locator("body")).to_have_attribute("data-ready", "true")
    expect(x_accounts(moderator.page)).to_be_hidden()
    expect(moderator.page.get_by_role("button", name="Connect an X account")).to_be_hidden()
    moderator.assert_clean()
