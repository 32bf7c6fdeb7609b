"""Publishing under faults: emulator 5xx and 429, daily limits, publishers killed between
parts or after X applied a post, 403 duplicate and 402 refusals and their retry. Each
thread must end complete on the emulator's timeline, every part exactly once, in order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from atexpert.answers import AnswerStatus
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.publish_outbox import Outbox
from atexpert.redis_conn import RedisClient
from atexpert.settings import Settings
from tests.test_publish_world import FAST, LONG_ANSWER, World, make_world, wait_for

DUPLICATE = "You are not allowed to create a Tweet with duplicate content."


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(heartbeat_seconds=0.2) as emu:
        yield emu


@pytest.fixture
def control(server: EmulatorServer) -> EmulatorControl:
    ctl = EmulatorControl(server.base_url)
    ctl.reset()
    ctl.clear_faults()
    return ctl


@pytest.fixture
def settings(server: EmulatorServer, control: EmulatorControl) -> Settings:
    return Settings(x_api_base_url=server.base_url)


@pytest.fixture
async def world(
    control: EmulatorControl, settings: Settings, redis: RedisClient
) -> AsyncIterator[World]:
    async for w in make_world(control, settings, redis):
        yield w


async def assert_threads_complete(world: World, answer_ids: list[str]) -> None:
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


async def run_until_published(world: World, answer_ids: list[str], **config: object) -> None:
    publisher = world.publisher(replace(FAST, **config))  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))

    async def published() -> bool:
        answers = [await world.store.get_answer(world.session_id, a) for a in answer_ids]
        failed = [a.error for a in answers if a.status is AnswerStatus.FAILED]
        assert not failed, failed
        return all(a.status is AnswerStatus.PUBLISHED for a in answers)

    try:
        await wait_for(published, timeout=60)
    finally:
        stop.set()
        await task


async def test_429_waits_for_the_reset_with_a_visible_eta(world: World) -> None:
    qid = await world.ask("@Airbus a question while X is busy?")
    aid = (await world.answer(qid, LONG_ANSWER)).id
    world.control.faults(force_429=1, reset_in=2, endpoints=["create_tweet"])
    outbox = Outbox(world.redis, world.session_id)
    publisher = world.publisher()
    task = asyncio.create_task(publisher.run())

    async def waiting() -> bool:
        status = await outbox.status()
        return status.state == "rate_limited" and status.resume_at is not None

    print("A", flush=True)
    await wait_for(waiting)
    print("B", flush=True)
    status = await outbox.status()
    assert status.resume_at is not None
    assert datetime.now(UTC) < status.resume_at <= datetime.now(UTC) + timedelta(seconds=3)
    await wait_for(lambda: _published(world, aid))
    print("C", flush=True)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    print("D", flush=True)
    await assert_threads_complete(world, [aid])
    print("E", flush=True)


async def _published(world: World, aid: str) -> bool:
    answer = await world.store.get_answer(world.session_id, aid)
    return answer.status is AnswerStatus.PUBLISHED


