"""Join benchmark: how long a viewer waits for its snapshot as a session's log grows.

    python bench/bench_join.py                     # logs of 1k, 10k and 100k events
    python bench/bench_join.py --sizes 2000 --viewers 3 --questions 100   # a quick run

For each size, one live session gets the same records (``--questions`` questions, half
of them answered: the public sees those) and a log of that many events (the rest are
like-count updates read on X, ``question.metrics``). One app process (uvicorn, as
``atexpert serve`` runs it) is started twice: on the whole log, then after a checkpoint
trimmed it to its last ``--keep`` events (what the app's checkpointer does). Each time,
public viewers connect one after the other (after one of a tiny session, which warms
the process up); the table shows the time from the websocket connect to the snapshot
received for the first viewer of the session (cold: the process loads the session) and
for the later ones (warm: a join of the view's rendered records), and the process's RSS
before the first viewer and after the last. Every snapshot is checked: the answered
questions, as of the log's last event. Loopback only, bounded, self-stopping.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import psutil
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_fanout import free_port, wait_port  # noqa: E402

from atexpert.domain.answers import AnswerDraft  # noqa: E402
from atexpert.domain.questions import Author, IncomingQuestion  # noqa: E402
from atexpert.domain.sessions import HostAccount, SessionFields, SessionOptions  # noqa: E402
from atexpert.store import checkpoint, keys  # noqa: E402
from atexpert.store.redis_embedded import EmbeddedRedis  # noqa: E402
from atexpert.store.store import Store  # noqa: E402

LIKES_BATCH = 250  # questions whose like count one step updates (one event each)
MIB = 1024 * 1024
CONCURRENCY = 50  # steps in flight while building
T = TypeVar("T")


@dataclass
class Row:
    events: int
    mode: str
    stream: int
    cold_ms: float
    warm_ms: float
    warm_max_ms: float
    rss_before: int
    rss_after: int
    snapshot_kib: float


async def build(client: aioredis.Redis, events: int, questions: int) -> tuple[str, int]:
    """A live session with ``questions`` questions (half approved) and ``events`` events:
    its id and the number of answered questions."""
    store = Store(client)
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Join bench",
        hashtags=["JoinBench"],
        host_account=HostAccount(handle="bench"),
        scheduled_start=now + timedelta(hours=1),
        scheduled_end=now + timedelta(days=30),
        options=SessionOptions(require_answer_approval=False, announce=False),
    )
    session = await store.create_session(fields, actor="bench")
    sid = session.id
    await store.schedule_session(sid, actor="bench")
    await store.start_session(sid, actor="bench")
    author = Author(id="1", handle="someone", name="Some One")
    qids = []
    for n in range(questions):
        text = f"Question {n}: how far can the A350 fly with a full cabin? #JoinBench"
        incoming = IncomingQuestion(
            tweet_id=str(10_000 + n), author=author, text=text, created_at=now
        )
        qids.append((await store.add_question(sid, incoming))[0].id)
    answered = qids[::2]
    for i in range(0, len(answered), CONCURRENCY):
        batch = answered[i : i + CONCURRENCY]
        await asyncio.gather(*(store.approve_question(sid, q, actor="bench") for q in batch))
        await asyncio.gather(*(publish_answer(store, sid, q, "bench-expert") for q in batch))
    written, likes = int(await client.xlen(keys.events(sid))), 0
    if written > events:
        raise SystemExit(f"{events} events are fewer than the records need ({written})")
    while written < events:
        likes += 1
        batch = {qids[i % len(qids)]: likes for i in range(min(LIKES_BATCH, events - written))}
        await store.set_question_likes(sid, batch, actor="intake")
        written += len(batch)
    return sid, len(answered)


async def publish_answer(store: Store, sid: str, qid: str, expert: str) -> None:
    """Answer the approved question ``qid`` and publish the answer (a one-post thread)."""
    draft = AnswerDraft(question_ids=[qid], text=f"Thanks for asking! Here is the answer to {qid}.")
    answer = await store.create_answer(sid, draft, expert_id=expert)
    await store.submit_answer(sid, answer.id, actor=expert)  # queued: no approval asked
    await store.start_publishing(sid, answer.id, actor="publisher")
    await store.record_part_posted(sid, answer.id, 0, "9" + qid[2:], actor="publisher")
    await store.mark_published(sid, answer.id, actor="publisher")


def start_app(redis_url: str, **env: str) -> tuple[subprocess.Popen[bytes], int]:
    """The app in a uvicorn process as ``atexpert serve`` runs it, listening: (process,
    port). ``env``: more ATEXPERT_* settings."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "atexpert.web.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--ws-per-message-deflate", "false",
        "--ws", "atexpert.web.serving:WebSocketProtocol",  # as `atexpert serve` does
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, "ATEXPERT_REDIS_URL": redis_url, **env}
    )
    try:
        wait_port(port, proc)
    except BaseException:
        proc.terminate()
        raise
    return proc, port


def on_embedded_redis(title: str, header: str, run: Callable[[str], Awaitable[T]]) -> T:
    """``run(url)`` on a fresh embedded Redis, after a line saying where and under what load."""
    with tempfile.TemporaryDirectory() as tmp:
        redis = EmbeddedRedis(Path(tmp) / "r")
        redis.start()
        try:
            print(f"{title} on {os.cpu_count()} cores, load {os.getloadavg()}", flush=True)
            print(header, flush=True)
            return asyncio.run(run(redis.url))
        finally:
            redis.stop()


async def join(url: str) -> tuple[float, dict[str, object], int]:
    """Connect and wait for the snapshot: (ms, snapshot, its size in bytes)."""
    started = time.perf_counter()
    async with connect(url, max_size=None, compression=None, open_timeout=300) as ws:
        while True:
            raw = await asyncio.wait_for(ws.recv(), timeout=120)
            frame = json.loads(raw)
            if frame["type"] == "snapshot":
                return (time.perf_counter() - started) * 1000, frame, len(raw)


async def measure(
    redis_url: str,
    client: aioredis.Redis,
    warmup: str,
    sid: str,
    approved: int,
    viewers: int,
    mode: str,
    events: int,
) -> Row:
    store = Store(client)
    # this bench trims the log itself (between the two runs), not the app's checkpointer
    proc, port = start_app(redis_url, ATEXPERT_CHECKPOINT_EVERY_EVENTS="1000000")
    try:
        # a first viewer elsewhere, so "cold" is the session's load, not the process's start
        await join(f"ws://127.0.0.1:{port}/ws/sessions/{warmup}/public")
        rss_before = psutil.Process(proc.pid).memory_info().rss
        url = f"ws://127.0.0.1:{port}/ws/sessions/{sid}/public"
        head = await store.last_event_id(sid)
        times, size = [], 0
        for _ in range(viewers):
            ms, snapshot, size = await join(url)
            shown = snapshot["questions"]
            if snapshot["last_event_id"] != head or not isinstance(shown, list):
                raise SystemExit(f"snapshot as of {snapshot['last_event_id']}, not {head}")
            if len(shown) != approved:
                raise SystemExit(f"snapshot shows {len(shown)} questions, not {approved}")
            times.append(ms)
        rss_after = psutil.Process(proc.pid).memory_info().rss
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    warm = times[1:] or times
    stream = int(await client.xlen(keys.events(sid)))
    return Row(
        events,
        mode,
        stream,
        times[0],
        statistics.median(warm),
        max(warm),
        rss_before,
        rss_after,
        size / 1024,
    )


async def run(redis_url: str, args: argparse.Namespace) -> list[Row]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    rows = []
    try:
        warmup, _ = await build(client, 20, 2)
        for events in args.sizes:
            t = time.perf_counter()
            sid, approved = await build(client, events, args.questions)
            print(f"built {events} events in {time.perf_counter() - t:.1f} s", flush=True)
            rows.append(
                await measure(
                    redis_url, client, warmup, sid, approved, args.viewers, "whole log", events
                )
            )
            policy = checkpoint.Policy(every=1, keep=args.keep)
            await checkpoint.write(client, sid, policy)
            rows.append(
                await measure(
                    redis_url, client, warmup, sid, approved, args.viewers, "checkpoint", events
                )
            )
            for row in rows[-2:]:
                print_row(row)
    finally:
        await client.aclose()
    return rows


def print_row(r: Row) -> None:
    print(
        f"{r.events:>8} {r.mode:>10} {r.stream:>8} {r.cold_ms:>9.1f} {r.warm_ms:>9.1f} "
        f"{r.warm_max_ms:>9.1f} {r.rss_before / MIB:>8.1f} {r.rss_after / MIB:>8.1f} "
        f"{(r.rss_after - r.rss_before) / MIB:>+7.1f} {r.snapshot_kib:>8.1f}",
        flush=True,
    )


HEADER = (
    f"{'events':>8} {'log':>10} {'stream':>8} {'cold ms':>9} {'warm ms':>9} {'warm max':>9} "
    f"{'RSS0 MiB':>8} {'RSS1 MiB':>8} {'+MiB':>7} {'snap KiB':>8}"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--viewers", type=int, default=10, help="viewers joining one by one")
    parser.add_argument("--questions", type=int, default=200, help="questions of the session")
    parser.add_argument("--keep", type=int, default=1_000, help="events the checkpoint keeps")
    args = parser.parse_args()
    rows = on_embedded_redis("join", HEADER, lambda url: run(url, args))
    print("\nsummary")
    print(HEADER)
    for row in rows:
        print_row(row)


if __name__ == "__main__":
    main()
