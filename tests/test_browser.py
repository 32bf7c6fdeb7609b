"""The consoles in real headless Chromium: keyboard moderation over the live websocket, an
expert's 3-part answer published to the X emulator and shown on the public page, two
moderators racing on one question, and hostile tweet text that must stay text."""

from __future__ import annotations

import re

from tests.support.browser_fixtures import BrowserWorld, expect, settled, wait_until
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world


def test_moderator_approves_with_the_keyboard(world: BrowserWorld) -> None:
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
    settled(page)
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
    settled(page)
    page.keyboard.press("r")
    page.get_by_label("Reason").fill("Off topic")
    page.keyboard.press("Enter")
    expect(queue.get_by_role("option")).to_have_count(1)
    rejected = [
        q for q in (world.question(first), world.question(second)) if q["status"] == "rejected"
    ]
    assert len(rejected) == 1 and rejected[0]["reject_reason"] == "Off topic"
    mod.assert_clean()


ANSWER = (
    "The A350 cabin is quieter because the fuselage is wider and the engines are newer. "
    "We also worked on the air system, which renews the cabin air every two to three minutes. "
    "Finally, the lighting follows the time of day at your destination, which helps with jet "
    "lag. All of this was tested with passengers on long flights before entry into service, "
    "and we keep improving it with every delivery. Airlines can also choose their seats, "
    "galleys and lavatories from a catalogue of options that grows every year, so each cabin "
    "feels a little different. Thank you for the question and enjoy your next flight with us."
)


def test_approved_question_is_answered_as_a_3_part_thread_and_shown_publicly(
    world: BrowserWorld,
) -> None:
    qid = world.ask("@Airbus why is the A350 cabin so quiet? #AskAirbus")
    public = world.page(None, f"/live/{world.session_id}")
    expert = world.page("erin", f"/sessions/{world.session_id}/expert")
    approved = expert.page.get_by_role("listbox", name="Approved questions")
    expect(approved.get_by_role("option")).to_have_count(0)

    mod = world.page("alice", f"/sessions/{world.session_id}/moderate")
    queue = mod.page.get_by_role("listbox", name="Queue")
    expect(queue.get_by_role("option", selected=True)).to_contain_text("so quiet")
    asked = world.question(qid)
    asker_post = world.settings.x_post_link.format(
        handle=asked["author"]["handle"], id=asked["tweet_id"]
    )
    expect(mod.page.locator("#d-author")).to_have_attribute("href", asker_post)
    settled(mod.page)
    mod.page.keyboard.press("a")
    expect(mod.page.get_by_role("status").last).to_have_text("Approved.")

    # The expert console receives it live; Enter makes it "now answering".
    page = expert.page
    expect(approved.get_by_role("option")).to_have_count(1)
    approved.focus()
    settled(page)
    page.keyboard.press("Enter")
    composer = page.get_by_label("Your answer")
    expect(composer).to_be_focused()
    composer.fill(ANSWER)
    preview = page.get_by_role("list", name="Preview")
    expect(preview.get_by_role("listitem")).to_have_count(3)
    expect(preview.get_by_role("listitem").first).to_contain_text("1/3")
    expect(page.locator("#count-line")).to_contain_text("3 posts")
    expect(page.locator("#draft-state")).to_contain_text("Draft saved")
    page.keyboard.press("Control+Enter")

    # Each part is posted, with its link, and the thread is on X (the emulator).
    card = page.locator("#answers li.card").first
    expect(card).to_have_attribute("data-status", "published")
    expect(card.get_by_role("link", name="View on X")).to_have_count(3)
    thread = wait_until(lambda: len(world.host_timeline()) == 3 and world.host_timeline())
    assert thread[0]["text"].endswith("1/3")
    replied = [
        next(r["id"] for r in t.get("referenced_tweets", []) if r["type"] == "replied_to")
        for t in thread
    ]
    assert replied == [world.question(qid)["tweet_id"], thread[0]["id"], thread[1]["id"]]
    links = card.get_by_role("link", name="View on X")
    expect(links.nth(2)).to_have_attribute("href", re.compile(thread[2]["id"] + "$"))

    # The public page shows the question and the three posts as published.
    answer = public.page.locator("#qa > li")
    expect(answer).to_have_count(1)
    expect(answer.locator(".question-text")).to_have_text(
        "@Airbus why is the A350 cabin so quiet? #AskAirbus"
    )
    expect(answer.locator(".post-text")).to_have_text([t["text"] for t in thread])
    # Every link to a post goes to the configured X: here the emulator's timeline page.
    host = world.brand.username
    on_x = [world.settings.x_post_link.format(handle=host, id=t["id"]) for t in thread]
    expect(links.nth(2)).to_have_attribute("href", on_x[2])
    expect(answer.locator("a")).to_have_count(3)
    for n, url in enumerate(on_x):
        expect(answer.locator("a").nth(n)).to_have_attribute("href", url)
    for watched in (public, expert, mod):
        watched.assert_clean()


def test_two_moderators_on_one_question_see_who_won(world: BrowserWorld) -> None:
    qid = world.ask("@Airbus will the A350F fly to Toulouse? #AskAirbus")
    alice = world.page("alice", f"/sessions/{world.session_id}/moderate")
    # people by their display names (seed_staff: "Alice" for alice), never usernames
    expect(alice.page.locator("#presence")).to_contain_text("Alice (you)")
    expect(alice.page.locator("#d-claim")).to_have_text("You are handling this question")
    bob = world.page("bob", f"/sessions/{world.session_id}/moderate")
    for watched in (alice, bob):
        expect(watched.page.locator("#presence li")).to_have_count(2)
    # Alice selected it first: Bob sees her soft claim.
    expect(bob.page.locator("#presence")).to_contain_text("Alice")
    expect(bob.page.locator("#d-claim")).to_have_text("Alice is handling this question")
    expect(bob.page.get_by_role("listbox", name="Queue").get_by_role("option")).to_contain_text(
        "Alice is on it"
    )
    settled(bob.page)
    bob.page.keyboard.press("r")
    bob.page.get_by_label("Reason").fill("Off topic")
    # Both decide at once.
    settled(alice.page)
    alice.page.keyboard.press("a")
    bob.page.keyboard.press("Enter")
    final = wait_until(lambda: world.question(qid)["status"] != "pending" and world.question(qid))
    winner, loser = (alice, bob) if final["decided_by"] == "alice" else (bob, alice)
    expected = {"approved": "Approved.", "rejected": "Rejected."}[final["status"]]
    expect(winner.page.get_by_role("status").last).to_have_text(expected)
    expect(loser.page.get_by_role("status").last).to_have_text(
        f"{final['decided_by'].title()} got there first: the question is {final['status']}."
    )
    for watched in (alice, bob):
        watched.page.get_by_label("Status").select_option("")
        option = watched.page.get_by_role("listbox", name="Queue").get_by_role("option")
        expect(option).to_contain_text(f"by {final['decided_by'].title()}")
        expect(option.locator(".badge")).to_have_text(final["status"].title())
        watched.assert_clean()


HOSTILE = '<img src=x onerror=alert(1)> <script>alert(2)</script> @Airbus "quoted" & more'


def test_hostile_tweet_text_stays_text_and_runs_nothing(world: BrowserWorld) -> None:
    qid = world.ask(HOSTILE, handle="mallory", name="<b onmouseover=alert(3)>Mal</b>")
    mod = world.page("alice", f"/sessions/{world.session_id}/moderate")
    page = mod.page
    item = page.get_by_role("listbox", name="Queue").get_by_role("option")
    expect(item.locator(".q-text")).to_have_text(HOSTILE)
    expect(page.locator("#d-text")).to_have_text(HOSTILE)
    expect(page.locator("#d-author")).to_contain_text("<b onmouseover=alert(3)>Mal</b>")
    assert page.locator("#main img, #main script, #main b").count() == 0
    page.locator("#d-author").hover()
    settled(page)
    page.keyboard.press("a")
    expect(item).to_have_count(0)

    expert = world.page("erin", f"/sessions/{world.session_id}/expert")
    option = expert.page.get_by_role("listbox", name="Approved questions").get_by_role("option")
    expect(option.locator(".q-text")).to_have_text(HOSTILE)
    option.click()
    reply = "<img src=y onerror=alert(4)> Thanks, we only answer text here."
    expert.page.get_by_label("Your answer").fill(reply)
    preview = expert.page.get_by_role("list", name="Preview")
    expect(preview.locator(".post-text")).to_have_text([reply])
    expert.page.get_by_role("button", name="Publish").click()
    card = expert.page.locator("#answers li.card").first
    expect(card).to_have_attribute("data-status", "published")

    public = world.page(None, f"/live/{world.session_id}")
    answered = public.page.locator("#qa > li")
    expect(answered.locator(".question-text")).to_have_text(HOSTILE)
    expect(answered.locator(".post-text")).to_have_text([reply])
    for watched in (mod, expert, public):
        assert watched.page.locator("main img, main script, main b").count() == 0
        assert watched.page.evaluate("document.title") != "pwned"
        watched.assert_clean()
    assert world.question(qid)["status"] == "answered"


def test_moderators_on_two_app_processes_see_each_other_and_who_won(world: BrowserWorld) -> None:
    qid = world.ask("@Airbus when does the A350F enter service? #AskAirbus")
    other = world.second_app()
    alice = world.page("alice", f"/sessions/{world.session_id}/moderate")
    expect(alice.page.locator("#d-claim")).to_have_text("You are handling this question")
    bob = world.page("bob", f"/sessions/{world.session_id}/moderate", base_url=other)
    for watched in (alice, bob):
        expect(watched.page.locator("#presence li")).to_have_count(2)
    expect(bob.page.locator("#d-claim")).to_have_text("Alice is handling this question")
    settled(bob.page)
    bob.page.keyboard.press("a")
    expect(bob.page.get_by_role("status").last).to_have_text("Approved.")
    alice.page.get_by_label("Status", exact=True).select_option("approved")
    option = alice.page.get_by_role("listbox", name="Queue").get_by_role("option")
    expect(option).to_contain_text("by Bob")
    settled(alice.page)
    alice.page.keyboard.press("r")
    alice.page.get_by_label("Reason").fill("Already answered on the blog")
    alice.page.keyboard.press("Enter")
    expect(bob.page.get_by_role("listbox", name="Queue").get_by_role("option")).to_have_count(0)
    bob.page.get_by_label("Status", exact=True).select_option("rejected")
    expect(bob.page.get_by_role("listbox", name="Queue").get_by_role("option")).to_contain_text(
        "by Alice"
    )
    assert world.question(qid)["reject_reason"] == "Already answered on the blog"
    for watched in (alice, bob):
        watched.assert_clean()
