"""A websocket client fleet spread over several processes, for the live benchmarks.

    spec = FleetSpec(url="ws://127.0.0.1:8000/ws/sessions/s_x/public", clients=10_000)
    with Fleet(spec, processes=3) as fleet:
        fleet.open()                       # the connect ramp; a Summary
        fleet.expect(1)                    # every client now expects event 1 next
        ...                                # a producer sends events 1..n (see marker())
        summary = fleet.wait(n, timeout_s=10)
        print(summary.lost, summary.p(99))

Every benchmark event carries :func:`marker` (its sequence number and the producer's
``time.time()`` at the write) somewhere in its frame; clocks are the same machine's. Each
client records the latency of every marked event (producer write to receipt), and checks
it got every sequence number in order: a number skipped is *lost*, unless a snapshot
(``{"type":"snapshot"...``, sent on a connect without ``?after=`` or after a ``resync``)
covered it: then it is *recovered*. A client whose connection drops reconnects after a
jittered exponential backoff, with ``?after=<last event id>`` (the ``id`` of the last
``{"type":"event","id":...`` frame, or a snapshot's ``last_event_id``) when
``FleetSpec.resume``. Pings of atexpert's protocol and engine.io's are answered.

Loopback and bounded: only ``ws://127.0.0.1``/``localhost`` URLs, every process exits
after ``FleetSpec.lifetime_s`` whatever happens (and when its parent goes away), every
command has a timeout, and leaving the ``with`` block stops and reaps every process.

Two clients (``FleetSpec.client``): ``light``, a minimal websocket client on an asyncio
``Protocol`` (server frames are parsed in place, no task or future per frame), the default
since it spends a fraction of the CPU; and ``websockets``, the library's asyncio client.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from bench.fleet_light import LightProtocol, Refused

LOOPBACK = frozenset({"127.0.0.1", "localhost"})
SNAPSHOT = b'{"type":"snapshot","last_event_id":"'
EVENT = b'{"type":"event","id":"'
RESYNC = b'{"type":"resync"'
PING = b'{"type":"ping"'
PONG = b'{"type":"pong"}'
MARK, AT, END = b"bench[", b"@", b"]"
REPLY_S = 30.0  # a command's answer, beyond the time it was given


def marker(seq: int, at: float | None = None) -> str:
    """The text an event carries so the fleet can check and time it."""
    return f"bench[{seq}@{time.time() if at is None else at:.6f}]"


@dataclass(frozen=True)
class FleetSpec:
    url: str
    clients: int
    headers: tuple[tuple[str, str], ...] = ()
    #: Connections being opened at once, over the whole fleet.
    connect_concurrency: int = 200
    #: Reconnect with ``?after=`` the last event id seen.
    resume: bool = True
    #: Reconnect delay: uniform in [0, min(cap, base * 2**attempt)] (full jitter).
    backoff_base_s: float = 0.25
    backoff_cap_s: float = 5.0
    open_timeout_s: float = 30.0
    #: ``light`` or ``websockets``.
    client: str = "light"
    #: Every process exits after this long, whatever happens.
    lifetime_s: float = 900.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "ws" or parts.hostname not in LOOPBACK:
            raise ValueError(f"the fleet connects to ws:// on loopback only, not {self.url}")
        if self.client not in ("light", "websockets"):
            raise ValueError(f"no client {self.client!r}")


@dataclass
class Summary:
    """The fleet's state, merged from every process."""

    clients: int = 0
    connected: int = 0
    #: Clients that got every event up to the target of :meth:`Fleet.wait`.
    in_sync: int = 0
    lost: int = 0
    recovered: int = 0
    duplicates: int = 0
    resyncs: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    #: HTTP statuses refusing an upgrade and close codes received, as "http 503"/"close 1013".
    refusals: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    #: time.time() of the last marked event received, and when all were in sync.
    last_at: float = 0.0
    synced_at: float = 0.0
    #: CPU seconds spent by the fleet's processes since they started.
    cpu_s: float = 0.0

    def merge(self, part: dict[str, Any]) -> None:
        for name in ("clients", "connected", "in_sync", "lost", "recovered", "duplicates",
                     "resyncs", "reconnects", "connect_failures"):  # fmt: skip
            setattr(self, name, getattr(self, name) + part[name])
        self.refusals.update(part["refusals"])
        self.latencies.extend(array("d", part["latencies"]))
        self.last_at = max(self.last_at, part["last_at"])
        self.synced_at = max(self.synced_at, part["synced_at"])
        self.cpu_s += part["cpu_s"]

    def p(self, percentile: float) -> float:
        """A latency percentile, in seconds (nan without latencies)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * percentile / 100))]


class Fleet:
    """``spec.clients`` clients spread over ``processes`` processes (spawned)."""

    def __init__(self, spec: FleetSpec, processes: int = 2) -> None:
        self.spec = spec
        self.processes = max(1, min(processes, spec.clients))
        self._pipes: list[Connection] = []
        self._procs: list[mp.process.BaseProcess] = []

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    def __enter__(self) -> Fleet:
        ctx = mp.get_context("spawn")
        share, extra = divmod(self.spec.clients, self.processes)
        for i in range(self.processes):
            ours, theirs = ctx.Pipe()
            count = share + (1 if i < extra else 0)
            proc = ctx.Process(
                target=_worker_main, args=(theirs, self.spec, count, self.processes), daemon=True
            )
            proc.start()
            theirs.close()
            self._pipes.append(ours)
            self._procs.append(proc)
        return self

    def __exit__(self, *exc: object) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send(("quit", ()))
        deadline = time.monotonic() + 10
        for proc in self._procs:
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for pipe in self._pipes:
            pipe.close()
        self._pipes, self._procs = [], []

    def _ask(self, command: str, *args: Any, timeout_s: float = 0.0) -> Summary:
        for pipe in self._pipes:
            pipe.send((command, args))
        summary = Summary()
        deadline = time.monotonic() + timeout_s + REPLY_S
        for pipe in self._pipes:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"a fleet process did not answer {command!r}")
            summary.merge(pipe.recv())
        return summary

    def open(self, timeout_s: float = 120.0) -> Summary:
        """Connect every client (at most ``connect_concurrency`` handshakes at once); returns
        once all are connected or after ``timeout_s``."""
        return self._ask("open", timeout_s, timeout_s=timeout_s)

    def expect(self, seq: int) -> Summary:
        """From now on every client expects event ``seq`` next; counters and latencies are
        reset."""
        return self._ask("expect", seq)

    def wait(self, seq: int, timeout_s: float) -> Summary:
        """Wait until every client got (or recovered) every event up to ``seq``, at most
        ``timeout_s``; the state then."""
        return self._ask("wait", seq, timeout_s, timeout_s=timeout_s)

    def summary(self) -> Summary:
        return self._ask("wait", 0, 0.0)

    def close(self) -> Summary:
        """Close every connection (no reconnect)."""
        return self._ask("close")


# -- inside a fleet process ------------------------------------------------------------------


class Client:
    """One viewer: its place in the event sequence, across reconnections."""

    __slots__ = ("connected", "greeted", "last_id", "next", "reconnects", "send")

    def __init__(self) -> None:
        self.next = 0  # the sequence number expected next; 0: none yet
        self.last_id: bytes | None = None
        self.connected = False
        self.reconnects = 0
        self.send: Any = None  # sends a text frame on the current connection
        #: Done at the connection's first frame (engine.io's open aside): the server has
        #: subscribed it (atexpert's snapshot, socket.io's connect ack).
        self.greeted: asyncio.Future[None] | None = None


class Worker:
    """The clients of one process and what they received."""

    def __init__(self, spec: FleetSpec, count: int, processes: int) -> None:
        self.spec = spec
        self.clients = [Client() for _ in range(count)]
        self.gate = asyncio.Semaphore(max(1, spec.connect_concurrency // processes))
        self.running = True
        self.tasks: list[asyncio.Task[None]] = []
        #: Aborts each open connection, by connection.
        self.aborts: dict[object, Any] = {}
        parts = urlsplit(spec.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.reset(0)

    def reset(self, seq: int) -> None:
        for client in self.clients:
            client.next = seq
            client.reconnects = 0
        self.lost = self.recovered = self.duplicates = self.resyncs = 0
        self.connect_failures = 0
        self.refusals: Counter[str] = Counter()
        self.latencies = array("d")
        self.last_at = self.synced_at = 0.0

    # -- frames ---------------------------------------------------------------------------------

    def on_frame(self, client: Client, data: bytes, at: float) -> None:
        """One text frame from the server, received at ``at`` (``time.time()``)."""
        greeted = client.greeted
        if greeted is not None and not data.startswith(b"0{"):
            client.greeted = None
            greeted.set_result(None)
        if data.startswith(PING):
            client.send(PONG)
            return
        if data.startswith(EVENT):
            client.last_id = data[len(EVENT) : data.index(b'"', len(EVENT))]
        elif data.startswith(SNAPSHOT):
            client.last_id = data[len(SNAPSHOT) : data.index(b'"', len(SNAPSHOT))]
            self.on_snapshot(client, data)
            return
        elif data.startswith(RESYNC):
            self.resyncs += 1
            return
        elif data == b"2":  # engine.io ping
            client.send(b"3")
            return
        elif data.startswith(b"0{"):  # engine.io open: join the default namespace
            client.send(b"40")
            return
        start = data.find(MARK)
        if start < 0:
            return
        mid = data.index(AT, start)
        seq = int(data[start + len(MARK) : mid])
        expected = client.next
        if seq < expected:
            self.duplicates += 1
            return
        if seq > expected and expected:
            self.lost += seq - expected
        client.next = seq + 1
        self.latencies.append(at - float(data[mid + 1 : data.index(END, mid)]))
        self.last_at = at

    def on_snapshot(self, client: Client, data: bytes) -> None:
        """A snapshot covers every event up to the one it is as of."""
        start = data.rfind(MARK)
        if start < 0:
            return
        seq = int(data[start + len(MARK) : data.index(AT, start)])
        if seq >= client.next:
            if client.next:
                self.recovered += seq + 1 - client.next
            client.next = seq + 1

    # -- connections ----------------------------------------------------------------------------

    def url_target(self, client: Client) -> str:
        if not (self.spec.resume and client.last_id):
            return self.target
        glue = "&" if "?" in self.target else "?"
        return f"{self.target}{glue}after={client.last_id.decode()}"

    async def run(self, client: Client, opened: asyncio.Future[None]) -> None:
        """Keep ``client`` connected until the fleet stops."""
        attempt = 0
        while self.running:
            lost: asyncio.Future[None] | None = None
            try:
                async with self.gate:
                    lost = await asyncio.wait_for(self.connect(client), self.spec.open_timeout_s)
            except (OSError, TimeoutError, ConnectionError, Refused) as exc:
                self.connect_failures += 1
                if isinstance(exc, Refused):
                    self.refusals[str(exc)] += 1
            if lost is not None:
                attempt = 0
                client.connected = True
                if not opened.done():
                    opened.set_result(None)
                with contextlib.suppress(Exception):
                    await lost
                client.connected = False
                client.send = None
                if not self.running:
                    return
                client.reconnects += 1
            attempt += 1
            cap = min(self.spec.backoff_cap_s, self.spec.backoff_base_s * 2 ** min(attempt, 16))
            await asyncio.sleep(random.uniform(0, cap))

    async def connect(self, client: Client) -> asyncio.Future[None]:
        """Open a connection for ``client`` and wait for its first frame; a future done
        when the connection is lost."""
        greeted = client.greeted = asyncio.get_running_loop().create_future()
        lost, abort = await self.open_connection(client)
        try:
            await asyncio.wait({greeted, lost}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # timed out
            abort()
            raise
        if not greeted.done():
            client.greeted = None
            raise ConnectionError("closed before its first frame")
        return lost

    async def open_connection(self, client: Client) -> tuple[asyncio.Future[None], Any]:
        """A new connection's lost future and its abort function."""
        if self.spec.client == "websockets":
            return await self.connect_websockets(client)
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_connection(
            lambda: LightProtocol(self, client), self.host, self.port
        )
        try:
            await proto.opened
        except BaseException:
            transport.abort()
            raise
        return proto.lost, transport.abort

    async def connect_websockets(self, client: Client) -> tuple[asyncio.Future[None], Any]:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        url = f"ws://{self.host}:{self.port}{self.url_target(client)}"
        try:
            ws = await connect(
                url, additional_headers=dict(self.spec.headers), max_size=None,
                compression=None, ping_interval=None, max_queue=None, open_timeout=None,
            )  # fmt: skip
        except InvalidStatus as exc:
            raise Refused(f"http {exc.response.status_code}") from None
        lost = asyncio.get_running_loop().create_future()
        self.aborts[ws] = ws.transport.abort

        def send(data: bytes) -> None:
            self.tasks.append(asyncio.create_task(ws.send(data.decode())))

        async def listen() -> None:
            client.send = send
            try:
                while True:
                    data = await ws.recv(decode=False)
                    self.on_frame(client, data, time.time())
            except Exception:
                code = ws.close_code
                if code is not None and self.running:
                    self.refusals[f"close {code}"] += 1
            self.aborts.pop(ws, None)
            lost.set_result(None)

        self.tasks.append(asyncio.create_task(listen()))
        return lost, ws.transport.abort

    def state(self, seq: int) -> dict[str, Any]:
        clients = self.clients
        return {
            "clients": len(clients),
            "connected": sum(c.connected for c in clients),
            "in_sync": sum(c.next > seq for c in clients),
            "lost": self.lost,
            "recovered": self.recovered,
            "duplicates": self.duplicates,
            "resyncs": self.resyncs,
            "reconnects": sum(c.reconnects for c in clients),
            "connect_failures": self.connect_failures,
            "refusals": dict(self.refusals),
            "latencies": self.latencies.tobytes(),
            "last_at": self.last_at,
            "synced_at": self.synced_at,
            "cpu_s": time.process_time(),
        }


def _worker_main(pipe: Connection, spec: FleetSpec, count: int, processes: int) -> None:
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(_serve_commands(pipe, spec, count, processes))


def loop_factory() -> Any:
    """uvloop's (as under uvicorn) where installed: a third less CPU per frame received."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve_commands(pipe: Connection, spec: FleetSpec, count: int, processes: int) -> None:
    loop = asyncio.get_running_loop()
    loop.call_later(spec.lifetime_s, os._exit, 3)  # bounded, whatever the parent does
    worker = Worker(spec, count, processes)
    while True:
        try:
            command, args = await loop.run_in_executor(None, pipe.recv)
        except (EOFError, OSError):  # the parent is gone
            command, args = "quit", ()
        if command == "open":
            worker.running = True  # again, after a close
            futures = [loop.create_future() for _ in worker.clients]
            worker.tasks += [
                asyncio.create_task(worker.run(c, f))
                for c, f in zip(worker.clients, futures, strict=True)
            ]
            await asyncio.wait(futures, timeout=args[0])
            pipe.send(worker.state(0))
        elif command == "expect":
            worker.reset(args[0])
            pipe.send(worker.state(0))
        elif command == "wait":
            seq, timeout_s = args
            end = time.monotonic() + timeout_s
            while min((c.next for c in worker.clients), default=seq + 1) <= seq:
                if time.monotonic() >= end:
                    break
                await asyncio.sleep(0.02)
            else:
                worker.synced_at = time.time()
            pipe.send(worker.state(seq))
        elif command in ("close", "quit"):
            worker.running = False
            for abort in list(worker.aborts.values()):
                abort()
            for task in worker.tasks:
                task.cancel()
            await asyncio.gather(*worker.tasks, return_exceptions=True)
            worker.tasks = []
            if command == "quit":
                return
            pipe.send(worker.state(0))
