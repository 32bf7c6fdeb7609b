"""Sessions: create, list, show, update, lifecycle and role assignments."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse

from atexpert.domain.sessions import Role, Session, SessionFields, SessionStatus
from atexpert.domain.staff import (
    Action,
    Grants,
    StaffUser,
    can,
    grants,
    roles_of,
    staff_name,
)
from atexpert.domain.views import Json, project, reader_of
from atexpert.web.api_errors import ApiError
from atexpert.web.api_routing import Call, Endpoint, command_endpoint, command_endpoints, endpoint
from atexpert.web.commands import SESSION_COMMANDS, CloseSession, RoleRevocation

TAG = "sessions"
ONE = "/api/sessions/{session_id}"


class SessionListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: SessionStatus | None = None


@endpoint(
    "GET",
    "/api/sessions",
    summary="Sessions the caller may see",
    tag=TAG,
    query=SessionListQuery,
    response=list[Session],
)
async def list_sessions(call: Call) -> JSONResponse:
    query = call.query(SessionListQuery)
    user = call.principal.user
    found = await call.services.store.list_sessions(query.status)
    return JSONResponse([_seen(user, s) for s in found if can(user, Action.SESSION_READ, s)])


@endpoint(
    "POST",
    "/api/sessions",
    summary="Create a draft session (admin)",
    tag=TAG,
    body=SessionFields,
    response=Session,
    status=201,
)
async def create_session(call: Call) -> Session:
    call.require(Action.SESSION_CREATE)
    fields = call.body(SessionFields)
    await _check_staff(call, "moderator_ids", fields.moderator_ids)
    await _check_staff(call, "expert_ids", fields.expert_ids)
    return await call.services.store.create_session(fields, actor=call.actor, at=call.now())


@endpoint("GET", ONE, summary="One session", tag=TAG, response=Session)
async def show_session(call: Call) -> JSONResponse:
    session = await call.session(Action.SESSION_READ)
    return JSONResponse(_seen(call.principal.user, session))


def _seen(user: StaffUser, session: Session) -> Json:
    """``session`` as its reader ``user`` sees it (see :mod:`atexpert.domain.views`)."""
    seen = project(reader_of(user, session), "session", session.model_dump(mode="json"))
    assert seen is not None  # readers see their sessions in every status
    return seen


@endpoint(
    "GET",
    ONE + "/grants",
    summary="The caller's roles and allowed actions here",
    tag=TAG,
    response=Grants,
)
async def session_grants(call: Call) -> Grants:
    session = await call.session(Action.SESSION_READ)
    return grants(call.principal.user, session)


class StaffName(BaseModel):
    """How the consoles name a staff person found by username (events' actors) or by id
    (a desk's agents on duty, a question's assignee)."""

    id: str
    username: str
    name: str


@endpoint(
    "GET",
    ONE + "/staff",
    summary="Names of the people who may act on the session (its staff and the admins)",
    tag=TAG,
    response=list[StaffName],
)
async def session_staff(call: Call) -> list[StaffName]:
    session = await call.session(Action.SESSION_READ)
    users = await call.services.staff.list_users()
    return [
        StaffName(id=u.id, username=u.username, name=staff_name(u))
        for u in users
        if roles_of(u, session)
    ]


update_session = command_endpoint(
    SESSION_COMMANDS["update"],
    ONE,
    method="PATCH",
    name="update_session",
    summary="Change fields of a draft or scheduled session (admin)",
    tag=TAG,
    response=Session,
)


LIFECYCLE = command_endpoints(
    SESSION_COMMANDS,
    {
        "schedule": "draft -> scheduled (admin)",
        "unschedule": "scheduled -> draft (admin)",
        "start": "scheduled -> live, now (admin)",
        "archive": "closed or draft -> archived (admin)",
    },
    ONE,
    tag=TAG,
    response=Session,
    suffix="_session",
)


@endpoint(
    "POST",
    ONE + "/close",
    summary="live -> closed now, or wrapping_up with a wrap-up period; wrapping_up -> "
    "closed (admin). ?queued=post (default) publishes the answers still queued before the "
    "closing post, ?queued=cancel sends them back to drafts",
    tag=TAG,
    query=CloseSession,
    response=Session,
    command=True,
)
async def close_session(call: Call) -> Session:
    return await call.run(SESSION_COMMANDS["close"], read=lambda: call.query(CloseSession))


assign_role = command_endpoint(
    SESSION_COMMANDS["assign"],
    ONE + "/roles",
    name="assign_role",
    summary="Make a staff user moderator or expert (admin)",
    tag=TAG,
    response=Session,
)


@endpoint(
    "DELETE",
    ONE + "/roles/{role}/{user_id}",
    summary="Remove a role (admin)",
    tag=TAG,
    response=Session,
)
async def revoke_role(call: Call) -> Session:
    def read() -> RoleRevocation:
        raw_role = call.path("role")
        if raw_role not in {r.value for r in Role}:
            detail = [{"loc": ["path", "role"], "msg": "expert or moderator", "type": "enum"}]
            raise ApiError(422, "invalid_input", f"unknown role {raw_role!r}", detail)
        return RoleRevocation(user_id=call.path("user_id"), role=Role(raw_role))

    return await call.run(SESSION_COMMANDS["revoke"], read=read)


async def _check_staff(call: Call, field: str, user_ids: list[str]) -> None:
    """422 unless every id is a staff user (roles only go to existing accounts)."""
    for i, user_id in enumerate(user_ids):
        if await call.services.staff.get_user(user_id) is None:
            detail = [{"loc": ["body", field, i], "msg": "no such staff user", "type": "ref"}]
            raise ApiError(422, "invalid_input", f"no staff user with id {user_id!r}", detail)


ENDPOINTS: list[Endpoint] = [
    list_sessions,
    create_session,
    show_session,
    session_grants,
    session_staff,
    update_session,
    *LIFECYCLE,
    close_session,
    assign_role,
    revoke_role,
]
