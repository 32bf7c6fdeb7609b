"""Desk mode's reads on a big desk: the waiting queue and the asker's history.

A live desk receives ``--questions`` questions from ``--askers`` X accounts, one a
minute; ``--answered`` of every 10 leave the queue (rejected here: only the status
matters to these reads). Then it times, each ``--repeat`` times:

- queue: what ``GET .../desk/queue`` reads (the pending and approved indexes) and orders
  (``desk.queue``);
- history: what ``GET .../questions/{qid}/history`` reads (the asker's questions, through
  the session's asker index) and picks (``desk.earlier``), for the last question;
- history, first read: the same on a desk stored before the asker index (its ``qby`` keys
  deleted), which builds the index once (one read of every question) and then reads it.

    .venv/bin/python bench/bench_desk.py [--questions 50000] [--askers 5000] [--repeat 5]

It starts an embedded redis-server (or uses ``ATEXPERT_BENCH_REDIS_URL``, FLUSHALLed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atexpert.domain import desk
from atexpert.domain.questions import Author, IncomingQuestion, QuestionStatus
from atexpert.domain.sessions import SessionFields
from atexpert.store import keys
from atexpert.store.store import Store
from bench.bench_store import redis_client

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def seed(store: Store, questions: int, askers: int, answered: int) -> tuple[str, str]:
    fields = SessionFields.model_validate(
        {
            "title": "Air France helps",
            "kind": "desk",
            "hashtags": ["#AFhelp"],
            "host_account": {"handle": "AirFrance"},
            "scheduled_start": T0,
        }
    )
    sid = (await store.create_session(fields, actor="bench", at=T0)).id
    await store.schedule_session(sid, actor="bench", at=T0)
    await store.start_session(sid, actor="bench", at=T0)
    gate = asyncio.Semaphore(64)

    async def one(n: int) -> str:
        at = T0 + timedelta(minutes=n)
        who = n % askers
        incoming = IncomingQuestion(
            tweet_id=str(1_870_000_000_000_000_000 + n),
            author=Author(id=str(2_000_000 + who), handle=f"flyer{who}"),
            text=f"@AirFrance where is my bag? ({n})",
            created_at=at,
        )
        async with gate:
            question, _ = await store.add_question(sid, incoming, at=at)
            if n % 10 < answered:
                await store.reject_question(sid, question.id, "handled", actor="bench", at=at)
        return question.id

    ids = await asyncio.gather(*(one(n) for n in range(questions)))
    return sid, ids[-1]


async def timed(repeat: int, read: Callable[[], Awaitable[None]]) -> float:
    """The median seconds of ``repeat`` runs of ``read``."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        await read()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


async def main(args: argparse.Namespace) -> None:
    async with redis_client() as redis:
        await redis.flushall()
        store = Store(redis)
        start = time.perf_counter()
        sid, last = await seed(store, args.questions, args.askers, args.answered)
        seeded = time.perf_counter() - start
        session = await store.get_session(sid)
        now = T0 + timedelta(minutes=args.questions)
        sizes: dict[str, int] = {}

        async def queue() -> None:
            waiting = [q for s in sorted(desk.WAITING) for q in await store.list_questions(sid, s)]
            sizes["queue"] = len(desk.queue(session, waiting, now))

        async def history() -> None:
            question = await store.get_question(sid, last)
            mine = await store.list_questions_by(sid, question.author.id)
            sizes["history"] = len(desk.earlier(question, mine))

        queue_s = await timed(args.repeat, queue)
        history_s = await timed(args.repeat, history)
        await redis.delete(*(await redis.keys(keys.session_key(sid, "qby*"))))
        backfill_s = await timed(1, history)
        pending = len(await store.list_questions(sid, QuestionStatus.PENDING))
    print(f"desk of {args.questions} questions from {args.askers} askers ({pending} waiting)")
    print(f"  seeded in {seeded:.1f} s")
    print(f"  queue:   {queue_s * 1000:8.1f} ms median ({sizes['queue']} waiting questions)")
    print(f"  history: {history_s * 1000:8.1f} ms median ({sizes['history']} earlier questions)")
    print(f"  history, first read without the index: {backfill_s * 1000:8.1f} ms (builds it)")
    print(f"  load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=50_000)
    parser.add_argument("--askers", type=int, default=5_000)
    parser.add_argument("--answered", type=int, default=9, help="of every 10 (0-10)")
    parser.add_argument("--repeat", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
