"""Declarative JSON endpoints: each :class:`Endpoint` names its body and response models.

The same declarations build the Starlette routes and the OpenAPI document, so the two
cannot drift apart. The wrapper authenticates first (401 before any body parsing), then
reads the body (capped, JSON only) and validates it with the endpoint's pydantic model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from atexpert.api_errors import ApiError, invalid_input
from atexpert.auth import CookieSigner, Principal, authenticate, authenticate_optional
from atexpert.clock import Clock
from atexpert.sessions import Session
from atexpert.settings import Settings
from atexpert.staff import Action, SessionMembership, StaffUser, can
from atexpert.staff_store import RedisClient, StaffStore
from atexpert.store import Store

MAX_BODY_BYTES = 64 * 1024

M = TypeVar("M", bound=BaseModel)


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


@dataclass
class Call:
    """One API call, as handed to a handler."""

    request: Request
    services: Services
    principal_or_none: Principal | None
    body_or_none: BaseModel | None
    params: BaseModel | None = None
    #: Scratch response: headers (cookies) a handler sets here are copied to the reply.
    response: Response = field(default_factory=Response)

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:
            raise ApiError(401, "not_authenticated", "log in or send an API token")
        return self.principal_or_none

    async def optional_principal(self) -> Principal | None:
        """On a ``public`` endpoint: the caller when it sent credentials, None when it is
        anonymous (see :func:`~atexpert.auth.authenticate_optional`)."""
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
    status: int = 200
    public: bool = False
    query: type[BaseModel] | None = None
    #: Error statuses of this endpoint beyond the usual ones, documented in OpenAPI.
    errors: tuple[tuple[int, str], ...] = ()

    @property
    def name(self) -> str:
        return self.handler.__name__


def endpoint(
    method: str,
    path: str,
    *,
    summary: str,
    tag: str,
    body: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    public: bool = False,
    query: type[BaseModel] | None = None,
    errors: tuple[tuple[int, str], ...] = (),
) -> Callable[[Handler], Endpoint]:
    """Decorator turning an async handler into an :class:`Endpoint`."""

    def wrap(handler: Handler) -> Endpoint:
        return Endpoint(
            method, path, handler, summary, tag, body, response, status, public, query, errors
        )

    return wrap


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
            adapter.dump_json(result), status_code=ep.status, media_type="application/json"
        )
    # Cookies the handler set on its scratch response (login/logout).
    response.raw_headers.extend(h for h in call.response.raw_headers if h[0] == b"set-cookie")
    return response


def to_route(ep: Endpoint) -> Route:
    adapter: TypeAdapter[Any] = TypeAdapter(ep.response if ep.response is not None else Any)

    async def run(request: Request) -> Response:
        services: Services = request.app.state.services
        principal = None
        if not ep.public:
            principal = await authenticate(request, services.staff, services.signer)
        body = None
        if ep.body is not None:
            raw = await read_body(request)
            try:
                body = ep.body.model_validate_json(raw)
            except ValidationError as exc:
                raise invalid_input(exc, "body") from exc
        call = Call(request, services, principal, body)
        if ep.query is not None:
            call.query(ep.query)  # validate early: 422 on unknown/bad parameters
        return _render(ep, adapter, await ep.handler(call), call)

    return Route(ep.path, run, methods=[ep.method], name=ep.name)
