"""Declarative JSON endpoints: each :class:`Endpoint` names its body and response models.

The same declarations build the Starlette routes and the OpenAPI document, so the two
cannot drift apart. The wrapper authenticates first (401 before any body parsing), then
reads the body (capped, JSON only) and validates it with the endpoint's pydantic model.
Write actions are :mod:`atexpert.web.commands` run by :func:`command_endpoint`: those refuse
an invalid body only once the caller is authorized (403 first), like the websocket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from atexpert.domain.clock import Clock
from atexpert.domain.sessions import Session
from atexpert.domain.staff import Action, SessionMembership, StaffUser, can
from atexpert.settings import Settings
from atexpert.store.invitations import InvitationStore
from atexpert.store.staff import RedisClient, StaffStore
from atexpert.store.store import Store
from atexpert.web import logs
from atexpert.web.api_errors import ApiError, invalid_input
from atexpert.web.auth import CookieSigner, Principal, authenticate, authenticate_optional
from atexpert.web.commands import (
    Caller,
    Command,
    NoInput,
    Stores,
    authorize,
    authorize_global,
    perform,
)

MAX_BODY_BYTES = 64 * 1024
#: What reading a JSON body can answer (documented for every endpoint that takes one).
BODY_ERRORS: tuple[tuple[int, str], ...] = (
    (400, "Malformed JSON"),
    (413, "Body too large"),
    (415, "Body is not application/json"),
)

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


class IfVersion(BaseModel):
    """``?version=N``: act only if the record is still at version N (else 409)."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1)


@dataclass
class Services:
    """Everything a handler may use; built by the app's lifespan."""

    settings: Settings
    redis: RedisClient
    store: Store
    staff: StaffStore
    signer: CookieSigner
    clock: Clock

    @property
    def stores(self) -> Stores:
        """What the commands write to."""
        invitations = InvitationStore(self.redis, clock=self.clock)
        return Stores(self.store, self.staff, invitations, self.redis)


@dataclass
class Call:
    """One API call, as handed to a handler."""

    request: Request
    services: Services
    principal_or_none: Principal | None
    body_or_none: BaseModel | None
    params: BaseModel | None = None
    #: An invalid body of a command endpoint, raised once the caller is authorized.
    body_error: ApiError | None = None
    #: Scratch response: headers (cookies) a handler sets here are copied to the reply.
    response: Response = field(default_factory=Response)

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:
            raise ApiError(401, "not_authenticated", "log in or send an API token")
        return self.principal_or_none

    async def optional_principal(self) -> Principal | None:
        """On a ``public`` endpoint: the caller when it sent credentials, None when it is
        anonymous (see :func:`~atexpert.web.auth.authenticate_optional`)."""
        if self.principal_or_none is None:
            self.principal_or_none = await authenticate_optional(
                self.request, self.services.staff, self.services.signer
            )
        return self.principal_or_none

    def body(self, model: type[M]) -> M:
        assert isinstance(self.body_or_none, model)
        return self.body_or_none

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def require(self, action: Action, session: SessionMembership | None = None) -> StaffUser:
        """The caller, if allowed to do ``action`` (on ``session``); 403 otherwise."""
        user = self.principal.user
        if not can(user, action, session):
            raise ApiError(403, "forbidden", f"you may not do {action.value} here")
        return user

    async def session(self, action: Action) -> Session:
        """The session of the ``session_id`` path parameter, if the caller may do ``action``."""
        session = await self.services.store.get_session(self.path("session_id"))
        self.require(action, session)
        return session

    @property
    def actor(self) -> str:
        """How the caller appears in the event log."""
        return self.principal.user.username

    def now(self) -> datetime:
        return self.services.clock.now()

    async def run(
        self,
        command: Command[Any, R],
        target_id: str = "",
        *,
        read: Callable[[], BaseModel] | None = None,
        guard: type[IfVersion] = IfVersion,
    ) -> R:
        """Run ``command`` as the caller: authorize (on the ``session_id`` session unless it
        is global), then take the body (or what ``read`` makes of the request) as its input
        and the ``guard`` query's version when it honours one."""
        caller = Caller.staff(self.principal.user)
        session = None
        if command.states is None:
            authorize_global(command, caller)
        else:
            session = await authorize(command, self.services.store, caller, self.path("session_id"))
        if self.body_error is not None:
            raise self.body_error
        if read is not None:
            payload = read()
        else:
            payload = self.body_or_none if self.body_or_none is not None else command.input()
        version = self.query(guard).version if command.versioned else None
        return await perform(
            command,
            self.services.stores,
            caller,
            session,
            target_id,
            payload,
            at=self.now(),
            version=version,
        )

    def query(self, model: type[M]) -> M:
        """The query parameters, validated by ``model`` (once; 422 on bad or unknown ones)."""
        if not isinstance(self.params, model):
            try:
                self.params = model.model_validate(dict(self.request.query_params))
            except ValidationError as exc:
                raise invalid_input(exc, "query") from exc
        return self.params


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: Any = None
    #: The success status; by default 200 with a ``response`` model, else 204.
    status: int | None = None
    public: bool = False
    query: type[BaseModel] | None = None
    #: Error statuses of this endpoint beyond the usual ones, documented in OpenAPI.
    errors: tuple[tuple[int, str], ...] = ()
    #: A command endpoint: an invalid body is refused only after authorization.
    command: bool = False
    #: Media types of the success body of a handler that returns its own ``Response``.
    media: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.handler.__name__

    @property
    def ok_status(self) -> int:
        if self.status is not None:
            return self.status
        return 200 if self.response is not None else 204


def endpoint(
    method: str,
    path: str,
    *,
    summary: str,
    tag: str,
    body: type[BaseModel] | None = None,
    response: Any = None,
    status: int | None = None,
    public: bool = False,
    query: type[BaseModel] | None = None,
    errors: tuple[tuple[int, str], ...] = (),
    command: bool = False,
    media: tuple[str, ...] = (),
) -> Callable[[Handler], Endpoint]:
    """Decorator turning an async handler into an :class:`Endpoint` (``command``: one
    that runs a command with :meth:`Call.run`, which refuses a bad body once authorized)."""

    def wrap(handler: Handler) -> Endpoint:
        return Endpoint(
            method,
            path,
            handler,
            summary,
            tag,
            body,
            response,
            status,
            public,
            query,
            errors,
            command,
            media,
        )

    return wrap


def command_endpoint(
    command: Command[Any, Any],
    path: str,
    *,
    name: str,
    summary: str,
    tag: str,
    response: Any,
    id_param: str | None = None,
    method: str = "POST",
    status: int | None = None,
) -> Endpoint:
    """The HTTP adapter of ``command``: its input is the body (none for :class:`NoInput`),
    ``?version=`` its guard when it honours one; ``id_param`` names the target's id."""

    async def handler(call: Call) -> Any:
        return await call.run(command, call.path(id_param) if id_param else "")

    handler.__name__ = handler.__qualname__ = name
    body = None if command.input is NoInput else command.input
    query = IfVersion if command.versioned else None
    return Endpoint(
        method, path, handler, summary, tag, body, response, status, query=query, command=True
    )


def command_endpoints(
    commands: Mapping[str, Command[Any, Any]],
    summaries: Mapping[str, str],
    base: str,
    *,
    tag: str,
    response: Any,
    id_param: str | None = None,
    suffix: str = "",
) -> list[Endpoint]:
    """``POST <base>/<name>`` for each command named in ``summaries``, in that order
    (handler names: the command's name and ``suffix``)."""
    return [
        command_endpoint(
            commands[name],
            f"{base}/{name}",
            name=name + suffix,
            summary=summary,
            tag=tag,
            response=response,
            id_param=id_param,
        )
        for name, summary in summaries.items()
    ]


async def read_body(request: Request) -> bytes:
    """The raw body, refusing non-JSON content types and bodies over ``MAX_BODY_BYTES``."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _render(ep: Endpoint, adapter: TypeAdapter[Any], result: Any, call: Call) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        response = Response(status_code=204)
    else:
        response = Response(
            adapter.dump_json(result), status_code=ep.ok_status, media_type="application/json"
        )
    # Cookies the handler set on its scratch response (login/logout).
    response.raw_headers.extend(h for h in call.response.raw_headers if h[0] == b"set-cookie")
    return response


def to_route(ep: Endpoint) -> Route:
    adapter: TypeAdapter[Any] = TypeAdapter(ep.response if ep.response is not None else Any)

    async def run(request: Request) -> Response:
        services: Services = request.app.state.services
        principal = None
        logs.note(session_id=request.path_params.get("session_id"))
        if not ep.public:
            principal = await authenticate(request, services.staff, services.signer)
            logs.note(actor=principal.user.username)
        body, body_error = None, None
        if ep.body is not None:
            raw = await read_body(request)
            try:
                body = ep.body.model_validate_json(raw)
            except ValidationError as exc:
                if not ep.command:
                    raise invalid_input(exc, "body") from exc
                body_error = invalid_input(exc, "body")
        call = Call(request, services, principal, body, body_error=body_error)
        if ep.query is not None:
            call.query(ep.query)  # validate early: 422 on unknown/bad parameters
        return _render(ep, adapter, await ep.handler(call), call)

    return Route(ep.path, run, methods=[ep.method], name=ep.name)
