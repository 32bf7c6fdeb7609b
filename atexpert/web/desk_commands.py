"""Desk mode's commands (see :mod:`atexpert.web.commands` and :mod:`atexpert.domain.desk`):
an agent's shift. Assigning a question is a question command (``assign``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from atexpert.domain.errors import InvalidInput
from atexpert.domain.sessions import Session
from atexpert.domain.staff import Action
from atexpert.web.commands import ANSWERING, NO_ANSWERS, Command, Stores, Target


class ShiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on_duty: bool = Field(description="true: start a shift; false: end it")


async def _shift(s: Stores, t: Target, body: ShiftIn) -> Session:
    """The caller (an agent: an expert of the session) starts or ends their shift."""
    if t.caller.user is None:
        raise InvalidInput.field(("on_duty",), "a shift is a staff user's own")
    return await s.store.set_on_duty(
        t.session.id, t.caller.user.id, body.on_duty, actor=t.actor, at=t.at
    )


DESK_COMMANDS: dict[str, Command[Any, Any]] = {
    c.name: c
    for c in (
        Command("shift", ShiftIn, Action.DESK_SHIFT, _shift, states=ANSWERING, refusal=NO_ANSWERS),
    )
}
