"""How ``atexpert serve`` runs the app under uvicorn, and the websocket protocol it uses.

uvicorn's own protocol never lets go of a client that stops reading: its ``send`` waits
while the transport's write buffer is above the high-water mark, so the close frame of a
dropped slow reader is never written, and closing the transport waits for that buffer to
drain, which never happens. The connection, and the frames buffered for it, would stay
forever. :class:`WebSocketProtocol` queues the close frame at once, behind what is
buffered, and resets a connection still open ``close_timeout_s`` after the app is done
with it (see ``docs/live-protocol.md``).

It is also lighter: an idle connection holds no asyncio queue or event (each carries
empty deques of about 0.7 KiB), nor the handshake's request and response once the
upgrade is done, and a public client's frames are capped at :data:`PUBLIC_WS_MAX_SIZE`.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol, State

from atexpert.live.hub import LiveConfig

#: The lifespan state key under which the app tells the protocol its ``close_timeout_s``.
CLOSE_TIMEOUT_STATE = "atexpert.live.close_timeout_s"
#: Used if the app did not say.
DEFAULT_CLOSE_TIMEOUT_S: float = LiveConfig.model_fields["close_timeout_s"].default
#: The scope extension holding :meth:`WebSocketProtocol.send_now`, the live fan-out's fast
#: path: ``scope["extensions"][SEND_NOW]["send_text"](data)``.
SEND_NOW = "atexpert.send_now"
#: ``SO_LINGER`` on with a zero timeout: ``close()`` sends an RST and drops the unsent bytes.
RESET_ON_CLOSE = struct.pack("ii", 1, 0)
#: The largest frame a client of a public endpoint may send (it only answers pings);
#: beyond, the connection is closed (1009) before the frame is buffered.
PUBLIC_WS_MAX_SIZE = 4 * 1024

#: uvicorn's limits for a server facing the internet, behind nginx or not (``options`` of
#: :func:`server_config` override them). uvicorn has no timeout for reading a request's
#: headers: a client sending them slowly is cut by the proxy (nginx's
#: ``client_header_timeout``, ``deploy/nginx.conf``), so serve the public behind it.
PUBLIC_LIMITS: dict[str, Any] = {
    # h11, whose header size uvicorn can bound (httptools takes any size)
    "http": "h11",
    # request line and headers, at most; beyond, the connection is closed with a 431/400
    "h11_max_incomplete_event_size": 16 * 1024,
    # an idle keep-alive connection is closed after this; above the 10 s after which
    # nginx drops its idle upstream connections, so it never reuses one being closed
    "timeout_keep_alive": 20,
    # open connections (websockets included) and requests at once; beyond, 503. Above
    # LiveConfig.max_public (10 000), so that public clients beyond that get the app's
    # refusal with a retry hint (1013) rather than a bare 503
    "limit_concurrency": 12_000,
    # a websocket frame larger than this closes the connection (1009); the app answers
    # frames over its own limit (64 KiB) with a message_too_large error frame (a public
    # client's frames are capped lower: PUBLIC_WS_MAX_SIZE)
    "ws_max_size": 1024 * 1024,
    # on SIGTERM: websockets are closed at once (1012), in-flight requests get this long
    "timeout_graceful_shutdown": 10,
}


class Inbox:
    """What uvicorn's protocol needs of its ``asyncio.Queue`` of received messages, holding
    nothing while empty."""

    __slots__ = ("_getter", "_items")

    def __init__(self) -> None:
        self._items: deque[ASGIReceiveEvent] | None = None
        self._getter: asyncio.Future[None] | None = None

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        if self._getter is not None and not self._getter.done():
            self._getter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> ASGIReceiveEvent:
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item


class Flag:
    """What uvicorn's protocol needs of its ``asyncio.Event`` ``writable``, holding no
    deque of waiters."""

    __slots__ = ("_set", "_waiter")

    def __init__(self) -> None:
        self._set = True
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        while not self._set:
            if self._waiter is None or self._waiter.done():
                self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._waiter)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol, bounded for peers that stop reading, and
    light while idle."""

    _reset: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        if event.path.partition("?")[0].endswith("/public"):
            self.conn.max_message_size = PUBLIC_WS_MAX_SIZE
        super().handle_connect(event)
        if not self.close_sent:  # an upgrade: the app may use the fast path
            self.scope["extensions"][SEND_NOW] = {"send_text": self.send_now}
        if not self.conn.reader.buffer:
            # The server's parser is a generator that keeps the parsed request (headers and
            # all) as a local for the connection's lifetime: go on with the frame parser.
            self.conn.parser = Protocol.parse(self.conn)
            next(self.conn.parser)

    def send_now(self, frame: bytes) -> bool:
        """Write ``frame`` (from :func:`text_frame`) at once, in the caller's step, if
        nothing stands in the way (accepted, open, no fragmented message or extension, the
        transport below its high-water mark); False: it was not sent, send it the ASGI way.

        The ASGI way costs a task switch, a chain of awaits and a serialization per frame and
        client; a live event goes to thousands of clients at once.
        """
        conn = self.conn
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or not self.writable.is_set()
            or conn.state is not State.OPEN
            or conn.expect_continuation_frame
            or conn.extensions
        ):
            return False
        self.transport.write(frame)
        return True

    async def send(self, message: ASGISendEvent) -> None:
        if message["type"] != "websocket.close" or self.writable.is_set():
            await super().send(message)
            if message["type"] == "websocket.accept":  # the handshake is done
                del self.request, self.response
            return
        # The buffer is full: queue the close frame behind it rather than wait for the peer
        # to read (super().send does not yield once writable is set).
        self.writable.set()
        try:
            await super().send(message)
        finally:
            if not self.disconnected:  # else stay set: nothing may wait on a lost connection
                self.writable.clear()

    async def run_asgi(self) -> None:
        await super().run_asgi()
        if not self.disconnected:
            timeout = self.app_state.get(CLOSE_TIMEOUT_STATE, DEFAULT_CLOSE_TIMEOUT_S)
            self._reset = self.loop.call_later(timeout, self.reset)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._reset is not None:
            self._reset.cancel()
        super().connection_lost(exc)

    def reset(self) -> None:
        """Drop the connection now, and whatever is still buffered for the peer."""
        if self.disconnected:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        self.transport.abort()


@functools.lru_cache(maxsize=16)
def text_frame(data: str) -> bytes:
    """``data`` as a server's websocket text frame (unmasked, uncompressed): serialized once
    for all the clients an event goes to, by :meth:`WebSocketProtocol.send_now`."""
    return Frame(Opcode.TEXT, data.encode()).serialize(mask=False, extensions=[])


def server_config(app: Callable[..., Any], host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for the app (``options``: any other ``uvicorn.Config`` argument).

    Per-message compression is off: each live event is serialized once for all clients,
    and compression would redo that work per client and frame. uvicorn's own
    X-Forwarded-For handling (which trusts 127.0.0.1 by default) is off too: the app alone
    reads the client's address, from ``settings.trusted_proxies`` (``web/client_ip.py``).
    The limits are :data:`PUBLIC_LIMITS`.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws=WebSocketProtocol,
        ws_per_message_deflate=False,
        proxy_headers=False,
        **(PUBLIC_LIMITS | options),
    )
