"""Login, logout, ``/api/me``, staff users (admin) and the caller's API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from atexpert.domain.staff import (
    Action,
    ApiToken,
    DisplayName,
    Password,
    StaffUserOut,
    TokenName,
    Username,
)
from atexpert.store.staff import UsernameTaken
from atexpert.web.api_errors import ApiError
from atexpert.web.api_routing import Call, Endpoint, endpoint
from atexpert.web.auth import cookie_secure, log_in, log_out

TAG = "staff"
#: Failed logins allowed per username in a window, before 429s until the window ends.
MAX_LOGIN_FAILURES = 10
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class LoginOut(BaseModel):
    user: StaffUserOut
    csrf_token: str


class MeOut(BaseModel):
    user: StaffUserOut
    auth: Literal["cookie", "token"]
    csrf_token: str | None = None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    display_name: DisplayName | None = None
    is_admin: bool = False


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    new_password: Password


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TokenName


class TokenCreated(BaseModel):
    token: ApiToken
    secret: str


THROTTLED = "Too many failed attempts; retry later"


@endpoint(
    "POST",
    "/api/login",
    summary="Log in (sets the session cookie)",
    tag=TAG,
    body=LoginIn,
    response=LoginOut,
    public=True,
    errors=((401, "Wrong username or password"), (429, THROTTLED)),
)
async def login(call: Call) -> LoginOut:
    body = call.body(LoginIn)
    services = call.services
    await _check_throttle(call, body.username)
    user = await services.staff.verify_password(body.username, body.password)
    if user is None:
        await services.staff.note_login_failure(body.username, LOGIN_FAILURE_WINDOW)
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    await services.staff.clear_login_failures(body.username)
    secure = cookie_secure(call.request, services.settings)
    session = await log_in(
        call.request, call.response, services.staff, services.signer, user, secure=secure
    )
    return LoginOut(user=StaffUserOut.of(user), csrf_token=session.csrf)


@endpoint("POST", "/api/logout", summary="Log out (clears the session cookie)", tag=TAG)
async def logout(call: Call) -> None:
    principal = call.principal
    if principal.sid is not None:
        secure = cookie_secure(call.request, call.services.settings)
        await log_out(call.response, call.services.staff, principal.sid, secure=secure)


@endpoint("GET", "/api/me", summary="The caller, and its CSRF token", tag=TAG, response=MeOut)
async def me(call: Call) -> MeOut:
    p = call.principal
    return MeOut(user=StaffUserOut.of(p.user), auth=p.via, csrf_token=p.csrf_token)


async def _check_throttle(call: Call, username: str) -> None:
    if await call.services.staff.login_failures(username) >= MAX_LOGIN_FAILURES:
        minutes = int(LOGIN_FAILURE_WINDOW.total_seconds() // 60)
        raise ApiError(429, "too_many_attempts", f"too many failed logins: retry in {minutes} min")


@endpoint(
    "POST",
    "/api/me/password",
    summary="Change the caller's password (the current one is required)",
    tag=TAG,
    body=PasswordChange,
    errors=((429, THROTTLED),),
)
async def change_password(call: Call) -> None:
    body = call.body(PasswordChange)
    staff, user = call.services.staff, call.principal.user
    await _check_throttle(call, user.username)
    if await staff.verify_password(user.username, body.current_password) is None:
        await staff.note_login_failure(user.username, LOGIN_FAILURE_WINDOW)
        detail = [{"loc": ["body", "current_password"], "msg": "wrong password", "type": "auth"}]
        raise ApiError(422, "invalid_input", "the current password is wrong", detail)
    await staff.set_password(user.id, body.new_password)


@endpoint(
    "GET", "/api/users", summary="List staff users (admin)", tag=TAG, response=list[StaffUserOut]
)
async def list_users(call: Call) -> list[StaffUserOut]:
    call.require(Action.STAFF_MANAGE)
    return [StaffUserOut.of(u) for u in await call.services.staff.list_users()]


@endpoint(
    "POST",
    "/api/users",
    summary="Create a staff user (admin)",
    tag=TAG,
    body=UserCreate,
    response=StaffUserOut,
    status=201,
)
async def create_user(call: Call) -> StaffUserOut:
    call.require(Action.STAFF_MANAGE)
    body = call.body(UserCreate)
    try:
        user = await call.services.staff.create_user(
            body.username, body.password, display_name=body.display_name, is_admin=body.is_admin
        )
    except UsernameTaken as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    return StaffUserOut.of(user)


@endpoint(
    "GET",
    "/api/me/tokens",
    summary="List the caller's API tokens",
    tag=TAG,
    response=list[ApiToken],
)
async def list_tokens(call: Call) -> list[ApiToken]:
    return await call.services.staff.list_tokens(call.principal.user.id)


@endpoint(
    "POST",
    "/api/me/tokens",
    summary="Create an API token (its secret is shown once)",
    tag=TAG,
    body=TokenCreate,
    response=TokenCreated,
    status=201,
)
async def create_token(call: Call) -> TokenCreated:
    body = call.body(TokenCreate)
    token, secret = await call.services.staff.create_token(call.principal.user.id, body.name)
    return TokenCreated(token=token, secret=secret)


@endpoint(
    "DELETE", "/api/me/tokens/{token_id}", summary="Revoke one of the caller's tokens", tag=TAG
)
async def revoke_token(call: Call) -> None:
    if not await call.services.staff.revoke_token(call.principal.user.id, call.path("token_id")):
        raise ApiError(404, "not_found", "no such token")


ENDPOINTS: list[Endpoint] = [
    login,
    logout,
    me,
    change_password,
    list_users,
    create_user,
    list_tokens,
    create_token,
    revoke_token,
]
