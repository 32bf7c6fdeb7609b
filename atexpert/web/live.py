"""Websocket endpoints of the live consoles: ``/ws/sessions/{session_id}/{role}``.

See ``docs/live-protocol.md``. The app mounts :func:`live_routes` and runs a
:class:`~atexpert.live.hub.LiveHub` in its lifespan as ``app.state.live_hub``, next to the
API's ``app.state.services``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from urllib.parse import urlsplit

from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from atexpert.domain.errors import AtexpertError, Forbidden, InvalidInput, NotFound
from atexpert.domain.events import Record
from atexpert.domain.questions import Question
from atexpert.domain.sessions import Session
from atexpert.domain.staff import Action, StaffUser, can, staff_name
from atexpert.live.hub import LiveConfig, LiveHub, SessionFeed
from atexpert.live.protocol import (
    BEARER_PREFIX,
    SUBPROTOCOL,
    BadMessage,
    ClaimCommand,
    Close,
    Pong,
    QuestionCommand,
    TokenBucket,
    ack_frame,
    error_frame,
    parse_client_message,
)
from atexpert.live.views import PUBLIC_SESSION_STATUSES, LiveRole, View, view_record
from atexpert.store import metrics
from atexpert.store.store import STREAM_ID
from atexpert.web import logs
from atexpert.web.api_errors import ApiError
from atexpert.web.api_routing import Services
from atexpert.web.auth import Principal, authenticate
from atexpert.web.commands import QUESTION_COMMANDS, Caller, authorize, parse_input, perform
from atexpert.web.serving import SEND_NOW, text_frame

log = logging.getLogger("atexpert.live")

PATH = "/ws/sessions/{session_id}/{role}"
MAX_REASON = 120  # a close frame's reason is at most 123 bytes
MAX_LOGGED_PATH = 200
STAFF_ROLES = frozenset({LiveRole.MODERATOR, LiveRole.ADMIN})


def allowed(role: LiveRole, user: StaffUser | None, session: Session) -> bool:
    """Whether ``user`` may hold the ``role`` endpoint of ``session`` open."""
    if role is LiveRole.PUBLIC:
        return session.status.value in PUBLIC_SESSION_STATUSES
    if role is LiveRole.ADMIN:
        return user is not None and user.is_admin
    needed = Action.QUESTION_READ_ALL if role is LiveRole.MODERATOR else Action.ANSWER_WRITE
    return can(user, needed, session)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Connection:
    """One client. The endpoint's own task reads its messages; frames the hub hands it wait
    in a bounded deque, written by a sender task that exists only while there are some:
    an idle client costs no task, queue or event (see ``docs/live-protocol.md``)."""

    __slots__ = (
        "bucket",
        "closing",
        "config",
        "id",
        "identities",
        "last_seen",
        "limit",
        "pending",
        "receiving",
        "role",
        "send_now",
        "sender",
        "strikes",
        "task",
        "user",
        "ws",
    )  # fmt: skip

    def __init__(
        self,
        ws: WebSocket,
        role: LiveRole,
        user: StaffUser | None,
        config: LiveConfig,
        identities: frozenset[str] = frozenset(),
    ) -> None:
        self.id = secrets.token_hex(8)
        self.ws = ws
        self.role = role
        self.user = user
        #: What revokes this client's credentials: its login or token, its user.
        self.identities = identities
        self.config = config
        self.pending: deque[str] | None = None
        self.limit = config.send_queue
        self.sender: asyncio.Task[None] | None = None
        #: Writes a frame at once (the server's fast path, ``web/serving.py``), when the
        #: server offers one and nothing is waiting or being sent (no :attr:`sender`).
        self.send_now = ws.scope.get("extensions", {}).get(SEND_NOW, {}).get("send_text")
        self.closing: Close | None = None
        #: The endpoint's task, and whether it waits for a message (then a kick wakes it).
        self.task = asyncio.current_task()
        self.receiving = False
        self.last_seen = asyncio.get_running_loop().time()
        self.bucket = TokenBucket(config.rate_per_s, config.burst)
        self.strikes = TokenBucket(config.max_strikes / 600, config.max_strikes)

    @property
    def view(self) -> View:
        return self.role.view

    @property
    def staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def member(self) -> Record:
        assert self.user is not None
        return {
            "user_id": self.user.id,
            "username": self.user.username,
            "name": staff_name(self.user),
            "role": self.role.value,
        }

    def deliver(self, frame: str) -> None:
        if self.closing is not None:
            return
        if self.sender is None and self.send_now is not None and self.send_now(text_frame(frame)):
            return
        if self.pending is None:
            self.pending = deque()
        elif len(self.pending) >= self.limit:
            return self.kick(Close.TOO_SLOW)
        self.pending.append(frame)
        if self.sender is None:
            self.sender = asyncio.get_running_loop().create_task(self._send_pending())

    def begin(self, first: list[str]) -> None:
        """Send ``first`` (the snapshot or the missed events: the window bounds those, not
        ``send_queue``) before anything delivered later."""
        if first:
            self.pending, self.limit = deque(first), len(first) + self.config.send_queue
            self.sender = asyncio.get_running_loop().create_task(self._send_pending())

    async def _send_pending(self) -> None:
        try:
            while self.pending:
                await self.ws.send_text(self.pending.popleft())
        except (WebSocketDisconnect, WebSocketDisconnected):
            pass  # the endpoint's task sees it too
        except Exception as exc:
            log.warning("live: sending to a %s client: %r", self.role, exc)
            self.kick(Close.UNAVAILABLE)
        finally:
            self.sender = None
            self.pending = None
            self.limit = self.config.send_queue

    def kick(self, why: Close) -> None:
        """Close the client with ``why``: nothing more is queued; wake its endpoint."""
        if self.closing is not None:
            return
        self.closing = why
        if why is Close.TOO_SLOW and self.sender is not None:
            self.sender.cancel()  # else it sends what is pending (an error frame) first
        if self.receiving and self.task is not None:
            self.task.cancel()  # caught by wait_message, for this reason only

    async def wait_message(self) -> Message | None:
        """The client's next message; None once it is gone or kicked."""
        if self.closing is not None:
            return None
        self.receiving = True
        try:
            message = await self.ws.receive()
        except asyncio.CancelledError:
            assert self.task is not None
            if self.closing is None or self.task.uncancel() > 0:
                raise  # not (only) a kick
            return None
        finally:
            self.receiving = False
        return None if message["type"] == "websocket.disconnect" else message

    def session_changed(self, session: Session) -> None:
        if not allowed(self.role, self.user, session):
            self.kick(Close.NOT_FOUND if self.role is LiveRole.PUBLIC else Close.FORBIDDEN)

    def revoked(self, identity: str) -> None:
        if identity in self.identities:
            self.kick(Close.REVOKED)

    def heartbeat(self, now: float, ping: str) -> None:
        if now - self.last_seen > self.config.heartbeat_timeout_s:
            self.kick(Close.HEARTBEAT)
        else:
            self.deliver(ping)

    def strike(self, now: float) -> None:
        if not self.strikes.take(now):
            self.kick(Close.ABUSE)


async def _deny(ws: WebSocket, no: _Denied) -> None:
    """Refuse a client. A foreign page gets no upgrade at all (HTTP 403 with a JSON body,
    where the server supports denial responses); anyone else gets the upgrade closed at
    once with a 44xx code and the reason, which a browser script can read. Either way, one
    line in the log."""
    path = ws.url.path[:MAX_LOGGED_PATH]
    log.info("live: refused %r: %s %s", path, no.close.code, no.message[:MAX_REASON])
    if no.status == 403 and no.code == "origin_refused":
        if "websocket.http.response" in ws.scope.get("extensions", {}):
            body = {"error": no.code, "message": no.message}
            return await ws.send_denial_response(JSONResponse(body, status_code=403))
        return await ws.close(no.close.code, no.message)
    await ws.accept(_subprotocol(ws))
    await ws.close(no.close.code, no.message[:MAX_REASON])


def _subprotocol(ws: WebSocket) -> str | None:
    offered = ws.headers.get("sec-websocket-protocol", "")
    return SUBPROTOCOL if SUBPROTOCOL in (p.strip() for p in offered.split(",")) else None


def _bearer(ws: WebSocket) -> str | None:
    offered = ws.headers.get("sec-websocket-protocol", "")
    for item in (p.strip() for p in offered.split(",")):
        if item.startswith(BEARER_PREFIX):
            return item[len(BEARER_PREFIX) :]
    return None


async def _principal(ws: WebSocket, services: Services) -> Principal:
    """Authenticate like the HTTP API (cookie or bearer token; a token may come as the
    ``bearer.<token>`` subprotocol). A websocket handshake is a GET: no CSRF token; the
    Origin check stands in for it."""
    headers = [(k, v) for k, v in ws.scope["headers"] if k != b"authorization"]
    token = _bearer(ws)
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode("latin-1")))
    else:
        headers.extend((k, v) for k, v in ws.scope["headers"] if k == b"authorization")
    request = Request({**ws.scope, "type": "http", "method": "GET", "headers": headers})
    return await authenticate(request, services.staff, services.signer)


class _Denied(Exception):
    def __init__(self, status: int, code: str, message: str, close: Close) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.close = status, code, message, close


def _retry_later(close: Close, seconds: int) -> _Denied:
    """A refusal with the retry hint clients read from the close reason."""
    return _Denied(503, "unavailable", f"{close.reason}; retry_after={seconds}", close)


async def live_endpoint(ws: WebSocket) -> None:
    """A public client beyond ``max_public`` (or while the loop lags) is refused at once
    with 1013 and a retry hint; the clients already connected are not affected."""
    hub: LiveHub = ws.app.state.live_hub
    if ws.path_params.get("role") != LiveRole.PUBLIC.value:
        return await _live(ws, hub)
    if hub.full():
        return await _deny(ws, _retry_later(Close.OVERLOADED, hub.retry_after()))
    hub.public_clients += 1
    hub.collector.joined(asyncio.get_running_loop().time())
    try:
        await _live(ws, hub)
    finally:
        hub.public_clients -= 1
        hub.collector.left()


async def _live(ws: WebSocket, hub: LiveHub) -> None:
    services: Services = ws.app.state.services
    after = ws.query_params.get("after")
    try:
        if after is not None and STREAM_ID.fullmatch(after) is None:
            raise _Denied(400, "invalid_after", Close.BAD_RESUME.reason, Close.BAD_RESUME)
        async with hub.handshakes:  # bounds the Redis work of a reconnection storm
            role, principal, feed = await _admit(ws, services, hub)
    except _Denied as no:
        return await _deny(ws, no)
    except (RedisError, OSError) as exc:
        log.warning("live: handshake failed: %s", exc)
        return await _deny(ws, _retry_later(Close.UNAVAILABLE, hub.retry_after()))
    await ws.accept(_subprotocol(ws))
    if role is LiveRole.PUBLIC:
        ws.scope["headers"].clear()  # not needed any more: a public client's are dropped
    user, identities = (
        (None, frozenset[str]()) if principal is None else (principal.user, principal.identities)
    )
    conn = Connection(ws, role, user, hub.config, identities)
    logs.note(session_id=feed.session_id, actor=None if user is None else user.username)
    with metrics.WEBSOCKETS.labels(role.value).track_inprogress():
        await _serve(ws, conn, feed, hub, services, after)


async def _admit(
    ws: WebSocket, services: Services, hub: LiveHub
) -> tuple[LiveRole, Principal | None, SessionFeed]:
    """Who connects to which console; :class:`_Denied` says why not."""
    try:
        role = LiveRole(ws.path_params["role"])
    except ValueError:
        roles = ", ".join(r.value for r in LiveRole)
        raise _Denied(404, "not_found", f"role is one of {roles}", Close.NOT_FOUND) from None
    principal: Principal | None = None
    if role is not LiveRole.PUBLIC:
        origin = ws.headers.get("origin")
        origins = {
            origin_of(services.settings.public_base_url),
            *map(origin_of, hub.config.allowed_origins),
        }
        if origin is not None and origin.lower() not in origins:
            raise _Denied(403, "origin_refused", f"origin {origin} is not allowed", Close.FORBIDDEN)
        try:
            principal = await _principal(ws, services)
        except ApiError as exc:
            close = Close.UNAUTHENTICATED if exc.status == 401 else Close.FORBIDDEN
            raise _Denied(exc.status, exc.code, exc.message, close) from None
        if principal.via == "cookie" and origin is None:
            reason = "a cookie login needs an Origin header"
            raise _Denied(403, "origin_refused", reason, Close.FORBIDDEN)
    try:
        feed = await hub.feed(ws.path_params["session_id"])
    except NotFound:
        raise _Denied(404, "not_found", "no such session", Close.NOT_FOUND) from None
    user = principal.user if principal is not None else None
    if not allowed(role, user, Session.model_validate(feed.session)):
        if role is LiveRole.PUBLIC:
            raise _Denied(404, "not_found", "no such session", Close.NOT_FOUND)
        reason = f"you may not open the {role} console"
        raise _Denied(403, "forbidden", reason, Close.FORBIDDEN)
    return role, principal, feed


async def _serve(
    ws: WebSocket,
    conn: Connection,
    feed: SessionFeed,
    hub: LiveHub,
    services: Services,
    after: str | None,
) -> None:
    conn.begin(hub.attach(feed, conn, after))
    if conn.identities and not await _still_valid(ws, services):
        conn.kick(Close.REVOKED)  # revoked between the handshake and the attach
    try:
        if conn.role is LiveRole.MODERATOR:  # the admin endpoint watches, unlisted
            await feed.presence.join(conn.id, conn.member, hub.config.heartbeat_timeout_s)
        await _receive(conn, feed, services)
    except Exception as exc:
        log.warning("live: %s client of %s: %r", conn.role, feed.session_id, exc)
    finally:
        hub.detach(feed, conn)
        sender = conn.sender
        if sender is not None:
            if conn.closing is None:
                sender.cancel()
            # wait, not gather: a cancel of this task then surfaces as itself, not as the
            # CancelledError of a child (which anyio's cancel scopes would not recognize)
            await asyncio.wait({sender}, timeout=hub.config.close_timeout_s)
            sender.cancel()
            await asyncio.wait({sender})
        if conn.staff:
            with contextlib.suppress(Exception):
                await feed.presence.leave(conn.id)
    if conn.closing is not None:
        log.info(
            "live: closing %s client of %s: %s", conn.role, feed.session_id, conn.closing.value
        )
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                ws.close(conn.closing.code, conn.closing.reason), hub.config.close_timeout_s
            )


async def _still_valid(ws: WebSocket, services: Services) -> bool:
    """Whether the client's credentials still hold (checked again once it is attached, so
    a revocation can't slip in unnoticed); True when Redis can't tell."""
    try:
        await _principal(ws, services)
    except ApiError:
        return False
    except (RedisError, OSError):
        return True
    return True


async def _receive(conn: Connection, feed: SessionFeed, services: Services) -> None:
    loop = asyncio.get_running_loop()
    while (message := await conn.wait_message()) is not None:
        now = conn.last_seen = loop.time()
        text = message.get("text")
        if text is None:
            text = (message.get("bytes") or b"").decode("utf-8", "replace")
        try:
            if not conn.bucket.take(now):
                raise BadMessage("rate_limited", f"at most {conn.config.rate_per_s:g} messages/s")
            command = parse_client_message(text, conn.config.max_message_bytes)
            if not isinstance(command, Pong):
                conn.deliver(await _handle(conn, feed, services, command))
        except BadMessage as exc:
            conn.deliver(error_frame(exc))
            conn.strike(now)


async def _handle(
    conn: Connection,
    feed: SessionFeed,
    services: Services,
    command: QuestionCommand | ClaimCommand,
) -> str:
    """Run one command; its ``ack`` frame (errors raise :class:`BadMessage`)."""
    rid = command.request_id
    if conn.user is None or (isinstance(command, ClaimCommand) and not conn.staff):
        raise BadMessage("forbidden", f"the {conn.role} console may not do this", request_id=rid)
    try:
        if isinstance(command, ClaimCommand):
            session = Session.model_validate(feed.session)
            if not can(conn.user, Action.QUESTION_MODERATE, session):
                raise Forbidden(f"you may not do {Action.QUESTION_MODERATE.value} here")
            return await _claim(conn, feed, command)
        question = await _question(services, conn.user, feed.session_id, command)
    except InvalidInput as exc:
        fields = [e.as_dict() for e in exc.errors]
        raise BadMessage(exc.code, exc.message, request_id=rid, fields=fields) from None
    except AtexpertError as exc:
        raise BadMessage(exc.code, exc.message, request_id=rid) from None
    except (RedisError, OSError) as exc:
        log.warning("live: %s failed: %s", command.type, exc)
        raise BadMessage("unavailable", "storage unavailable; retry", request_id=rid) from None
    seen = view_record(conn.view, "question", question.model_dump(mode="json"))
    return ack_frame(rid, record=seen) if seen is not None else ack_frame(rid)


async def _question(
    services: Services, user: StaffUser, session_id: str, cmd: QuestionCommand
) -> Question:
    """The websocket adapter of the question commands."""
    command = QUESTION_COMMANDS[cmd.action]
    caller = Caller.staff(user)
    session = await authorize(command, services.store, caller, session_id)
    payload = parse_input(command, cmd.payload)
    return await perform(
        command,
        services.stores,
        caller,
        session,
        cmd.question_id,
        payload,
        at=services.clock.now(),
        version=cmd.version,
    )


async def _claim(conn: Connection, feed: SessionFeed, cmd: ClaimCommand) -> str:
    if cmd.type == "release":
        return ack_frame(
            cmd.request_id, released=await feed.presence.release(conn.member, cmd.question_id)
        )
    holder = await feed.presence.claim(
        conn.id, conn.member, cmd.question_id, conn.config.claim_ttl_s
    )
    if holder is not None:
        raise BadMessage(
            "claimed",
            f"{holder.get('name') or holder['username']} is handling {cmd.question_id}",
            request_id=cmd.request_id,
        )
    return ack_frame(cmd.request_id, claimed=cmd.question_id)


def live_routes() -> list[BaseRoute]:
    """The websocket routes; they use ``app.state.services`` and ``app.state.live_hub``."""
    return [WebSocketRoute(PATH, live_endpoint, name="live")]


class LiveMiddleware:
    """Runs the live endpoints from the middleware stack, before the router: the router's
    layers (routing, exception handling: some 4 KiB of coroutine frames and closures) would
    otherwise stay on every connection's stack as long as it is open. The route stays in
    the router too, for ``url_path_for``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = WebSocketRoute(PATH, live_endpoint, name="live")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            match, child = self.route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                return await live_endpoint(WebSocket(scope, receive, send))
        await self.app(scope, receive, send)


__all__ = ["LiveConfig", "LiveHub", "LiveMiddleware", "live_routes"]
