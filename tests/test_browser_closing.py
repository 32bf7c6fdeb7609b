"""Closing in Chromium: the admin's confirmation lists what is unanswered and on its way to
X and offers both choices for queued answers; every console then says the session is
closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.browser_fixtures import BrowserWorld, expect, wait_until
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world


def _answer(world: BrowserWorld, qid: str, text: str) -> str:
    base = f"/api/sessions/{world.session_id}/answers"
    r = world.http.post(base, json={"question_ids": [qid], "text": text})
    assert r.status_code == 201, r.text
    aid = str(r.json()["id"])
    assert world.http.post(f"{base}/{aid}/submit").status_code == 200
    return aid


def _answer_status(world: BrowserWorld, aid: str) -> Any:
    return world.http.get(f"/api/sessions/{world.session_id}/answers/{aid}").json()["status"]


def test_the_close_dialog_lists_what_is_left_and_cancels_the_queue(world: BrowserWorld) -> None:
    sid = world.session_id
    qids = [
        world.ask("@Airbus how loud is the A350 cabin? #AskAirbus"),
        world.ask("@Airbus how wide is its fuselage? #AskAirbus"),
        world.ask("@Airbus nobody answers this one in time? #AskAirbus"),
    ]
    for qid in qids:
        world.http.post(f"/api/sessions/{sid}/questions/{qid}/approve").raise_for_status()
    # Posting is slow: the first answer is being posted, the second waits in the queue.
    world.emulator.faults(latency_ms=30_000, endpoints=["create_tweet"])
    first = _answer(world, qids[0], "About 57 decibels at cruise.")
    second = _answer(world, qids[1], "5.96 metres, the widest of its class.")
    wait_until(lambda: _answer_status(world, first) == "publishing")
    moderator = world.page("alice", f"/sessions/{sid}/moderate")

    admin = world.page("root", "/admin")
    page = admin.page
    row = page.locator(f"tr[data-session='{sid}']")
    row.get_by_role("button", name="Close").click()
    dialog = page.get_by_role("dialog", name="Close “Inside the A350 cabin”?")
    unanswered = dialog.get_by_role("list", name="Approved, not answered yet")
    expect(unanswered.get_by_role("listitem")).to_have_count(3)
    expect(unanswered).to_contain_text("@fan_3: @Airbus nobody answers this one in time?")
    in_flight = dialog.get_by_role("list", name="Answers on their way to X")
    expect(in_flight.get_by_role("listitem")).to_have_count(2)
    expect(in_flight.locator(f"li[data-answer='{first}']")).to_contain_text("Posting")
    expect(in_flight.locator(f"li[data-answer='{second}']")).to_contain_text("Queued")
    expect(dialog.get_by_label("Post them before the closing post")).to_be_checked()
    expect(dialog.get_by_label("Cancel them (back to the expert's drafts)")).not_to_be_checked()

    dialog.get_by_role("button", name="Keep it open").click()
    expect(dialog).to_be_hidden()
    assert world.http.get(f"/api/sessions/{sid}").json()["status"] == "live"

    row.get_by_role("button", name="Close").click()
    dialog.get_by_label("Cancel them (back to the expert's drafts)").check()
    dialog.get_by_role("button", name="Close the session").click()
    expect(row.locator(".badge")).to_have_text("Ended")
    assert world.http.get(f"/api/sessions/{sid}").json()["close_queued"] == "cancel"
    assert _answer_status(world, second) == "draft"

    # Every console says so: the moderators', the expert's and the public page.
    closed = "This session is closed: it takes no new approvals or answers."
    expect(moderator.page.locator("#session-ended")).to_have_text(closed)
    expert = world.page("erin", f"/sessions/{sid}/expert")
    expect(expert.page.locator("#session-ended")).to_have_text(closed)
    public = world.page(None, f"/live/{sid}")
    expect(public.page.locator("#session-ended")).to_have_text(
        "This session is over. Thank you for your questions!"
    )
    world.emulator.clear_faults()
    wait_until(lambda: _answer_status(world, first) == "published", timeout=60)
    for watched in (admin, moderator, expert, public):
        watched.assert_clean()


def test_a_french_console_says_the_session_wraps_up_then_is_closed(world: BrowserWorld) -> None:
    now = datetime.now(UTC)
    body = {
        "title": "Dans la cabine de l'A350",
        "hashtags": ["#AskAirbus"],
        "host_account": {"handle": world.brand.username, "user_id": world.brand.id},
        "moderator_ids": [world.users["alice"]],
        "scheduled_start": (now + timedelta(minutes=5)).isoformat(),
        "scheduled_end": (now + timedelta(hours=1)).isoformat(),
        "language": "fr",
        "wrap_up_minutes": 15,
        "options": {"announce": False},
    }
    r = world.http.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    for step in ("schedule", "start", "close"):
        world.http.post(f"/api/sessions/{sid}/{step}").raise_for_status()
    moderator = world.page("alice", f"/sessions/{sid}/moderate")  # a French session
    banner = moderator.page.locator("#session-ended")
    expect(banner).to_contain_text("Clôture jusqu'à")
    expect(banner).to_contain_text("plus de nouvelles questions ni d'approbations")
    expect(moderator.page.locator("#session-status")).to_have_text("Dernières réponses")
    # Closed for good (the admin's close during the wrap-up): the console follows live.
    world.http.post(f"/api/sessions/{sid}/close").raise_for_status()
    expect(banner).to_have_text("Cette session est close : plus aucune approbation ni réponse.")
    expect(moderator.page.locator("#session-status")).to_have_text("Terminée")
    moderator.assert_clean()
