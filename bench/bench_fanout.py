"""Fan-out benchmark: events to N websocket clients of one app process, vs python-socketio.

    python bench/bench_fanout.py            # N = 100, 1000, 5000
    python bench/bench_fanout.py --quick    # N = 50, 200
    python bench/bench_fanout.py --sizes 5000

Loopback only, bounded and self-stopping. Per N and per system it reports the delivery
latency (p50/p99, from the producer's write to a client's receipt, at a light load), the
highest event rate every client sustained with no loss, and the server's RSS per
connection. "Sustained" means every client got every event and the last one arrived
no later than one light-load fan-out (p99) plus a second after it was sent. Both systems
get the same workload: an embedded Redis, one uvicorn process
(no per-message deflate), the clients in a separate process. atexpert's events are Store
steps tailed from the session's Redis Stream (expert console clients); the baseline
is a python-socketio ``AsyncServer`` with ``AsyncRedisManager``, fed by a write-only
manager emitting to a room. Both client fleets speak raw websockets through the same
library, so the client side costs the same; the official socketio client is used once
to check the baseline server.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from atexpert.domain.questions import Author, IncomingQuestion  # noqa: E402
from atexpert.domain.sessions import HostAccount, SessionFields  # noqa: E402
from atexpert.store.redis_embedded import EmbeddedRedis  # noqa: E402
from atexpert.store.staff import StaffStore  # noqa: E402
from atexpert.store.store import Store  # noqa: E402

MARK = "ts="
LATENCY_DELIVERIES_S, LATENCY_EVENTS = 2000, 10  # a light load: ~2000 frames/s in all
RATES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
STEP_S = 2.0
STEP_MIN_EVENTS = 5
GRACE_S = 1.0
CONNECT_CONCURRENCY = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


# -- the baseline server (run as a subprocess: bench_fanout.py --serve-socketio) ----------


def serve_socketio(port: int, redis_url: str) -> None:
    import socketio
    import uvicorn

    sio = socketio.AsyncServer(
        async_mode="asgi", client_manager=socketio.AsyncRedisManager(redis_url)
    )

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        await sio.enter_room(sid, "bench")

    uvicorn.run(
        socketio.ASGIApp(sio),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_per_message_deflate=False,
    )


# -- the client fleet (a separate process) -----------------------------------------------


class Fleet:
    """N websocket clients; each records when events reached it."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.latencies: list[float] = []
        self.last_at = 0.0
        self.closed = 0
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, kind: str, url: str, n: int, headers: dict[str, str]) -> None:
        self.counts = [0] * n
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        ready: list[asyncio.Future[None]] = []
        loop = asyncio.get_running_loop()
        for i in range(n):
            opened = loop.create_future()
            ready.append(opened)

            async def run(i: int = i, opened: asyncio.Future[None] = opened) -> None:
                try:
                    async with gate:
                        ws = await self.handshake(kind, url, headers)
                except Exception as exc:
                    opened.set_exception(exc)
                    return
                opened.set_result(None)
                await self.listen(kind, ws, i)

            self.tasks.append(asyncio.create_task(run()))
        await asyncio.gather(*ready)

    async def handshake(self, kind: str, url: str, headers: dict[str, str]) -> Any:
        from websockets.asyncio.client import connect

        ws = await connect(
            url, additional_headers=headers, max_size=None, compression=None,
            open_timeout=60, ping_interval=None, max_queue=None,
        )  # fmt: skip
        if kind == "socketio":
            await ws.recv()  # engine.io open
            await ws.send("40")
            while not str(await ws.recv()).startswith("40"):
                pass
        else:
            await ws.recv()  # snapshot
        return ws

    async def listen(self, kind: str, ws: Any, i: int) -> None:
        try:
            async for raw in ws:
                at = time.time()
                text = raw if isinstance(raw, str) else raw.decode()
                pos = text.find(MARK)
                if pos >= 0:
                    end = text.find('"', pos)
                    self.latencies.append(at - float(text[pos + len(MARK) : end]))
                    self.counts[i] += 1
                    self.last_at = at
                elif kind == "socketio" and text == "2":
                    await ws.send("3")
                elif kind == "atexpert" and text.startswith('{"type":"ping"'):
                    await ws.send('{"type":"pong"}')
        except Exception:
            pass
        self.closed += 1

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []


def fleet_main(pipe: Connection) -> None:
    async def main() -> None:
        fleet = Fleet()
        loop = asyncio.get_running_loop()
        while True:
            command, args = await loop.run_in_executor(None, pipe.recv)
            if command == "open":
                await fleet.open(*args)
                pipe.send(None)
            elif command == "reset":
                fleet.counts = [0] * len(fleet.counts)
                fleet.latencies, fleet.last_at = [], 0.0
                pipe.send(None)
            elif command == "wait":
                expected, deadline_s = args
                end = time.monotonic() + deadline_s
                while time.monotonic() < end and min(fleet.counts) < expected:
                    await asyncio.sleep(0.02)
                pipe.send((min(fleet.counts), fleet.closed, fleet.last_at, fleet.latencies))
            elif command == "close":
                await fleet.close()
                fleet.closed = 0
                pipe.send(None)
            else:
                return

    asyncio.run(main())


# -- producers ------------------------------------------------------------------------------


class AtexpertProducer:
    """Tags an approved question with the send time: one Store step, one event."""

    def __init__(self, store: Store, session_id: str, question_id: str) -> None:
        self.store, self.session_id, self.question_id = store, session_id, question_id

    async def send(self) -> None:
        tag = f"{MARK}{time.time():.6f}"
        await self.store.set_question_tags(self.session_id, self.question_id, [tag], actor="b")


class SocketioProducer:
    def __init__(self, manager: Any, record: dict[str, Any]) -> None:
        self.manager, self.record = manager, record

    async def send(self) -> None:
        body = {**self.record, "tags": [f"{MARK}{time.time():.6f}"]}
        await self.manager.emit("event", {"type": "event", "record": body}, room="bench")


async def paced(producer: Any, rate: float, count: int) -> float:
    """Send ``count`` events at ``rate``/s; the time it took."""
    start = time.monotonic()
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await producer.send()
    return time.monotonic() - start


@dataclass
class Result:
    n: int
    p50_ms: float
    p99_ms: float
    max_rate: float
    rss_per_conn_kb: float


def ask(pipe: Connection, command: str, *args: Any) -> Any:
    pipe.send((command, args))
    return pipe.recv()


async def measure(
    producer: Any, pipe: Connection, n: int, server_pid: int, rss_before: int
) -> Result:
    rss = psutil.Process(server_pid).memory_info().rss
    ask(pipe, "reset")
    await paced(producer, min(10.0, LATENCY_DELIVERIES_S / n), LATENCY_EVENTS)
    got, closed, _, lat = await asyncio.to_thread(ask, pipe, "wait", LATENCY_EVENTS, 60)
    lat.sort()
    p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
    p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan")
    best = 0.0
    for rate in RATES:
        if n * rate > 400_000:  # beyond what one client process can even read
            break
        ask(pipe, "reset")
        count = max(int(rate * STEP_S), STEP_MIN_EVENTS)
        took = await paced(producer, rate, count)
        sent_end = time.time()
        got, closed, last_at, _ = await asyncio.to_thread(ask, pipe, "wait", count, 10)
        # kept up: the last delivery came no later than one light-load fan-out after
        kept_up = took <= count / rate * 1.2 and last_at - sent_end <= GRACE_S + p99 / 1000
        if got < count or closed or not kept_up:
            lag = last_at - sent_end
            print(f"    N={n} at {rate} ev/s: {got}/{count} to every client, {closed} closed,"
                  f" sending took {took:.1f} s, last delivery {lag:.1f} s after",
                  flush=True)  # fmt: skip
            break
        best = float(rate)
    return Result(n, p50, p99, best, (rss - rss_before) / n / 1024)


async def run_system(kind: str, sizes: list[int], redis_url: str, pipe: Connection) -> list[Result]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await client.flushall()
    store = Store(client)
    staff = StaffStore(client)
    user = await staff.create_user("bench-expert", "bench-password")
    token = (await staff.create_token(user.id, "bench"))[1]
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Bench",
        hashtags=["Bench"],
        host_account=HostAccount(handle="bench"),
        expert_ids=[user.id],
        scheduled_start=now + timedelta(hours=1),
        scheduled_end=now + timedelta(hours=2),
    )
    session = await store.create_session(fields, actor="bench")
    await store.schedule_session(session.id, actor="bench")
    author = Author(id="1", handle="someone", name="Some One")
    incoming = IncomingQuestion(
        tweet_id="1", author=author, text="How far can the A350 fly? " * 4, created_at=now
    )
    question, _ = await store.add_question(session.id, incoming)
    await store.approve_question(session.id, question.id, actor="bench")

    port = free_port()
    env = {**os.environ, "ATEXPERT_REDIS_URL": redis_url, "ATEXPERT_LIVE_SEND_QUEUE": "5000"}
    if kind == "atexpert":
        cmd = [
            sys.executable, "-m", "uvicorn", "--factory", "atexpert.web.app:create_app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--ws-per-message-deflate", "false", "--backlog", "4096",
            "--ws", "atexpert.web.serving:WebSocketProtocol",  # as `atexpert serve` does
        ]  # fmt: skip
        url = f"ws://127.0.0.1:{port}/ws/sessions/{session.id}/expert"
        headers = {"Authorization": f"Bearer {token}"}
        producer: Any = AtexpertProducer(store, session.id, question.id)
    else:
        cmd = [sys.executable, __file__, "--serve-socketio", str(port), redis_url]
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        headers = {}
        import socketio

        manager = socketio.AsyncRedisManager(redis_url, write_only=True)
        producer = SocketioProducer(manager, question.model_dump(mode="json"))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    results = []
    try:
        wait_port(port, proc)
        if kind == "socketio":
            await check_socketio_client(port)
        rss_before = psutil.Process(proc.pid).memory_info().rss
        for n in sizes:
            ask(pipe, "open", kind, url, n, headers)
            result = await measure(producer, pipe, n, proc.pid, rss_before)
            ask(pipe, "close")
            print(f"  {kind:9} N={n:5}: p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms"
                  f"  max {result.max_rate:6.0f} ev/s  {result.rss_per_conn_kb:6.1f} KiB/conn",
                  flush=True)  # fmt: skip
            results.append(result)
            rss_before = psutil.Process(proc.pid).memory_info().rss
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        await client.aclose()
    return results


async def check_socketio_client(port: int) -> None:
    """The baseline server accepts its own official client."""
    import socketio

    sio = socketio.AsyncClient()
    await sio.connect(f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=10)
    if not sio.connected:
        raise RuntimeError("the python-socketio client could not connect to the baseline")
    await sio.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 50, 200 only")
    parser.add_argument("--sizes", type=int, nargs="+", help="client counts to try")
    parser.add_argument("--serve-socketio", nargs=2, metavar=("PORT", "REDIS_URL"))
    args = parser.parse_args()
    if args.serve_socketio:
        serve_socketio(int(args.serve_socketio[0]), args.serve_socketio[1])
        return
    sizes = args.sizes or ([50, 200] if args.quick else [100, 1000, 5000])
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    fleet = ctx.Process(target=fleet_main, args=(theirs,), daemon=True)
    fleet.start()
    with tempfile.TemporaryDirectory(prefix="fanout") as tmp:
        redis = EmbeddedRedis(Path(tmp) / "r")
        redis.start()
        try:
            print(f"fan-out on {os.cpu_count()} cores; clients in a separate process", flush=True)
            mine = asyncio.run(run_system("atexpert", sizes, redis.url, ours))
            base = asyncio.run(run_system("socketio", sizes, redis.url, ours))
        finally:
            ours.send(("quit", ()))
            fleet.join(timeout=10)
            redis.stop()
    print("\nN      atexpert p50/p99 ms   socketio p50/p99 ms   max ev/s (ratio)   KiB/conn")
    for a, b in zip(mine, base, strict=True):
        ratio = f"x{a.max_rate / b.max_rate:.2f}" if b.max_rate else "n/a"
        print(f"{a.n:<6} {a.p50_ms:7.1f} / {a.p99_ms:7.1f}   {b.p50_ms:7.1f} / {b.p99_ms:7.1f}"
              f"   {a.max_rate:5.0f} vs {b.max_rate:5.0f} ({ratio})"
              f"   {a.rss_per_conn_kb:5.1f} vs {b.rss_per_conn_kb:5.1f}")  # fmt: skip
    ratios = [b.p50_ms / a.p50_ms for a, b in zip(mine, base, strict=True)]
    print(f"p50 latency ratio socketio/atexpert: {statistics.fmean(ratios):.2f} (mean over N)")


if __name__ == "__main__":
    main()
