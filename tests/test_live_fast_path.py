"""Live events are written to a client at once while it keeps up (the server's fast path,
``web/serving.py``) and queued while it doesn't: either way it gets them all, in order."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from websockets.asyncio.client import connect

from atexpert.settings import Settings
from atexpert.web.app import create_app
from tests.support.app_server import AppServer
from tests.support.live_world import LiveWorld
from tests.support.live_world import world as world

QUESTIONS = 40  # of ~8 KB each: far beyond the socket buffers and the transport's limit


@pytest.fixture
async def server(redis_url: str, world: LiveWorld) -> AsyncIterator[AppServer]:
    settings = Settings(redis_url=redis_url, secret_key=SecretStr("fast-path-" + "x" * 32))
    app = create_app(settings, run_scheduler=False)
    with AppServer(app, send_buffer=16 * 1024) as running:
        yield running


def stream_id(entry: str) -> tuple[int, int]:
    ms, seq = entry.split("-")
    return int(ms), int(seq)


async def test_a_client_that_pauses_gets_every_event_in_order(
    server: AppServer, world: LiveWorld
) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    async with connect(
        server.url(f"/ws/sessions/{world.session_id}/moderator"),
        sock=sock,
        subprotocols=["atexpert.v1", f"bearer.{world.tokens['mia']}"],  # type: ignore[list-item]
        max_queue=1,  # the library stops reading the socket while a frame waits
        max_size=None,
        ping_interval=None,
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "snapshot"
        # a backlog first; then more events while the client catches up
        asked = [await world.ask(f"{i} " + "a long question " * 500) for i in range(QUESTIONS)]
        ids: list[str] = []
        received: list[str] = []
        while len(received) < len(asked):
            if len(asked) < 3 * QUESTIONS:
                asked.append(await world.ask(f"{len(asked)} " + "a long question " * 500))
            frame = json.loads(await ws.recv())
            if frame["type"] != "event":
                continue
            ids.append(frame["id"])
            if frame["kind"] == "question.received":
                received.append(frame["entity_id"])
    assert received == asked
    assert [stream_id(i) for i in ids] == sorted({stream_id(i) for i in ids})
