"""A week of a customer-service desk on an accelerated clock, with its log checkpointed.

    python bench/bench_desk_week.py                       # 50,000 questions over 7 days
    python bench/bench_desk_week.py --questions 3000 --every 300 --keep 200   # quick

One desk session (kind ``desk``: no end) lives the whole week. The bench's Store runs on a
ManualClock that jumps through the 7 simulated days (every question, decision and answer is
stamped with simulated time); the app (uvicorn, as ``atexpert serve`` runs it) runs in
another process with its checkpointer on (``--every``, ``--keep``, a pass every 0.2 s), so
the session's stream is trimmed as the week goes. The questions come at ``--rate`` a real
second at most (a week in about 17 minutes at full scale): the checkpointer (in the app,
beside the fan-out) must keep up with them, as it does with a real desk's few events a
second; at 100 a second on a 2-core machine loaded ~10 it fell behind (the stream peaked
at 20,659 entries for a bound of 12,000) while memory stayed at 51 MiB. Per
question: 70% approved, 20% rejected, 10% left pending; 60% of the approved ones are
answered and published (5 steps each).

Websocket consoles follow the session all week: moderators (staff view), an expert and
public viewers; each drops its connection now and then and resumes with ``?after=`` its
last id, some after pauses long enough for a checkpoint to trim that id (they get
``resync`` and a snapshot). Each simulated day the bench samples Redis ``INFO memory``
``used_memory``, the stream's longest length (after every batch of questions) and the
app's RSS. At the end every console must hold exactly what a fresh snapshot of its view
holds (0 gaps), and ``used_memory`` must have stayed under the stated ceiling: the
records and the checkpoint grow with the questions (``PER_QUESTION`` bytes a question at
most), the stream does not (``keep + every`` plus ``--slack`` for what arrives between
two passes, ``PER_EVENT`` bytes an entry at most). With the defaults (50,000 questions,
``--every`` 5,000, ``--keep`` 1,000, ``--slack`` 6,000) the ceiling at the week's end is
8 MiB + 50,000 x 3 KiB + 12,000 x 1.5 KiB = about 172 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_join import on_embedded_redis, publish_answer, start_app  # noqa: E402

from atexpert.domain.clock import ManualClock  # noqa: E402
from atexpert.domain.questions import Author, IncomingQuestion  # noqa: E402
from atexpert.domain.sessions import (  # noqa: E402
    HostAccount,
    SessionFields,
    SessionKind,
    SessionOptions,
)
from atexpert.store import checkpoint, keys  # noqa: E402
from atexpert.store.staff import StaffStore  # noqa: E402
from atexpert.store.store import Store  # noqa: E402

DAYS = 7
CONCURRENCY = 16  # questions handled at once
MIB = 1024 * 1024
#: Redis bytes a question may cost at most: its record and index entry, its answer (for
#: 42% of them), and their copies in the checkpoint's state (about 1.6 KiB measured).
PER_QUESTION = 3 * 1024
#: Redis bytes a stream entry may cost at most (a question's is about 700).
PER_EVENT = 1536
BASE_MEMORY = 8 * MIB  # an empty Redis with the staff, the scripts and the session


@dataclass
class Console:
    """One websocket console: its own copy of its view, kept as mirror.js keeps it."""

    name: str
    role: str
    token: str | None
    records: dict[tuple[str, str], Any] = field(default_factory=dict)
    last_id: str | None = None
    reconnects: int = 0
    resyncs: int = 0
    events: int = 0

    def apply(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "snapshot":
            self.records = {("session", ""): frame["session"]}
            for entity in ("questions", "answers"):
                for record in frame[entity]:
                    self.records[(entity[:-1], record["id"])] = record
            self.last_id = frame["last_event_id"]
        elif kind == "event":
            self.events += 1
            entity_id = "" if frame["entity"] == "session" else frame["entity_id"]
            if frame["entity"] in ("session", "question", "answer"):
                if frame["record"] is None:
                    self.records.pop((frame["entity"], entity_id), None)
                else:
                    self.records[(frame["entity"], entity_id)] = frame["record"]
            self.last_id = frame["id"]
        elif kind == "ping":
            self.last_id = frame["last_event_id"]
        elif kind == "resync":
            self.resyncs += 1


async def open_console(base: str, sid: str, console: Console) -> ClientConnection:
    url = f"{base}/ws/sessions/{sid}/{console.role}"
    if console.last_id is not None:
        url += f"?after={console.last_id}"
    headers = {} if console.token is None else {"Authorization": f"Bearer {console.token}"}
    return await connect(url, additional_headers=headers, max_size=None, compression=None)


async def follow(
    base: str, sid: str, console: Console, stop: asyncio.Event, rng: random.Random, pause: float
) -> None:
    """Follow the session; drop the connection now and then, resume after a pause (now and
    then a long one: a checkpoint trims the id meanwhile)."""
    while not stop.is_set():
        ws = await open_console(base, sid, console)
        until = time.monotonic() + rng.uniform(pause / 2, pause * 3)
        try:
            while time.monotonic() < until and not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=0.2)
                except TimeoutError:
                    continue
                console.apply(json.loads(raw))
        except ConnectionClosed as exc:
            print(f"  {console.name}: closed by the server ({exc})", flush=True)
        finally:
            await ws.close()
        if stop.is_set():
            return
        console.reconnects += 1
        await asyncio.sleep(pause * 10 if rng.random() < 0.2 else rng.uniform(0, pause))


async def catch_up(base: str, sid: str, console: Console, head: str) -> None:
    """Resume once more and read until the console is as of ``head``."""
    ws = await open_console(base, sid, console)
    try:
        async with asyncio.timeout(120):
            while console.last_id != head:
                console.apply(json.loads(await ws.recv()))
    finally:
        await ws.close()


async def fresh(base: str, sid: str, role: str, token: str | None) -> Console:
    console = Console("fresh", role, token)
    ws = await open_console(base, sid, console)
    try:
        while console.last_id is None:
            console.apply(json.loads(await ws.recv()))
    finally:
        await ws.close()
    return console


async def handle(store: Store, sid: str, n: int, rng: random.Random, now: datetime) -> None:
    """One question: asked, then approved (70%), rejected (20%) or left pending; 60% of the
    approved ones answered and published."""
    author = Author(id=str(100 + n % 5000), handle=f"customer{n % 5000}", name="Customer")
    incoming = IncomingQuestion(
        tweet_id=str(10_000_000 + n),
        author=author,
        text=f"@AirDesk my flight {n % 977} is late, when will it leave? Booking ref {n:06d}",
        created_at=now,
    )
    question, _ = await store.add_question(sid, incoming)
    fate = rng.random()
    if fate < 0.7:
        await store.approve_question(sid, question.id, actor="mod")
        if rng.random() < 0.6:
            await publish_answer(store, sid, question.id, "agent")
    elif fate < 0.9:
        await store.reject_question(sid, question.id, "not for the desk", actor="mod")


@dataclass
class Day:
    day: int
    questions: int
    used_memory: int
    ceiling: int
    stream: int
    checkpoint_at: str
    app_rss: int


async def simulate(redis_url: str, args: argparse.Namespace) -> tuple[list[Day], bool]:
    rng = random.Random(args.seed)
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await client.flushall()
    staff = StaffStore(client)
    tokens: dict[str, str | None] = {"public": None}
    users = {}
    for name in ("mod", "agent"):
        users[name] = await staff.create_user(name, "bench-password-1")
        tokens[name] = (await staff.create_token(users[name].id, "bench"))[1]
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    clock = ManualClock(start - timedelta(days=DAYS))  # the week ends today
    store = Store(client, clock=clock)
    fields = SessionFields(
        title="Air desk",
        kind=SessionKind.DESK,
        hashtags=["AirDesk"],
        host_account=HostAccount(handle="AirDesk"),
        moderator_ids=[users["mod"].id],
        expert_ids=[users["agent"].id],
        scheduled_start=clock.now(),
        time_zone="Europe/Paris",
        options=SessionOptions(require_answer_approval=False, announce=False),
    )
    sid = (await store.create_session(fields, actor="bench")).id
    await store.schedule_session(sid, actor="bench")
    await store.start_session(sid, actor="bench")

    proc, port = start_app(
        redis_url,
        ATEXPERT_CHECKPOINT_EVERY_EVENTS=str(args.every),
        ATEXPERT_CHECKPOINT_KEEP_EVENTS=str(args.keep),
        ATEXPERT_CHECKPOINT_INTERVAL_SECONDS="0.2",
    )
    base = f"ws://127.0.0.1:{port}"
    consoles = [
        Console("moderator-1", "moderator", tokens["mod"]),
        Console("moderator-2", "moderator", tokens["mod"]),
        Console("expert", "expert", tokens["agent"]),
        Console("public-1", "public", None),
        Console("public-2", "public", None),
    ]
    stop = asyncio.Event()
    days: list[Day] = []
    try:
        followers = [
            asyncio.create_task(follow(base, sid, c, stop, random.Random(i), args.pause))
            for i, c in enumerate(consoles)
        ]
        per_day, asked = args.questions // DAYS, 0
        paced_from = time.monotonic()
        for day in range(DAYS):
            step = timedelta(days=1) / per_day
            day_start = start - timedelta(days=DAYS - day)
            stream = 0
            for first in range(0, per_day, CONCURRENCY):
                clock.set(day_start + step * first)
                batch = range(asked + first, asked + min(first + CONCURRENCY, per_day))
                await asyncio.gather(*(handle(store, sid, n, rng, clock.now()) for n in batch))
                stream = max(stream, int(await client.xlen(keys.events(sid))))
                ahead = paced_from + batch.stop / args.rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            asked += per_day
            clock.set(day_start + timedelta(days=1))
            used = int((await client.info("memory"))["used_memory"])
            bound = args.keep + args.every + args.slack
            ceiling = BASE_MEMORY + asked * PER_QUESTION + bound * PER_EVENT
            base_cp = await checkpoint.load(client, sid)
            at = "-" if base_cp.at is None else base_cp.at.strftime("%a %H:%M")
            rss = psutil.Process(proc.pid).memory_info().rss
            days.append(Day(day + 1, asked, used, ceiling, stream, at, rss))
            print_day(days[-1], bound)
            if stream > bound:
                print(f"  the stream holds {stream} entries, more than {bound}", flush=True)
        stop.set()
        await asyncio.gather(*followers)
        head = await store.last_event_id(sid)
        ok = True
        for console in consoles:
            await catch_up(base, sid, console, head)
            reference = await fresh(base, sid, console.role, tokens[role_user(console.role)])
            same = console.records == reference.records
            ok &= same
            print(
                f"  {console.name:12} {console.events:7} events {console.reconnects:4} "
                f"reconnects {console.resyncs:3} resyncs: "
                f"{'same as a fresh snapshot' if same else 'DIFFERS from a fresh snapshot'}",
                flush=True,
            )
        ok &= all(d.used_memory <= d.ceiling for d in days)
        ok &= all(d.stream <= args.keep + args.every + args.slack for d in days)
        replayed = await store.replay(sid)
        stored = await store.snapshot(sid)
        print(f"  replay (checkpoint + tail) equals the stored state: {replayed == stored}")
        ok &= replayed == stored
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=30)
        await client.aclose()
    return days, ok


def role_user(role: str) -> str:
    return {"moderator": "mod", "expert": "agent"}.get(role, "public")


def print_day(d: Day, bound: int) -> None:
    print(
        f"{d.day:>4} {d.questions:>9} {d.used_memory / MIB:>10.1f} {d.ceiling / MIB:>10.1f} "
        f"{d.stream:>7}/{bound:<7} {d.checkpoint_at:>12} {d.app_rss / MIB:>8.1f}",
        flush=True,
    )


HEADER = (
    f"{'day':>4} {'questions':>9} {'used MiB':>10} {'ceil MiB':>10} {'stream/bound':>15} "
    f"{'checkpoint':>12} {'app MiB':>8}"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--questions", type=int, default=50_000, help="questions in the week")
    parser.add_argument("--every", type=int, default=5_000, help="checkpoint every N events")
    parser.add_argument("--keep", type=int, default=1_000, help="events a checkpoint keeps")
    parser.add_argument(
        "--slack", type=int, default=6_000, help="events that may arrive between two passes"
    )
    parser.add_argument("--rate", type=float, default=50.0, help="questions a real second at most")
    parser.add_argument(
        "--pause", type=float, default=1.0, help="seconds a console stays (x0.5-3) or is away"
    )
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    started = time.perf_counter()
    days, ok = on_embedded_redis("desk week", HEADER, lambda url: simulate(url, args))
    print(f"\nsummary ({time.perf_counter() - started:.0f} s, load {os.getloadavg()})")
    print(HEADER)
    for d in days:
        print_day(d, args.keep + args.every + args.slack)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
