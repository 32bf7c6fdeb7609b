"""Merged askers on X: when an answer is published, each asker of a question merged into it
gets it too, exactly once, under the same faults as the answer's own thread (X 5xx, and a
timeout after X applied the post); a reply under their post when it summoned the host,
else a mention in the session's thread; the whole thread or one link, as the session says.
The same for a question merged once the answer is being published or published, before
the closing post; once the closing post is on X, such a merge is refused."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from atexpert.cli.common import OPERATOR, stores_of
from atexpert.domain.answers import Answer, AnswerStatus
from atexpert.domain.errors import SessionClosed
from atexpert.domain.events import EventKind
from atexpert.domain.questions import QuestionStatus
from atexpert.domain.sessions import MergedReplies, SessionOptions
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.publish.publisher import PublishConfig
from atexpert.recap import summary
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.web.commands import QUESTION_COMMANDS, Merge, execute
from tests.support import emulator_fixtures
from tests.support.publish_world import (
    FAST,
    LONG_ANSWER,
    PublishWorld,
    make_world,
    run_until_published,
)
from tests.support.waiting import wait_for

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


# -- askers merged once the answer is claimed -------------------------------------------


async def answered(world: PublishWorld) -> tuple[str, Answer]:
    """A question that summoned the host, and its answer, queued: (question id, answer)."""
    main = await world.ask("@Airbus why is the A350 cabin so quiet?")
    return main, await world.answer(main, "Thicker insulation and newer engines.")


@contextlib.asynccontextmanager
async def running(world: PublishWorld, config: PublishConfig = FAST) -> AsyncIterator[None]:
    """A publisher of the session at work in the background while the block runs."""
    stop = asyncio.Event()
    task = asyncio.create_task(world.publisher(config).run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def test_late_merge_into_a_published_answer_under_5xx_one_reply_and_the_recap(
    thread_world: PublishWorld,
) -> None:
    world = thread_world
    main, answer = await answered(world)
    await run_until_published(world, [answer.id])
    late = await world.merge(main, "@Airbus how is the A350 so silent?", "fan_3", "Zoé")

    added = await world.store.get_answer(world.session_id, answer.id)
    assert added.status is AnswerStatus.PUBLISHED  # it stays published on every page
    assert [r.question_id for r in added.merged] == [late]
    world.control.faults(error_rate=0.5, endpoints=["create_tweet"])
    await run_until_published(world, [answer.id], max_unknown=40)
    world.control.clear_faults()

    done = await world.store.get_answer(world.session_id, answer.id)
    posts = await world.timeline()
    assert_once(posts)
    q_late = await world.store.get_question(world.session_id, late)
    under = [p for p in posts if p["replied_to"] == q_late.tweet_id]
    assert [p["text"] for p in under] == ["Thicker insulation and newer engines.\n@fan_3"]
    assert done.merged[0].parts[0].tweet_id == under[0]["id"]
    assert len(posts) == 2  # the answer, the late reply
    view = summary.build(await world.store.snapshot(world.session_id))
    [asker] = view.items[0].questions[0].merged
    assert (asker.handle, asker.name) == ("fan_3", "Zoé")
    assert asker.answered_by == f"https://x.com/Airbus/status/{under[0]['id']}"
    events = await world.store.read_events(world.session_id, count=1000)
    assert [e.kind for e in events].count(EventKind.ANSWER_MERGED_ADDED) == 1


async def test_late_merge_with_a_timeout_after_commit_one_mention_in_the_thread(
    link_world: PublishWorld,
) -> None:
    world = link_world
    main, answer = await answered(world)
    await run_until_published(world, [answer.id])
    session = await world.store.get_session(world.session_id)
    # did not summon the host: a mention in the session's thread, linking to the answer
    late = await world.merge(main, "The A350 is quiet, why? #AskAirbus", "fan_4", "Max")
    world.control.faults(timeout_after_apply=1)  # X applies it, the response is lost
    await run_until_published(world, [answer.id])
    world.control.clear_faults()

    done = await world.store.get_answer(world.session_id, answer.id)
    posts = await world.timeline()
    assert_once(posts)
    url = f"https://x.com/Airbus/status/{done.parts[0].tweet_id}"
    mentions = [p for p in posts if "@fan_4" in p["text"]]
    assert [p["text"] for p in mentions] == [f"@fan_4 Your question is answered here: {url}"]
    assert mentions[0]["replied_to"] == session.thread_root_id
    assert done.merged[0].question_id == late
    assert done.merged[0].parts[0].tweet_id == mentions[0]["id"]


async def test_merge_into_an_answer_being_published_answers_that_asker_too(
    thread_world: PublishWorld,
) -> None:
    world = thread_world
    main, answer = await answered(world)
    world.control.faults(error_rate=1.0, endpoints=["create_tweet"])  # stuck publishing

    async def status_is(status: AnswerStatus) -> bool:
        return (await world.store.get_answer(world.session_id, answer.id)).status is status

    async with running(world, replace(FAST, max_unknown=10_000)):
        await wait_for(lambda: status_is(AnswerStatus.PUBLISHING), timeout=60)
        late = await world.merge(main, "@Airbus how is the A350 so silent?", "fan_3", "Zoé")
        world.control.clear_faults()
        await wait_for(lambda: status_is(AnswerStatus.PUBLISHED), timeout=60)
    done = await world.store.get_answer(world.session_id, answer.id)
    assert not done.replies_pending  # published only once the late asker had its reply
    posts = await world.timeline()
    assert_once(posts)
    q_late = await world.store.get_question(world.session_id, late)
    under = [p for p in posts if p["replied_to"] == q_late.tweet_id]
    assert [p["id"] for p in under] == [done.merged[0].parts[0].tweet_id]


async def test_late_merge_in_a_closed_session_comes_before_the_closing_post_then_409(
    link_world: PublishWorld,
) -> None:
    world = link_world
    main, answer = await answered(world)
    await run_until_published(world, [answer.id])
    late = await world.asked("@Airbus how is the A350 so silent?", "fan_3", "Zoé")
    too_late = await world.asked("@Airbus and the A330?", "fan_5", "Ana")
    await world.store.close_session(world.session_id, actor="admin")
    # closed, closing post not on X yet: the asker is answered, before the closing post
    await world.store.merge_question(world.session_id, late, main, actor="mod")

    async def closed_on_x() -> bool:
        return (await world.store.get_session(world.session_id)).closing_tweet_id is not None

    async with running(world):
        await wait_for(closed_on_x, timeout=60)
    posts = await world.timeline()
    session = await world.store.get_session(world.session_id)
    assert "@fan_3" in posts[-2]["text"]
    assert posts[-1]["id"] == session.closing_tweet_id
    # the closing post is on X: a merge into the answer is refused, the question stays
    stores, merge, now = stores_of(world.redis), QUESTION_COMMANDS["merge"], datetime.now(UTC)
    with pytest.raises(SessionClosed, match="closing post is on X"):
        await execute(merge, stores, OPERATOR, world.session_id, too_late, Merge(into=main), at=now)
    kept = await world.store.get_question(world.session_id, too_late)
    assert kept.status is QuestionStatus.PENDING
