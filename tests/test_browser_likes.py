"""The moderator's "Most liked" sort in real headless Chromium: like counts read on X (the
emulator) by the intake's refresh reorder the live queue, and a refresh never gets in the
way of a moderator's decision."""

from __future__ import annotations

import re

import redis.asyncio as aioredis

from atexpert.intake.likes import LikesRefresh
from atexpert.intake.x_reads import XReader
from atexpert.store.store import Store
from atexpert.x.client import async_client
from atexpert.x.meter import Meter
from tests.support.browser_fixtures import BrowserWorld, expect, in_thread, settled
from tests.support.browser_fixtures import browser as browser
from tests.support.browser_fixtures import emulator_server as emulator_server
from tests.support.browser_fixtures import world as world


def refresh_likes(world: BrowserWorld) -> list[str]:
    """One like refresh of the session, as the intake service runs it (tweepy to the
    emulator, the store to Redis): the ids of the questions updated."""

    async def run() -> list[str]:
        client = aioredis.Redis.from_url(world.redis_url, decode_responses=True)
        try:
            async with async_client(world.settings) as x:
                meter = Meter(client)
                refresh = LikesRefresh(client, Store(client), meter, interval_seconds=300)
                return await refresh.refresh(XReader(x, meter), world.session_id)
        finally:
            await client.aclose()

    return in_thread(run)


def test_most_liked_sort_orders_the_queue_and_follows_like_counts_live(world: BrowserWorld) -> None:
    asked = {
        name: world.ask(f"@Airbus question {name} about the A350 cabin #AskAirbus")
        for name in ("alpha", "bravo", "charlie")
    }
    mod = world.page("alice", f"/sessions/{world.session_id}/moderate")
    page = mod.page
    queue = page.get_by_role("listbox", name="Queue")
    texts = queue.get_by_role("option").locator(".q-text")
    expect(texts).to_have_count(3)
    page.get_by_label("Sort").select_option(label="Most liked")
    # Nobody liked anything yet: newest first.
    expect(texts).to_have_text([re.compile(n) for n in ("charlie", "bravo", "alpha")])
    expect(queue.get_by_role("option", name=re.compile(r"\b0 likes\b"))).to_have_count(3)

    for name, likes in (("alpha", 5), ("bravo", 40), ("charlie", 12)):
        world.emulator.set_likes(asked[name].removeprefix("q_"), likes)
    assert sorted(refresh_likes(world)) == sorted(asked.values())
    expect(texts).to_have_text([re.compile(n) for n in ("bravo", "charlie", "alpha")])
    bravo = queue.get_by_role("option", name=re.compile(r"\b40 likes\b"))
    expect(bravo).to_contain_text("question bravo")
    expect(bravo.locator(".likes [aria-hidden=true]")).to_have_text("♥ 40")  # what is seen

    # Every count has arrived (bravo-charlie-alpha is also the order with bravo's alone), so
    # no late re-sort moves another question under the click.
    for count in (5, 12):
        expect(queue.get_by_role("option", name=re.compile(rf"\b{count} likes\b"))).to_have_count(1)
    # The moderator looks at alpha; meanwhile it takes the lead on X.
    queue.get_by_role("option").filter(has_text="question alpha").click()
    expect(queue.get_by_role("option", selected=True)).to_contain_text("question alpha")
    world.emulator.set_likes(asked["alpha"].removeprefix("q_"), 100)
    assert refresh_likes(world) == [asked["alpha"]]
    expect(texts).to_have_text([re.compile(n) for n in ("alpha", "bravo", "charlie")])
    expect(queue.get_by_role("option", selected=True)).to_have_accessible_name(
        re.compile(r"100 likes")
    )
    # The refresh did not change what the moderator decides on: approving is no conflict.
    settled(page)
    page.keyboard.press("a")
    expect(page.get_by_role("status").last).to_have_text("Approved.")
    approved = world.question(asked["alpha"])
    assert approved["status"] == "approved" and approved["likes"] == 100
    # An unchanged count on X writes nothing.
    assert refresh_likes(world) == []
    mod.assert_clean()
