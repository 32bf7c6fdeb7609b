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
import socket
import struct
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from atexpert.live.hub import LiveConfig

#: The lifespan state key under which the app tells the protocol its ``close_timeout_s``.
CLOSE_TIMEOUT_STATE = "atexpert.live.close_timeout_s"
#: Used if the app did not say.
DEFAULT_CLOSE_TIMEOUT_S: float = LiveConfig.model_fields["close_timeout_s"].default
#: ``SO_LINGER`` on with a zero timeout: ``close()`` sends an RST and drops the unsent bytes.
RESET_ON_CLOSE = struct.pack("ii", 1, 0)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol, bounded for peers that stop reading."""

    _reset: asyncio.TimerHandle | None = None

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


def server_config(app: Callable[..., Any], host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for the app (``options``: any other ``uvicorn.Config`` argument).

    Per-message compression is off: each live event is serialized once for all clients,
    and compression would redo that work per client and frame. uvicorn's own
    X-Forwarded-For handling (which trusts 127.0.0.1 by default) is off too: the app alone
    reads the client's address, from ``settings.trusted_proxies`` (``web/client_ip.py``).
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws=WebSocketProtocol,
        ws_per_message_deflate=False,
        proxy_headers=False,
        **options,
    )
