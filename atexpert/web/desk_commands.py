"""Desk mode's commands (see :mod:`atexpert.web.commands` and :mod:`atexpert.domain.desk`):
an agent's shift, the session's saved replies and its first-response target (a setting
that a live desk may change). Assigning a question is a question command (``assign``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from atexpert.domain import saved_replies
from atexpert.domain.errors import InvalidInput
from atexpert.domain.saved_replies import SavedReply, SavedReplyIn
from atexpert.domain.sessions import FIRST_RESPONSE_MAX, Session
from atexpert.domain.staff import Action
from atexpert.web.commands import ANSWERING, NO_ANSWERS, Command, NoInput, Stores, Target


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


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response_minutes: int = Field(
        ge=1,
        le=FIRST_RESPONSE_MAX,
        description="A question's first response is due this many minutes after it arrives",
    )


async def _target(s: Stores, t: Target, body: TargetIn) -> Session:
    return await s.store.set_first_response(
        t.session.id, body.first_response_minutes, actor=t.actor, at=t.at
    )


async def _add_reply(s: Stores, t: Target, body: SavedReplyIn) -> SavedReply:
    reply_id = saved_replies.new_reply_id()
    session = await s.store.change_saved_replies(
        t.session.id,
        lambda replies: saved_replies.added(replies, body, reply_id),
        actor=t.actor,
        at=t.at,
    )
    return saved_replies.find(session.saved_replies, reply_id)


async def _replace_reply(s: Stores, t: Target, body: SavedReplyIn) -> SavedReply:
    session = await s.store.change_saved_replies(
        t.session.id,
        lambda replies: saved_replies.replaced(replies, t.id, body),
        actor=t.actor,
        at=t.at,
    )
    return saved_replies.find(session.saved_replies, t.id)


async def _remove_reply(s: Stores, t: Target, _: NoInput) -> None:
    await s.store.change_saved_replies(
        t.session.id,
        lambda replies: saved_replies.removed(replies, t.id),
        actor=t.actor,
        at=t.at,
    )


_REPLIES = Action.SESSION_REPLIES
_OPEN, _OVER = ANSWERING, NO_ANSWERS

DESK_COMMANDS: dict[str, Command[Any, Any]] = {
    c.name: c
    for c in (
        Command("shift", ShiftIn, Action.DESK_SHIFT, _shift, states=_OPEN, refusal=_OVER),
        Command("reply_add", SavedReplyIn, _REPLIES, _add_reply, states=_OPEN, refusal=_OVER),
        Command(
            "reply_replace", SavedReplyIn, _REPLIES, _replace_reply, states=_OPEN, refusal=_OVER
        ),
        Command("reply_delete", NoInput, _REPLIES, _remove_reply, states=_OPEN, refusal=_OVER),
        Command(
            "first_response",
            TargetIn,
            Action.SESSION_UPDATE,
            _target,
            states=_OPEN,
            refusal="it is over",
        ),
    )
}
