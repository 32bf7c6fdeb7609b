"""The consoles' details in real headless Chromium, in English and French: a key press never
acts on a question selected a moment before, the expert's Enter and status line, plurals,
every time in the session's zone with its name, the sort kept across reloads, and links in
answers on the public page."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import Page

from atexpert.domain.clock import shown_time
from tests.support.browser_fixtures import BrowserWorld, expect, settled, wait_until
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world

TEXT = {
    "en": {
        "held": "This question was just selected: read it, then press the key again.",
        "empty": "Write an answer first.",
        "posted": "Posted on X.",
        "new": "1 new question.",
        "followers": "0 followers",
        "one": "1 selected",
        "two": "2 selected",
        "bulk": "Done on 2 questions.",
        "closed": "Closed",
    },
    "fr": {
        "held": (
            "Cette question vient d'être sélectionnée : lisez-la, puis appuyez de nouveau sur "
            "la touche."
        ),
        "empty": "Écrivez d'abord une réponse.",
        "posted": "Publiée sur X.",
        "new": "1 nouvelle question.",
        "followers": "0 abonné",
        "one": "1 sélectionnée",
        "two": "2 sélectionnées",
        "bulk": "Fait sur 2 questions.",
        "closed": "Terminée le",
    },
}
LANGS = pytest.mark.parametrize("lang", ["en", "fr"])

#: Press ``key`` in the page the instant a question other than ``first`` becomes selected in
#: the listbox ``list`` (a user's quick second press), on ``target`` (the list or the body).
ARM_QUICK_PRESS = """([list, key, first, target]) => {
  const box = document.getElementById(list);
  window.quickPress = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      const selected = box.querySelector('[aria-selected="true"]');
      if (!selected || selected.id === `q-${first}`) return;
      observer.disconnect();
      const on = target === "body" ? document.body : box;
      on.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));
      resolve(selected.id);
    });
    observer.observe(box, { subtree: true, childList: true, attributes: true });
  });
}"""


def quick_press(page: Page, list_id: str, key: str, first: str | None, target: str) -> Any:
    page.evaluate(ARM_QUICK_PRESS, [list_id, key, first, target])


@LANGS
def test_a_quick_second_press_never_acts_on_the_question_that_slid_in(
    world: BrowserWorld, lang: str
) -> None:
    sid = world.new_session(language=lang)
    spam = world.ask("@Airbus BUY FOLLOWERS NOW cheap-followers #AskAirbus")
    good = world.ask("@Airbus how quiet is the A350 cabin? #AskAirbus")
    mod = world.page("alice", f"/sessions/{sid}/moderate")
    page = mod.page
    selected = page.locator("#queue [aria-selected=true]")
    expect(selected).to_contain_text("how quiet")
    settled(page)
    # `a` twice quickly: the first approves; the second meets the spam that slid in.
    quick_press(page, "queue", "a", good, "queue")
    page.keyboard.press("a")
    assert page.evaluate("() => window.quickPress") == f"q-{spam}"
    expect(page.locator("#status")).to_contain_text(TEXT[lang]["held"])
    expect(selected).to_contain_text("BUY FOLLOWERS")
    wait_until(lambda: world.question(good)["status"] == "approved")
    assert world.question(spam)["status"] == "pending"
    # A moment later the keys act on it again (`s` stars it).
    settled(page)
    page.keyboard.press("s")
    expect(selected.locator(".star")).to_have_count(1)
    assert world.question(spam)["starred"] is True
    mod.assert_clean()


@LANGS
def test_the_expert_opens_with_enter_anywhere_and_the_status_line_stays_true(
    world: BrowserWorld, lang: str
) -> None:
    sid = world.new_session(language=lang)
    qid = world.ask("@Airbus how long is the A350 wing? #AskAirbus")
    expert = world.page("erin", f"/sessions/{sid}/expert")
    page = expert.page
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    # The question arrives while the expert presses Enter: that press does not open it.
    quick_press(page, "approved", "Enter", None, "body")
    world.http.post(f"/api/sessions/{sid}/questions/{qid}/approve")
    assert page.evaluate("() => window.quickPress") == f"q-{qid}"
    expect(page.locator("#status")).to_have_text(TEXT[lang]["held"])
    expect(page.locator("#now")).to_be_hidden()
    # Enter opens it though the list does not have the focus.
    settled(page)
    page.locator("#approved-title").click()  # a heading: the focus leaves the list
    expect(page.locator("#approved")).not_to_be_focused()
    page.keyboard.press("Enter")
    composer = page.locator("#answer-text")
    expect(composer).to_be_focused()
    expect(page.locator("#now-text")).to_have_text("@Airbus how long is the A350 wing? #AskAirbus")
    # Enter in the composer is a new line, not a shortcut.
    page.keyboard.press("Enter")
    expect(composer).to_be_focused()
    # "Write an answer first." goes once the expert types.
    composer.fill("")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#status")).to_have_text(TEXT[lang]["empty"])
    composer.press_sequentially("About 32 m")
    expect(page.locator("#status")).to_have_text("")
    # "Sent to publishing." gives way to the outcome once the answer is posted.
    composer.fill("About 32 metres from root to tip.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#answers li.card").first).to_have_attribute("data-status", "published")
    expect(page.locator("#status")).to_have_text(TEXT[lang]["posted"])
    expert.assert_clean()


@LANGS
def test_counts_take_the_plural_of_the_language(world: BrowserWorld, lang: str) -> None:
    sid = world.new_session(language=lang)
    world.ask("@Airbus what is the A321XLR range? #AskAirbus")
    mod = world.page("alice", f"/sessions/{sid}/moderate")
    page = mod.page
    options = page.locator("#queue [role=option]")
    expect(options).to_have_count(1)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    world.ask("@Airbus and its fuel burn? #AskAirbus")
    expect(options).to_have_count(2)
    expect(page.locator("#announcer")).to_have_text(TEXT[lang]["new"])
    expect(page.locator("#d-followers")).to_have_text(TEXT[lang]["followers"])
    settled(page)
    page.keyboard.press("x")
    expect(page.locator("#bulk-count")).to_have_text(TEXT[lang]["one"])
    page.keyboard.press("k")  # up to the new one, at the top (newest first)
    settled(page)
    page.keyboard.press("x")
    expect(page.locator("#bulk-count")).to_have_text(TEXT[lang]["two"])
    page.keyboard.press("a")
    expect(page.locator("#status")).to_have_text(TEXT[lang]["bulk"])
    # The expert's preview: one post is "1 post".
    expert = world.page("erin", f"/sessions/{sid}/expert")
    expert.page.locator("#approved [role=option]").first.click()
    expert.page.locator("#answer-text").fill("Up to 4,700 nautical miles.")
    expect(expert.page.locator("#count-line span").nth(1)).to_have_text("1 post")
    for watched in (mod, expert):
        watched.assert_clean()


def clock(instant: str, lang: str) -> str:
    """The time part ("15:04 CET") of the form every page shows."""
    return shown_time(datetime.fromisoformat(instant), "Europe/Paris", lang).split(", ")[-1]


@LANGS
def test_every_time_is_in_the_session_zone_with_its_name(world: BrowserWorld, lang: str) -> None:
    zone = "Europe/Paris"
    sid = world.new_session(language=lang, time_zone=zone)
    qid = world.ask("@Airbus when does the A350F fly? #AskAirbus")
    session = world.http.get(f"/api/sessions/{sid}").json()
    start = shown_time(datetime.fromisoformat(session["scheduled_start"]), zone, lang)
    asked = clock(world.question(qid)["created_at"], lang)
    assert re.fullmatch(r"\d\d:\d\d CES?T", asked)
    # The browsers are in New York: the consoles still show Paris time, named.
    mod = world.page("alice", f"/sessions/{sid}/moderate", timezone_id="America/New_York")
    page = mod.page
    expect(page.locator("#queue [role=option] time")).to_have_text(asked)
    expect(page.locator("#d-time")).to_have_text(asked)
    expect(page.locator("#session-when")).to_contain_text(start)
    expect(page.locator("#session-when")).to_contain_text(zone)
    world.http.post(f"/api/sessions/{sid}/questions/{qid}/approve")
    expert = world.page("erin", f"/sessions/{sid}/expert", timezone_id="America/New_York")
    expect(expert.page.locator("#approved [role=option] time")).to_have_text(asked)
    expect(expert.page.locator("#session-when")).to_contain_text(start)
    public = world.page(None, f"/live/{sid}", timezone_id="America/New_York")
    expect(public.page.locator("#session-when")).to_contain_text(start)
    expect(public.page.locator("#session-when")).to_contain_text(zone)
    expect(public.page.locator("#upcoming")).to_contain_text(start)
    # The recap, written by the server, shows the same form.
    r = world.http.post(f"/api/sessions/{sid}/close")
    assert r.status_code == 200, r.text
    closed = world.http.get(f"/api/sessions/{sid}").json()["closed_at"]
    recap = world.page(None, f"/recap/{sid}", timezone_id="America/New_York")
    expect(recap.page.locator("p.meta")).to_contain_text(
        f"{TEXT[lang]['closed']} {shown_time(datetime.fromisoformat(closed), zone, lang)} ({zone})"
    )
    for watched in (mod, expert, public, recap):
        watched.assert_clean()


def test_the_sort_choice_survives_a_reload(world: BrowserWorld) -> None:
    world.ask("@Airbus first: the A220 range? #AskAirbus")
    world.ask("@Airbus second: the A330neo seats? #AskAirbus")
    mod = world.page("alice", f"/sessions/{world.session_id}/moderate")
    page = mod.page
    texts = page.locator("#queue [role=option] .q-text")
    expect(texts).to_have_count(2)
    expect(texts.first).to_contain_text("second")
    page.get_by_label("Sort").select_option(label="Oldest")
    expect(texts.first).to_contain_text("first")
    page.reload()
    expect(page.get_by_label("Sort")).to_have_value("oldest")
    expect(texts.first).to_contain_text("first")
    # Another session keeps its own choice (the default, newest first).
    sid = world.new_session()
    world.ask("@Airbus older #AskAirbus")
    world.ask("@Airbus newer #AskAirbus")
    page.goto(f"/sessions/{sid}/moderate")
    expect(page.get_by_label("Sort")).to_have_value("newest")
    expect(texts.first).to_contain_text("newer")
    mod.assert_clean()


def test_urls_in_answers_are_safe_links_on_the_public_page(world: BrowserWorld) -> None:
    qid = world.ask("@Airbus where can I read about the A350? #AskAirbus")
    sid = world.session_id
    assert world.http.post(f"/api/sessions/{sid}/questions/{qid}/approve").status_code == 200
    text = (
        "See https://www.airbus.com/en/products/a350?tab=cabin. "
        "Not links: javascript:alert(1), ftp://files.example and <b>www.example.com</b>"
    )
    r = world.http.post(f"/api/sessions/{sid}/answers", json={"question_ids": [qid], "text": text})
    assert r.status_code == 201, r.text
    r = world.http.post(f"/api/sessions/{sid}/answers/{r.json()['id']}/submit")
    assert r.status_code == 200, r.text
    public = world.page(None, f"/live/{sid}")
    post = public.page.locator("#qa .post-text")
    expect(post).to_have_text(text)
    link = post.get_by_role("link")
    expect(link).to_have_count(1)
    expect(link).to_have_text("https://www.airbus.com/en/products/a350?tab=cabin")
    expect(link).to_have_attribute("href", "https://www.airbus.com/en/products/a350?tab=cabin")
    expect(link).to_have_attribute("rel", "noopener nofollow ugc")
    assert public.page.locator("#qa b, #qa script").count() == 0
    public.assert_clean()
