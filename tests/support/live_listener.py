"""A live hub subscriber for tests: keeps every frame it is sent."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from atexpert.domain.sessions import Session
from atexpert.live.views import View


@dataclass(eq=False)
class Listener:
    """A subscriber that keeps what it is sent."""

    view: View = View.STAFF
    staff: bool = True
    frames: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def deliver(self, frame: str) -> None:
        self.frames.append(json.loads(frame))
        self.arrived.set()

    def session_changed(self, session: Session) -> None:
        self.sessions.append(session)

    def heartbeat(self, now: float, ping: str) -> None:
        self.deliver(ping)

    def revoked(self, identity: str) -> None:
        self.deliver(json.dumps({"type": "revoked", "identity": identity}))

    async def wait_for(self, pred: Any) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while True:
                for frame in self.frames:
                    if pred(frame):
                        return frame
                self.arrived.clear()
                await self.arrived.wait()
