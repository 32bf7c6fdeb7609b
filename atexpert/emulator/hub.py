"""Filtered-stream fan-out: matches each new post against the rules, feeds the connection."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from atexpert.emulator import meter
from atexpert.emulator.params import View
from atexpert.emulator.problems import problem_type
from atexpert.emulator.query import matches
from atexpert.emulator.render import post_json, with_includes
from atexpert.emulator.state import Post, State

_CLOSE = b""
OPERATIONAL_DISCONNECT = (
    json.dumps(
        {
            "errors": [
                {
                    "title": "operational-disconnect",
                    "disconnect_type": "OperationalDisconnect",
                    "detail": "This stream has been disconnected for operational reasons.",
                    "type": problem_type("operational-disconnect"),
                }
            ]
        },
        separators=(",", ":"),
    ).encode()
    + b"\r\n"
)


@dataclass
class Connection:
    """One open stream: its requested view and its outgoing queue of JSON lines."""

    view: View
    queue: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    delivered: int = 0
    closed: bool = False

    async def next_chunk(self, timeout: float) -> bytes | None:
        """The next line to send, ``None`` when a heartbeat is due, ``b""`` once closed."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self, notice: bytes = b"") -> None:
        """End the stream after what is queued (and ``notice``, a last line, if given)."""
        if not self.closed:
            self.closed = True
            if notice:
                self.queue.put_nowait(notice)
            self.queue.put_nowait(_CLOSE)


class StreamHub:
    """Holds the single allowed stream connection of the app and the drop faults."""

    def __init__(self, state: State, heartbeat: float = 20.0) -> None:
        self.state = state
        self.heartbeat = heartbeat
        self.active: Connection | None = None
        self.drop_after: int | None = None
        self.drop_notice = True  # X says why before an operational disconnect
        self.connects = 0

    def open(self, view: View) -> Connection | None:
        """A new connection, or None when one is already open (TooManyConnections)."""
        if self.active is not None and not self.active.closed:
            return None
        self.active = Connection(view)
        self.connects += 1
        return self.active

    def release(self, conn: Connection) -> None:
        conn.closed = True
        if self.active is conn:
            self.active = None

    def drop(self) -> None:
        """Disconnect the open stream (after X's operational-disconnect line, unless off)."""
        if self.active is not None:
            self.active.close(OPERATIONAL_DISCONNECT if self.drop_notice else b"")

    def publish(self, post: Post) -> None:
        conn = self.active
        if conn is None or conn.closed:
            return
        rules = [r for r in self.state.rules.values() if matches(r.node, post)]
        if not rules:
            return
        if (
            self.state.policy.metering
            and self.state.balance_micro < meter.PRICES_MICRO["search_read"]
        ):
            conn.close()  # the reconnect is answered 402 CreditsDepleted
            return
        meter.charge(self.state, "search_read")
        payload: dict[str, object] = {"data": post_json(self.state, post, conn.view)}
        includes = with_includes(self.state, [post], conn.view)
        if includes:
            payload["includes"] = includes
        payload["matching_rules"] = [{"id": r.id, "tag": r.tag} for r in rules]
        conn.queue.put_nowait(
            json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\r\n"
        )
        conn.delivered += 1
        if self.drop_after is not None and conn.delivered >= self.drop_after:
            self.drop_after = None
            self.drop()
