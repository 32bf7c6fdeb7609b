"""Messages a live client may send, the server's replies, close codes and the rate limit.

Pure: parsing and limits only; :mod:`atexpert.web.live` does the I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from atexpert.domain.events import dumps
from atexpert.domain.questions import QuestionCommandName

Json = dict[str, Any]

#: The subprotocol the server selects; a token may ride along as ``bearer.<token>``.
SUBPROTOCOL = "atexpert.v1"
BEARER_PREFIX = "bearer."


class Close(StrEnum):
    """Close codes (application range 4000-4999) and their reasons."""

    HEARTBEAT = "4001 no pong within the heartbeat timeout"
    TOO_SLOW = "4008 too slow: the send queue is full"
    BAD_RESUME = "4400 invalid after: an event id looks like 1732612345678-0"
    UNAUTHENTICATED = "4401 log in or send an API token"
    REVOKED = "4401 the login, token or account was revoked"
    FORBIDDEN = "4403 forbidden"
    NOT_FOUND = "4404 no such session"
    ABUSE = "4429 too many rejected messages"
    UNAVAILABLE = "1013 try again later"
    OVERLOADED = "1013 the server is full; try again later"

    @property
    def code(self) -> int:
        return int(self.value.split(" ", 1)[0])

    @property
    def reason(self) -> str:
        return self.value.split(" ", 1)[1]


RequestId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
QuestionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Pong(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["pong"]


class QuestionCommand(BaseModel):
    """An action on one question: the envelope of a question command of
    :mod:`atexpert.web.commands`; the other fields are its input, validated (with the limits
    the domain names) by that command's input model when it runs."""

    model_config = ConfigDict(extra="allow")

    type: Literal["question"]
    request_id: RequestId
    action: QuestionCommandName
    question_id: QuestionId
    version: int | None = Field(default=None, ge=1)

    @property
    def payload(self) -> Json:
        """The command's input: every field beyond the envelope."""
        return dict(self.model_extra or {})


class ClaimCommand(BaseModel):
    """Soft claim ("I'm looking at it") or its release, broadcast to the other moderators."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["claim", "release"]
    request_id: RequestId
    question_id: QuestionId


ClientMessage = Annotated[Pong | QuestionCommand | ClaimCommand, Field(discriminator="type")]
_CLIENT: TypeAdapter[Pong | QuestionCommand | ClaimCommand] = TypeAdapter(ClientMessage)


class BadMessage(Exception):
    """A client message the server refuses; becomes an ``error`` frame."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        request_id: str | None = None,
        fields: list[Json] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.request_id = request_id
        self.fields = fields


def parse_client_message(text: str, max_bytes: int) -> Pong | QuestionCommand | ClaimCommand:
    """Validate one client frame; :class:`BadMessage` says what is wrong."""
    if len(text) > max_bytes or len(text.encode()) > max_bytes:
        raise BadMessage("message_too_large", f"a message is at most {max_bytes} bytes")
    try:
        raw = json.loads(text)
    except ValueError:
        raise BadMessage("malformed_json", "a message is one JSON object") from None
    request_id = raw.get("request_id") if isinstance(raw, dict) else None
    try:
        return _CLIENT.validate_python(raw)
    except ValidationError as exc:
        fields = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise BadMessage(
            "invalid_message",
            "the message did not validate",
            request_id=request_id if isinstance(request_id, str) else None,
            fields=fields,
        ) from None


def error_frame(exc: BadMessage) -> str:
    body: Json = {"type": "error", "code": exc.code, "detail": exc.detail}
    if exc.request_id is not None:
        body["request_id"] = exc.request_id
    if exc.fields is not None:
        body["fields"] = exc.fields
    return dumps(body)


def ack_frame(request_id: str, **extra: Any) -> str:
    return dumps({"type": "ack", "request_id": request_id, **extra})


@dataclass(slots=True)
class TokenBucket:
    """``rate`` messages per second on average, bursts up to ``burst``."""

    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    stamp: float = 0.0

    def take(self, now: float) -> bool:
        """Spend one token at time ``now`` (seconds); False when none is left."""
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
