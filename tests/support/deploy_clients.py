"""Clients of the deploy test, all through nginx: a logged-in console (cookie + CSRF) and a
websocket follower that reconnects and resumes from its last event id, as the consoles do
(``docs/live-protocol.md``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from atexpert.web.auth import CSRF_HEADER

#: Statuses a request may meet while one process dies: retried (idempotent requests only).
PASSING = (502, 503, 504)


class Console:
    """A logged-in staff user: cookie auth, the CSRF header on every state change."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.client = httpx.AsyncClient(base_url=base_url, timeout=30)
        self.csrf = ""

    async def login(self, username: str, password: str) -> Console:
        r = await self.client.post("/api/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.csrf = r.json()["csrf_token"]
        return self

    @property
    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.client.cookies.items())

    async def get(self, path: str, retry_for: float = 30) -> Any:
        """GET ``path`` (retried while the processes recover)."""
        async with asyncio.timeout(retry_for):
            while True:
                with contextlib.suppress(httpx.TransportError):
                    r = await self.client.get(path)
                    if r.status_code not in PASSING:
                        assert r.status_code == 200, r.text
                        return r.json()
                await asyncio.sleep(0.2)

    async def post(self, path: str, body: Any = None, status: int = 200) -> Any:
        r = await self.client.post(path, json=body, headers={CSRF_HEADER: self.csrf})
        assert r.status_code == status, r.text
        return r.json()

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass
class Follower:
    """One websocket client of ``path``: it records every event id it applies and, when the
    connection ends, reconnects with ``?after=`` its position."""

    name: str
    ws_base: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    origin: str | None = None
    ids: list[str] = field(default_factory=list)
    records: dict[str, Any] = field(default_factory=dict)
    position: str | None = None
    connects: int = 0
    closes: list[int | None] = field(default_factory=list)
    refused: int = 0
    resyncs: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"follower-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def url(self, after: str | None) -> str:
        return self.ws_base + self.path + (f"?after={after}" if after else "")

    async def _run(self) -> None:
        while True:
            try:
                async with connect(
                    self.url(self.position),
                    origin=self.origin,  # type: ignore[arg-type]
                    additional_headers=self.headers,
                    open_timeout=10,
                    max_size=None,
                ) as ws:
                    self.connects += 1
                    if self.position is not None:  # resumed; else once the snapshot is in
                        self.connected.set()
                    try:
                        async for raw in ws:
                            await self._apply(ws, json.loads(raw))
                    except ConnectionClosed:
                        pass
                    self.closes.append(ws.close_code)
            except (OSError, TimeoutError, InvalidHandshake):
                self.refused += 1
            self.connected.clear()
            await asyncio.sleep(0.3)

    async def _apply(self, ws: Any, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "snapshot":
            self.position = msg["last_event_id"]
            self.connected.set()
            for answer in msg.get("answers", []):
                self.records[answer["id"]] = answer
        elif kind == "event":
            self.ids.append(msg["id"])
            self.position = msg["id"]
            if msg["record"] is not None:
                self.records[msg["entity_id"]] = msg["record"]
        elif kind == "ping":
            self.position = msg["last_event_id"]
            await ws.send('{"type": "pong"}')
        elif kind == "resync":
            self.resyncs += 1

    def mark(self) -> tuple[str | None, int]:
        """Where the follower is now: its position and how many events it has applied."""
        return self.position, len(self.ids)

    def figures(self, since: tuple[str | None, int]) -> str:
        codes = ",".join(str(c) for c in self.closes) or "-"
        return (
            f"{self.name}: {len(self.ids) - since[1]} events, {self.connects} connects, "
            f"closes [{codes}], {self.refused} refused, {self.resyncs} resyncs"
        )


async def replay(follower: Follower, after: str | None, quiet: float = 1.5) -> list[str]:
    """The event ids a fresh client of ``follower``'s endpoint gets after ``after``."""
    ids: list[str] = []
    async with connect(
        follower.url(after),
        origin=follower.origin,  # type: ignore[arg-type]
        additional_headers=follower.headers,
        open_timeout=10,
        max_size=None,
    ) as ws:
        while True:
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), quiet))
            except TimeoutError:
                return ids
            if msg["type"] == "event":
                ids.append(msg["id"])
            assert msg["type"] != "resync", msg


async def assert_no_gap(followers: list[Follower], marks: list[tuple[str | None, int]]) -> None:
    """Each follower applied, since its mark, exactly the events a fresh client gets after
    that position: none missing, none twice, in order."""
    for follower, mark in zip(followers, marks, strict=True):
        got = follower.ids[mark[1] :]
        expected = await replay(follower, mark[0])
        assert got == expected, (follower.name, got, expected)
        assert follower.resyncs == 0, follower.name


def caught_up(
    followers: list[Follower], marks: list[tuple[str | None, int]], n: int, role: str
) -> bool:
    """Every follower of ``role`` applied at least ``n`` events since its mark."""
    pairs = zip(followers, marks, strict=True)
    return all(len(f.ids) - m[1] >= n for f, m in pairs if f.name.startswith(role))


def figures(followers: list[Follower], marks: list[tuple[str | None, int]]) -> list[str]:
    return [f.figures(m) for f, m in zip(followers, marks, strict=True)]
