"""Login, logout, ``/api/me``, staff users and login throttles (admin), the caller's tokens.

Failed logins are throttled per (username, client) and per client
(:mod:`atexpert.domain.login_throttle`): a 429 with ``Retry-After`` before the password is
even checked, and never because of another client's failures.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from atexpert.domain.login_throttle import Throttle
from atexpert.domain.passwords import check_new_password
from atexpert.domain.staff import (
    Action,
    ApiToken,
    Password,
    StaffUserOut,
    TokenName,
)
from atexpert.store.login_throttle import LoginThrottle
from atexpert.web.api_errors import ApiError
from atexpert.web.api_routing import Call, Endpoint, endpoint
from atexpert.web.auth import cookie_secure, log_in, log_out
from atexpert.web.client_ip import client_address
from atexpert.web.staff_commands import USER_COMMANDS, PasswordReset, UserCreate

TAG = "staff"
THROTTLED = (429, "Too many failed attempts from this client: see Retry-After")


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


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    new_password: Password
    #: Also revoke every API token of the user (the other login sessions end anyway).
    revoke_tokens: bool = False


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: TokenName


class TokenCreated(BaseModel):
    token: ApiToken
    secret: str


@endpoint(
    "POST",
    "/api/login",
    summary="Log in (sets the session cookie)",
    tag=TAG,
    body=LoginIn,
    response=LoginOut,
    public=True,
    errors=((401, "Wrong username or password"), (403, "The account is disabled"), THROTTLED),
)
async def login(call: Call) -> LoginOut:
    body = call.body(LoginIn)
    services = call.services
    throttle, client = await _throttle(call, body.username)
    user = await services.staff.verify_password(body.username, body.password)
    if user is None:
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    await throttle.succeeded(body.username, client)
    if not user.active:
        raise ApiError(403, "account_disabled", "this account is disabled")
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


def _login_throttle(call: Call) -> LoginThrottle:
    return LoginThrottle(call.services.redis, call.services.clock)


async def _throttle(call: Call, username: str) -> tuple[LoginThrottle, str]:
    """Count a password attempt of ``username`` by the caller's client, or refuse it (429)."""
    throttle = _login_throttle(call)
    client = client_address(call.request, call.services.settings.trusted_proxies)
    wait = await throttle.attempt(username, client)
    if wait > 0:
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed attempts from this client: retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    return throttle, client


@endpoint(
    "POST",
    "/api/me/password",
    summary="Change the caller's password (the current one is required); ends the "
    "caller's other login sessions",
    tag=TAG,
    body=PasswordChange,
    errors=(THROTTLED,),
)
async def change_password(call: Call) -> None:
    body = call.body(PasswordChange)
    staff, user = call.services.staff, call.principal.user
    check_new_password(body.new_password, user.username, field="new_password")
    throttle, client = await _throttle(call, user.username)
    if await staff.verify_password(user.username, body.current_password) is None:
        detail = [{"loc": ["body", "current_password"], "msg": "wrong password", "type": "auth"}]
        raise ApiError(422, "invalid_input", "the current password is wrong", detail)
    await throttle.succeeded(user.username, client)
    await staff.set_password(user.id, body.new_password)
    await staff.end_logins(user.id, keep=call.principal.sid)
    if body.revoke_tokens:
        await staff.revoke_tokens(user.id)


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
    command=True,
)
async def create_user(call: Call) -> StaffUserOut:
    return StaffUserOut.of(await call.run(USER_COMMANDS["add"]))


@endpoint(
    "POST",
    "/api/users/{user_id}/password",
    summary="Reset a staff user's password (admin); ends all their login sessions",
    tag=TAG,
    body=PasswordReset,
    command=True,
)
async def reset_password(call: Call) -> None:
    await call.run(USER_COMMANDS["password"], call.path("user_id"))


def _switch(action: Literal["disable", "enable"], summary: str) -> Endpoint:
    """``POST /api/users/{user_id}/<action>``."""

    async def handler(call: Call) -> StaffUserOut:
        return StaffUserOut.of(await call.run(USER_COMMANDS[action], call.path("user_id")))

    handler.__name__ = handler.__qualname__ = f"{action}_user"
    path = "/api/users/{user_id}/" + action
    endpoint_of = endpoint(
        "POST", path, summary=summary, tag=TAG, response=StaffUserOut, command=True
    )
    return endpoint_of(handler)


disable_user = _switch(
    "disable", "Disable a staff user (admin): no login, no token, websockets closed"
)
enable_user = _switch("enable", "Enable a disabled staff user (admin)")


@endpoint(
    "DELETE",
    "/api/users/{user_id}",
    summary="Delete a staff user (admin); the event logs keep their name",
    tag=TAG,
    command=True,
)
async def delete_user(call: Call) -> None:
    await call.run(USER_COMMANDS["delete"], call.path("user_id"))


@endpoint(
    "GET",
    "/api/throttles",
    summary="List login failure counters, per account and client and per client (admin)",
    tag=TAG,
    response=list[Throttle],
)
async def list_throttles(call: Call) -> list[Throttle]:
    call.require(Action.STAFF_MANAGE)
    return await _login_throttle(call).list()


@endpoint(
    "DELETE",
    "/api/throttles/{throttle_id}",
    summary="Clear one login failure counter (admin)",
    tag=TAG,
    command=True,
)
async def clear_throttle(call: Call) -> None:
    await call.run(USER_COMMANDS["clear_throttle"], call.path("throttle_id"))


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
    reset_password,
    disable_user,
    enable_user,
    delete_user,
    list_throttles,
    clear_throttle,
    list_tokens,
    create_token,
    revoke_token,
]
