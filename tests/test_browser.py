"""The consoles in real headless Chromium: keyboard moderation over the live websocket, an
expert's 3-part answer published to the X emulator and shown on the public page, two
moderators racing on one question, and hostile tweet text that must stay text."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser_fixtures import World, wait_until
from tests.browser_fixtures import browser, emulator_server, world  # noqa: F401


def test_moderator_approves_with_the_keyboard(world: World) -> None:
    first = world.ask("@Airbus how quiet is the A350 cabin? #AskAirbus")
    second = world.ask("@Airbus what is the range of the A350-1000? #AskAirbus")
    mod = world.page("alice", f"/sessions/{world.session_id}/moderate")
    page = mod.page
    queue = page.get_by_role("listbox", name="Queue")
    expect(queue.get_by_role("option")).to_have_count(2)
    expect(page.locator("#conn")).to_have_text("Live")
    # Newest first: the second question is selected; j moves to the first.
    expect(queue.get_by_role("option", selected=True)).to_contain_text("range of the A350-1000")
    page.keyboard.press("j")
    expect(queue.get_by_role("option", selected=True)).to_contain_text("how quiet")
    page.keyboard.press("a")
    expect(page.get_by_role("status").last).to_have_text("Approved.")
    expect(queue.get_by_role("option")).to_have_count(1)
    assert world.question(first)["status"] == "approved"
    assert world.question(first)["decided_by"] == "alice"
    counter = page.locator('.counter[data-status="approved"] .count')
    expect(counter).to_have_text("1")
    # Undo puts it back in the queue.
    page.keyboard.press("u")
    expect(queue.get_by_role("option")).to_have_count(2)
    wait_until(lambda: world.question(first)["status"] == "pending")
    assert world.question(second)["status"] == "pending"
    # Reject with a reason, from the keyboard.
    page.keyboard.press("r")
    page.get_by_label("Reason").fill("Off topic")
    page.keyboard.press("Enter")
    expect(queue.get_by_role("option")).to_have_count(1)
    rejected = [q for q in (world.question(first), world.question(second)) if q["status"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["reject_reason"] == "Off topic"
    mod.assert_clean()
