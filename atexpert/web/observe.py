"""What every request passes through for monitoring, and ``GET /metrics``.

:class:`ObserveMiddleware` gives each HTTP request and websocket a request id (the
client's ``X-Request-ID`` when it is a sane token, else a new one), returns it in the
``X-Request-ID`` response header, sets the log context (:mod:`atexpert.web.logs`) and
counts the HTTP requests by route template (never the raw path) and status.

``GET /metrics`` is not for the public: with ``settings.metrics_token`` set it asks for
``Authorization: Bearer <token>``; without, it answers only a client on this host that came
through no proxy (loopback peer, no ``X-Forwarded-For``/``Forwarded``/``X-Real-IP``), so
the nginx in front of the app never passes it on.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atexpert.store import metrics
from atexpert.web.api_errors import ApiError
from atexpert.web.api_routing import Services
from atexpert.web.logs import ACTOR, REQUEST_ID, SESSION_ID

HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNMATCHED = "unmatched"
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == HEADER.encode():
            text = bytes(value).decode("latin-1")
            if _SANE_ID.fullmatch(text):
                return text
    return uuid.uuid4().hex


class ObserveMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        rid = request_id(scope)
        tokens = REQUEST_ID.set(rid), SESSION_ID.set(None), ACTOR.set(None)
        try:
            if scope["type"] == "websocket":
                return await self.app(scope, receive, send)
            await self._http(scope, receive, send, rid)
        finally:
            REQUEST_ID.reset(tokens[0])
            SESSION_ID.reset(tokens[1])
            ACTOR.reset(tokens[2])

    async def _http(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER.encode(), rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            metrics.HTTP_REQUESTS.labels(route, scope["method"], str(status)).inc()


def _local_and_direct(request: Request) -> bool:
    try:
        peer = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    return peer.is_loopback and not any(h in request.headers for h in PROXY_HEADERS)


async def metrics_endpoint(request: Request) -> Response:
    """The metrics of every app process, in Prometheus' text format."""
    services: Services = request.app.state.services
    token = services.settings.metrics_token
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected):
            raise ApiError(401, "not_authenticated", "send the metrics bearer token")
    elif not _local_and_direct(request):
        raise ApiError(403, "forbidden", "metrics are served to local clients only")
    body = metrics.exposition(metrics.multiproc_dir())
    return Response(body, media_type=metrics.CONTENT_TYPE)
