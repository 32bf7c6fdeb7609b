"""The app's Prometheus metrics (prometheus_client), and their text for ``GET /metrics``.

Defined here, in the lowest layer with I/O, so that every layer above counts into the same
instruments (the web layer, the live hub, intake, publishing, the X meter).

Several processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (prometheus_client's own variable,
read when it is first imported) every process writes its values to files there, and
:func:`exposition` on any process sums the files of all of them. Gauges of connections
count live processes only: the files of a process that is gone are dropped at each scrape.
Unset, the values live in this process alone.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from atexpert.store.redis_conn import RedisClient, ping

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
_LIVE_FILE = re.compile(r"gauge_live(?:sum|all)_(\d+)\.db")

if os.environ.get(MULTIPROC_ENV):  # the first value file is written when a metric is made
    Path(os.environ[MULTIPROC_ENV]).mkdir(parents=True, exist_ok=True)

HTTP_REQUESTS = Counter(
    "atexpert_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
WEBSOCKETS = Gauge(
    "atexpert_websocket_connections",
    "Live websocket connections open, by console role.",
    ["role"],
    multiprocess_mode="livesum",
)
LIVE_EVENTS = Counter(
    "atexpert_live_events", "Session events fanned out live to the websocket clients."
)
LIVE_FRAMES = Counter(
    "atexpert_live_frames", "Frames of live events queued to websocket clients (event x client)."
)
INTAKE_POSTS = Counter(
    "atexpert_intake_posts",
    "Posts read from X by intake, by outcome: received, duplicates, truncated, or why skipped.",
    ["outcome"],
)
INTAKE_LAG = Histogram(
    "atexpert_intake_lag_seconds",
    "From a question's post time on X to its storing.",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
)
PUBLISH_PARTS = Counter("atexpert_publish_parts", "Posts published to X (answer parts, notices).")
PUBLISH_FAILURES = Counter(
    "atexpert_publish_failures",
    "Failed tries to post to X, by kind (refused, gave_up, rate_limited, unknown_outcome).",
    ["kind"],
)
X_CALLS = Counter("atexpert_x_calls", "X API answers received, by endpoint.", ["endpoint"])
X_UNITS = Counter("atexpert_x_billed_units", "Billed X units, by kind of call.", ["kind"])
X_SPEND = Counter("atexpert_x_spend_usd", "X spend in US dollars, by kind of call.", ["kind"])
REDIS_RTT = Histogram(
    "atexpert_redis_ping_seconds",
    "Round-trip time of a periodic Redis PING.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
REDIS_PING_FAILURES = Counter("atexpert_redis_ping_failures", "Periodic Redis PINGs that failed.")


def multiproc_dir() -> Path | None:
    """The shared directory of the processes' values, when there is one."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user's
    return True


def forget_dead(path: Path) -> None:
    """Drop the live gauges (open connections) of processes that no longer run."""
    for file in path.glob("gauge_live*_*.db"):
        match = _LIVE_FILE.fullmatch(file.name)
        if match is not None and not _alive(pid := int(match.group(1))):
            mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


def exposition(path: Path | None) -> bytes:
    """The metrics in Prometheus' text format: of every process writing to ``path``, or of
    this process alone when ``path`` is None."""
    if path is None:
        return generate_latest(REGISTRY)
    forget_dead(path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    return generate_latest(registry)


async def probe_redis(client: RedisClient, stop: asyncio.Event, interval: float) -> None:
    """PING Redis every ``interval`` seconds until ``stop``: its round-trip time, or a
    failure. One PING per process, whatever the traffic: cheaper than timing each command."""
    while not stop.is_set():
        start = time.perf_counter()
        if await ping(client):
            REDIS_RTT.observe(time.perf_counter() - start)
        else:
            REDIS_PING_FAILURES.inc()
        try:
            async with asyncio.timeout(interval):
                await stop.wait()
        except TimeoutError:
            pass
