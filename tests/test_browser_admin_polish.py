"""Details of the admin page a newcomer trips on, in real headless Chromium: the close
dialog's empty lists, a non-admin's calm way to their console, staff accounts disabled,
enabled and deleted, the cost meter kept fresh while visible, and business hours with
several weekly windows and the automatic reply's preview."""

from __future__ import annotations

import re

from tests.support.browser_fixtures import BrowserWorld, Page, Watched, expect
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world
from tests.support.hours_session import create_desk


def opened(world: BrowserWorld, username: str) -> Watched:
    """``username`` on the admin page, once it is ready."""
    watched = world.page(username, "/admin")
    expect(watched.page.locator("body")).to_have_attribute("data-ready", "true", timeout=30_000)
    return watched


def test_empty_lists_of_the_close_dialog_are_one_compact_line(world: BrowserWorld) -> None:
    admin = opened(world, "root")
    page = admin.page
    page.locator(f"tr[data-session='{world.session_id}']").get_by_role(
        "button", name="Close"
    ).click()
    dialog = page.get_by_role("dialog", name="Close “Inside the A350 cabin”?")
    for title, none in (
        ("#close-unanswered-title", "#close-unanswered-none"),
        ("#close-in-flight-title", "#close-in-flight-none"),
    ):
        expect(dialog.locator(none)).to_have_text("None.")
        heading = dialog.locator(title).bounding_box()
        line = dialog.locator(none).bounding_box()
        assert heading is not None and line is not None
        # Right under its heading: no blank space left by the empty list's margins.
        assert line["y"] - (heading["y"] + heading["height"]) < 12, (heading, line)
        assert line["height"] < 30, line
    expect(dialog.get_by_role("list")).to_have_count(0)
    dialog.get_by_role("button", name="Keep it open").click()
    expect(dialog).to_be_hidden()
    admin.assert_clean()


def test_a_non_admin_is_told_calmly_where_their_console_is(world: BrowserWorld) -> None:
    alice = opened(world, "alice")
    page = alice.page
    notice = page.locator("#not-admin")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("This page is for administrators")
    expect(page.get_by_role("alert")).to_have_count(0)
    color = notice.evaluate("node => getComputedStyle(node).color")
    danger = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--danger').trim()"
    )
    assert color != "rgb(163, 21, 27)" and danger == "#a3151b", color
    page.locator("#lang").select_option("fr")
    expect(notice.get_by_role("link")).to_have_text("Aller à votre console")
    page.locator("#lang").select_option("en")
    # "/" knows each person's console: alice moderates the one live session.
    notice.get_by_role("link", name="Go to your console").click()
    page.wait_for_url(f"{world.base_url}/sessions/{world.session_id}/moderate")
    alice.assert_clean()


def test_the_admin_disables_enables_and_deletes_a_staff_member(world: BrowserWorld) -> None:
    admin = opened(world, "root")
    page = admin.page
    users = page.locator("#users")
    # No way to lock oneself out.
    expect(users.locator(f"li[data-user='{world.users['root']}'] button")).to_have_count(0)
    bob = users.locator(f"li[data-user='{world.users['bob']}']")
    bob.get_by_role("button", name="Disable Bob").click()
    expect(bob).to_contain_text("disabled")
    expect(page.get_by_role("status")).to_contain_text("Bob is disabled")
    enable = bob.get_by_role("button", name="Enable Bob")
    expect(enable).to_be_focused()
    assert _user(world, "bob")["disabled"] is True
    page.keyboard.press("Enter")  # the keyboard stays on the row's first button
    expect(bob.get_by_role("button", name="Disable Bob")).to_be_focused()
    assert _user(world, "bob")["disabled"] is False

    bob.get_by_role("button", name="Delete Bob").click()
    dialog = page.get_by_role("dialog", name="Delete Bob?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(bob).to_be_visible()
    assert _user(world, "bob") is not None
    bob.get_by_role("button", name="Delete Bob").focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Delete").click()
    expect(bob).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("Bob is deleted")
    expect(page.locator("#users-title")).to_be_focused()
    expect(page.locator("#r-user option", has_text="Bob")).to_have_count(0)
    assert _user(world, "bob") is None
    admin.assert_clean()


def _user(world: BrowserWorld, username: str) -> dict[str, object] | None:
    found = [u for u in world.http.get("/api/users").json() if u["username"] == username]
    return found[0] if found else None


def visibility(page: Page, state: str) -> None:
    """The page becomes ``state`` ("hidden" or "visible"), as when its tab is switched."""
    page.evaluate(
        """state => {
          Object.defineProperty(document, "visibilityState", { value: state, configurable: true });
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def test_the_cost_meter_refreshes_every_30_seconds_while_visible(world: BrowserWorld) -> None:
    admin = world.page("root", "/admin")
    page = admin.page
    page.clock.install()
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=30_000)
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if r.url.endswith("/spend") else None)
    page.locator(f"tr[data-session='{world.session_id}']").get_by_role(
        "button", name="Details"
    ).click()
    spend = page.locator("#spend")
    expect(spend).to_contain_text("none")
    r = world.http.put(f"/api/sessions/{world.session_id}/budget", json={"budget_usd": "4"})
    assert r.status_code == 200, r.text
    page.clock.fast_forward("00:31")
    expect(spend).to_contain_text("$4.00")
    seen = len(fetched)
    # Hidden: no refresh; visible again: one at once.
    visibility(page, "hidden")
    r = world.http.put(f"/api/sessions/{world.session_id}/budget", json={"budget_usd": "7"})
    assert r.status_code == 200, r.text
    page.clock.fast_forward("01:01")
    visibility(page, "visible")
    expect(spend).to_contain_text("$7.00")
    assert len(fetched) == seen + 1, fetched
    admin.assert_clean()


def test_business_hours_take_several_windows_and_preview_the_reply(world: BrowserWorld) -> None:
    weekdays = {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "opens": "08:00:00",
        "closes": "18:00:00",
    }
    saturday = {"days": ["sat"], "opens": "10:00:00", "closes": "14:00:00"}
    sid = create_desk(
        world,
        {
            "business_hours": {"windows": [weekdays, saturday], "closed_dates": []},
            "after_hours": "auto_reply",
            "auto_reply_text": "Thanks! We answer {back}.",
        },
    )
    preview = world.http.get(f"/api/sessions/{sid}/auto-reply").json()
    admin = opened(world, "root")
    page = admin.page
    page.locator("tr", has_text="Customer desk").get_by_role("button", name="Edit").click()
    windows = page.locator("#s-windows fieldset")
    expect(windows).to_have_count(2)
    second = page.get_by_role("group", name="Weekly window 2")
    expect(second.get_by_role("checkbox", name="Sat")).to_be_checked()
    expect(second.get_by_label("Opens at")).to_have_value("10:00")

    shown = page.locator("#s-auto-reply-preview")
    expect(shown.locator("#s-ar-text")).to_have_text(preview["text"])
    expect(shown).to_contain_text(f"{preview['weighted_length']}/280 characters")
    expect(shown).to_contain_text("per reply")
    expect(shown).to_contain_text(re.compile("(Open|Closed) now; (closes|opens) "))
    expect(shown.locator("#s-ar-off")).to_be_hidden()

    second.get_by_role("button", name="Remove weekly window 2").click()
    expect(windows).to_have_count(1)
    first = page.get_by_role("group", name="Weekly window 1")
    expect(first.get_by_role("checkbox", name="Mon")).to_be_focused()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Customer desk")
    expect(shown).to_be_hidden()  # a new session's form: nothing saved to preview
    hours = world.http.get(f"/api/sessions/{sid}").json()["options"]["business_hours"]
    assert hours["windows"] == [weekdays]

    page.locator("tr", has_text="Customer desk").get_by_role("button", name="Edit").click()
    expect(windows).to_have_count(1)
    page.get_by_role("button", name="Add a weekly window").click()
    added = page.get_by_role("group", name="Weekly window 2")
    expect(added.get_by_role("checkbox", name="Mon")).to_be_focused()
    added.get_by_role("checkbox", name="Sun").check()
    added.get_by_label("Opens at").fill("09:30")
    added.get_by_label("Closes at (00:00: midnight)").fill("12:00")
    page.locator("#lang").select_option("fr")  # drawn again in French, values kept
    added = page.get_by_role("group", name="Plage hebdomadaire 2")
    expect(added.get_by_role("checkbox", name="dim.")).to_be_checked()
    page.locator("#lang").select_option("en")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Customer desk")
    hours = world.http.get(f"/api/sessions/{sid}").json()["options"]["business_hours"]
    assert hours["windows"] == [
        weekdays,
        {"days": ["sun"], "opens": "09:30:00", "closes": "12:00:00"},
    ]
    admin.assert_clean()
