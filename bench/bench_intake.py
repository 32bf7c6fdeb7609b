"""Intake benchmark: X's filtered stream (the emulator) into pending questions + events.

The emulator runs in a process of its own, Redis is an embedded redis-server (or the
server at ``ATEXPERT_BENCH_REDIS_URL``, which is FLUSHALLed), and this process runs the
real intake (:class:`atexpert.intake.stream.StreamIntake`: tweepy's async stream client,
the store's atomic step per question) plus a light load generator. Two phases:

- latency: one post per request at ``--rate`` posts/s (default 200) for ``--seconds``;
  per post, the time from the injecting request to its ``question.received`` event in
  the session's Redis stream (the event id carries Redis' clock in ms). Target: p99
  <= 100 ms at 200 posts/s.
- throughput: ``--posts`` posts injected in batches of 500 as fast as the emulator takes
  them; posts/s from the first injection to the last question stored with its event.
  Target: >= 2,000 posts/s sustained.

Metering is switched off in the emulator (its $100 balance would stop the stream).

    .venv/bin/python bench/bench_intake.py [--rate 200] [--seconds 10] [--posts 30000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from typing import Any

import aiohttp
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atexpert.domain.sessions import HostAccount, SessionFields
from atexpert.emulator import EmulatorServer
from atexpert.intake.poll import Ingestor, IntakeSettings, target_of
from atexpert.intake.stream import StreamIntake, stream_factory
from atexpert.intake.x_reads import XReader
from atexpert.settings import Settings
from atexpert.store import keys
from atexpert.store.intake_state import IntakeStore
from atexpert.store.store import Store
from atexpert.x.client import async_client
from atexpert.x.meter import Meter

THROUGHPUT_TARGET = 2_000
P99_TARGET_MS = 100.0
FANS = 20
TEXT = "@Airbus #AskAirbus will the next Airbus fly on hydrogen, and when could I board it? #{n}"


def _serve(ports: multiprocessing.Queue[int], stop: Event) -> None:
    with EmulatorServer() as emu:
        ports.put(emu.port)
        stop.wait()


@asynccontextmanager
async def emulator_process() -> AsyncIterator[tuple[str, multiprocessing.Process]]:
    """The emulator in a process of its own: (its base URL, the process)."""
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    stop = multiprocessing.Event()
    emu = multiprocessing.Process(target=_serve, args=(ports, stop), daemon=True)
    emu.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=20)}", emu
    finally:
        stop.set()
        emu.join(timeout=10)


@asynccontextmanager
async def redis_client() -> AsyncIterator[Redis]:
    url = os.environ.get("ATEXPERT_BENCH_REDIS_URL")
    if url:
        client = Redis.from_url(url, decode_responses=True)
        await client.flushall()
        yield client
        await client.aclose()
        return
    from atexpert.store.redis_embedded import EmbeddedRedis

    with (
        tempfile.TemporaryDirectory(prefix="atx-bench-") as tmp,
        EmbeddedRedis(Path(tmp)) as server,
    ):
        client = Redis.from_url(server.url, decode_responses=True)
        yield client
        await client.aclose()


class Control:
    def __init__(self, base: str, http: aiohttp.ClientSession) -> None:
        self.base, self.http = base, http

    async def __call__(self, method: str, path: str, body: Any = None) -> Any:
        """One control call; a connection reset (a loaded machine) is retried twice."""
        for attempt in range(3):
            try:
                async with self.http.request(method, self.base + path, json=body) as r:
                    out = await r.json()
            except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
                if attempt == 2:
                    raise
                await asyncio.sleep(0.1)
                continue
            if r.status >= 300:
                raise RuntimeError(f"{path}: {r.status} {out}")
            return out
        raise AssertionError("unreachable")


async def setup(ctl: Control, store: Store) -> tuple[str, str]:
    """The emulator's accounts and a live #AskAirbus session: (session id, host id)."""
    await ctl("POST", "/_emulator/policy", {"metering": False})
    host = await ctl("POST", "/_emulator/accounts", {"username": "Airbus", "name": "Airbus"})
    for i in range(FANS):
        await ctl("POST", "/_emulator/accounts", {"username": f"fan_{i}", "name": f"Fan {i}"})
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Bench",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus", user_id=host["id"]),
        scheduled_start=now + timedelta(minutes=1),
        scheduled_end=now + timedelta(hours=2),
    )
    session = await store.create_session(fields, actor="bench")
    await store.schedule_session(session.id, actor="bench")
    await store.start_session(session.id, actor="bench")
    return session.id, str(host["id"])


def _post(n: int) -> dict[str, str]:
    return {"username": f"fan_{n % FANS}", "text": TEXT.format(n=n)}


async def latency_phase(
    ctl: Control, redis: Redis, sid: str, rate: float, seconds: float, first: int
) -> list[float]:
    """Latencies (ms) from the injecting request to the question.received event."""
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    total = int(rate * seconds)
    stream = keys.events(sid)
    last = (await redis.xrevrange(stream, count=1) or [("0-0", {})])[0][0]

    async def watch() -> None:
        nonlocal last
        while len(seen) < total and not (injected.is_set() and set(sent) <= set(seen)):
            reply = await redis.xread({stream: last}, count=1000, block=1000)
            for _, entries in reply:
                for eid, fields in entries:
                    last = eid
                    if fields.get("k") == "question.received":
                        seen[fields["i"].removeprefix("q_")] = int(eid.split("-")[0])

    async def inject(n: int) -> None:
        t = time.time() * 1000
        try:
            out = await ctl("POST", "/_emulator/tweets", _post(n))
        except (aiohttp.ClientError, RuntimeError) as exc:
            print(f"  injecting post {n} failed (not counted): {exc}")
            return
        sent[out["id"]] = t

    injected = asyncio.Event()
    watcher = asyncio.create_task(watch())
    start = time.perf_counter()
    tasks = []
    for i in range(total):
        await asyncio.sleep(max(start + i / rate - time.perf_counter(), 0))
        tasks.append(asyncio.create_task(inject(first + i)))
    await asyncio.gather(*tasks)
    injected.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(watcher, timeout=30)
    return [seen[i] - t for i, t in sent.items() if i in seen] + [
        float("inf") for i in sent if i not in seen
    ]


async def throughput_phase(
    ctl: Control, redis: Redis, sid: str, posts: int, first: int
) -> dict[str, float]:
    stream = keys.events(sid)
    base = await redis.xlen(stream)
    start = time.perf_counter()
    sem = asyncio.Semaphore(2)

    async def batch(lo: int, hi: int) -> None:
        async with sem:
            await ctl(
                "POST", "/_emulator/tweets/batch", {"posts": [_post(n) for n in range(lo, hi)]}
            )

    size = 500
    injector = asyncio.gather(
        *(batch(first + i, first + min(i + size, posts)) for i in range(0, posts, size))
    )
    injected_at: float | None = None
    while True:
        if injected_at is None and injector.done():
            injected_at = time.perf_counter()
        done = await redis.xlen(stream) - base
        if done >= posts:
            break
        if time.perf_counter() - start > 300:
            break
        await asyncio.sleep(0.02)
    end = time.perf_counter()
    await injector
    injected_at = injected_at or end
    return {
        "stored": float(done),
        "seconds": end - start,
        "rate": done / (end - start),
        "inject_rate": posts / (injected_at - start),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc), 0 when unknown."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def redis_cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


async def main(args: argparse.Namespace) -> None:
    async with (
        emulator_process() as (base, emu),
        redis_client() as redis,
        aiohttp.ClientSession() as http,
    ):
        ctl = Control(base, http)
        store = Store(redis)
        sid, host_id = await setup(ctl, store)
        bearer = (await ctl("GET", "/_emulator/app"))["bearer_token"]
        settings = Settings(x_api_base_url=base, x_bearer_token=bearer)
        tuning = IntakeSettings(poll_interval_seconds=1.0)
        async with async_client(settings) as client:
            meter = Meter(redis)
            intake = StreamIntake(
                stream_factory(bearer, base),
                XReader(client, meter),
                Ingestor(store, IntakeStore(redis), concurrency=args.concurrency),
                meter,
                tuning,
            )
            session = await store.get_session(sid)
            intake.serve(target_of(session, host_id), session.intake_opens_at)
            done = asyncio.Event()
            task = asyncio.create_task(intake.run(done))
            while not (intake.connects and intake.caught_up(sid)):
                await asyncio.sleep(0.05)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"intake: stream mode, 1 session; machine load average {load}")
            lat = await latency_phase(ctl, redis, sid, args.rate, args.seconds, 0)
            p50, p99 = pct(lat, 0.50), pct(lat, 0.99)
            verdict = "OK" if p99 <= P99_TARGET_MS else "MISSED"
            print(
                f"latency    {args.rate:.0f} posts/s for {args.seconds:.0f} s: "
                f"{len(lat)} posts, "
                f"p50 {p50:.1f} ms, p90 {pct(lat, 0.9):.1f} ms, p99 {p99:.1f} ms, "
                f"max {max(lat):.1f} ms, mean {statistics.fmean(lat):.1f} ms "
                f"(target p99 <= {P99_TARGET_MS:.0f} ms: {verdict})"
            )
            first = int(args.rate * args.seconds) + 1
            assert emu.pid is not None
            cpu0 = (cpu_seconds(os.getpid()), cpu_seconds(emu.pid), await redis_cpu(redis))
            t = await throughput_phase(ctl, redis, sid, args.posts, first)
            cpu1 = (cpu_seconds(os.getpid()), cpu_seconds(emu.pid), await redis_cpu(redis))
            verdict = "OK" if t["rate"] >= THROUGHPUT_TARGET else "MISSED"
            print(
                f"throughput {int(t['stored'])} posts stored in {t['seconds']:.2f} s: "
                f"{t['rate']:,.0f} posts/s (injected at {t['inject_rate']:,.0f}/s; "
                f"target >= {THROUGHPUT_TARGET:,}/s: {verdict}); CPU: intake+load "
                f"{(cpu1[0] - cpu0[0]) / t['seconds']:.0%}, emulator "
                f"{(cpu1[1] - cpu0[1]) / t['seconds']:.0%}, redis "
                f"{(cpu1[2] - cpu0[2]) / t['seconds']:.0%}"
            )
            count = len(await store.list_questions(sid))
            events = await redis.xlen(keys.events(sid))
            print(f"check      {count} questions, {events} events (3 session.*, 1 a question)")
            done.set()
            await task


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--posts", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=32, help="questions stored at once")
    asyncio.run(main(parser.parse_args()))
