"""Clients that misbehave on the live websockets, against the app served as ``atexpert
serve`` serves it (uvicorn in a thread, real sockets): a reader that stops reading is
dropped and its TCP connection reset after ``close_timeout_s``; bad requests close with
their code and log one line each, never a traceback."""

from __future__ import annotations

import gc
import logging
import socket
import struct
import time
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from atexpert.live.hub import LiveConfig
from atexpert.settings import Settings
from atexpert.web.app import create_app
from tests.support.app_server import AppServer
from tests.support.live_world import LiveWorld
from tests.support.live_world import world as world
from tests.support.waiting import wait_for

CLOSE_TIMEOUT_S = 2.0
LIVE = LiveConfig(send_queue=20, close_timeout_s=CLOSE_TIMEOUT_S)
TCP_CLOSE = 7  # tcpi_state of a socket whose connection is gone (linux/tcp_states.h)


@pytest.fixture
async def server(redis_url: str, world: LiveWorld) -> AsyncIterator[AppServer]:
    settings = Settings(redis_url=redis_url, secret_key=SecretStr("bad-clients-" + "x" * 32))
    app = create_app(settings, run_scheduler=False, live_config=LIVE)
    # small kernel buffers on the server side: a client that stops reading fills them fast
    with AppServer(app, send_buffer=16 * 1024) as running:
        yield running


def subscribers(server: AppServer, session_id: str) -> int:
    feed = server.app.state.live_hub.feeds.get(session_id)
    return 0 if feed is None else len(feed.subscribers)


async def stalled_moderator(
    server: AppServer, world: LiveWorld
) -> tuple[ClientConnection, socket.socket]:
    """A moderator client that reads the handshake and then nothing (tiny receive buffer,
    and the client library stops reading the socket once one frame is waiting)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    ws = await connect(
        server.url(f"/ws/sessions/{world.session_id}/moderator"),
        sock=sock,
        subprotocols=["atexpert.v1", f"bearer.{world.tokens['mia']}"],  # type: ignore[list-item]
        max_queue=1,
        max_size=None,
        ping_interval=None,
    )
    world.clients.append(ws)
    await wait_for(lambda: subscribers(server, world.session_id) == 1, 10)
    return ws, sock


async def flood_until_dropped(server: AppServer, world: LiveWorld) -> None:
    """Post long questions until the server drops the stalled client (send queue full)."""
    for i in range(2000):
        await world.ask(f"{i} " + "a long question " * 500)  # an 8 KB frame each
        if subscribers(server, world.session_id) == 0:
            return
    await wait_for(lambda: subscribers(server, world.session_id) == 0, 10)


def tcp_state(sock: socket.socket) -> int:
    return int(struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0])


async def test_a_client_that_never_reads_is_dropped_and_its_connection_reset(
    server: AppServer, world: LiveWorld
) -> None:
    _, sock = await stalled_moderator(server, world)
    await flood_until_dropped(server, world)
    dropped = time.monotonic()
    # the server lets go of the connection, and of what it had buffered for it...
    await wait_for(lambda: server.connections() == 0, CLOSE_TIMEOUT_S + 10)
    assert time.monotonic() - dropped >= CLOSE_TIMEOUT_S / 2  # it had its chance to read
    # ...and the client, which never read a byte more, finds its TCP connection reset
    await wait_for(lambda: tcp_state(sock) == TCP_CLOSE, 5)


async def test_a_slow_client_that_reads_in_time_gets_its_close_frame(
    server: AppServer, world: LiveWorld
) -> None:
    ws, _ = await stalled_moderator(server, world)
    await flood_until_dropped(server, world)
    frames = 0
    with pytest.raises(ConnectionClosed) as closed:
        while True:  # what the server had buffered, then the close frame
            await ws.recv()
            frames += 1
    assert frames > 1
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
    assert closed.value.rcvd.reason == "too slow: the send queue is full"
    await wait_for(lambda: server.connections() == 0, 10)


async def close_code(server: AppServer, path: str) -> int:
    async with connect(server.url(path), subprotocols=["atexpert.v1"]) as ws:  # type: ignore[list-item]
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def hang_up_after_handshake(server: AppServer, path: str) -> None:
    """Send a websocket handshake and close the socket without waiting for the answer."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(request.encode())


async def test_bad_requests_close_with_their_code_and_log_one_line_each(
    server: AppServer, world: LiveWorld, caplog: pytest.LogCaptureFixture
) -> None:
    sid, draft = world.session_id, await world.draft()
    cases = [(f"/ws/sessions/s_nope{i}/public", 4404) for i in range(50)] + [
        ("/ws/sessions/no.such.id/public", 4404),
        (f"/ws/sessions/{'x' * 300}/public", 4404),
        (f"/ws/sessions/{draft}/public", 4404),
        (f"/ws/sessions/{sid}/nobody", 4404),
        (f"/ws/sessions/{sid}/public?after=tomorrow", 4400),
        (f"/ws/sessions/{sid}/moderator", 4401),
    ]
    caplog.set_level(logging.INFO, logger="atexpert")
    for path, code in cases:
        assert await close_code(server, path) == code, path
    for i in range(20):  # clients gone before their refusal: still one line each
        hang_up_after_handshake(server, f"/ws/sessions/s_gone{i}/public")
    cases += [(f"/ws/sessions/s_gone{i}/public", 4404) for i in range(20)]

    def refused() -> int:
        return sum(r.getMessage().startswith("live: refused") for r in caplog.records)

    await wait_for(lambda: refused() >= len(cases) and server.connections() == 0, 10)
    gc.collect()  # a task that failed unseen is reported when it is collected
    lines = [r for r in caplog.records if r.name.startswith(("atexpert", "asyncio", "uvicorn"))]
    assert all(r.exc_info is None for r in lines)
    text = [r.getMessage() for r in lines]
    assert not [t for t in text if "Traceback" in t or "never retrieved" in t or "\n" in t]
    assert [r.levelno for r in lines] == [logging.INFO] * len(cases)
    assert all(t.startswith("live: refused ") for t in text)
    assert "4404 no such session" in text[0] and "s_nope0" in text[0]
