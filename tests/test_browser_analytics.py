"""The staff analytics page in real headless Chromium: its SVG charts are there, with the
labels and values worked out by hand for the seeded session (tests/support/seeded_session.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.support.browser_fixtures import (
    Browser,
    browser,
    expect,
    in_thread,
    pages_app,
    seed_staff,
)
from tests.support.seeded_session import seed_session

__all__ = ["browser"]


@pytest.fixture
def site(redis_url: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(base URL, seeded session id, staff) with the app under uvicorn in a thread."""
    users = seed_staff(redis_url)

    async def seed() -> str:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            seeded = await seed_session(
                client, "en", moderator_ids=(users["alice"],), expert_ids=(users["erin"],)
            )
            return seeded.session_id
        finally:
            await client.aclose()

    sid = in_thread(seed)
    with pages_app(redis_url, "analytics-app") as base:
        yield base, sid, users


def bars(page: Any, chart: str) -> list[tuple[str, str]]:
    """(label, value) of every bar of a chart, as the page renders them."""
    out: list[tuple[str, str]] = page.eval_on_selector_all(
        f"svg#{chart} g.bar",
        "gs => gs.map(g => [g.dataset.label, g.querySelector('text.value').textContent])",
    )
    return [(label, value) for label, value in out]


def test_charts_page_in_chromium(
    site: tuple[str, str, dict[str, str]], browser: Browser, tmp_path: Any
) -> None:
    base, sid, users = site
    context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {users['token']}"})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/sessions/{sid}/analytics")
    expect(page.locator("h1")).to_have_text("Analytics: L'A350 « Airspace », vos questions")
    expect(page.locator("svg.chart")).to_have_count(9)
    status = page.locator("svg#chart-status")
    expect(status.locator("title")).to_have_text("Questions by status")
    assert bars(page, "chart-status") == [
        ("received", "9"),
        ("approved", "4"),
        ("answered", "3"),
        ("rejected", "3"),
        ("merged", "1"),
        ("pending", "1"),
    ]
    # the labels are real text a person sees, left of the bars
    expect(status.locator("text.label").first).to_have_text("received")
    # in the session's time: 10:00 UTC on 26 November is 11:00 in Paris
    assert bars(page, "chart-per-minute") == [
        ("11:00", "2"),
        ("11:01", "1"),
        ("11:02", "0"),
        ("11:03", "4"),
        ("11:04", "2"),
    ]
    # durations as people read them; staff by their display names (yann has no account)
    expect(page.locator("svg#chart-answer-times text.value").first).to_have_text("6 min 00 s")
    assert bars(page, "chart-answer-times") == [("median", "6 min 00 s"), ("p90", "10 min 00 s")]
    assert bars(page, "chart-moderators") == [("Alice", "3"), ("Bob", "3")]
    assert bars(page, "chart-experts") == [("Erin", "2"), ("yann", "1")]
    assert bars(page, "chart-askers")[:2] == [("@ana", "3"), ("@ben", "2")]
    assert bars(page, "chart-automod") == [
        ("profanity-fr", "1"),
        ("spam-shouting", "1"),
        ("trusted-author", "1"),
    ]
    assert bars(page, "chart-spend") == [("post", "0.06"), ("search_read", "0.045")]
    desc = page.locator("svg#chart-reasons desc").text_content() or ""
    assert "hors sujet: 2" in desc
    # drawn: every bar of the status chart has a width proportional to its value
    widths = page.eval_on_selector_all(
        "svg#chart-status rect", "rs => rs.map(r => r.getBBox().width)"
    )
    assert widths[0] > widths[1] > widths[2] > widths[4] > 0
    # the consoles' header: who is logged in, links to the other pages, the language
    expect(page.locator("#whoami")).to_have_text("Root")
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="Your sessions")).to_have_attribute("href", "/sessions")
    expect(nav.get_by_role("link", name="Administration")).to_have_attribute("href", "/admin")
    page.locator("#lang").select_option("fr")
    expect(nav.get_by_role("link", name="Vos sessions")).to_be_visible()
    expect(page.locator("svg#chart-answer-times text.value").last).to_have_text("10 min 00 s")
    page.screenshot(path=str(tmp_path / "analytics.png"), full_page=True)
    assert problems == []  # no CSP violation or script error
    context.close()


def test_charts_page_needs_a_staff_member_of_the_session(
    site: tuple[str, str, dict[str, str]], browser: Browser
) -> None:
    base, sid, _ = site
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{base}/sessions/{sid}/analytics")
    assert response is not None and response.status == 401
    # and comes back here after logging in
    login = page.get_by_role("link", name="Log in")
    expect(login).to_have_attribute("href", f"/login?next=/sessions/{sid}/analytics")
    context.close()


def test_recap_page_reads_without_javascript(
    site: tuple[str, str, dict[str, str]], browser: Browser, tmp_path: Any
) -> None:
    base, sid, _ = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    response = page.goto(f"{base}/recap/{sid}")
    assert response is not None and response.status == 200
    expect(page.locator("h1")).to_have_text("L'A350 « Airspace », vos questions")
    answers = page.locator("article.answer")
    expect(answers).to_have_count(3)
    first = answers.first
    expect(first.locator("blockquote.question")).to_contain_text("« si » silencieux")
    expect(first.locator("ul.merged a")).to_have_text(["@ana"])
    expect(first.locator("ol.thread a")).to_have_attribute(
        "href", "https://x.com/Airbus/status/9001"
    )
    expect(page.locator("section.unanswered")).to_contain_text("Quelle altitude de croisière ?")
    page.screenshot(path=str(tmp_path / "recap.png"), full_page=True)
    context.close()
