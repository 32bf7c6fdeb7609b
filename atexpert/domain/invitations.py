"""Invitations by link: an admin invites someone to one session as moderator or expert.

Pure model, no I/O (storage is in :mod:`atexpert.store.invitations`). The link carries a
secret shown once; only its sha256 is stored. An invitation is single use: it is
``pending`` until it is accepted or revoked, and a pending one past ``expires_at`` is
``expired``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from atexpert.domain.sessions import MACHINE, Role, SessionAction, SessionStatus

#: How long a link stays valid, in hours: the default and the bounds.
DEFAULT_HOURS = 7 * 24
MIN_HOURS = 1
MAX_HOURS = 30 * 24
#: What a secret looks like (``secrets.token_urlsafe(32)`` gives 43 characters).
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{20,100}")

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Hours = Annotated[int, Field(ge=MIN_HOURS, le=MAX_HOURS)]


class InvitationStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Invitation(BaseModel):
    """One invitation link, as stored and as shown to admins (never with its secret)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    session_id: str
    role: Role
    note: str | None = None
    created_by: str
    created_at: datetime
    expires_at: datetime
    status: InvitationStatus = InvitationStatus.PENDING
    #: Who accepted (user id) or revoked (username), and when.
    accepted_by: str | None = None
    accepted_at: datetime | None = None
    revoked_by: str | None = None
    revoked_at: datetime | None = None

    def status_at(self, now: datetime) -> InvitationStatus:
        """The status as of ``now``: a pending invitation past its expiry is expired."""
        if self.status is InvitationStatus.PENDING and self.expires_at <= now:
            return InvitationStatus.EXPIRED
        return self.status

    def as_of(self, now: datetime) -> Invitation:
        return self.model_copy(update={"status": self.status_at(now)})


def new_invitation(
    invitation_id: str,
    session_id: str,
    role: Role,
    *,
    note: str | None,
    hours: int,
    actor: str,
    now: datetime,
) -> Invitation:
    """A pending invitation valid for ``hours`` (``MIN_HOURS``..``MAX_HOURS``)."""
    if not MIN_HOURS <= hours <= MAX_HOURS:
        raise ValueError(f"an invitation is valid {MIN_HOURS} to {MAX_HOURS} hours")
    return Invitation(
        id=invitation_id,
        session_id=session_id,
        role=role,
        note=note or None,
        created_by=actor,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )


def takes_staff(status: SessionStatus) -> bool:
    """Whether a session in ``status`` may still get moderators and experts."""
    return status in MACHINE.sources(SessionAction.CHANGE_ROLES)


def console_path(session_id: str, role: Role) -> str:
    """Where someone who joined as ``role`` works."""
    page = "expert" if role is Role.EXPERT else "moderate"
    return f"/sessions/{session_id}/{page}"


def invitation_url(public_base_url: str, secret: str) -> str:
    return f"{public_base_url.rstrip('/')}/invite/{secret}"
