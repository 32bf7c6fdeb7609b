"""Accessibility of every console, checked by axe-core in real headless Chromium: labels,
names, contrast, landmarks, ARIA use. axe runs through Playwright's evaluate (the page's
Content-Security-Policy stays on)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser_fixtures import BrowserWorld, settled
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world

axe_module = pytest.importorskip(
    "axe_playwright_python.sync_playwright", reason="axe-playwright-python is not installed"
)


def violations(page: Any) -> list[str]:
    results = axe_module.Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
    ]


def test_every_console_passes_axe(world: BrowserWorld) -> None:
    qid = world.ask("@Airbus how is the A350 cabin so quiet? #AskAirbus")
    world.ask("@Airbus and the A220? #AskAirbus")
    world.http.post(f"/api/sessions/{world.session_id}/questions/{qid}/approve")
    sid = world.session_id
    found: dict[str, list[str]] = {}

    mod = world.page("alice", f"/sessions/{sid}/moderate")
    mod.page.get_by_role("listbox", name="Queue").get_by_role("option").first.wait_for()
    found["moderator"] = violations(mod.page)
    settled(mod.page)
    mod.page.keyboard.press("r")
    mod.page.get_by_role("dialog", name="Reject the question").wait_for()
    found["moderator, reject dialog"] = violations(mod.page)
    mod.page.keyboard.press("Escape")
    mod.page.get_by_label("Language").select_option("fr")
    mod.page.get_by_role("listbox", name="File d'attente").wait_for()
    found["moderator, in French"] = violations(mod.page)

    expert = world.page("erin", f"/sessions/{sid}/expert")
    expert.page.get_by_role("listbox", name="Approved questions").get_by_role("option").click()
    expert.page.get_by_label("Your answer").fill("Thick insulation and quieter engines.")
    expert.page.get_by_role("list", name="Preview").get_by_role("listitem").wait_for()
    found["expert"] = violations(expert.page)

    public = world.page(None, f"/live/{sid}")
    public.page.locator("#session-title").filter(has_text="A350").wait_for()
    found["public"] = violations(public.page)

    admin = world.page("root", "/admin")
    admin.page.locator("#sessions tr").first.wait_for()
    found["admin"] = violations(admin.page)

    mine = world.page("erin", "/sessions")
    mine.page.locator("#mine > li").first.wait_for()
    found["your sessions"] = violations(mine.page)
    mine.page.goto(f"/sessions/{sid}/analytics")
    mine.page.get_by_role("navigation").get_by_role("link").first.wait_for()
    found["analytics"] = violations(mine.page)

    login = world.page(None, "/login")
    found["login"] = violations(login.page)
    assert {k: v for k, v in found.items() if v} == {}
