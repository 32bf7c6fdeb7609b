"""Staff users as commands (see :mod:`atexpert.web.commands`): global ones, tied to no
session, authorized by :func:`~atexpert.web.commands.authorize_global`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from atexpert.domain.errors import Conflict
from atexpert.domain.passwords import check_new_password
from atexpert.domain.staff import Action, DisplayName, Password, StaffUser, Username
from atexpert.store.staff import UsernameTaken
from atexpert.web.commands import GLOBAL, Command, Stores, Target


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


USER_COMMANDS: dict[str, Command[Any, Any]] = {
    c.name: c for c in (Command("add", UserCreate, Action.STAFF_MANAGE, _add_user, states=GLOBAL),)
}
