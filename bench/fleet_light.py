"""The fleet's light websocket client (:mod:`bench.fleet`): an asyncio ``Protocol`` that
parses the server's frames in place, with no task or future per frame."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.fleet import Client, Worker


class Refused(Exception):
    """The server refused the upgrade (an HTTP status) or closed at once."""


class LightProtocol(asyncio.Protocol):
    """A websocket client connection: handshake, then unmasked server frames parsed in
    place; frames sent masked with a zero key."""

    def __init__(self, worker: Worker, client: Client) -> None:
        self.worker, self.client = worker, client
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.buffer = bytearray()
        self.fragments: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's: no subclass
        worker = self.worker
        worker.aborts[self] = transport.abort
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in worker.spec.headers)
        transport.write(
            f"GET {worker.url_target(self.client)} HTTP/1.1\r\n"
            f"Host: {worker.host}:{worker.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra}\r\n".encode()
        )

    def send(self, data: bytes) -> None:
        """A masked text frame (payloads under 126 bytes: pongs)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(bytes((0x81, 0x80 | len(data))) + b"\0\0\0\0" + data)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.opened.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[9:12])
            del buf[: end + 4]
            if status != b"101":
                self.opened.set_exception(Refused(f"http {status.decode()}"))
                assert self.transport is not None
                self.transport.close()
                return
            self.client.send = self.send
            self.opened.set_result(None)
        pos, size, at = 0, len(buf), time.time()  # one arrival time for the chunk's frames
        while size - pos >= 2:
            length, head = buf[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            self.frame(buf[pos], bytes(buf[pos + head : end]), at)
            pos = end
        del buf[:pos]

    def frame(self, first: int, payload: bytes, at: float) -> None:
        opcode, fin = first & 0x0F, first & 0x80
        if opcode in (0, 1, 2):
            if not fin:
                self.fragments.append(payload)
                return
            if self.fragments:
                payload, self.fragments = b"".join([*self.fragments, payload]), []
            self.worker.on_frame(self.client, payload, at)
        elif opcode == 8:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if self.worker.running:
                self.worker.refusals[f"close {code}"] += 1
            assert self.transport is not None
            self.transport.write(b"\x88\x82\0\0\0\0" + payload[:2])
            self.transport.close()
        elif opcode == 9:  # ping: pong with the same payload
            assert self.transport is not None
            self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.aborts.pop(self, None)
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))
        if not self.lost.done():
            self.lost.set_result(None)
