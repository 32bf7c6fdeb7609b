"""The frames a page's live websocket receives, for browser tests that wait on them."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Page, WebSocket


def frames_of(page: Page, url_end: str) -> list[str]:
    """The frames received by the page's websockets whose URL ends with ``url_end``, kept
    from the moment each socket opens (so an early snapshot is not missed)."""
    frames: list[str] = []

    def follow(ws: WebSocket) -> None:
        if ws.url.endswith(url_end):
            ws.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", follow)
    return frames


def wait_for_frame(page: Page, frames: list[str], text: str, timeout_s: float = 30) -> None:
    """Wait until one of ``frames`` contains ``text``."""
    deadline = time.monotonic() + timeout_s
    while not any(text in frame for frame in frames):
        assert time.monotonic() < deadline, f"no frame with {text} on the websocket"
        page.wait_for_timeout(50)
