"""Desk mode in real Chromium, in English and French: waiting times that tick and say when
a question is past the first-response target, an agent's shift and assignment (their
question listed first), and a saved reply filled in and inserted into the answer."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.store.store import Store
from tests.support.browser_fixtures import BrowserWorld, expect, in_thread, settled
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world

TEXT = {
    "en": {"late": "past target", "waiting": "waiting", "you": "Assigned to you", "on": "On duty"},
    "fr": {
        "late": "délai dépassé",
        "waiting": "attend depuis",
        "you": "Attribuée à vous",
        "on": "De service",
    },
}
REPLY = {
    "title": "Bag on its way",
    "variables": ["flight"],
    "text": "Hello {asker}, your bag from flight {flight} is on its way. {agent}",
}


def open_desk(world: BrowserWorld, lang: str) -> str:
    """A live desk (alice moderates, erin is its agent) with a saved reply."""
    now = datetime.now(UTC)
    body = {
        "kind": "desk",
        "title": "Air France helps",
        "hashtags": ["#AFhelp"],
        "host_account": {"handle": world.brand.username, "user_id": world.brand.id},
        "moderator_ids": [world.users["alice"]],
        "expert_ids": [world.users["erin"]],
        "scheduled_start": (now - timedelta(days=1)).isoformat(),
        "time_zone": "Europe/Paris",
        "language": lang,
        "first_response_minutes": 60,
        "options": {"announce": False},
    }
    r = world.http.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    sid = str(r.json()["id"])
    for step in ("schedule", "start"):
        assert world.http.post(f"/api/sessions/{sid}/{step}").status_code == 200
    r = world.http.post(f"/api/sessions/{sid}/saved-replies", json=REPLY)
    assert r.status_code == 201, r.text
    world.session_id = sid
    return sid


def received(
    world: BrowserWorld, handle: str, text: str, minutes_ago: int, author: int | None = None
) -> str:
    """A question received ``minutes_ago`` minutes ago (by X account ``author``, by default
    one of its own), approved."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    n = minutes_ago
    incoming = IncomingQuestion(
        tweet_id=str(8_000_000 + n),
        author=Author(id=str(author or 900 + n), handle=handle),
        text=text,
        created_at=at,
    )

    async def add() -> str:
        client = aioredis.Redis.from_url(world.redis_url, decode_responses=True)
        try:
            question, _ = await Store(client).add_question(world.session_id, incoming, at=at)
            return question.id
        finally:
            await client.aclose()

    qid = in_thread(add)
    r = world.http.post(f"/api/sessions/{world.session_id}/questions/{qid}/approve")
    assert r.status_code == 200, r.text
    return qid


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_an_agent_works_the_desk_queue(world: BrowserWorld, lang: str) -> None:
    words = TEXT[lang]
    sid = open_desk(world, lang)
    old = received(world, "zoe_flies", "@Airbus where is my bag? #AFhelp", 95)
    fresh = received(world, "max_travels", "@Airbus is AF1234 late? #AFhelp", 5)
    received(world, "zoe_flies", "@Airbus any news of my bag?", 2, author=995)  # Zoé again

    agent = world.page("erin", f"/sessions/{sid}/expert")
    page = agent.page
    items = page.locator("#approved > li")
    expect(items).to_have_count(3)
    # Oldest first; the old one is past the 60-minute target: an icon and words say so.
    late = items.nth(0).locator(".waiting")
    expect(late).to_have_class(re.compile(r"\blate\b"))
    expect(late).to_contain_text("⚠")
    expect(late).to_contain_text(words["late"])
    expect(late).to_contain_text("1 h 35 min")
    waiting = items.nth(1).locator(".waiting")
    expect(waiting).to_contain_text(words["waiting"])
    expect(waiting).not_to_contain_text("⚠")
    shown = waiting.inner_text()
    expect(waiting).not_to_have_text(shown)  # it ticks

    # Erin starts her shift, takes the fresh question: it comes first, as hers.
    page.locator("#shift").click()
    expect(page.locator("#on-duty")).to_contain_text(words["on"])
    expect(page.locator("#on-duty")).to_contain_text("Erin")
    items.nth(1).click()
    expect(page.locator("#now-text")).to_contain_text("AF1234 late")
    page.locator("#assignee").select_option(label="Erin")
    page.locator("#assign").click()
    expect(items.nth(0)).to_contain_text(words["you"])
    expect(items.nth(0)).to_contain_text("AF1234 late")
    assert world.question(fresh)["assignee"] == world.users["erin"]

    # A saved reply, filled in for this asker, previewed with its weighted length, inserted.
    page.locator("#reply").select_option(label=REPLY["title"])
    page.locator("#replies input[name=flight]").fill("AF1234")
    filled = "Hello @max_travels, your bag from flight AF1234 is on its way. Erin"
    expect(page.locator("#reply-preview")).to_contain_text(f"{filled} ({len(filled)}/280)")
    page.locator("#reply-insert").click()
    expect(page.locator("#answer-text")).to_have_value(filled)
    expect(page.locator("#count-line")).to_contain_text(str(len(filled)))
    agent.assert_clean()

    # The moderator's console: the same waiting times, and who is on duty.
    mod = world.page("alice", f"/sessions/{sid}/moderate")
    mpage = mod.page
    mpage.locator("#f-status").select_option("approved")
    queue = mpage.locator("#queue > li")
    expect(queue).to_have_count(3)
    settled(mpage)
    expect(queue.nth(0)).to_contain_text("where is my bag")  # oldest first on a desk
    expect(queue.nth(0).locator(".waiting")).to_contain_text(words["late"])
    expect(queue.nth(1)).to_contain_text(re.compile(r"Erin"))
    expect(mpage.locator("#on-duty")).to_contain_text("Erin")
    # Zoé's new question: her earlier one shows beside it.
    queue.nth(2).click()
    expect(mpage.locator("#history-box")).to_be_visible()
    expect(mpage.locator("#history")).to_contain_text("where is my bag")
    assert world.question(old)["assignee"] is None
    mod.assert_clean()


def test_an_admin_creates_a_desk_with_no_end(world: BrowserWorld) -> None:
    start = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT10:00")
    admin = world.page("root", "/admin")
    page = admin.page
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    form = page.get_by_role("region", name="New session")  # the series form has a Title too
    form.get_by_label("Title", exact=True).fill("Air France helps")
    form.get_by_label("Hashtags").fill("#AFhelp")
    form.get_by_label("Host X account").fill("@AirFrance")
    form.get_by_label("Start", exact=True).fill(start)
    expect(form.get_by_label("First-response target of a desk (minutes)")).to_be_hidden()
    form.get_by_label("Kind").select_option("desk")
    expect(form.get_by_label("End", exact=True)).to_be_hidden()
    form.get_by_label("First-response target of a desk (minutes)").fill("30")
    form.get_by_role("button", name="Save").click()
    row = page.locator("tr", has_text="Air France helps")
    expect(row.get_by_role("cell").first).to_contain_text("desk")
    created = next(s for s in world.http.get("/api/sessions").json() if s["kind"] == "desk")
    assert (created["scheduled_end"], created["first_response_minutes"]) == (None, 30)
    admin.assert_clean()


MANAGE = {
    "en": {"title": "Saved replies", "edit": "Edit the saved reply", "delete": "Delete"},
    "fr": {
        "title": "Réponses enregistrées",
        "edit": "Modifier la réponse enregistrée",
        "delete": "Supprimer",
    },
}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_moderator_keeps_the_saved_replies(world: BrowserWorld, lang: str) -> None:
    words = MANAGE[lang]
    sid = open_desk(world, lang)
    mod = world.page("alice", f"/sessions/{sid}/moderate")
    page = mod.page
    section = page.locator("#saved-replies")
    expect(section.get_by_role("heading", level=2)).to_have_text(words["title"])
    items = page.locator("#replies-list > li")
    expect(items).to_have_count(1)
    expect(items.nth(0)).to_contain_text(REPLY["title"])

    # A variable neither built in nor declared: the error shows under the text, by keyboard.
    page.locator("#reply-title").fill("Delay")
    page.locator("#reply-text").fill("Your flight {flight} is late")
    page.locator("#reply-save").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#reply-text-error")).to_contain_text("{flight}")
    expect(page.locator("#reply-text")).to_have_attribute("aria-invalid", "")
    expect(page.locator("#reply-title-error")).to_be_hidden()
    page.locator("#reply-variables").fill("flight")
    page.locator("#reply-save").click()
    expect(items).to_have_count(2)
    expect(page.locator("#reply-text-error")).to_be_hidden()
    expect(page.locator("#reply-title")).to_have_value("")

    # Edit it: a built-in variable declared is refused on the variables field.
    items.nth(1).get_by_role("button", name=re.compile(words["edit"])).click()
    expect(page.locator("#reply-title")).to_be_focused()
    expect(page.locator("#reply-variables")).to_have_value("flight")
    page.locator("#reply-variables").fill("flight, asker")
    page.locator("#reply-save").click()
    expect(page.locator("#reply-variables-error")).to_contain_text("built in")
    expect(page.locator("#reply-variables")).to_be_focused()
    page.locator("#reply-variables").fill("flight")
    page.locator("#reply-title").fill("Delay update")
    page.locator("#reply-save").click()
    expect(items.nth(1)).to_contain_text("Delay update")

    # Delete the first one, confirmed in a dialog.
    items.nth(0).get_by_role("button", name=re.compile(words["delete"])).click()
    page.locator("#reply-delete-dialog button[value=delete]").click()
    expect(items).to_have_count(1)
    replies = world.http.get(f"/api/sessions/{sid}").json()["saved_replies"]
    assert [(r["title"], r["variables"]) for r in replies] == [("Delay update", ["flight"])]
    mod.allow("status of 422")  # the refused saves
    mod.assert_clean()


def test_a_new_target_reaches_the_open_consoles(world: BrowserWorld) -> None:
    sid = open_desk(world, "en")
    received(world, "zoe_flies", "@Airbus where is my bag? #AFhelp", 45)
    mod = world.page("alice", f"/sessions/{sid}/moderate")
    page = mod.page
    page.locator("#f-status").select_option("approved")
    chip = page.locator("#queue > li").nth(0).locator(".waiting")
    expect(chip).to_contain_text("waiting")
    expect(chip).not_to_contain_text("⚠")
    # The live desk's target drops to 30 minutes: the open console marks it late at once.
    r = world.http.put(f"/api/sessions/{sid}/desk/target", json={"first_response_minutes": 30})
    assert r.status_code == 200, r.text
    expect(chip).to_contain_text("⚠")
    expect(chip).to_contain_text("past target")
    mod.assert_clean()
