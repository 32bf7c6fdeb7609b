"""AMA sessions: the model, its validation and its state machine (pure, no I/O).

Lifecycle::

    draft --schedule--> scheduled --start--> live --close--> closed --archive--> archived
      ^                    |               |                  ^
      +----unschedule------+               +--wrap_up--> wrapping_up --close--+
                                        draft --archive--> archived (discard a draft)

Closing (:func:`close_plan`): with a wrap-up period (``wrap_up_minutes``) a live session
first wraps up: intake stops and no question is approved any more, but the expert may
still finish and publish answers until ``wrap_up_until``, when the scheduler closes it for
good. Answers still queued at the close for good are posted before the closing post, or
withdrawn to drafts (``close_queued``: the admin's choice), in the same atomic step.

``update`` (title, times, hashtags...) is allowed in draft and scheduled only; roles can
change in draft, scheduled and live. ``announce`` records the tweet id of the start
announcement (the root of the session's thread on X) or of the end one, while live or
closed. A session is started only from scheduled: a "start
now" button schedules then starts. Nothing leaves archived.

Two kinds (:class:`SessionKind`): an ``event`` runs from its start to its
``scheduled_end``, when the scheduler closes it; a ``desk`` (an always-on customer-service
desk, :mod:`atexpert.domain.desk`) has no end: it goes live at its start and stays live
until an admin closes it. The kind is chosen at creation.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from atexpert.domain import answers, twittertext
from atexpert.domain.business_hours import (
    LONGEST_BACK,
    LONGEST_HANDLE,
    AfterHours,
    BusinessHours,
)
from atexpert.domain.errors import IllegalTransition, InvalidInput
from atexpert.domain.events import Change, EventKind, JsonList, Record, StateMachine, invalid_input
from atexpert.domain.saved_replies import SavedReply

HASHTAG = re.compile(r"#\w{1,99}")
#: The longest wrap-up period, in minutes.
MAX_WRAP_UP = 240
#: The length of a session's guest line.
MAX_GUEST = 100
#: At the close, what becomes of answers still queued: posted before the closing post, or
#: withdrawn to drafts.
QueuedAtClose = Literal["post", "cancel"]
#: The automatic reply outside business hours, until an admin writes the brand's own.
AUTO_REPLY_TEXT = (
    "Thanks for your message! Our team is away right now; we are back {back} and will answer "
    "you then."
)


class SessionStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    LIVE = "live"
    WRAPPING_UP = "wrapping_up"
    CLOSED = "closed"
    ARCHIVED = "archived"


class SessionAction(StrEnum):
    UPDATE = "update"
    SCHEDULE = "schedule"
    UNSCHEDULE = "unschedule"
    START = "start"
    WRAP_UP = "wrap up"
    CLOSE = "close"
    ARCHIVE = "archive"
    CHANGE_ROLES = "change roles of"
    ANNOUNCE = "announce"
    SHIFT = "change shifts of"
    REPLIES = "change saved replies of"
    TARGET = "change the first-response target of"
    #: Guard only: questions are received while the session is scheduled or live.
    RECEIVE = "receive questions for"


class Role(StrEnum):
    EXPERT = "expert"
    MODERATOR = "moderator"


_S, _A = SessionStatus, SessionAction
MACHINE: StateMachine[SessionStatus, SessionAction] = StateMachine(
    "session",
    {
        (_S.DRAFT, _A.UPDATE): _S.DRAFT,
        (_S.DRAFT, _A.SCHEDULE): _S.SCHEDULED,
        (_S.DRAFT, _A.ARCHIVE): _S.ARCHIVED,
        (_S.DRAFT, _A.CHANGE_ROLES): _S.DRAFT,
        (_S.SCHEDULED, _A.UPDATE): _S.SCHEDULED,
        (_S.SCHEDULED, _A.UNSCHEDULE): _S.DRAFT,
        (_S.SCHEDULED, _A.START): _S.LIVE,
        (_S.SCHEDULED, _A.CHANGE_ROLES): _S.SCHEDULED,
        (_S.LIVE, _A.CLOSE): _S.CLOSED,
        (_S.LIVE, _A.WRAP_UP): _S.WRAPPING_UP,
        (_S.WRAPPING_UP, _A.CLOSE): _S.CLOSED,
        (_S.LIVE, _A.CHANGE_ROLES): _S.LIVE,
        (_S.WRAPPING_UP, _A.CHANGE_ROLES): _S.WRAPPING_UP,
        (_S.SCHEDULED, _A.RECEIVE): _S.SCHEDULED,
        (_S.LIVE, _A.RECEIVE): _S.LIVE,
        (_S.CLOSED, _A.ARCHIVE): _S.ARCHIVED,
        (_S.LIVE, _A.ANNOUNCE): _S.LIVE,
        (_S.WRAPPING_UP, _A.ANNOUNCE): _S.WRAPPING_UP,
        (_S.CLOSED, _A.ANNOUNCE): _S.CLOSED,
        (_S.SCHEDULED, _A.SHIFT): _S.SCHEDULED,
        (_S.LIVE, _A.SHIFT): _S.LIVE,
        (_S.WRAPPING_UP, _A.SHIFT): _S.WRAPPING_UP,
        (_S.DRAFT, _A.REPLIES): _S.DRAFT,
        (_S.SCHEDULED, _A.REPLIES): _S.SCHEDULED,
        (_S.LIVE, _A.REPLIES): _S.LIVE,
        (_S.WRAPPING_UP, _A.REPLIES): _S.WRAPPING_UP,
        (_S.DRAFT, _A.TARGET): _S.DRAFT,
        (_S.SCHEDULED, _A.TARGET): _S.SCHEDULED,
        (_S.LIVE, _A.TARGET): _S.LIVE,
        (_S.WRAPPING_UP, _A.TARGET): _S.WRAPPING_UP,
    },
)

_KIND = {
    _A.UPDATE: EventKind.SESSION_UPDATED,
    _A.SCHEDULE: EventKind.SESSION_SCHEDULED,
    _A.UNSCHEDULE: EventKind.SESSION_UNSCHEDULED,
    _A.START: EventKind.SESSION_STARTED,
    _A.WRAP_UP: EventKind.SESSION_WRAPPING_UP,
    _A.CLOSE: EventKind.SESSION_CLOSED,
    _A.ARCHIVE: EventKind.SESSION_ARCHIVED,
    _A.CHANGE_ROLES: EventKind.SESSION_ROLES_CHANGED,
    _A.ANNOUNCE: EventKind.SESSION_ANNOUNCED,
    _A.SHIFT: EventKind.SESSION_SHIFT_CHANGED,
    _A.REPLIES: EventKind.SESSION_REPLIES_CHANGED,
    _A.TARGET: EventKind.SESSION_TARGET_CHANGED,
}
#: Session field holding the tweet id of each announcement.
ANNOUNCEMENT_FIELD = {"start": "thread_root_id", "end": "closing_tweet_id"}
_TIME_FIELD = {_A.START: "started_at", _A.CLOSE: "closed_at", _A.ARCHIVE: "archived_at"}


class HostAccount(BaseModel):
    """The brand's X account that publishes the answers."""

    model_config = ConfigDict(extra="forbid")

    handle: str = Field(description="X handle, with or without the leading @")
    user_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")

    @field_validator("handle")
    @classmethod
    def _handle(cls, v: str) -> str:
        handle = twittertext.username(v)
        if handle is None:
            raise ValueError(twittertext.HANDLE_RULE)
        return handle


class SessionKind(StrEnum):
    EVENT = "event"  # from its start to its scheduled end (the default)
    DESK = "desk"  # no end: live until an admin closes it


#: The default first-response target of a desk's questions, in minutes.
FIRST_RESPONSE_MINUTES = 60
#: The longest first-response target: a week.
FIRST_RESPONSE_MAX = 7 * 24 * 60


class MergedReplies(StrEnum):
    """How the askers of questions merged into an answered one get the answer on X."""

    THREAD = "thread"  # the whole thread, under their post (or in the session's thread)
    LINK = "link"  # one short post linking to the answer (a post with a link costs more)


class SessionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    require_answer_approval: bool = False
    announce: bool = True
    numbering: bool = True
    signature: str | None = Field(default=None, max_length=50)
    #: The end announcement links to the public recap page (a post with a link costs more).
    recap_link: bool = False
    #: Thread by default: a post with a link is billed far above a reply (domain/costs.py).
    merged_replies: MergedReplies = MergedReplies.THREAD
    #: When the session is open (a desk), in its time zone; None: always.
    business_hours: BusinessHours | None = None
    #: Outside business hours: pause intake, or reply once per asker and closed period.
    after_hours: AfterHours = AfterHours.PAUSE
    auto_reply_text: str = Field(default=AUTO_REPLY_TEXT, min_length=1, max_length=1000)

    @field_validator("auto_reply_text")
    @classmethod
    def _fits_a_post(cls, v: str) -> str:
        """One post with the longest mention of an asker and ``{back}`` (the reopening)."""
        longest = f"@{LONGEST_HANDLE} " + v.replace("{back}", LONGEST_BACK)
        if not twittertext.is_valid(longest):
            raise ValueError(
                "an automatic reply is one post: with a mention of the asker it makes "
                f"{twittertext.weighted_length(longest)} of 280 characters as X counts them"
            )
        return v


def _hashtags(tags: list[str]) -> list[str]:
    if not tags:
        raise ValueError("at least one hashtag is required")
    out: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag.startswith("#"):
            tag = "#" + tag
        if HASHTAG.fullmatch(tag) is None or tag[1:].isdigit():
            raise ValueError(f"{tag!r} is not a hashtag (# then letters, digits or _)")
        if tag.lower() not in {t.lower() for t in out}:
            out.append(tag)
    return out


def _time_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r} (use an IANA name like Europe/Paris)") from None
    return v


class SessionFields(BaseModel):
    """What a brand fills in to create a session."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    #: The occurrence's own expert, in public ("Capt. Jane Doe, A350 pilot"); "": none.
    guest: str = Field(default="", max_length=MAX_GUEST)

    kind: SessionKind = SessionKind.EVENT
    hashtags: list[str] = Field(min_length=1, max_length=10)
    host_account: HostAccount
    expert_ids: JsonList[str] = []
    moderator_ids: JsonList[str] = []
    scheduled_start: AwareDatetime
    #: Required for an event; a desk has none.
    scheduled_end: AwareDatetime | None = None
    time_zone: str = "UTC"
    intake_opens_before_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    #: After the close, how long the expert may still finish and publish (0: none).
    wrap_up_minutes: int = Field(default=0, ge=0, le=MAX_WRAP_UP)
    #: A desk's target: each question has a first response within this many minutes.
    first_response_minutes: int = Field(default=FIRST_RESPONSE_MINUTES, ge=1, le=FIRST_RESPONSE_MAX)
    language: Literal["fr", "en"] = "en"
    options: SessionOptions = SessionOptions()

    @field_validator("hashtags")
    @classmethod
    def _check_hashtags(cls, v: list[str]) -> list[str]:
        return _hashtags(v)

    @field_validator("time_zone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        return _time_zone(v)

    @model_validator(mode="after")
    def _times(self) -> Self:
        if self.kind is SessionKind.DESK:
            if self.scheduled_end is not None:
                raise ValueError("a desk has no end: leave scheduled_end out")
        elif self.scheduled_end is None:
            raise ValueError("scheduled_end is required (only a desk has no end)")
        elif self.scheduled_end <= self.scheduled_start:
            raise ValueError("scheduled_end must be after scheduled_start")
        return self

    @property
    def intake_opens_at(self) -> datetime:
        return self.scheduled_start - timedelta(minutes=self.intake_opens_before_minutes)


class SessionUpdate(BaseModel):
    """Fields to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    #: "": no guest any more.
    guest: str | None = Field(default=None, max_length=MAX_GUEST)
    hashtags: list[str] | None = Field(default=None, min_length=1, max_length=10)
    host_account: HostAccount | None = None
    scheduled_start: AwareDatetime | None = None
    scheduled_end: AwareDatetime | None = None
    time_zone: str | None = None
    intake_opens_before_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    wrap_up_minutes: int | None = Field(default=None, ge=0, le=MAX_WRAP_UP)
    first_response_minutes: int | None = Field(default=None, ge=1, le=FIRST_RESPONSE_MAX)
    language: Literal["fr", "en"] | None = None
    options: SessionOptions | None = None


class Session(SessionFields):
    model_config = ConfigDict(extra="ignore")

    id: str
    status: SessionStatus = SessionStatus.DRAFT
    version: int = 1
    created_by: str
    created_at: AwareDatetime
    updated_by: str
    updated_at: AwareDatetime
    started_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    #: While wrapping up: when the session closes for good.
    wrap_up_until: AwareDatetime | None = None
    #: What the close does with answers still queued (the admin's choice).
    close_queued: QueuedAtClose = "post"
    archived_at: AwareDatetime | None = None
    #: Highest scheduler fence seen by start/close: stale lease holders are refused.
    fence: int | None = None
    #: The start announcement on X: the root of the session's thread.
    thread_root_id: str | None = None
    #: The end announcement on X.
    closing_tweet_id: str | None = None
    #: The series this session is an occurrence of, and the occurrence's local day.
    series_id: str | None = None
    occurrence_on: date | None = None

    #: Desk mode: the staff user ids of the agents on duty (atexpert.domain.desk).
    on_duty: JsonList[str] = []
    #: Saved replies with variables (atexpert.domain.saved_replies), as plain records.
    saved_replies: JsonList[SavedReply] = []


def new_session_id() -> str:
    return "s_" + secrets.token_hex(6)


def new_session(
    fields: SessionFields,
    *,
    session_id: str,
    actor: str,
    at: datetime,
    series_id: str | None = None,
    occurrence_on: date | None = None,
) -> Session:
    return Session(
        **fields.model_dump(),
        id=session_id,
        series_id=series_id,
        occurrence_on=occurrence_on,
        created_by=actor,
        created_at=at,
        updated_by=actor,
        updated_at=at,
    )


def illegal(record: Record, action: str) -> IllegalTransition:
    """The error for ``action`` refused on the stored ``record``."""
    s = Session.model_validate(record)
    try:
        MACHINE.next(s.status, SessionAction(action), s.id, by=s.updated_by, at=s.updated_at)
    except IllegalTransition as exc:
        return exc
    raise AssertionError(f"{action} is legal from {s.status}")


def _stamp(actor: str, at: datetime) -> Record:
    return {"updated_by": actor, "updated_at": at.isoformat()}


def transition(
    session_id: str,
    action: SessionAction,
    *,
    actor: str,
    at: datetime,
    fence: int | None = None,
    patch: Record | None = None,
    expected_version: int | None = None,
) -> Change:
    """The guarded change for a status action (update and role changes included)."""
    body: Record = {**(patch or {}), **_stamp(actor, at)}
    if action in _TIME_FIELD:
        body[_TIME_FIELD[action]] = at.isoformat()
    if fence is not None:
        body["fence"] = fence
    return MACHINE.change(
        session_id,
        action,
        _KIND[action],
        body,
        actor=actor,
        at=at,
        fence=fence,
        expected_version=expected_version,
    )


def schedule(session: Session, *, actor: str, at: datetime) -> Change:
    """A session whose start has passed may still be scheduled (the scheduler starts it at
    once); one whose end has passed may not: there would be nothing left to run."""
    if session.scheduled_end is not None and session.scheduled_end <= at:
        raise InvalidInput.field(
            ("scheduled_end",),
            "the session's end has already passed: move its times later, then schedule it",
        )
    return transition(session.id, SessionAction.SCHEDULE, actor=actor, at=at)


def update(session: Session, changes: SessionUpdate, *, actor: str, at: datetime) -> Change:
    """Validate the updated session as a whole; the change carries only the changed fields."""
    MACHINE.next(session.status, SessionAction.UPDATE, session.id)
    given = changes.model_dump(mode="json", exclude_unset=True)
    given = {k: v for k, v in given.items() if v is not None}
    merged = {**session.model_dump(mode="json"), **given}
    try:
        validated = Session.model_validate(merged).model_dump(mode="json")
    except ValidationError as exc:
        raise invalid_input(exc) from None
    patch = {k: validated[k] for k in given}
    return transition(
        session.id,
        SessionAction.UPDATE,
        actor=actor,
        at=at,
        patch=patch,
        expected_version=session.version,
    )


def change_role(
    session: Session, user_id: str, role: Role, *, grant: bool, actor: str, at: datetime
) -> Change:
    field = "expert_ids" if role is Role.EXPERT else "moderator_ids"
    current: list[str] = list(getattr(session, field))
    if grant and user_id not in current:
        current.append(user_id)
    elif not grant and user_id in current:
        current.remove(user_id)
    MACHINE.next(session.status, SessionAction.CHANGE_ROLES, session.id)
    return transition(
        session.id,
        SessionAction.CHANGE_ROLES,
        actor=actor,
        at=at,
        patch={field: current},
        expected_version=session.version,
    )


def announced(session_id: str, moment: str, tweet_id: str, *, actor: str, at: datetime) -> Change:
    """Record the tweet id of the ``moment`` ("start" or "end") announcement."""
    field = ANNOUNCEMENT_FIELD.get(moment)
    if field is None:
        raise InvalidInput.field(("moment",), 'an announcement is "start" or "end"')
    if not tweet_id.isdigit() or len(tweet_id) > 20:
        raise InvalidInput.field(("tweet_id",), "a tweet id is 1-20 digits")
    return transition(
        session_id, SessionAction.ANNOUNCE, actor=actor, at=at, patch={field: tweet_id}
    )


def roles_of(session: Session, user_id: str) -> set[Role]:
    roles: set[Role] = set()
    if user_id in session.expert_ids:
        roles.add(Role.EXPERT)
    if user_id in session.moderator_ids:
        roles.add(Role.MODERATOR)
    return roles


def close_plan(
    session: Session,
    queued: Sequence[str],
    *,
    actor: str,
    at: datetime,
    choice: QueuedAtClose | None = None,
    fence: int | None = None,
) -> list[Change]:
    """The atomic step that closes ``session``: a live one with a wrap-up period starts
    wrapping up (recording ``choice`` for the end of it), otherwise it closes for good and
    ``queued`` (the ids of its queued answers) are withdrawn when the choice is "cancel".

    ``choice`` None keeps the one recorded when the wrap-up began ("post" by default). A
    withdrawal is optional: an answer the publisher claimed meanwhile is finished instead.
    """
    choice = choice or session.close_queued
    if session.status is SessionStatus.LIVE and session.wrap_up_minutes > 0:
        until = at + timedelta(minutes=session.wrap_up_minutes)
        patch: Record = {"wrap_up_until": until.isoformat(), "close_queued": choice}
        change = transition(
            session.id, SessionAction.WRAP_UP, actor=actor, at=at, fence=fence, patch=patch
        )
        return [change]
    patch = {"close_queued": choice}
    close = transition(
        session.id, SessionAction.CLOSE, actor=actor, at=at, fence=fence, patch=patch
    )
    if choice == "post":
        return [close]
    withdraw = answers.AnswerAction.WITHDRAW
    return [
        close,
        *(replace(answers.change(a, withdraw, actor=actor, at=at), optional=True) for a in queued),
    ]


def due_at(session: Session) -> datetime | None:
    """When the scheduler must act next on this session, if ever."""
    if session.status is SessionStatus.SCHEDULED:
        return session.scheduled_start
    if session.status is SessionStatus.LIVE:
        return session.scheduled_end  # None for a desk: it never closes by itself
    if session.status is SessionStatus.WRAPPING_UP:
        return session.wrap_up_until
    return None


def is_due(session: Session, now: datetime) -> bool:
    when = due_at(session)
    return when is not None and when <= now
