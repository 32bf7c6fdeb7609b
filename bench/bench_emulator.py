"""Emulator throughput: is the local X fast enough never to bottleneck the intake benchmark?

The emulator runs in a process of its own (one event loop: one core); this process drives
it over real HTTP with aiohttp and reads the emulator's CPU time from /proc:

- search: ``GET /2/tweets/search/recent`` (app bearer, 100 posts a page), requests/s;
- post: ``POST /2/tweets`` (OAuth 2.0 user token, unique texts), requests/s;
- stream: writers inject public posts while one filtered-stream connection counts what
  it receives, posts/s delivered end to end: ``stream-1`` injects one post a request
  (``POST /_emulator/tweets``), ``stream-b`` 100 a request (``/_emulator/tweets/batch``,
  how a load generator feeds the intake benchmark).

Metering and rate limits are switched off first: they would stop any load test long
before the server does. An emulator CPU share near 100% means the figure is the
emulator's own limit; lower means the load generator was the limit (the figure is then
a lower bound).

    .venv/bin/python bench/bench_emulator.py [--seconds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import aiohttp

from atexpert.emulator import EmulatorServer

INTAKE_TARGET = 2_000  # tweets/s the intake benchmark must sustain
UNLIMITED = 1_000_000_000


def _serve(ports: multiprocessing.Queue[int], stop: Event) -> None:
    with EmulatorServer() as emu:
        ports.put(emu.port)
        stop.wait()


def _cpu_seconds(pid: int) -> float | None:
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return None
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU shares of the emulator process and of this (load generator) process."""

    def __init__(self, emulator_pid: int) -> None:
        self.pids = (emulator_pid, os.getpid())
        self.start = [_cpu_seconds(pid) for pid in self.pids]

    def shares(self, elapsed: float) -> tuple[float | None, float | None]:
        end = [_cpu_seconds(pid) for pid in self.pids]
        emulator, load = (
            (b - a) / elapsed if a is not None and b is not None else None
            for a, b in zip(self.start, end, strict=True)
        )
        return emulator, load


@dataclass
class Result:
    name: str
    count: int
    errors: int
    seconds: float
    cpu: float | None
    load_cpu: float | None

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def per_core(self) -> float:
        """The rate one fully busy emulator core sustains (measured rate / CPU share)."""
        return self.rate / self.cpu if self.cpu else self.rate

    def line(self, unit: str) -> str:
        cpu = f"{self.cpu:4.0%}" if self.cpu is not None else " n/a"
        load = f"{self.load_cpu:4.0%}" if self.load_cpu is not None else " n/a"
        return (
            f"{self.name:<9}{self.rate:8,.0f} {unit:<8}{self.per_core:8,.0f} {unit} per core  "
            f"({self.count:,} in {self.seconds:.1f} s, {self.errors} errors; CPU: emulator "
            f"{cpu}, load generator {load})"
        )


class Bench:
    def __init__(self, base: str, pid: int, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.pid = pid
        self.session = session

    async def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self.session.request(method, self.base + path, json=body) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def setup(self) -> tuple[str, str]:
        """Unlimited limits, no metering; the brand, 50 fans, 1,000 searchable posts."""
        await self.control("POST", "/_emulator/policy", {"metering": False})
        for endpoint in await self.control("GET", "/_emulator/limits"):
            await self.control(
                "POST",
                "/_emulator/limits",
                {
                    "endpoint": endpoint,
                    "user": UNLIMITED,
                    "app": UNLIMITED,
                    "user_24h": 0,
                    "app_24h": 0,
                },
            )
        brand = await self.control(
            "POST", "/_emulator/accounts", {"username": "Airbus", "name": "Airbus"}
        )
        for i in range(50):
            await self.control(
                "POST", "/_emulator/accounts", {"username": f"fan{i}", "name": "Fan"}
            )
        await self.load(
            lambda n: self.control(
                "POST",
                "/_emulator/tweets",
                {"username": f"fan{n % 50}", "text": f"q {n} #AskBench"},
            ),
            total=1_000,
            concurrency=16,
        )
        app = await self.control("GET", "/_emulator/app")
        return app["bearer_token"], brand["oauth2_access_token"]

    async def load(
        self,
        call: Callable[[int], Awaitable[Any]],
        *,
        seconds: float | None = None,
        total: int | None = None,
        concurrency: int,
    ) -> tuple[int, int, float]:
        """Run ``call(n)`` from ``concurrency`` workers until the time or count is up."""
        done = errors = 0
        counter = iter(range(total if total is not None else 1 << 62))
        started = time.perf_counter()
        deadline = started + seconds if seconds is not None else float("inf")

        async def worker() -> None:
            nonlocal done, errors
            for n in counter:
                if time.perf_counter() >= deadline:
                    return
                try:
                    await call(n)
                    done += 1
                except aiohttp.ClientError:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done, errors, time.perf_counter() - started

    async def measure(
        self, name: str, call: Callable[[int], Awaitable[Any]], seconds: float, concurrency: int
    ) -> Result:
        meter = CpuMeter(self.pid)
        done, errors, elapsed = await self.load(call, seconds=seconds, concurrency=concurrency)
        return Result(name, done, errors, elapsed, *meter.shares(elapsed))

    async def inject(self, n: int, batch: int, tag: str) -> None:
        """Inject ``batch`` public posts by the fans (one request); ``n`` numbers the call."""
        posts = [
            {"username": f"fan{i % 50}", "text": f"Q{n}-{i}: how are wings made? {tag}"}
            for i in range(batch)
        ]
        if batch == 1:
            await self.control("POST", "/_emulator/tweets", posts[0])
        else:
            await self.control("POST", "/_emulator/tweets/batch", {"posts": posts})

    async def request(self, method: str, path: str, token: str, **kw: Any) -> None:
        headers = {"authorization": f"Bearer {token}"}
        async with self.session.request(method, self.base + path, headers=headers, **kw) as r:
            await r.read()
            if r.status >= 300:
                raise aiohttp.ClientResponseError(r.request_info, (), status=r.status)

    async def stream(
        self, name: str, bearer: str, batch: int, seconds: float, concurrency: int
    ) -> Result:
        """Inject posts for ``seconds``; count those the one stream connection receives."""
        auth = {"authorization": f"Bearer {bearer}"}
        received = 0
        connected = asyncio.Event()

        async def consume() -> None:
            nonlocal received
            timeout = aiohttp.ClientTimeout(total=None, sock_read=30)
            url = self.base + "/2/tweets/search/stream"
            async with self.session.get(url, headers=auth, timeout=timeout) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"stream refused: {resp.status} {await resp.text()}")
                connected.set()
                async for line in resp.content:
                    if line.strip():
                        received += 1

        while (await self.control("GET", "/_emulator/stream"))["connected"]:
            await asyncio.sleep(0.05)  # the previous phase's connection is still closing
        consumer = asyncio.create_task(consume())
        await asyncio.wait(
            [consumer, asyncio.create_task(connected.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if consumer.done():
            consumer.result()
        meter = CpuMeter(self.pid)
        started = time.perf_counter()
        calls, errors, _ = await self.load(
            lambda n: self.inject(n, batch, "#AskStream"), seconds=seconds, concurrency=concurrency
        )
        injected = calls * batch
        drain_deadline = time.perf_counter() + 10
        while received < injected and time.perf_counter() < drain_deadline:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        cpu, load_cpu = meter.shares(elapsed)
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        return Result(name, received, errors + injected - received, elapsed, cpu, load_cpu)


async def run(base: str, pid: int, seconds: float, concurrency: int) -> None:
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        bench = Bench(base, pid, session)
        bearer, user = await bench.setup()
        search_path = "/2/tweets/search/recent?query=%23AskBench%20-is%3Aretweet&max_results=100"
        search = await bench.measure(
            "search", lambda n: bench.request("GET", search_path, bearer), seconds, concurrency
        )
        print(search.line("req/s"), f"= {search.rate * 100:,.0f} posts/s returned")
        post = await bench.measure(
            "post",
            lambda n: bench.request("POST", "/2/tweets", user, json={"text": f"answer {n}"}),
            seconds,
            concurrency,
        )
        print(post.line("req/s"))
        rule = {"add": [{"value": "#AskStream", "tag": "bench"}]}
        await bench.request("POST", "/2/tweets/search/stream/rules", bearer, json=rule)
        print((await bench.stream("stream-1", bearer, 1, seconds, concurrency)).line("posts/s"))
        stream = await bench.stream("stream-b", bearer, 100, seconds, 4)
        print(stream.line("posts/s"))
        verdict = "OK" if stream.per_core >= INTAKE_TARGET else "TOO SLOW"
        print(
            f"stream delivery per emulator core vs intake target {INTAKE_TARGET:,} tweets/s: "
            f"{verdict} ({stream.per_core / INTAKE_TARGET:.1f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each phase")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = ctx.Queue()
    stop = ctx.Event()
    server = ctx.Process(target=_serve, args=(ports, stop), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=30)
        assert server.pid is not None
        print(
            f"emulator: pid {server.pid}, one process; load: this process, "
            f"{args.concurrency} in flight, {args.seconds:g} s per phase"
        )
        asyncio.run(run(f"http://127.0.0.1:{port}", server.pid, args.seconds, args.concurrency))
    finally:
        stop.set()
        server.join(15)


if __name__ == "__main__":
    main()
