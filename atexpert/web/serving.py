"""How ``atexpert serve`` runs the app under uvicorn, and the websocket protocol it uses.

uvicorn's own protocol never lets go of a client that stops reading: its ``send`` waits
while the transport's write buffer is above the high-water mark, so the close frame of a
dropped slow reader is never written, and closing the transport waits for that buffer to
drain, which never happens. The connection, and the frames buffered for it, would stay
forever. :class:`WebSocketProtocol` queues the close frame at once, behind what is
buffered, and resets a connection still open ``close_timeout_s`` after the app is done
with it (see ``docs/live-protocol.md``).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import struct
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State

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
    # open connections (websockets included) and requests at once; beyond, 503
    "limit_concurrency": 10_000,
    # a websocket frame larger than this closes the connection (1009); the app answers
    # frames over its own limit (64 KiB) with a message_too_large error frame
    "ws_max_size": 1024 * 1024,
    # on SIGTERM: websockets are closed at once (1012), in-flight requests get this long
    "timeout_graceful_shutdown": 10,
}


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol, bounded for peers that stop reading."""

    _reset: asyncio.TimerHandle | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if not self.close_sent:  # an upgrade: the app may use the fast path
            self.scope["extensions"][SEND_NOW] = {"send_text": self.send_now}

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
            return await super().send(message)
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
