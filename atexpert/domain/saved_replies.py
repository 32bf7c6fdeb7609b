"""Saved replies with variables (pure, no I/O): a desk's answers written once, filled in
per question ("Hello {asker}, your flight {flight} leaves at {time}. {agent}").

Two variables are filled by the app: ``{asker}`` (the asker's @handle) and ``{agent}`` (the
display name of the staff member answering). Any other variable is a *free* one, declared
in the reply's ``variables`` and filled by the agent before the text goes into the answer
editor. A variable used in the text but neither built in nor declared is refused (with the
field and the variable named), and so is a declared one the text never uses, or a stray
brace. Saved replies belong to the session (``saved_replies`` of the session record),
changed by ``session.replies_changed`` (:func:`atexpert.domain.desk.replies_change`);
moderators and admins manage them, anyone who writes answers uses them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from atexpert.domain import twittertext
from atexpert.domain.errors import FieldError, InvalidInput, NotFound
from atexpert.domain.events import JsonList

#: The variables the app fills.
BUILT_IN = ("asker", "agent")
MAX_REPLIES = 100
MAX_TEXT = 5000
MAX_VALUE = 200
VARIABLE = re.compile(r"\{([a-z][a-z0-9_]{0,30})\}")
VariableName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,30}$")]


def variables_of(text: str) -> list[str]:
    """The variables ``text`` uses, in order of first use."""
    return list(dict.fromkeys(VARIABLE.findall(text)))


class SavedReplyIn(BaseModel):
    """A saved reply as staff write it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=80)
    variables: JsonList[VariableName] = Field(
        default=[],
        max_length=20,
        description="The free variables the agent fills (not asker or agent, built in)",
    )
    text: str = Field(min_length=1, max_length=MAX_TEXT)

    @field_validator("variables")
    @classmethod
    def _declared(cls, v: list[str]) -> list[str]:
        built_in = [name for name in v if name in BUILT_IN]
        if built_in:
            raise ValueError(f"{{{built_in[0]}}} is built in: leave it out of variables")
        if len(set(v)) != len(v):
            raise ValueError("a variable is declared twice")
        return v

    @field_validator("text")
    @classmethod
    def _used(cls, v: str, info: ValidationInfo) -> str:
        declared: list[str] = info.data.get("variables", [])
        stray = VARIABLE.sub("", v)
        if "{" in stray or "}" in stray:
            raise ValueError("a brace that is no {variable}: variables are {lower_case} names")
        used = variables_of(v)
        unknown = [name for name in used if name not in BUILT_IN and name not in declared]
        if unknown:
            raise ValueError(
                f"unknown variable {{{unknown[0]}}}: use {{asker}} or {{agent}}, or declare "
                "it in variables"
            )
        unused = [name for name in declared if name not in used]
        if unused:
            raise ValueError(f"variable {unused[0]!r} is declared but the text never uses it")
        return v


class SavedReply(SavedReplyIn):
    model_config = ConfigDict(extra="ignore")

    id: str


def new_reply_id() -> str:
    return "r_" + secrets.token_hex(4)


def _find(replies: Sequence[SavedReply], reply_id: str) -> int:
    for i, reply in enumerate(replies):
        if reply.id == reply_id:
            return i
    raise NotFound("saved reply", reply_id)


def added(replies: Sequence[SavedReply], reply: SavedReplyIn, reply_id: str) -> list[SavedReply]:
    if len(replies) >= MAX_REPLIES:
        raise InvalidInput.field(("title",), f"a session holds at most {MAX_REPLIES} replies")
    return [*replies, SavedReply(id=reply_id, **reply.model_dump())]


def replaced(replies: Sequence[SavedReply], reply_id: str, reply: SavedReplyIn) -> list[SavedReply]:
    out = list(replies)
    out[_find(replies, reply_id)] = SavedReply(id=reply_id, **reply.model_dump())
    return out


def removed(replies: Sequence[SavedReply], reply_id: str) -> list[SavedReply]:
    out = list(replies)
    del out[_find(replies, reply_id)]
    return out


def find(replies: Sequence[SavedReply], reply_id: str) -> SavedReply:
    return replies[_find(replies, reply_id)]


class Filled(BaseModel):
    text: str
    weighted_length: int = Field(description="As X counts it (twitter-text)")


def fill(reply: SavedReply, *, asker: str, agent: str, values: Mapping[str, str]) -> Filled:
    """``reply``'s text with its variables filled: ``asker`` (a handle, without the @),
    ``agent`` (a display name) and ``values`` for the free ones (each required)."""
    errors = [
        FieldError(("values", name), "fill this variable", "missing")
        for name in reply.variables
        if not values.get(name, "").strip()
    ]
    errors += [
        FieldError(("values", name), "not a variable of this reply", "extra")
        for name in values
        if name not in reply.variables
    ]
    errors += [
        FieldError(("values", name), f"at most {MAX_VALUE} characters", "too_long")
        for name, value in values.items()
        if len(value) > MAX_VALUE
    ]
    if errors:
        names = ", ".join(str(e.loc[-1]) for e in errors)
        raise InvalidInput(f"the reply's variables: {names}", errors)
    known = {"asker": "@" + asker, "agent": agent, **{k: v.strip() for k, v in values.items()}}
    text = VARIABLE.sub(lambda m: known[m.group(1)], reply.text)
    return Filled(text=text, weighted_length=twittertext.weighted_length(text))
