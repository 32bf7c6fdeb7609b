"""Merged askers in real headless Chromium: the expert sees who else asked and what their
replies cost, in English and French; after publishing, the recap names each asker with the
post that answered them. The admin picks, per session, how they are answered."""

from __future__ import annotations

from datetime import datetime, timedelta

from atexpert.domain.costs import DEFAULT_RATE_CARD
from tests.support.browser_fixtures import BrowserWorld, expect
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world


def test_expert_sees_merged_askers_and_their_cost_then_the_recap_lists_them(
    world: BrowserWorld,
) -> None:
    sid = world.session_id
    main = world.ask("@Airbus why is the A350 cabin so quiet? #AskAirbus")
    assert world.http.post(f"/api/sessions/{sid}/questions/{main}/approve").status_code == 200

    def merge(text: str, handle: str, name: str) -> None:
        qid = world.ask(text, handle=handle, name=name)
        r = world.http.post(f"/api/sessions/{sid}/questions/{qid}/merge", json={"into": main})
        assert r.status_code == 200, r.text

    merge("@Airbus how is the A350 so silent? #AskAirbus", "zoe_fan", "Zoé")
    expert = world.page("erin", f"/sessions/{sid}/expert")
    page = expert.page
    option = page.get_by_role("listbox", name="Approved questions").get_by_role("option")
    expect(option).to_have_count(1)  # merged questions are not questions to answer
    expect(option).to_contain_text("Also asked by Zoé (@zoe_fan)")
    option.click()
    page.get_by_label("Your answer").fill("Thicker insulation and newer engines.")
    line = page.locator("#count-line")
    reply = DEFAULT_RATE_CARD.summoned_reply  # the askers mentioned the host
    expect(line).to_contain_text(f"+1 reply to a merged asker, ${reply:.3f}", timeout=20_000)
    # a second merge reaches the open console live
    merge("@Airbus A350: why no noise? #AskAirbus", "max_fan", "Max")
    both = "Also asked by Zoé (@zoe_fan), Max (@max_fan)"
    expect(option).to_contain_text(both)
    expect(page.locator("#now-merged")).to_have_text(both)
    page.get_by_label("Your answer").fill("Thicker insulation, newer engines.")
    expect(line).to_contain_text(f"+2 replies to merged askers, ${2 * reply:.3f}", timeout=20_000)
    page.get_by_label("Language").select_option("fr")
    page.get_by_label("Votre réponse").fill("Une meilleure isolation et des moteurs récents.")
    expect(line).to_contain_text(
        f"+2 réponses aux auteurs de questions fusionnées, {2 * reply:.3f}".replace(".", ","),
        timeout=20_000,
    )
    page.keyboard.press("Control+Enter")
    card = page.locator("#answers li.card").first
    expect(card).to_have_attribute("data-status", "published", timeout=30_000)

    timeline = world.host_timeline()  # published: the answer, then each merged asker's reply
    assert [t.get("referenced_tweets", [{}])[0].get("type") for t in timeline] == ["replied_to"] * 3
    r = world.http.post(f"/api/sessions/{sid}/close")
    assert r.status_code == 200, r.text
    recap = world.page(None, f"/recap/{sid}").page
    merged = recap.locator("ul.merged li")
    expect(merged).to_have_count(2, timeout=20_000)
    expect(merged.first).to_contain_text("Zoé @zoe_fan")
    link = merged.first.get_by_role("link", name="their answer on X")
    answered_at = world.settings.x_post_link.format(handle="Airbus", id=timeline[1]["id"])
    expect(link).to_have_attribute("href", answered_at)
    expert.assert_clean()


def test_the_admin_chooses_how_merged_askers_are_answered(world: BrowserWorld) -> None:
    tomorrow = (datetime.now().astimezone() + timedelta(days=1)).date().isoformat()
    admin = world.page("root", "/admin")
    page = admin.page
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    choice = page.get_by_label("Askers of merged questions get")
    expect(choice).to_have_value("thread")  # the default
    page.locator("#session-form").get_by_label("Title", exact=True).fill("Ask the cabin crew")
    page.locator("#session-form").get_by_label("Hashtags").fill("#AskCrew")
    page.locator("#session-form").get_by_label("Host X account").fill("@Airbus")
    page.get_by_label("Start", exact=True).fill(f"{tomorrow}T10:00")
    page.get_by_label("End", exact=True).fill(f"{tomorrow}T11:00")
    choice.select_option("link")
    page.get_by_role("button", name="Save").click()
    row = page.locator("tr", has_text="Ask the cabin crew")
    expect(row.get_by_role("cell").first).to_have_text("Draft")
    sessions = world.http.get("/api/sessions").json()
    created = next(s for s in sessions if s["title"] == "Ask the cabin crew")
    assert created["options"]["merged_replies"] == "link"
    row.get_by_role("button", name="Edit").click()
    expect(choice).to_have_value("link")
    choice.select_option("thread")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Ask the cabin crew")
    r = world.http.get(f"/api/sessions/{created['id']}")
    assert r.json()["options"]["merged_replies"] == "thread"
    admin.assert_clean()
