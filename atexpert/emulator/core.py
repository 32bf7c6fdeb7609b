"""The emulator's services and the wrapper every X endpoint goes through.

Order per request, as X behaves: injected latency/5xx, authentication, the
endpoint's allowed auth types, rate limit (and forced 429s), then the handler.
Rate-limit headers are attached to every answer after authentication, errors included.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from atexpert.emulator.auth import NonceCache, Principal, authenticate, require
from atexpert.emulator.faults import Faults
from atexpert.emulator.hub import StreamHub
from atexpert.emulator.problems import (
    JSON_TYPE,
    XError,
    body_problem,
    server_error,
    too_many_requests,
)
from atexpert.emulator.ratelimit import RateLimiter
from atexpert.emulator.state import State

USER = ("oauth1", "oauth2")
ANY = ("app", "oauth1", "oauth2")
APP = ("app",)


@dataclass
class Emulator:
    """Everything a handler may touch."""

    state: State
    hub: StreamHub
    snapshot: Path | None = None
    limiter: RateLimiter = field(default_factory=RateLimiter)
    faults: Faults = field(default_factory=Faults)
    nonces: NonceCache = field(default_factory=NonceCache)
    loop: asyncio.AbstractEventLoop | None = None  # set while serving


@dataclass
class Call:
    request: Request
    emu: Emulator
    principal: Principal

    @property
    def state(self) -> State:
        return self.emu.state

    @property
    def user_id(self) -> str:
        assert self.principal.user_id is not None
        return self.principal.user_id


def x_json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(body, status_code=status, headers=headers, media_type=JSON_TYPE)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body, or X's 400 when it is missing or malformed."""
    raw = await request.body()
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise body_problem("Request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise body_problem("$: is not an object")
    return value


Handler = Callable[[Call], Awaitable[Response]]


def endpoint(
    name: str, allowed: tuple[str, ...] = ANY
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap ``handler`` with faults, auth, rate limits and X's headers."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            emu: Emulator = request.app.state.emulator
            headers: dict[str, str] = {}
            try:
                await emu.faults.delay(name)
                if emu.faults.take_5xx(name):
                    raise server_error()
                principal = await authenticate(request, emu.state, emu.nonces)
                require(principal, allowed)
                ok, headers = emu.limiter.hit(
                    name, principal.rate_key, principal.user_id is not None, time.time()
                )
                if emu.faults.take_429(name):
                    ok = False
                    headers["x-rate-limit-remaining"] = "0"
                    headers["x-rate-limit-reset"] = str(int(time.time()) + emu.faults.reset_in)
                if not ok:
                    raise too_many_requests(headers)
                headers["x-access-level"] = "read" if principal.kind == "app" else "read-write"
                response = await handler(Call(request, emu, principal))
            except XError as err:
                response = err.response()
            headers.setdefault("api-version", "2.150")
            for key, value in headers.items():
                response.headers.setdefault(key, value)
            return response

        run.__name__ = handler.__name__
        return run

    return wrap
