"""Reconnect storm: public clients of one app process, the process killed and restarted.

    python bench/bench_storm.py                           # 5000 clients in 4 processes
    python bench/bench_storm.py --clients 10000 --procs 6
    python bench/bench_storm.py --clients 200 --procs 1 --json out.json   # the test's scale

Loopback only, bounded in count and time. One Redis (embedded unless ``--redis-url``) is
shared by the app process (served as ``atexpert serve`` serves it: ``server_config``,
the uvicorn websocket protocol of ``atexpert.web.serving``) and this script, which is a
second producer writing a session's events (``--rate`` per second; two in three change
the session, which the public sees; the third tags a pending question, which it does
not). Then:

1. ``--clients`` public clients connect, spread over ``--procs`` client processes; the
   app's RSS growth over that (each after a garbage collection and ``malloc_trim``),
   divided by the count, is the memory per idle connection.
2. Events flow for ``--warmup`` seconds; the app process is killed (SIGKILL) and, after
   ``--down`` seconds, started again, while events keep coming.
3. Each client reconnects as ``frontend/js/socket.js`` does (full jitter over an
   exponential ceiling, ``--base`` doubling up to ``--cap`` seconds, at least the
   ``retry_after`` of a 1013 refusal) and resumes with ``?after=`` its last event id.

The summary: unrecovered events (a public event of the stream a client neither got nor
had covered by a snapshot sent after it; must be 0), duplicates, refusals with a retry
hint, resyncs, and the time from the restart until each client is in sync (holds the
first public event written after the kill), per client (p50/p99/max) and overall.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import multiprocessing as mp
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from atexpert.domain.events import EventKind, decode_event  # noqa: E402
from atexpert.domain.questions import Author, IncomingQuestion  # noqa: E402
from atexpert.domain.sessions import HostAccount, SessionFields, SessionUpdate  # noqa: E402
from atexpert.store import keys  # noqa: E402
from atexpert.store.redis_embedded import EmbeddedRedis  # noqa: E402
from atexpert.store.store import Store  # noqa: E402

CONNECT_CONCURRENCY = 200  # handshakes in flight per client process at the start
HINT = re.compile(r"retry_after=(\d+)")


def stream_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the app process (run as: bench_storm.py --serve PORT REDIS_URL) -----------------------


def serve(port: int, redis_url: str) -> None:
    import uvicorn

    from atexpert.settings import Settings
    from atexpert.web.app import create_app
    from atexpert.web.serving import server_config

    raise_fd_limit()
    signal.signal(signal.SIGUSR1, lambda *_: collect())  # before reading the RSS
    app = create_app(Settings(redis_url=redis_url), run_scheduler=False)
    config = server_config(app, "127.0.0.1", port, log_level="warning", backlog=8192)
    uvicorn.Server(config).run()


def collect() -> None:
    """Collect garbage and hand the allocator's free memory back to the system."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def settled_rss_kib(pid: int) -> int:
    """The app's RSS after a :func:`collect`."""
    os.kill(pid, signal.SIGUSR1)
    time.sleep(1)
    return rss_kib(pid)


def start_app(port: int, redis_url: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, __file__, "--serve", str(port), redis_url]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("the app did not listen")


# -- the clients (in --procs processes) ------------------------------------------------------


@dataclass
class Client:
    """One public viewer: what it got and when (wall clock, comparable across processes)."""

    events: list[tuple[str, float]] = field(default_factory=list)
    snapshots: list[tuple[str, float]] = field(default_factory=list)
    #: The session's description in each snapshot (the bench's events change it).
    described: list[str] = field(default_factory=list)
    refused: int = 0
    #: Close codes seen (1006: no close frame, as when the app process is killed).
    closes: dict[int, int] = field(default_factory=dict)
    resyncs: int = 0
    connects: int = 0
    last: str | None = None

    def covers(self, entry_id: str) -> bool:
        key = stream_key(entry_id)
        return self.last is not None and stream_key(self.last) >= key


async def viewer(client: Client, url: str, opts: dict[str, float], stop: asyncio.Event) -> None:
    """Connect, follow, and reconnect as ``frontend/js/socket.js`` does."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    attempt = 0
    while not stop.is_set():
        reason = ""
        try:
            query = f"?after={client.last}" if client.last else ""
            async with connect(
                url + query, open_timeout=60, ping_interval=None, compression=None,
                max_queue=None, close_timeout=1,
            ) as ws:  # fmt: skip
                client.connects += 1
                try:
                    async for raw in ws:
                        message = json.loads(raw)
                        kind = message["type"]
                        now = time.time()
                        if kind == "event":
                            client.events.append((message["id"], now))
                            client.last, attempt = message["id"], 0
                        elif kind == "snapshot":
                            client.snapshots.append((message["last_event_id"], now))
                            client.described.append(message["session"]["description"])
                            client.last, attempt = message["last_event_id"], 0
                        elif kind == "ping":
                            if client.last is not None:
                                client.last = message["last_event_id"]
                            attempt = 0
                            await ws.send('{"type":"pong"}')
                        elif kind == "resync":
                            client.resyncs += 1
                            client.last = None
                except ConnectionClosed:
                    pass
                code = int(ws.close_code or 1006)
                client.closes[code] = client.closes.get(code, 0) + 1
                client.refused += bool(code == 1013 and HINT.search(ws.close_reason or ""))
                reason = ws.close_reason or ""
        except (OSError, TimeoutError, InvalidHandshake):
            pass
        delay = random.random() * min(opts["cap"], opts["base"] * 2**attempt)
        hint = HINT.search(reason)
        if hint:
            delay = max(delay, float(hint.group(1)))
        attempt += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


def fleet_main(pipe: Connection, url: str, n: int, opts: dict[str, float]) -> None:
    raise_fd_limit()

    async def main() -> None:
        stop = asyncio.Event()
        clients = [Client() for _ in range(n)]
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def start(c: Client) -> None:
            async with gate:  # a gentle first wave; reconnections are paced by the backoff
                task = asyncio.create_task(viewer(c, url, opts, stop))
                while not c.snapshots and not task.done():
                    await asyncio.sleep(0.05)
            await task

        tasks = [asyncio.create_task(start(c)) for c in clients]
        loop = asyncio.get_running_loop()
        while True:
            command, arg = await loop.run_in_executor(None, pipe.recv)
            if command == "connected":
                pipe.send(sum(1 for c in clients if c.snapshots))
            elif command == "covering":
                pipe.send(sum(1 for c in clients if c.covers(arg)))
            elif command == "report":
                stop.set()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                pipe.send([c.__dict__ for c in clients])
                return

    asyncio.run(main())


class Fleet:
    def __init__(self, url: str, n: int, procs: int, opts: dict[str, float]) -> None:
        ctx = mp.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs = []
        for i in range(procs):
            ours, theirs = ctx.Pipe()
            share = n // procs + (1 if i < n % procs else 0)
            proc = ctx.Process(target=fleet_main, args=(theirs, url, share, opts), daemon=True)
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)

    def ask(self, command: str, arg: Any = None) -> list[Any]:
        for pipe in self.pipes:
            pipe.send((command, arg))
        return [pipe.recv() for pipe in self.pipes]

    def count(self, command: str, arg: Any = None) -> int:
        return sum(self.ask(command, arg))

    def wait(self, command: str, arg: Any, n: int, timeout: float) -> float:
        """Seconds until ``n`` clients answer yes to ``command`` (at most ``timeout``)."""
        start = time.monotonic()
        while (got := self.count(command, arg)) < n:
            if time.monotonic() - start > timeout:
                print(f"  {command}: {got} of {n} after {timeout:.0f} s", flush=True)
                break
            time.sleep(0.2)
        return time.monotonic() - start


# -- the producer ---------------------------------------------------------------------------


class Producer:
    """Writes the session's events at ``rate`` per second, two public for one private."""

    def __init__(self, store: Store, session_id: str, question_id: str, rate: float) -> None:
        self.store, self.session_id, self.question_id, self.rate = (
            store, session_id, question_id, rate,
        )  # fmt: skip
        self.count = 0

    async def step(self, public: bool = False) -> None:
        self.count += 1
        if public or self.count % 3:
            update = SessionUpdate(description=f"tick {self.count}")
            await self.store.update_session(self.session_id, update, actor="bench")
        else:
            tags = [f"t{self.count}"]
            await self.store.set_question_tags(self.session_id, self.question_id, tags, actor="b")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1 / self.rate)


async def seed(store: Store) -> tuple[str, str]:
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Storm",
        hashtags=["Storm"],
        host_account=HostAccount(handle="bench"),
        scheduled_start=now + timedelta(hours=1),
        scheduled_end=now + timedelta(hours=2),
    )
    session = await store.create_session(fields, actor="bench")
    await store.schedule_session(session.id, actor="bench")
    author = Author(id="1", handle="someone", name="Some One")
    incoming = IncomingQuestion(tweet_id="1", author=author, text="Pending?", created_at=now)
    question, _ = await store.add_question(session.id, incoming)
    return session.id, question.id


async def public_events(redis: aioredis.Redis, session_id: str) -> dict[str, str]:
    """The public events of the stream, in order: id -> the description they set."""
    entries: Any = await redis.xrange(keys.events(session_id))
    events = (decode_event(session_id, str(eid), fields) for eid, fields in entries)
    return {e.id: e.data["description"] for e in events if e.kind is EventKind.SESSION_UPDATED}


async def last_public(redis: aioredis.Redis, session_id: str) -> str:
    return list(await public_events(redis, session_id))[-1]


# -- the run --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def storm(args: argparse.Namespace, redis_url: str) -> dict[str, Any]:
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    store = Store(redis)
    session_id, question_id = await seed(store)
    port = free_port()
    env = {f"ATEXPERT_LIVE_{k.upper()}": str(v) for k, v in args.live or []}
    url = f"ws://127.0.0.1:{port}/ws/sessions/{session_id}/public"
    opts = {"base": args.base, "cap": args.cap}
    app = start_app(port, redis_url, env)
    stop = asyncio.Event()
    fleet: Fleet | None = None
    try:
        await asyncio.sleep(1)  # settled
        rss_before = settled_rss_kib(app.pid)
        fleet = Fleet(url, args.clients, args.procs, opts)
        took = await asyncio.to_thread(fleet.wait, "connected", None, args.clients, args.timeout)
        await asyncio.sleep(1)
        rss_per_conn = (settled_rss_kib(app.pid) - rss_before) / args.clients
        print(f"{args.clients} clients connected in {took:.1f} s;"
              f" {rss_per_conn:.1f} KiB of app RSS per idle connection", flush=True)  # fmt: skip
        producer = Producer(store, session_id, question_id, args.rate)
        producing = asyncio.create_task(producer.run(stop))
        await asyncio.sleep(args.warmup)
        app.send_signal(signal.SIGKILL)
        app.wait()
        killed = time.time()
        await producer.step(public=True)  # one public event at least while the app is down
        marker = await last_public(redis, session_id)
        await asyncio.sleep(args.down)
        restarted = time.time()
        app = start_app(port, redis_url, env)
        listening = time.time() - restarted
        synced = await asyncio.to_thread(fleet.wait, "covering", marker, args.clients, args.timeout)
        print(f"killed, down {restarted - killed:.1f} s, listening {listening:.1f} s after the"
              f" restart; all {args.clients} in sync {listening + synced:.1f} s after the"
              " restart", flush=True)  # fmt: skip
        await asyncio.sleep(args.tail)
        stop.set()
        await producing
        last = await last_public(redis, session_id)
        await asyncio.to_thread(fleet.wait, "covering", last, args.clients, args.timeout)
        reports = [c for part in await asyncio.to_thread(fleet.ask, "report") for c in part]
        fleet = None
        expected = await public_events(redis, session_id)
    finally:
        stop.set()
        if fleet is not None:
            for proc in fleet.procs:
                proc.kill()
        app.kill()
        app.wait()
        await redis.aclose()
    summary = summarize(reports, expected, marker, restarted, listening)
    return {
        "clients": args.clients,
        "client_processes": args.procs,
        "rss_kib_per_idle_connection": round(rss_per_conn, 1),
        "events_written": producer.count,
        "app_listening_after_s": round(listening, 1),
        **summary,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


def summarize(
    reports: list[dict[str, Any]],
    expected: dict[str, str],
    marker: str,
    restarted: float,
    listening: float,
) -> dict[str, Any]:
    """What the clients got against the stream's public events."""
    unrecovered = duplicates = wrong_snapshots = 0
    sync_s: list[float] = []
    ordered = sorted(expected, key=stream_key)
    codes: Counter[int] = Counter()
    for c in reports:
        codes.update(c["closes"])
        for (position, _), description in zip(c["snapshots"], c["described"], strict=True):
            before = [e for e in ordered if stream_key(e) <= stream_key(position)]
            wrong_snapshots += bool(before) and description != expected[before[-1]]
        got = [eid for eid, _ in c["events"]]
        duplicates += len(got) - len(set(got))
        covered = max((stream_key(s) for s, _ in c["snapshots"]), default=(0, 0))
        have = set(got)
        unrecovered += sum(1 for e in expected if e not in have and stream_key(e) > covered)
        frames = [(eid, t) for eid, t in c["events"] + c["snapshots"] if t >= restarted]
        at = min((t for eid, t in frames if stream_key(eid) >= stream_key(marker)), default=None)
        if at is not None:
            sync_s.append(at - restarted)
    return {
        "public_events": len(expected),
        "unrecovered": unrecovered,
        "wrong_snapshots": wrong_snapshots,
        "duplicates": duplicates,
        "refused_with_retry": sum(c["refused"] for c in reports),
        "clients_refused": sum(1 for c in reports if c["refused"]),
        "resyncs": sum(c["resyncs"] for c in reports),
        "close_codes": dict(sorted(codes.items())),
        "never_in_sync": len(reports) - len(sync_s),
        "connects": sum(c["connects"] for c in reports),
        "sync_s_p50": round(percentile(sync_s, 0.5), 2),
        "sync_s_p99": round(percentile(sync_s, 0.99), 2),
        "sync_s_max": round(max(sync_s, default=float("nan")), 2),
        "sync_after_listening_s_p50": round(percentile(sync_s, 0.5) - listening, 2),
        "sync_after_listening_s_p99": round(percentile(sync_s, 0.99) - listening, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--rate", type=float, default=2.0, help="events per second")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the kill")
    parser.add_argument("--down", type=float, default=2.0, help="seconds the app stays down")
    parser.add_argument("--tail", type=float, default=3.0, help="seconds of events after sync")
    parser.add_argument("--base", type=float, default=0.5, help="backoff base (s)")
    parser.add_argument("--cap", type=float, default=15.0, help="backoff ceiling (s)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after (s)")
    parser.add_argument(
        "--live", nargs=2, action="append", metavar=("NAME", "VALUE"),
        help="a LiveConfig setting of the app, e.g. --live max_public 4000",
    )  # fmt: skip
    parser.add_argument("--redis-url", help="use this Redis instead of an embedded one")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "REDIS_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    raise_fd_limit()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # clean up the processes it started
    with tempfile.TemporaryDirectory(prefix="storm") as tmp:
        embedded = None
        if args.redis_url is None:
            embedded = EmbeddedRedis(Path(tmp) / "r")
            embedded.start()
        try:
            result = asyncio.run(storm(args, args.redis_url or embedded.url))  # type: ignore[union-attr]
        finally:
            if embedded is not None:
                embedded.stop()
    print(
        f"\nreconnect storm on {os.cpu_count()} cores (load average {' '.join(result['loadavg'])})"
    )
    for name, value in result.items():
        if name != "loadavg":
            print(f"  {name:30} {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
