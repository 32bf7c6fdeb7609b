"""Publishing under faults: emulator 5xx and 429, daily limits, publishers killed between
parts or after X applied a post, 403 duplicate and 402 refusals and their retry. Each
thread must end complete on the emulator's timeline, every part exactly once, in order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from atexpert.domain.answers import AnswerStatus
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.publish.outbox import Outbox
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
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

DUPLICATE = "You are not allowed to create a Tweet with duplicate content."


@pytest.fixture
def settings(server: EmulatorServer, control: EmulatorControl) -> Settings:
    return Settings(x_api_base_url=server.base_url)


@pytest.fixture
async def world(
    control: EmulatorControl, settings: Settings, redis: RedisClient
) -> AsyncIterator[PublishWorld]:
    async for w in make_world(control, settings, redis):
        yield w


async def assert_threads_complete(world: PublishWorld, answer_ids: list[str]) -> None:
    """Every answer published; the timeline holds each part once, chained in order."""
    posts = await world.timeline()
    by_id = {p["id"]: p for p in posts}
    expected = 0
    for aid in answer_ids:
        answer = await world.store.get_answer(world.session_id, aid)
        assert answer.status is AnswerStatus.PUBLISHED, answer.error
        question = await world.store.get_question(world.session_id, answer.question_ids[0])
        parent = question.tweet_id
        for part in answer.parts:
            assert part.tweet_id is not None
            post = by_id[part.tweet_id]
            assert (post["text"], post["replied_to"]) == (part.text, parent)
            parent = part.tweet_id
        expected += len(answer.parts)
    assert len(posts) == expected  # nothing posted twice
    assert len({p["text"] for p in posts}) == expected


async def test_5xx_between_parts_every_thread_complete(world: PublishWorld) -> None:
    aids = []
    for n in range(3):
        qid = await world.ask(f"@Airbus question {n} about the cabin?")
        text = LONG_ANSWER.replace(". ", f". ({n}) ")  # X refuses duplicate texts
        aids.append((await world.answer(qid, text)).id)
    world.control.faults(error_rate=0.35, endpoints=["create_tweet"])
    await run_until_published(world, aids, max_unknown=40)
    world.control.clear_faults()
    await assert_threads_complete(world, aids)


async def test_429_waits_for_the_reset_with_a_visible_eta(world: PublishWorld) -> None:
    qid = await world.ask("@Airbus a question while X is busy?")
    aid = (await world.answer(qid, LONG_ANSWER)).id
    world.control.faults(force_429=1, reset_in=2, endpoints=["create_tweet"])
    outbox = Outbox(world.redis, world.session_id)
    publisher = world.publisher()
    task = asyncio.create_task(publisher.run())

    async def waiting() -> bool:
        status = await outbox.status()
        return status.state == "rate_limited" and status.resume_at is not None

    await wait_for(waiting)
    status = await outbox.status()
    assert status.resume_at is not None
    assert datetime.now(UTC) < status.resume_at <= datetime.now(UTC) + timedelta(seconds=3)
    await wait_for(lambda: _published(world, aid))
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await assert_threads_complete(world, [aid])


async def _published(world: PublishWorld, aid: str) -> bool:
    answer = await world.store.get_answer(world.session_id, aid)
    return answer.status is AnswerStatus.PUBLISHED


async def test_daily_limit_spent_pauses_until_the_days_reset(world: PublishWorld) -> None:
    world.control.set_limit("create_tweet", user_24h=2)
    qid = await world.ask("@Airbus how many posts a day?")
    aid = (await world.answer(qid, LONG_ANSWER)).id
    outbox = Outbox(world.redis, world.session_id)
    task = asyncio.create_task(world.publisher().run())

    async def paused() -> bool:
        return (await outbox.status()).state == "daily_limit"

    await wait_for(paused)
    status = await outbox.status()
    assert status.daily_remaining == 0 and status.resume_at is not None
    assert status.resume_at > datetime.now(UTC) + timedelta(hours=23)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    answer = await world.store.get_answer(world.session_id, aid)
    assert len(answer.posted_tweet_ids) == 2 and len(await world.timeline()) == 2


async def test_killed_between_parts_a_new_publisher_resumes(world: PublishWorld) -> None:
    qid = await world.ask("@Airbus what if the publisher dies?")
    aid = (await world.answer(qid, LONG_ANSWER)).id
    world.control.faults(latency_ms=150, endpoints=["create_tweet"])
    first = asyncio.create_task(world.publisher().run())

    async def one_posted() -> bool:
        answer = await world.store.get_answer(world.session_id, aid)
        return len(answer.posted_tweet_ids) == 1

    await wait_for(one_posted)
    first.cancel()  # killed while part 2 is in flight (or just before)
    with contextlib.suppress(asyncio.CancelledError):
        await first
    world.control.clear_faults()
    await run_until_published(world, [aid])
    await assert_threads_complete(world, [aid])


async def test_timeout_after_x_applied_the_post_is_reconciled(world: PublishWorld) -> None:
    qid = await world.ask("@Airbus and if the answer never comes back?")
    aid = (await world.answer(qid, LONG_ANSWER)).id
    world.control.faults(timeout_after_apply=2)  # parts 1 and 2: applied, answer dropped
    await run_until_published(world, [aid])
    await assert_threads_complete(world, [aid])


async def test_killed_after_x_applied_before_recording(world: PublishWorld) -> None:
    """The worst moment: X has the post, Redis does not know it, the process dies."""
    qid = await world.ask("@Airbus what about a crash at the worst moment?")
    aid = (await world.answer(qid, LONG_ANSWER)).id
    world.control.faults(timeout_after_apply=1, stall_seconds=30)
    first = asyncio.create_task(world.publisher().run())

    async def on_x_not_in_redis() -> bool:
        return len(await world.timeline()) == 1

    await wait_for(on_x_not_in_redis)
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    answer = await world.store.get_answer(world.session_id, aid)
    assert answer.posted_tweet_ids == []
    world.control.clear_faults()
    await run_until_published(world, [aid])
    await assert_threads_complete(world, [aid])


async def test_403_duplicate_surfaces_xs_reason_and_can_be_retried(world: PublishWorld) -> None:
    text = "Yes, the A350 has mood lighting."
    qid = await world.ask("@Airbus mood lighting?")
    earlier = world.control.post("Airbus", text)  # the host posted this text before
    aid = (await world.answer(qid, text)).id
    publisher = world.publisher()
    assert await publisher.lease.acquire() is not None
    await publisher.work()
    failed = await world.store.get_answer(world.session_id, aid)
    assert failed.status is AnswerStatus.FAILED
    assert failed.error is not None and DUPLICATE in failed.error
    assert DUPLICATE in ((await Outbox(world.redis, world.session_id).status()).last_error or "")

    await world.client.delete_tweet(earlier, user_auth=False)
    await world.store.retry_answer(world.session_id, aid, actor="mod")
    await publisher.work()
    await assert_threads_complete(world, [aid])


async def test_402_mid_thread_fails_then_retry_resumes_after_the_posted_part(
    world: PublishWorld,
) -> None:
    qid = await world.ask("@Airbus what if the credits run out?")
    aid = (await world.answer(qid, LONG_ANSWER)).id
    world.control.set_balance(0.01)  # one summoned reply ($0.010), not the next part
    publisher = world.publisher()
    assert await publisher.lease.acquire() is not None
    await publisher.work()
    failed = await world.store.get_answer(world.session_id, aid)
    assert failed.status is AnswerStatus.FAILED
    assert failed.error is not None and "credits" in failed.error
    assert len(failed.posted_tweet_ids) == 1

    world.control.set_balance(100)
    await world.store.retry_answer(world.session_id, aid, actor="mod")
    await publisher.work()
    await assert_threads_complete(world, [aid])


async def test_giving_up_on_unknown_outcomes_then_retry_keeps_the_claimed_thread(
    world: PublishWorld,
) -> None:
    qid = await world.ask("@Airbus and if X never answers?")
    aid = (await world.answer(qid, LONG_ANSWER)).id
    world.control.faults(fail_next=3, endpoints=["create_tweet"])
    publisher = world.publisher(replace(FAST, max_unknown=2))
    assert await publisher.lease.acquire() is not None
    await publisher.work()
    failed = await world.store.get_answer(world.session_id, aid)
    assert failed.status is AnswerStatus.FAILED
    assert failed.error is not None and "no verdict from X after 2 tries" in failed.error

    world.control.clear_faults()
    await world.store.retry_answer(world.session_id, aid, actor="mod")
    await publisher.work()
    await assert_threads_complete(world, [aid])
