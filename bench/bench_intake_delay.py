"""Intake delay benchmark: from a post on X to the question in the moderators' queue.

The emulator runs in a process of its own with X's published rate limits enforced
(450 requests / 15 min per app for mentions and recent search), Redis is embedded (or
``ATEXPERT_BENCH_REDIS_URL``, FLUSHALLed). Per mode (mentions, search, stream) a live
session of its own; ``--posts`` questions are posted at random times over ``--seconds``;
per question, the time from the posting request to its ``question.received`` event (the
event the moderator consoles receive) in the session's Redis stream. Target: p95 <= 5 s
in the polled modes.

``--min-poll 15`` reproduces intake before it paced its polls to X's limits (a fixed
15 s poll).

    .venv/bin/python bench/bench_intake_delay.py [--posts 40] [--seconds 60] [--min-poll 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_intake import Control, emulator_process, pct, redis_client

from atexpert.domain.sessions import HostAccount, SessionFields
from atexpert.intake.poll import Ingestor, IntakeSettings, PollIntake, target_of
from atexpert.intake.stream import StreamIntake, stream_factory
from atexpert.intake.x_reads import XReader
from atexpert.settings import Settings
from atexpert.store import keys
from atexpert.store.intake_state import IntakeMode, IntakeStore
from atexpert.store.store import Store
from atexpert.x.client import async_client
from atexpert.x.meter import Meter

P95_TARGET_S = 5.0
FANS = 5


async def live_session(store: Store, host_id: str, tag: str) -> str:
    now = datetime.now(UTC)
    fields = SessionFields(
        title=f"Delay {tag}",
        hashtags=[tag],
        host_account=HostAccount(handle="Airbus", user_id=host_id),
        scheduled_start=now + timedelta(minutes=1),
        scheduled_end=now + timedelta(hours=2),
    )
    session = await store.create_session(fields, actor="bench")
    await store.schedule_session(session.id, actor="bench")
    await store.start_session(session.id, actor="bench")
    return session.id


async def delays(
    ctl: Control, redis: Redis, sid: str, tag: str, posts: int, seconds: float
) -> list[float]:
    """Seconds from each posting request to its question.received event (inf: never)."""
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    stream = keys.events(sid)
    done = asyncio.Event()

    async def watch() -> None:
        last = "0-0"
        while not (done.is_set() and set(sent) <= set(seen)):
            reply = await redis.xread({stream: last}, count=100, block=500)
            for _, entries in reply:
                for eid, fields in entries:
                    last = eid
                    if fields.get("k") == "question.received":
                        seen[fields["i"].removeprefix("q_")] = int(eid.split("-")[0]) / 1000

    watcher = asyncio.create_task(watch())
    times = sorted(random.uniform(0, seconds) for _ in range(posts))
    start = time.time()
    for n, at in enumerate(times):
        await asyncio.sleep(max(start + at - time.time(), 0))
        text = f"@Airbus {tag} question {n}: how long until it reaches the moderators?"
        t = time.time()
        out = await ctl("POST", "/_emulator/tweets", {"username": f"fan_{n % FANS}", "text": text})
        sent[out["id"]] = t
    done.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(watcher, timeout=60)
    return [seen[i] - t if i in seen else float("inf") for i, t in sent.items()]


async def run_mode(
    mode: IntakeMode, ctl: Control, redis: Redis, host_id: str, base: str, args: Any
) -> list[float]:
    store, state, meter = Store(redis), IntakeStore(redis), Meter(redis)
    tag = f"#AskDelay{mode.value.title()}"
    sid = await live_session(store, host_id, tag)
    target = target_of(await store.get_session(sid), host_id)
    bearer = (await ctl("GET", "/_emulator/app"))["bearer_token"]
    tuning = IntakeSettings(min_poll_seconds=args.min_poll)
    async with async_client(Settings(x_api_base_url=base, x_bearer_token=bearer)) as client:
        reader = XReader(client, meter)
        stop = asyncio.Event()
        if mode is IntakeMode.STREAM:
            intake = StreamIntake(
                stream_factory(bearer, base), reader, Ingestor(store, state), meter, tuning
            )
            intake.serve(target)
            task = asyncio.create_task(intake.run(stop))
            while not (intake.connects and intake.caught_up(sid)):
                await asyncio.sleep(0.05)
        else:
            poll = PollIntake(target, mode, reader, Ingestor(store, state), meter, tuning)
            task = asyncio.create_task(poll.run(stop))
        try:
            return await delays(ctl, redis, sid, tag, args.posts, args.seconds)
        finally:
            stop.set()
            await task
            errors = (await state.status(sid)).counters.get("errors", 0)
            print(f"  {mode.value}: {errors} X errors (429s included) while intake ran")


async def main(args: argparse.Namespace) -> None:
    async with (
        emulator_process() as (base, _),
        redis_client() as redis,
        aiohttp.ClientSession() as http,
    ):
        ctl = Control(base, http)
        await ctl("POST", "/_emulator/policy", {"metering": False})
        host = await ctl("POST", "/_emulator/accounts", {"username": "Airbus", "name": "A"})
        for i in range(FANS):
            await ctl("POST", "/_emulator/accounts", {"username": f"fan_{i}", "name": "F"})
        print(
            f"intake delay: {args.posts} posts at random times over {args.seconds:.0f} s "
            f"per mode, min poll {args.min_poll:g} s, X's limits enforced by the emulator"
        )
        for mode in (IntakeMode.MENTIONS, IntakeMode.SEARCH, IntakeMode.STREAM):
            got = await run_mode(mode, ctl, redis, str(host["id"]), base, args)
            p95 = pct(got, 0.95)
            verdict = (
                ""
                if mode is IntakeMode.STREAM
                else (
                    f" (target p95 <= {P95_TARGET_S:g} s: "
                    f"{'OK' if p95 <= P95_TARGET_S else 'MISSED'})"
                )
            )
            finite = [d for d in got if d != float("inf")]
            print(
                f"{mode.value:<9} p50 {pct(got, 0.5):6.2f} s  p95 {p95:6.2f} s  "
                f"max {max(got):6.2f} s  mean {statistics.fmean(finite):6.2f} s  "
                f"({len(finite)}/{len(got)} arrived){verdict}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--min-poll", type=float, default=1.0, help="min_poll_seconds")
    asyncio.run(main(parser.parse_args()))
