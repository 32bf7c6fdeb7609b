"""``create_emulator_app``: the X API v2 emulator as a Starlette application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from atexpert.emulator import (
    control,
    likes,
    oauth2,
    pages,
    search,
    snapshot,
    stream,
    tweets,
    users,
)
from atexpert.emulator.core import Emulator
from atexpert.emulator.hub import StreamHub
from atexpert.emulator.problems import PROBLEM_TYPE, server_error
from atexpert.emulator.state import AppCredentials, State


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = "Sorry, that page does not exist" if exc.status_code == 404 else str(exc.detail)
    return JSONResponse(
        {
            "title": "Not Found Error" if exc.status_code == 404 else "Error",
            "detail": detail,
            "type": "about:blank",
            "status": exc.status_code,
        },
        status_code=exc.status_code,
        media_type=PROBLEM_TYPE,
        headers=getattr(exc, "headers", None),
    )


async def _crash(request: Request, exc: Exception) -> Response:
    return server_error().response()


def create_emulator_app(
    *,
    snapshot_path: Path | None = None,
    heartbeat_seconds: float = 20.0,
    app_credentials: AppCredentials | None = None,
) -> Starlette:
    """Build the emulator. ``snapshot_path`` makes its state survive restarts;
    ``heartbeat_seconds`` is the stream's keep-alive interval (X: at most 20 s)."""
    state = (snapshot.load(snapshot_path) if snapshot_path else None) or State(app=app_credentials)
    emu = Emulator(state=state, hub=StreamHub(state, heartbeat_seconds), snapshot=snapshot_path)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        emu.loop = asyncio.get_running_loop()
        saver = asyncio.create_task(_autosave(emu)) if snapshot_path else None
        try:
            yield
        finally:
            emu.hub.drop()
            if saver is not None:
                saver.cancel()
                snapshot.save(emu.state, snapshot_path)  # type: ignore[arg-type]

    app = Starlette(
        routes=[
            *users.routes,
            *search.routes,
            *stream.routes,
            *tweets.routes,
            *likes.routes,
            *oauth2.routes,
            *pages.routes,
            *control.routes,
        ],
        exception_handlers={HTTPException: _http_error, Exception: _crash},
        lifespan=lifespan,
    )
    app.state.emulator = emu
    return app


async def _autosave(emu: Emulator) -> None:
    assert emu.snapshot is not None
    while True:
        await asyncio.sleep(0.5)
        if emu.state.dirty:
            snapshot.save(emu.state, emu.snapshot)
