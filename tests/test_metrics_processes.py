"""Two real ``atexpert serve`` processes sharing one ``PROMETHEUS_MULTIPROC_DIR``: ``/metrics``
of either one counts the traffic of both, and forgets the connections of a killed one. One
of them logs in JSON: every line is an object, carrying request id, session and actor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import connect

from atexpert.domain.sessions import HostAccount, SessionFields
from atexpert.store.staff import StaffStore
from atexpert.store.store import Store
from tests.support.api_world import FAST_HASHER, PASSWORD, bearer
from tests.support.observed_app import scrape, value
from tests.support.processes import free_port, wait_ready
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[1]
KEY = "processes-secret-key-" + "p" * 32


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    host: str
    log: Path


@contextmanager
def serving(*envs: tuple[dict[str, str], Path]) -> Iterator[list[Served]]:
    """``atexpert serve`` once per (environment, stderr file), started at once, on free ports."""
    served = []
    for env, log in envs:
        port = free_port()
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "atexpert.cli.main", "serve", "--port", str(port)],
                cwd=REPO, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        served.append(Served(proc, f"127.0.0.1:{port}", log))
    try:
        for one in served:
            wait_ready(one.proc, f"http://{one.host}", timeout=60, log=one.log)
        yield served
    finally:
        for one in served:
            if one.proc.poll() is None:
                one.proc.send_signal(signal.SIGTERM)
        for one in served:
            one.proc.wait(timeout=30)


async def scheduled_session(redis: aioredis.Redis) -> str:
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Ask Airbus",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=now + timedelta(hours=1),
        scheduled_end=now + timedelta(hours=2),
    )
    store = Store(redis)
    session = await store.create_session(fields, actor="root")
    return (await store.schedule_session(session.id, actor="root")).id


async def test_two_processes_one_metrics_view_and_json_logs(
    redis_url: str, redis_standalone: aioredis.Redis, tmp_path: Path
) -> None:
    staff = StaffStore(redis_standalone, hasher=FAST_HASHER)
    root = await staff.create_user("root", PASSWORD, is_admin=True)
    _, token = await staff.create_token(root.id, "tests")
    sid = await scheduled_session(redis_standalone)
    env = {
        "ATEXPERT_REDIS_URL": redis_url,
        "ATEXPERT_SECRET_KEY": KEY,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),  # made by the app
    }
    a_log = tmp_path / "a.log"
    json_env = {**env, "ATEXPERT_LOG_FORMAT": "json"}
    with serving((json_env, a_log), (env, tmp_path / "b.log")) as (a, b):
        a_host, b_host = a.host, b.host
        async with (
            httpx.AsyncClient(base_url=f"http://{a_host}") as to_a,
            httpx.AsyncClient(base_url=f"http://{b_host}") as to_b,
        ):
            for client, times in ((to_a, 2), (to_b, 3)):
                for _ in range(times):
                    assert (await client.get("/healthz")).status_code == 200
            r = await to_a.get(
                f"/api/sessions/{sid}/questions",
                headers={**bearer(token), "X-Request-ID": "req-json-1"},
            )
            assert r.status_code == 200 and r.headers["x-request-id"] == "req-json-1"
            path = f"/ws/sessions/{sid}/public"
            ws_a = await connect(f"ws://{a_host}{path}")
            ws_b = await connect(f"ws://{b_host}{path}")
            for ws in (ws_a, ws_b):
                assert json.loads(await ws.recv())["type"] == "snapshot"

            for client in (to_a, to_b):  # either process sees both
                seen = await scrape(client)
                assert value(seen, "atexpert_http_requests_total", route="/healthz") == 5
                assert value(seen, "atexpert_websocket_connections", role="public") == 2

            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait(timeout=10)

            async def one_left() -> bool:
                seen = await scrape(to_a)
                return value(seen, "atexpert_websocket_connections", role="public") == 1

            await wait_for(one_left)
            seen = await scrape(to_a)  # counters of the killed process still count
            assert value(seen, "atexpert_http_requests_total", route="/healthz") == 5
            await ws_a.close()
            await ws_b.close()
    lines = a_log.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert records and all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    (access,) = [r for r in records if r["request_id"] == "req-json-1"]
    assert access["logger"] == "uvicorn.access" and f"/api/sessions/{sid}" in access["message"]
    assert access["session_id"] == sid and access["actor"] == "root"
    assert all(
        len(r["request_id"]) == 32 for r in records if r["request_id"] not in (None, "req-json-1")
    )
