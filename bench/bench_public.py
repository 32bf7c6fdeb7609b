"""Public live page benchmark: N viewers of ``/ws/sessions/{id}/public`` on one app process.

    python bench/bench_public.py                       # 10,000 viewers, every system
    python bench/bench_public.py --viewers 2000 --processes 2 --systems atexpert,bare
    python bench/bench_public.py --viewers 10000 --rates 5 10 20 50 --client websockets
    python bench/bench_public.py --viewers 20000 --processes 4 --systems nginx,bare

Loopback only, bounded (hard timeouts; every process stopped on exit). The viewers are a
:mod:`fleet` over ``--processes`` processes, the same for every system, on the same machine
as the server (2 cores: the clients' CPU is part of the budget). Three systems, each fed
by a producer in this process and served by one uvicorn-less or uvicorn process:

* ``atexpert``: the app as ``atexpert serve`` runs it (:func:`server_config`, uvicorn's
  websockets-sansio protocol), ``limit_concurrency`` raised to the viewers plus a margin.
  An event is one Store step: the session's description changes (``session.updated``,
  about the size of a one-part published answer's event), tailed from the session's Redis
  Stream by the app and sent to every public viewer.
* ``bare``: the ceiling. The ``websockets`` library's server and ``broadcast()``, no
  framework, tailing a Redis Stream (XREAD) fed with the same frames.
* ``socketio``: python-socketio's ``AsyncServer`` with ``AsyncRedisManager`` under
  uvicorn, the producer a write-only manager emitting to a room (pub/sub).
* ``nginx`` (not in the default ``--systems``): two ``atexpert`` processes behind nginx
  running ``deploy/nginx.conf`` as the deploy test does (tests/support/deploy_world.py),
  with 4 workers sized for the viewers (two descriptors per websocket, each worker under
  ``ulimit -n``): the 20,000 viewers of two processes.

Per system: the connect ramp; the latency from the producer's write to each viewer's
receipt at a public page's pace (``--pace``, 2 events/s); then a ladder of rates
(``--rates``): a rate is *held* when every viewer got every event in order, none was
disconnected, the producer kept the pace and the last event reached every viewer within
``--grace`` seconds of its write. The ladder stops at the first rate not held. CPU (server,
fleet, producer) and RSS are sampled per step with psutil. The summary is a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from atexpert.domain.events import dumps  # noqa: E402
from atexpert.domain.sessions import HostAccount, SessionFields, SessionUpdate  # noqa: E402
from atexpert.domain.views import Audience, project  # noqa: E402
from atexpert.store.redis_embedded import EmbeddedRedis  # noqa: E402
from atexpert.store.store import Store  # noqa: E402
from bench.bench_fanout import free_port, serve_socketio, wait_port  # noqa: E402
from bench.fleet import Fleet, FleetSpec, loop_factory, marker  # noqa: E402
from bench.public_servers import BARE_STREAM, serve_atexpert, serve_bare  # noqa: E402

SYSTEMS = ("atexpert", "bare", "socketio", "nginx")
DEFAULT_SYSTEMS = "atexpert,bare,socketio"
RATES = [2, 5, 10, 20, 50, 100, 200, 500]
FILLER = "The A350-900 flies 8,100 nautical miles with 325 passengers on board. "
LIMIT_MARGIN = 100  # connections beyond the viewers uvicorn still accepts


def description(seq: int) -> str:
    """An event's text: the marker and a published answer's worth of words (~280 chars)."""
    return (marker(seq) + " " + FILLER * 4)[:280]


# -- producers ------------------------------------------------------------------------------


@dataclass
class World:
    redis: aioredis.Redis
    store: Store
    session_id: str
    public: dict[str, Any]  # the session as the public sees it
    seq: int = 0

    def message(self, seq: int) -> dict[str, Any]:
        """The public event of the bare and socketio systems (atexpert's shape and size)."""
        return {
            "kind": "session.updated",
            "entity": "session",
            "entity_id": self.session_id,
            "at": datetime.now(UTC).isoformat(),
            "record": {**self.public, "description": description(seq)},
        }


async def make_world(redis_url: str) -> World:
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await redis.flushall()
    store = Store(redis)
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Ask Airbus: the A350",
        description=description(0),
        hashtags=["AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=now + timedelta(hours=1),
        scheduled_end=now + timedelta(hours=2),
    )
    session = await store.create_session(fields, actor="bench")
    session = await store.schedule_session(session.id, actor="bench")
    public = project(Audience.PUBLIC, "session", session.model_dump(mode="json"))
    assert public is not None
    return World(redis, store, session.id, public)


class Producer:
    """Sends event ``seq`` (numbered from 1) to one system."""

    def __init__(self, kind: str, world: World, redis_url: str) -> None:
        self.kind, self.world = kind, world
        if kind == "socketio":
            import socketio

            self.manager = socketio.AsyncRedisManager(redis_url, write_only=True)

    async def send(self, seq: int) -> None:
        w = self.world
        if self.kind == "atexpert":
            update = SessionUpdate(description=description(seq))
            await w.store.update_session(w.session_id, update, actor="bench")
        elif self.kind == "bare":
            await w.redis.xadd(BARE_STREAM, {"payload": dumps(w.message(seq))})
        else:
            message = {"type": "event", **w.message(seq)}
            await self.manager.emit("event", message, room="bench")


async def paced(producer: Producer, first: int, rate: float, count: int) -> float:
    """Send events ``first``.. at ``rate``/s; the time it took."""
    start = time.monotonic()
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await producer.send(first + i)
    return time.monotonic() - start


# -- measuring ------------------------------------------------------------------------------


class Cpu:
    """CPU used by some processes between two calls of :meth:`lap`."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(p) for p in pids]
        self.at, self.used = time.monotonic(), self._used()
        self.seconds = 0.0  # CPU seconds of the last lap

    def _used(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self.procs if p.is_running())

    def lap(self) -> float:
        """CPU % since the last lap (100: one core)."""
        at, used = time.monotonic(), self._used()
        self.seconds = used - self.used
        percent = self.seconds / max(at - self.at, 1e-6) * 100
        self.at, self.used = at, used
        return percent


@dataclass
class Step:
    rate: float
    held: bool
    server_cpu: float
    fleet_cpu: float
    producer_cpu: float
    #: Server CPU per frame written (µs): steadier than CPU % on a loaded machine.
    server_us_per_frame: float = 0.0
    note: str = ""


@dataclass
class Result:
    system: str
    viewers: int
    connected: int = 0
    connect_s: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    max_ms: float = float("nan")
    pace_lost: int = 0
    pace_behind: int = 0  # viewers still missing events 30 s after the last one
    best_rate: float = 0.0
    steps: list[Step] = field(default_factory=list)
    rss_idle_mib: float = 0.0
    kib_per_conn: float = 0.0
    fleet_rss_mib: float = 0.0

    @property
    def us_per_frame(self) -> float:
        """The server's CPU per frame written, median over the steps (µs)."""
        costs = sorted(s.server_us_per_frame for s in self.steps)
        return costs[len(costs) // 2] if costs else float("nan")

    @property
    def limit(self) -> Step | None:
        """The lowest rate not held (what it ran out of)."""
        return min((s for s in self.steps if not s.held), key=lambda s: s.rate, default=None)


def rss(pids: list[int]) -> int:
    return sum(psutil.Process(p).memory_info().rss for p in pids if psutil.pid_exists(p))


async def run_system(kind: str, args: argparse.Namespace, redis_url: str) -> Result:
    world = await make_world(redis_url)
    producer = Producer("atexpert" if kind == "nginx" else kind, world, redis_url)
    port = free_port()
    env = {**os.environ, "ATEXPERT_REDIS_URL": redis_url}
    public = f"/ws/sessions/{world.session_id}/public"
    serving: list[tuple[int, list[str]]] = []  # port, argv
    if kind == "nginx":  # two app processes behind nginx: each may get every viewer
        serving = [(free_port(), [str(args.viewers + LIMIT_MARGIN)]) for _ in range(2)]
    elif kind == "atexpert":
        serving = [(port, [str(args.viewers + LIMIT_MARGIN)])]
    else:
        serving = [(port, [redis_url])]
    path = {"bare": "/", "socketio": "/socket.io/?EIO=4&transport=websocket"}.get(kind, public)
    serve = "atexpert" if kind == "nginx" else kind
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--serve", serve, str(p), *rest], cwd=ROOT, env=env
        )
        for p, rest in serving
    ]
    result = Result(kind, args.viewers)
    spec = FleetSpec(
        url=f"ws://127.0.0.1:{port}{path}",
        clients=args.viewers,
        client=args.client,
        connect_concurrency=args.connect_concurrency,
        lifetime_s=args.max_s,
    )
    try:
        return await serve_and_measure(result, args, spec, procs, serving, producer, port)
    finally:
        await world.redis.aclose()


async def serve_and_measure(
    result: Result,
    args: argparse.Namespace,
    spec: FleetSpec,
    procs: list[subprocess.Popen[bytes]],
    serving: list[tuple[int, list[str]]],
    producer: Producer,
    port: int,
) -> Result:
    """Wait for the servers (and put nginx in front of them, for ``nginx``), connect the
    fleet to ``port`` and measure; every process stopped on the way out."""
    kind = result.system
    with contextlib.ExitStack() as stack:
        for proc in procs:
            stack.callback(stop, proc)
        for (p, _), proc in zip(serving, procs, strict=True):
            wait_port(p, proc)
        apps = [proc.pid for proc in procs]
        servers = list(apps)
        if kind == "nginx":
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nginx")))
            nginx = proxy(tmp, (serving[0][0], serving[1][0]), port, args.viewers)
            stack.callback(nginx.stop)
            servers += [nginx.pid, *(c.pid for c in psutil.Process(nginx.pid).children())]
        rss_before = rss(apps)
        fleet = stack.enter_context(Fleet(spec, processes=args.processes))
        started = time.monotonic()
        opened = await asyncio.to_thread(fleet.open, args.connect_timeout)
        result.connect_s = time.monotonic() - started
        result.connected = opened.connected
        result.rss_idle_mib = rss(apps) / 2**20
        result.kib_per_conn = (rss(apps) - rss_before) / max(1, opened.connected) / 1024
        result.fleet_rss_mib = rss(fleet.pids) / 2**20
        refused = dict(opened.refusals)
        print(f"  {kind}: {opened.connected}/{args.viewers} connected in"
              f" {result.connect_s:.1f} s, refusals {refused}", flush=True)  # fmt: skip
        if opened.connected < args.viewers:
            print(f"  {kind}: not every viewer connected; no measure", flush=True)
            return result
        await measure(result, fleet, producer, servers, args)
    return result


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def proxy(directory: Path, upstreams: tuple[int, int], port: int, viewers: int) -> Any:
    """``deploy/nginx.conf`` (as the deploy test runs it) on ``port``, sized for ``viewers``
    websockets: two descriptors each (client, upstream), spread over 4 workers that each
    stay under ``ulimit -n``."""
    from tests.support.deploy_world import Nginx, nginx_binary  # the deploy test's

    nginx_path = nginx_binary()
    if nginx_path is None:
        raise SystemExit("no nginx binary")
    nginx = Nginx(nginx_path, directory / "nginx", upstreams, port)
    conf = directory / "nginx" / "nginx.conf"
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 500
    text = conf.read_text()
    for old, new in (
        ("worker_processes 1;", f"worker_processes 4;\nworker_rlimit_nofile {files};"),
        ("worker_connections 1024;", f"worker_connections {files - 100};"),
        (f"listen 127.0.0.1:{port};", f"listen 127.0.0.1:{port} reuseport;"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    conf.write_text(text)
    if viewers * 2 > 4 * (files - 100):
        raise SystemExit(f"nginx's 4 workers cannot hold {viewers} websockets: raise ulimit -n")
    nginx.start()
    return nginx


async def measure(
    result: Result, fleet: Fleet, producer: Producer, servers: list[int], args: argparse.Namespace
) -> None:
    # a public page's pace: every event's latency to every viewer, after a warm-up (the
    # server settling after the connect ramp is the storm's business, not the pace's)
    warmup = int(args.pace * args.warmup_s)
    if warmup:
        await asyncio.to_thread(fleet.expect, 1)
        await paced(producer, 1, args.pace, warmup)
        await asyncio.to_thread(fleet.wait, warmup, 30.0)
    await asyncio.to_thread(fleet.expect, warmup + 1)
    count = max(1, int(args.pace * args.pace_s))
    await paced(producer, warmup + 1, args.pace, count)
    got = await asyncio.to_thread(fleet.wait, warmup + count, 30.0)
    result.p50_ms, result.p99_ms = got.p(50) * 1000, got.p(99) * 1000
    result.max_ms = got.p(100) * 1000
    result.pace_lost, result.pace_behind = got.lost, got.clients - got.in_sync
    print(f"  {result.system} at {args.pace:g} ev/s: p50 {result.p50_ms:.1f} ms,"
          f" p99 {result.p99_ms:.1f} ms, max {result.max_ms:.1f} ms, {got.lost} lost,"
          f" {got.in_sync}/{got.clients} in sync", flush=True)  # fmt: skip
    ladder = Ladder(result, fleet, producer, servers, args, warmup + count + 1)
    held, failed = 0.0, None
    for rate in args.rates:
        if not await ladder.step(rate):
            failed = rate
            break
        held = rate
    for _ in range(args.refine if failed is not None else 0):  # bisect between the two
        rate = float(round((held + failed) / 2))
        if rate in (held, failed):
            break
        if await ladder.step(rate):
            held = rate
        else:
            failed = rate
    result.best_rate = held


class Ladder:
    """Steps of constant rate; each records a :class:`Step` in the result."""

    def __init__(
        self,
        result: Result,
        fleet: Fleet,
        producer: Producer,
        servers: list[int],
        args: argparse.Namespace,
        seq: int,
    ) -> None:
        self.result, self.fleet, self.producer, self.args = result, fleet, producer, args
        self.seq = seq
        self.server_cpu, self.producer_cpu = Cpu(servers), Cpu([os.getpid()])

    async def step(self, rate: float) -> bool:
        """Send at ``rate`` for ``--step-s`` seconds; whether the rate was held."""
        fleet, args, seq = self.fleet, self.args, self.seq
        await asyncio.to_thread(fleet.expect, seq)
        fleet_before = (await asyncio.to_thread(fleet.summary)).cpu_s
        self.server_cpu.lap(), self.producer_cpu.lap()
        count = max(5, int(rate * args.step_s))
        started = time.monotonic()
        took = await paced(self.producer, seq, rate, count)
        sent_end = time.time()
        self.seq = last = seq + count
        got = await asyncio.to_thread(fleet.wait, last - 1, args.grace + 5)
        wall = time.monotonic() - started
        step = Step(
            rate,
            False,
            self.server_cpu.lap(),
            (got.cpu_s - fleet_before) / wall * 100,
            self.producer_cpu.lap(),
            self.server_cpu.seconds / (count * got.clients or 1) * 1e6,
        )
        lag = (got.synced_at or got.last_at) - sent_end
        problems = [
            f"{got.lost} lost" if got.lost else "",
            f"{got.clients - got.in_sync} behind" if got.in_sync < got.clients else "",
            f"{got.reconnects} reconnected" if got.reconnects else "",
            f"producer took {took:.1f} s" if took > count / rate * 1.2 else "",
            f"last delivery {lag:.1f} s late" if lag > args.grace else "",
        ]
        step.note = ", ".join(p for p in problems if p)
        step.held = not step.note
        self.result.steps.append(step)
        print(f"    {self.result.system} {rate:g} ev/s: {'held' if step.held else step.note};"
              f" p99 {got.p(99) * 1000:.0f} ms;"
              f" CPU server {step.server_cpu:.0f}% ({step.server_us_per_frame:.1f} µs/frame),"
              f" fleet {step.fleet_cpu:.0f}%, producer {step.producer_cpu:.0f}%",
              flush=True)  # fmt: skip
        if not step.held:  # let the backlog drain before the next step
            await asyncio.to_thread(fleet.wait, last - 1, 30.0)
        await asyncio.sleep(args.settle_s)
        return step.held


def table(results: list[Result], pace: float) -> str:
    bare = next((r for r in results if r.system == "bare"), None)
    lines = [
        f"| system | viewers connected | connect | p50 / p99 / max at {pace:g} ev/s"
        " | max ev/s, no loss | vs bare | server CPU per frame (vs bare)"
        " | at the first rate not held: server / fleet CPU | server RSS, KiB per viewer |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = f"{r.best_rate / bare.best_rate:.0%}" if bare and bare.best_rate else "n/a"
        cost = f"{r.us_per_frame:.1f} µs"
        if bare and bare.steps and r is not bare:
            cost += f" (x{r.us_per_frame / bare.us_per_frame:.1f})"
        limit = r.limit
        cpu = (
            f"{limit.rate:g} ev/s: {limit.server_cpu:.0f}% / {limit.fleet_cpu:.0f}% ({limit.note})"
            if limit
            else "every rate held"
        )
        lines.append(
            f"| {r.system} | {r.connected:,}/{r.viewers:,} | {r.connect_s:.0f} s"
            f" | {r.p50_ms:.0f} / {r.p99_ms:.0f} / {r.max_ms:.0f} ms"
            f"{f' ({r.pace_lost} lost)' if r.pace_lost else ''}"
            f"{f' ({r.pace_behind} viewers behind)' if r.pace_behind else ''}"
            f" | {r.best_rate:g} | {ratio} | {cost} | {cpu}"
            f" | {r.rss_idle_mib:.0f} MiB, {r.kib_per_conn:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--viewers", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=3, help="fleet processes")
    parser.add_argument(
        "--systems",
        default=DEFAULT_SYSTEMS,
        help=f"of {', '.join(SYSTEMS)} (nginx: two atexpert processes behind deploy/nginx.conf)",
    )
    parser.add_argument("--rates", type=float, nargs="+", default=RATES)
    parser.add_argument("--pace", type=float, default=2.0, help="events/s of the latency run")
    parser.add_argument("--pace-s", type=float, default=10.0)
    parser.add_argument("--warmup-s", type=float, default=5.0, help="at the pace, not timed")
    parser.add_argument("--step-s", type=float, default=3.0, help="seconds per rate step")
    parser.add_argument("--refine", type=int, default=2, help="bisections after the ladder")
    parser.add_argument("--grace", type=float, default=1.0, help="lateness allowed, seconds")
    parser.add_argument("--settle-s", type=float, default=1.0)
    parser.add_argument("--client", choices=("light", "websockets"), default="light")
    parser.add_argument("--connect-concurrency", type=int, default=200)
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--max-s", type=float, default=600.0, help="a fleet's lifetime")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        kind, port, rest = args.serve[0], int(args.serve[1]), args.serve[2:]
        if kind == "atexpert":
            serve_atexpert(port, int(rest[0]))
        elif kind == "bare":
            with asyncio.Runner(loop_factory=loop_factory()) as runner:  # uvicorn's loop too
                runner.run(serve_bare(port, rest[0]))
        else:
            serve_socketio(port, rest[0])
        return
    systems = [s for s in args.systems.split(",") if s]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="public") as tmp:
        redis = EmbeddedRedis(Path(tmp) / "r")
        redis.start()
        try:
            print(f"public page: {args.viewers} viewers, fleet of {args.processes} processes"
                  f" ({args.client} client), {os.cpu_count()} cores,"
                  f" load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
            for kind in systems:
                results.append(asyncio.run(run_system(kind, args, redis.url)))
        finally:
            redis.stop()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average at the end: {load}\n")
    print(table(results, args.pace))


if __name__ == "__main__":
    main()
