"""Overload and reconnect storms on the public live endpoint: a full process refuses
newcomers with 1013 and a retry hint while serving the clients it has; and, at a reduced
scale, ``bench/bench_storm.py``: public clients of an app process killed and restarted
come back with jittered backoff and miss nothing, whether they resume from the window or
get a resync and a snapshot."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from atexpert.domain.sessions import SessionUpdate
from atexpert.live.hub import LiveConfig
from atexpert.settings import Settings
from atexpert.web.app import create_app
from tests.support.app_server import AppServer
from tests.support.live_world import LiveWorld
from tests.support.live_world import world as world
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
RETRY_AFTER_S = 3


@pytest.fixture
async def server(redis_url: str, world: LiveWorld) -> AsyncIterator[AppServer]:
    settings = Settings(redis_url=redis_url, secret_key=SecretStr("storm-" + "x" * 32))
    live = LiveConfig(max_public=2, retry_after_s=RETRY_AFTER_S)
    with AppServer(create_app(settings, run_scheduler=False, live_config=live)) as running:
        yield running


async def scheduled(world: LiveWorld) -> str:
    session_id = await world.draft()
    await world.store.schedule_session(session_id, actor="root")
    return session_id


async def viewer(server: AppServer, session_id: str) -> ClientConnection:
    ws = await connect(server.url(f"/ws/sessions/{session_id}/public"))
    assert json.loads(await ws.recv())["type"] == "snapshot"
    return ws


async def test_a_full_process_refuses_newcomers_with_a_retry_hint_and_serves_the_others(
    server: AppServer, world: LiveWorld
) -> None:
    session_id = await scheduled(world)
    first, second = await viewer(server, session_id), await viewer(server, session_id)
    with pytest.raises(ConnectionClosed) as refused:
        await viewer(server, session_id)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 1013
    hint = re.fullmatch(r"the server is full; try again later; retry_after=(\d+)",
                        refused.value.rcvd.reason)  # fmt: skip
    assert hint is not None and RETRY_AFTER_S <= int(hint[1]) <= 2 * RETRY_AFTER_S

    update = SessionUpdate(description="Still on")
    await world.store.update_session(session_id, update, actor="root")
    for ws in (first, second):
        event = json.loads(await ws.recv())
        assert event["type"] == "event" and event["record"]["description"] == "Still on"

    await first.close()  # room for one more
    await wait_for(lambda: server.app.state.live_hub.public_clients == 1)
    await (await viewer(server, session_id)).close()
    await second.close()


@pytest.mark.parametrize(
    ("window", "resumed"),
    [("10000", "from the window"), ("3", "by a resync and a snapshot")],
)
def test_a_reconnect_storm_loses_no_event(
    redis_url: str, tmp_path: Path, window: str, resumed: str
) -> None:
    out = tmp_path / "storm.json"
    cmd = [
        sys.executable, str(ROOT / "bench" / "bench_storm.py"), "--clients", "200",
        "--procs", "1", "--warmup", "2", "--down", "1", "--tail", "1", "--timeout", "120",
        "--redis-url", redis_url, "--live", "window", window, "--json", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=400, cwd=ROOT)
    result = json.loads(out.read_text())
    assert result["unrecovered"] == 0
    assert result["duplicates"] == 0
    assert result["wrong_snapshots"] == 0
    assert result["public_events"] >= 3
    if window == "3":  # the restarted process's window misses what the clients lack
        assert result["resyncs"] >= result["clients"]
    else:
        assert result["resyncs"] == 0
