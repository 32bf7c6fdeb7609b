"""Staff users and login throttles as commands (see :mod:`atexpert.web.commands`): global
ones, tied to no session, authorized by :func:`~atexpert.web.commands.authorize_global`. The
target is the user's (or the throttle's) id: the CLI resolves a username to it first."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from atexpert.domain.clock import ManualClock
from atexpert.domain.errors import Conflict, NotFound
from atexpert.domain.passwords import check_new_password
from atexpert.domain.staff import Action, DisplayName, Password, StaffUser, Username
from atexpert.store.login_throttle import LoginThrottle
from atexpert.store.staff import UnknownUser, UsernameTaken
from atexpert.web.commands import GLOBAL, Command, NoInput, Stores, Target

R = TypeVar("R")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    display_name: DisplayName | None = None
    is_admin: bool = False


async def _add_user(s: Stores, _: Target, body: UserCreate) -> StaffUser:
    check_new_password(body.password, body.username)
    try:
        return await s.staff.create_user(
            body.username, body.password, display_name=body.display_name, is_admin=body.is_admin
        )
    except UsernameTaken as exc:
        raise Conflict(str(exc)) from exc


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_password: Password
    #: Also revoke every API token of the user (every login session ends anyway).
    revoke_tokens: bool = False


def _unknown(user_id: str) -> NotFound:
    return NotFound("staff user", user_id, f"no staff user with id {user_id!r}")


async def _known(user_id: str, step: Awaitable[R]) -> R:
    """``step``'s result; :class:`NotFound` for no such user."""
    try:
        return await step
    except UnknownUser:
        raise _unknown(user_id) from None


async def _reset_password(s: Stores, t: Target, body: PasswordReset) -> None:
    """A new password (by the policy), every login of the user ended."""
    user = await s.staff.get_user(t.id)
    if user is None:
        raise _unknown(t.id)
    check_new_password(body.new_password, user.username, field="new_password")
    await _known(t.id, s.staff.set_password(t.id, body.new_password))
    await s.staff.end_logins(t.id)
    if body.revoke_tokens:
        await s.staff.revoke_tokens(t.id)


async def _disable(s: Stores, t: Target, _: NoInput) -> StaffUser:
    """:class:`Conflict` for the last active admin."""
    return await _known(t.id, s.staff.set_disabled(t.id, True))


async def _enable(s: Stores, t: Target, _: NoInput) -> StaffUser:
    return await _known(t.id, s.staff.set_disabled(t.id, False))


async def _delete(s: Stores, t: Target, _: NoInput) -> StaffUser:
    """:class:`Conflict` for the last active admin."""
    return await _known(t.id, s.staff.delete_user(t.id))


async def _clear_throttle(s: Stores, t: Target, _: NoInput) -> None:
    # The command's time stands still for the store: clearing never reads it anyway.
    if not await LoginThrottle(s.redis, ManualClock(t.at)).clear(t.id):
        raise NotFound("throttle", t.id)


_MANAGE = Action.STAFF_MANAGE

USER_COMMANDS: dict[str, Command[Any, Any]] = {
    c.name: c
    for c in (
        Command("add", UserCreate, _MANAGE, _add_user, states=GLOBAL),
        Command("password", PasswordReset, _MANAGE, _reset_password, states=GLOBAL),
        Command("disable", NoInput, _MANAGE, _disable, states=GLOBAL),
        Command("enable", NoInput, _MANAGE, _enable, states=GLOBAL),
        Command("delete", NoInput, _MANAGE, _delete, states=GLOBAL),
        Command("clear_throttle", NoInput, _MANAGE, _clear_throttle, states=GLOBAL),
    )
}
