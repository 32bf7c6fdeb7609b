"""Merged askers on X: when an answer is published, each asker of a question merged into it
gets it too, exactly once, under the same faults as the answer's own thread (X 5xx, and a
timeout after X applied the post); a reply under their post when it summoned the host,
else a mention in the session's thread; the whole thread or one link, as the session says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from atexpert.domain.answers import Answer
from atexpert.domain.sessions import MergedReplies, SessionOptions
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.recap import summary
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from tests.support import emulator_fixtures
from tests.support.publish_world import LONG_ANSWER, PublishWorld, make_world, run_until_published

server, control = emulator_fixtures.server, emulator_fixtures.control


@pytest.fixture
def settings(server: EmulatorServer, control: EmulatorControl) -> Settings:
    return Settings(x_api_base_url=server.base_url)


@pytest.fixture
async def thread_world(
    control: EmulatorControl, settings: Settings, redis: RedisClient
) -> AsyncIterator[PublishWorld]:
    async for w in make_world(control, settings, redis):
        yield w


@pytest.fixture
async def link_world(
    control: EmulatorControl, settings: Settings, redis: RedisClient
) -> AsyncIterator[PublishWorld]:
    options = SessionOptions(announce=True, merged_replies=MergedReplies.LINK)
    async for w in make_world(control, settings, redis, options=options):
        yield w


async def three_askers(world: PublishWorld) -> tuple[str, str, str]:
    """A question mentioning the host, and two merged into it: one that summoned the host
    (@Airbus in it), one that did not."""
    main = await world.ask("@Airbus why is the A350 cabin so quiet?")
    summoned = await world.merge(main, "@Airbus how is the A350 so silent?", "fan_3", "Zoé")
    quiet = await world.merge(main, "The A350 is quiet, why? #AskAirbus", "fan_4", "Max")
    return main, summoned, quiet


def chain(posts: list[dict[str, Any]], parent: str | None) -> list[dict[str, Any]]:
    """The posts replying to ``parent``, then each to the one before (one branch only)."""
    out: list[dict[str, Any]] = []
    while True:
        under = [p for p in posts if p["replied_to"] == parent]
        if not under:
            return out
        assert len(under) == 1, f"two posts replying to {parent}: {under}"
        out.append(under[0])
        parent = under[0]["id"]


def assert_once(posts: list[dict[str, Any]]) -> None:
    texts = [p["text"] for p in posts]
    assert len(texts) == len(set(texts)), "a post was sent twice"


async def test_thread_mode_under_5xx_every_asker_gets_the_whole_thread_once(
    thread_world: PublishWorld,
) -> None:
    world = thread_world
    main, summoned, quiet = await three_askers(world)
    answer = await world.answer(main, LONG_ANSWER)
    world.control.faults(error_rate=0.35, endpoints=["create_tweet"])
    await run_until_published(world, [answer.id], max_unknown=40)
    world.control.clear_faults()

    done = await world.store.get_answer(world.session_id, answer.id)
    posts = await world.timeline()
    assert_once(posts)
    assert len(done.parts) >= 3
    by_question = {r.question_id: r for r in done.merged}
    assert all(r.error is None for r in done.merged)
    q_summoned = await world.store.get_question(world.session_id, summoned)
    under_post = chain(posts, q_summoned.tweet_id)  # a thread under the asker's own post
    assert [p.tweet_id for p in by_question[summoned].parts] == [p["id"] for p in under_post]
    assert all(p["text"].endswith("@fan_3") for p in under_post)
    assert under_post[0]["text"].startswith("The A350 cabin is quieter")
    standalone = [p for p in posts if p["replied_to"] is None]  # announcements are off
    assert len(standalone) == 1 and standalone[0]["text"].startswith("«Q @fan_4: ")
    mention = [standalone[0], *chain(posts, standalone[0]["id"])]
    assert [p.tweet_id for p in by_question[quiet].parts] == [p["id"] for p in mention]
    assert len(posts) == len(done.parts) + len(under_post) + len(mention)


async def test_link_mode_with_timeouts_after_commit_one_short_post_per_asker(
    link_world: PublishWorld,
) -> None:
    world = link_world
    main, summoned, quiet = await three_askers(world)
    await run_until_published(world, [])  # the start announcement: the session's thread
    root = (await world.store.get_session(world.session_id)).thread_root_id
    assert root is not None
    # the answer and both merged replies are applied by X but their responses dropped:
    # each must be reconciled, never sent twice
    world.control.faults(timeout_after_apply=3)
    answer = await world.answer(main, "Thicker insulation and newer engines. Thanks for asking!")
    await run_until_published(world, [answer.id])
    world.control.clear_faults()

    done = await world.store.get_answer(world.session_id, answer.id)
    posts = await world.timeline()
    assert_once(posts)
    first = done.parts[0].tweet_id
    assert first is not None
    url = f"https://x.com/Airbus/status/{first}"
    q_summoned = await world.store.get_question(world.session_id, summoned)
    replies = [p for p in posts if p["replied_to"] == q_summoned.tweet_id]
    assert [p["text"] for p in replies] == [f"@fan_3 Your question is answered here: {url}"]
    in_thread = [p for p in posts if p["replied_to"] == root and "@fan_4" in p["text"]]
    assert [p["text"] for p in in_thread] == [f"@fan_4 Your question is answered here: {url}"]
    assert len(posts) == 4  # root, answer, two replies
    by_question = {r.question_id: r for r in done.merged}
    assert by_question[summoned].parts[0].tweet_id == replies[0]["id"]
    assert by_question[quiet].parts[0].tweet_id == in_thread[0]["id"]
    spend = await world.meter.spend(world.session_id)
    assert spend.counts.get("post_with_url") == 2  # priced by the rate card as link posts


async def test_recap_lists_each_asker_with_the_post_that_answered_them(
    thread_world: PublishWorld,
) -> None:
    world = thread_world
    main, _, _ = await three_askers(world)
    answer = await world.answer(main, "Thicker insulation and newer engines.")
    await run_until_published(world, [answer.id])
    done: Answer = await world.store.get_answer(world.session_id, answer.id)
    view = summary.build(await world.store.snapshot(world.session_id))
    askers = {a.handle: a for a in view.items[0].questions[0].merged}
    assert set(askers) == {"fan_3", "fan_4"}
    replies = {r.handle: r.parts[0].tweet_id for r in done.merged}
    for handle, asker in askers.items():
        assert asker.answered_by == f"https://x.com/Airbus/status/{replies[handle]}"
    assert askers["fan_3"].name == "Zoé"


async def test_a_refused_reply_is_kept_with_xs_reason_and_the_others_go_on(
    thread_world: PublishWorld,
) -> None:
    world = thread_world
    main, summoned, quiet = await three_askers(world)
    # intake judged this post replyable, but it does not mention the host: X refuses
    refused = await world.merge(main, "Why so quiet?", "fan_5", "Ana", replyable=True)
    answer = await world.answer(main, "Thicker insulation and newer engines.")
    await run_until_published(world, [answer.id])
    done = await world.store.get_answer(world.session_id, answer.id)
    by_question = {r.question_id: r for r in done.merged}
    assert by_question[refused].error and "mentioned" in by_question[refused].error
    assert by_question[refused].parts[0].tweet_id is None
    assert by_question[summoned].parts[0].tweet_id is not None
    assert by_question[quiet].parts[0].tweet_id is not None
