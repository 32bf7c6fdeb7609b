"""Staff users and the permission rules: pure, no I/O.

Roles: ``admin`` is global; ``moderator`` and ``expert`` are per session (the session
record lists ``moderator_ids`` and ``expert_ids``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from atexpert.domain.passwords import MAX_LENGTH, MIN_LENGTH

USERNAME_RE = r"^[a-z0-9][a-z0-9_.-]{1,31}$"

Username = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=USERNAME_RE.replace("a-z", "A-Za-z")),
    AfterValidator(str.lower),
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
#: A new password: its length here, the rest of the policy in :mod:`atexpert.domain.passwords`.
Password = Annotated[str, StringConstraints(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]
TokenName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def normalize_username(raw: str) -> str | None:
    """The canonical (lower-case) form of ``raw``, or None when it is not a valid username."""
    name = raw.strip().lower()
    return name if re.fullmatch(USERNAME_RE, name) else None


def invalid_username(raw: str) -> str:
    """Why ``raw`` is refused as a username."""
    return f"invalid username {raw!r}: 2-32 of a-z 0-9 _ . -"


class StaffUser(BaseModel):
    """A staff account as stored. ``password_hash`` never leaves the server.

    A disabled account can neither log in nor use its tokens. A deleted one is a tombstone:
    disabled for good, its password hash and tokens gone, its id and username kept, so the
    event logs (whose ``actor`` is a username) stay unambiguous and no one reuses the name.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    username: str
    display_name: str
    password_hash: str
    is_admin: bool = False
    created_at: datetime
    disabled: bool = False
    deleted_at: datetime | None = None

    @property
    def active(self) -> bool:
        return not self.disabled and self.deleted_at is None


def staff_name(user: StaffUser) -> str:
    """How a staff person is named to people: the display name (the username, which never
    changes, stays the key of records and events)."""
    return user.display_name or user.username


class StaffNames:
    """Names of staff people, found by user id (records: ``expert_id``) or by username
    (events' ``actor``, ``decided_by``); an unknown reference (``automod``, a user of
    another atexpert) is named as is."""

    def __init__(self, users: Iterable[StaffUser] = ()) -> None:
        self._by_ref: dict[str, StaffUser] = {}
        for user in users:
            self._by_ref[user.id] = user
            self._by_ref[user.username] = user

    def user_id(self, ref: str) -> str:
        """The user id ``ref`` (an id or a username) stands for, or ``ref`` when unknown."""
        found = self._by_ref.get(ref)
        return found.id if found is not None else ref

    def name(self, ref: str | None) -> str:
        if ref is None:
            return ""
        found = self._by_ref.get(ref)
        return staff_name(found) if found is not None else ref


class StaffUserOut(BaseModel):
    """A staff account as shown by the API."""

    model_config = ConfigDict(frozen=True)

    id: str
    username: str
    display_name: str
    is_admin: bool
    created_at: datetime
    disabled: bool = False

    @classmethod
    def of(cls, user: StaffUser) -> StaffUserOut:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            is_admin=user.is_admin,
            created_at=user.created_at,
            disabled=user.disabled,
        )


class ApiToken(BaseModel):
    """A named API token (only its sha256 is stored; the secret is shown once)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    user_id: str
    name: str
    created_at: datetime


class StaffRole(StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    EXPERT = "expert"


class Action(StrEnum):
    """Everything a staff member may try to do on one session (or globally)."""

    SESSION_CREATE = "session.create"
    SESSION_READ = "session.read"
    SESSION_UPDATE = "session.update"
    SESSION_LIFECYCLE = "session.lifecycle"
    SESSION_ASSIGN = "session.assign"
    #: Read the figures across a series' sessions (admins, the series' moderators).
    SERIES_ANALYTICS = "series.analytics"
    QUESTION_READ_ALL = "question.read_all"
    QUESTION_READ_APPROVED = "question.read_approved"
    QUESTION_CREATE = "question.create"
    QUESTION_MODERATE = "question.moderate"
    #: Send an approved question back to the moderators' queue (moderators and experts).
    QUESTION_HAND_BACK = "question.hand_back"
    #: Desk mode: assign a waiting question to an agent on duty, or hand it over.
    QUESTION_ASSIGN = "question.assign"
    #: Desk mode: go on or off duty (the session's agents: its experts).
    DESK_SHIFT = "desk.shift"
    #: Write, change and delete the session's saved replies.
    SESSION_REPLIES = "session.saved_replies"
    ANSWER_READ = "answer.read"
    ANSWER_WRITE = "answer.write"
    ANSWER_APPROVE = "answer.approve"
    STAFF_MANAGE = "staff.manage"


class SessionMembership(Protocol):
    """What the permission rules need from a session record."""

    @property
    def moderator_ids(self) -> Collection[str]: ...

    @property
    def expert_ids(self) -> Collection[str]: ...


_GRANTS: dict[StaffRole, frozenset[Action]] = {
    StaffRole.ADMIN: frozenset(Action),
    StaffRole.MODERATOR: frozenset(
        {
            Action.SESSION_READ,
            Action.QUESTION_READ_ALL,
            Action.QUESTION_READ_APPROVED,
            Action.QUESTION_MODERATE,
            Action.QUESTION_HAND_BACK,
            Action.QUESTION_ASSIGN,
            Action.SESSION_REPLIES,
            Action.ANSWER_READ,
            Action.ANSWER_APPROVE,
            Action.SERIES_ANALYTICS,
        }
    ),
    StaffRole.EXPERT: frozenset(
        {
            Action.SESSION_READ,
            Action.QUESTION_READ_APPROVED,
            Action.QUESTION_HAND_BACK,
            Action.QUESTION_ASSIGN,
            Action.DESK_SHIFT,
            Action.ANSWER_READ,
            Action.ANSWER_WRITE,
        }
    ),
}


class Grants(BaseModel):
    """The roles one user holds on one session, as sent to the consoles."""

    model_config = ConfigDict(frozen=True)

    roles: list[StaffRole] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)


def roles_of(user: StaffUser, session: SessionMembership | None) -> frozenset[StaffRole]:
    """The roles ``user`` holds, on ``session`` when given (global roles only otherwise)."""
    roles: set[StaffRole] = {StaffRole.ADMIN} if user.is_admin else set()
    if session is not None:
        if user.id in session.moderator_ids:
            roles.add(StaffRole.MODERATOR)
        if user.id in session.expert_ids:
            roles.add(StaffRole.EXPERT)
    return frozenset(roles)


def allowed_actions(user: StaffUser, session: SessionMembership | None) -> frozenset[Action]:
    out: set[Action] = set()
    for role in roles_of(user, session):
        out |= _GRANTS[role]
    return frozenset(out)


def can(user: StaffUser | None, action: Action, session: SessionMembership | None = None) -> bool:
    """Whether ``user`` may do ``action`` (on ``session`` for session-scoped actions)."""
    if user is None:
        return False
    return action in allowed_actions(user, session)


def grants(user: StaffUser, session: SessionMembership) -> Grants:
    return Grants(
        roles=sorted(roles_of(user, session)),
        actions=sorted(allowed_actions(user, session)),
    )
