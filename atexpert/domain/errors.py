"""Domain errors. The web layer maps them to HTTP statuses.

NotFound -> 404, Conflict and IllegalTransition -> 409, Forbidden -> 403, InvalidInput -> 422.
Each carries a stable ``code`` and a message a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class AtexpertError(Exception):
    """Base of every domain error."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(AtexpertError):
    code = "not_found"

    def __init__(self, entity: str, entity_id: str, message: str | None = None) -> None:
        super().__init__(message or f"{entity} {entity_id} not found")
        self.entity = entity
        self.entity_id = entity_id


class Conflict(AtexpertError):
    """Two actors raced, a version did not match, or a precondition on stored state failed."""

    code = "conflict"


class IllegalTransition(Conflict):
    """An action that the entity's state machine does not allow from its current status."""

    code = "illegal_transition"

    def __init__(
        self,
        entity: str,
        entity_id: str,
        status: str,
        action: str,
        *,
        by: str | None = None,
        at: datetime | None = None,
        already: bool = False,
    ) -> None:
        who = ""
        if by is not None or at is not None:
            parts = [f"by {by}" if by else "", f"at {at:%H:%M}" if at else ""]
            who = " (" + " ".join(p for p in parts if p) + ")"
        state = f"already {status}" if already else status
        super().__init__(f"{entity} {entity_id} is {state}{who}; cannot {action}")
        self.entity = entity
        self.entity_id = entity_id
        self.status = status
        self.action = action
        self.by = by
        self.at = at


class SessionClosed(Conflict):
    """An action the session's status no longer (or not yet) allows."""

    code = "session_closed"


class Forbidden(AtexpertError):
    code = "forbidden"


@dataclass(frozen=True)
class FieldError:
    """One invalid field: ``loc`` is its path (e.g. ``("hashtags", 0)``)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = "value_error"

    def as_dict(self) -> dict[str, object]:
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}


class InvalidInput(AtexpertError):
    code = "invalid_input"

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.errors: list[FieldError] = list(errors or [])

    @classmethod
    def field(cls, loc: tuple[str | int, ...], msg: str) -> InvalidInput:
        return cls(msg, [FieldError(loc, msg)])
