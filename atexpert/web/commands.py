"""The command layer: every write action, declared once.

A :class:`Command` names its input model (with the limits :mod:`atexpert.domain.questions` and
:mod:`atexpert.domain.answers` define), the staff :class:`~atexpert.domain.staff.Action` it needs,
the
session states it is allowed in and the store step it runs. HTTP endpoints, websocket
messages and CLI commands are thin adapters: they authenticate, :func:`authorize` (the
permission, then the session's state), read the input, :func:`perform` the step and render
the result. The errors are the domain's (``forbidden``, ``not_found``, ``session_closed``,
``illegal_transition``, ``conflict``, ``invalid_input``), which each adapter maps the same
way: an HTTP status and ``error`` code, a websocket ``error`` frame with that code, a CLI
exit status 1 with the message.

The settings of a session are in :mod:`atexpert.web.setting_commands`, staff users (global
commands, acting on no session: :data:`GLOBAL`) in :mod:`atexpert.web.staff_commands`.

Requeue ("hand back") needs :attr:`~atexpert.domain.staff.Action.QUESTION_HAND_BACK`, held by
moderators, experts and admins, over every adapter: an expert hands an approved question
back to the moderators, and a moderator sends one back to the queue with the same rule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from atexpert.domain import invitations
from atexpert.domain.answers import MAX_PARTS, Answer, AnswerDraft
from atexpert.domain.answers import MAX_TEXT as MAX_ANSWER_TEXT
from atexpert.domain.desk import MAX_HANDOVER_NOTE
from atexpert.domain.errors import FieldError, Forbidden, InvalidInput, SessionClosed
from atexpert.domain.invitations import DEFAULT_HOURS, Hours, Invitation, takes_staff
from atexpert.domain.questions import (
    MAX_NOTE,
    MAX_PRIORITY,
    MAX_REASON,
    MAX_TAG,
    MAX_TAGS,
    MAX_TEXT,
    IncomingQuestion,
    Question,
    QuestionCommandName,
)
from atexpert.domain.sessions import QueuedAtClose, Role, Session, SessionStatus, SessionUpdate
from atexpert.domain.staff import Action, StaffUser, can
from atexpert.store.invitations import InvitationStore
from atexpert.store.redis_conn import RedisClient
from atexpert.store.staff import StaffStore
from atexpert.store.store import Store

I = TypeVar("I", bound=BaseModel)  # noqa: E741 - the input model
R = TypeVar("R")

ANY_STATE = frozenset(SessionStatus)
#: Where questions are still approved: not once the session wraps up or closes.
APPROVING = ANY_STATE - {SessionStatus.WRAPPING_UP, SessionStatus.CLOSED, SessionStatus.ARCHIVED}
#: Where answers are still written, approved and queued: during the wrap-up too.
#: (Withdraw and return publish nothing, so they stay allowed.)
ANSWERING = ANY_STATE - {SessionStatus.CLOSED, SessionStatus.ARCHIVED}
NO_APPROVALS = "it takes no new approvals"
NO_ANSWERS = "it takes no new answers"
#: The "states" of a command that acts on no session.
GLOBAL = None


@dataclass(frozen=True)
class Caller:
    """Who runs a command: a staff user, or the operator (the CLI, with the database's
    own credentials), who may do everything."""

    name: str
    user: StaffUser | None = None

    @classmethod
    def staff(cls, user: StaffUser) -> Caller:
        return cls(user.username, user)

    @property
    def operator(self) -> bool:
        return self.user is None


@dataclass(frozen=True)
class Target:
    """What a step acts on: the session (None for a global command), the record's id in
    it, who and when."""

    scope: Session | None
    id: str
    caller: Caller
    at: datetime
    version: int | None

    @property
    def session(self) -> Session:
        """The session a session command acts on."""
        if self.scope is None:
            raise TypeError("a global command acts on no session")
        return self.scope

    @property
    def actor(self) -> str:
        """How the caller appears in the event log."""
        return self.caller.name


@dataclass(frozen=True)
class Stores:
    """What the steps write to."""

    store: Store
    staff: StaffStore
    invitations: InvitationStore
    #: For the settings' stores (auto-moderation, intake, the X meter).
    redis: RedisClient


Step = Callable[[Stores, Target, I], Awaitable[R]]


@dataclass(frozen=True)
class Command(Generic[I, R]):
    """One write action: its input, permission, session states and store step."""

    name: str
    input: type[I]
    permission: Action
    step: Step[I, R]
    #: The session statuses the command is allowed in; :data:`GLOBAL`: it acts on no
    #: session (staff users), see :func:`authorize_global`.
    states: frozenset[SessionStatus] | None = ANY_STATE
    #: Whether the command honours ``version`` (act only on that version, else conflict).
    versioned: bool = False
    #: Why it is refused in another state (after "session <id> is <status>: ").
    refusal: str = "not now"


async def authorize(
    command: Command[Any, Any], store: Store, caller: Caller, session_id: str
) -> Session:
    """The session, if ``caller`` may run ``command`` on it in its current state.

    Adapters authorize before they validate the input: a caller who may not act learns
    nothing about the input's rules."""
    assert command.states is not None, f"{command.name} acts on no session"
    session = await store.get_session(session_id)
    if not caller.operator and not can(caller.user, command.permission, session):
        raise Forbidden(f"you may not do {command.permission.value} here")
    if session.status not in command.states:
        status = session.status.value
        raise SessionClosed(f"session {session.id} is {status}: {command.refusal}")
    return session


def authorize_global(command: Command[Any, Any], caller: Caller) -> None:
    """Whether ``caller`` may run ``command``, a :data:`GLOBAL` one (its permission on no
    session)."""
    assert command.states is None, f"{command.name} acts on a session"
    if not caller.operator and not can(caller.user, command.permission, None):
        raise Forbidden(f"you may not do {command.permission.value} here")


async def perform(
    command: Command[I, R],
    stores: Stores,
    caller: Caller,
    session: Session | None,
    target_id: str,
    payload: I,
    *,
    at: datetime,
    version: int | None = None,
) -> R:
    """Run the store step of an authorized command (``version`` only if it honours one)."""
    target = Target(session, target_id, caller, at, version if command.versioned else None)
    return await command.step(stores, target, payload)


async def execute(
    command: Command[I, R],
    stores: Stores,
    caller: Caller,
    session_id: str,
    target_id: str,
    payload: I,
    *,
    at: datetime,
    version: int | None = None,
) -> R:
    """:func:`authorize` (:func:`authorize_global` for a :data:`GLOBAL` command, whose
    ``session_id`` is ignored), then :func:`perform`."""
    session = None
    if command.states is None:
        authorize_global(command, caller)
    else:
        session = await authorize(command, stores.store, caller, session_id)
    return await perform(
        command, stores, caller, session, target_id, payload, at=at, version=version
    )


def parse_input(command: Command[I, Any], raw: Mapping[str, Any]) -> I:
    """``raw`` validated by the command's input model (InvalidInput names the fields)."""
    try:
        return command.input.model_validate(dict(raw))
    except ValidationError as exc:
        errors = [
            FieldError(tuple(e["loc"]), e["msg"], e["type"])
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise InvalidInput("the input did not validate", errors) from None


# -- inputs ------------------------------------------------------------------------------


class NoInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON)
    ]


class HandBack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None, max_length=MAX_REASON, description="Why, for the moderators (optional)"
    )


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)] | None = (
        Field(description="Text shown to the expert; null restores the original")
    )


class Star(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starred: bool


class Priority(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: int = Field(ge=-MAX_PRIORITY, le=MAX_PRIORITY)


class Tags(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_TAG)]] = Field(
        max_length=MAX_TAGS
    )


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, StringConstraints(max_length=MAX_NOTE)] | None


class Assign(BaseModel):
    """Desk mode (:mod:`atexpert.domain.desk`): to an agent on duty, or to no one."""

    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(
        max_length=64, description="The staff user id of an agent on duty; null: unassign"
    )
    note: str | None = Field(
        default=None, max_length=MAX_HANDOVER_NOTE, description="For the new assignee"
    )


# -- question commands -------------------------------------------------------------------

_MODERATE = Action.QUESTION_MODERATE


def _step(method: Callable[..., Awaitable[R]], field: str | None = None) -> Step[Any, R]:
    """The step calling the store's ``method`` with the session id, the target's id (when
    the command acts on a record of the session), the input's ``field`` (if any), the
    actor, the time and, for a versioned command, the version."""

    async def step(s: Stores, t: Target, body: BaseModel) -> R:
        ids = (t.session.id, t.id) if t.id else (t.session.id,)
        args = (getattr(body, field),) if field is not None else ()
        guard = {"version": t.version} if t.version is not None else {}
        return await method(s.store, *ids, *args, actor=t.actor, at=t.at, **guard)

    return step


async def _requeue(s: Stores, t: Target, body: HandBack) -> Question:
    return await s.store.requeue_question(
        t.session.id, t.id, actor=t.actor, at=t.at, reason=body.reason
    )


async def _assign_question(s: Stores, t: Target, body: Assign) -> Question:
    return await s.store.assign_question(
        t.session.id, t.id, body.assignee, body.note, actor=t.actor, at=t.at
    )


QuestionCommand = Command[Any, Question]

QUESTION_COMMANDS: dict[str, QuestionCommand] = {
    c.name: c
    for c in (
        Command(
            "approve",
            NoInput,
            _MODERATE,
            _step(Store.approve_question),
            states=APPROVING,
            versioned=True,
            refusal=NO_APPROVALS,
        ),
        Command(
            "reject", Reject, _MODERATE, _step(Store.reject_question, "reason"), versioned=True
        ),
        Command("merge", Merge, _MODERATE, _step(Store.merge_question, "into")),
        Command("requeue", HandBack, Action.QUESTION_HAND_BACK, _requeue),
        Command("restore", NoInput, _MODERATE, _step(Store.restore_question)),
        Command(
            "edit", Edit, _MODERATE, _step(Store.edit_question, "display_text"), versioned=True
        ),
        Command("star", Star, _MODERATE, _step(Store.star_question, "starred")),
        Command("priority", Priority, _MODERATE, _step(Store.set_question_priority, "priority")),
        Command("tags", Tags, _MODERATE, _step(Store.set_question_tags, "tags")),
        Command("note", Note, _MODERATE, _step(Store.set_question_note, "note")),
        Command(
            "assign",
            Assign,
            Action.QUESTION_ASSIGN,
            _assign_question,
            states=ANSWERING,
            refusal=NO_ANSWERS,
        ),
    )
}
assert set(QUESTION_COMMANDS) == set(get_args(QuestionCommandName))


class QuestionAdded(BaseModel):
    question: Question
    created: bool = Field(description="False when the tweet had already been received")


async def _add(s: Stores, t: Target, incoming: IncomingQuestion) -> QuestionAdded:
    question, created = await s.store.add_question(t.session.id, incoming, at=t.at)
    return QuestionAdded(question=question, created=created)


#: Staff add a question by hand, as if tweeted (not a websocket action).
ADD_QUESTION = Command("add", IncomingQuestion, Action.QUESTION_CREATE, _add)


# -- answer commands ---------------------------------------------------------------------

AnswerText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ANSWER_TEXT)]


class AnswerEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: AnswerText
    parts: list[AnswerText] | None = Field(default=None, min_length=1, max_length=MAX_PARTS)


async def _draft(s: Stores, t: Target, draft: AnswerDraft) -> Answer:
    expert_id = t.caller.user.id if t.caller.user is not None else t.caller.name
    return await s.store.create_answer(t.session.id, draft, expert_id=expert_id, at=t.at)


async def _edit_answer(s: Stores, t: Target, body: AnswerEdit) -> Answer:
    return await s.store.edit_answer(
        t.session.id, t.id, body.text, body.parts, actor=t.actor, at=t.at, version=t.version
    )


AnswerCommand = Command[Any, Answer]
_WRITE, _APPROVE = Action.ANSWER_WRITE, Action.ANSWER_APPROVE
_OPEN, _OVER = ANSWERING, NO_ANSWERS

ANSWER_COMMANDS: dict[str, AnswerCommand] = {
    c.name: c
    for c in (
        Command("create", AnswerDraft, _WRITE, _draft, states=_OPEN, refusal=_OVER),
        Command(
            "edit", AnswerEdit, _WRITE, _edit_answer, versioned=True, states=_OPEN, refusal=_OVER
        ),
        Command("submit", NoInput, _WRITE, _step(Store.submit_answer), states=_OPEN, refusal=_OVER),
        Command("withdraw", NoInput, _WRITE, _step(Store.withdraw_answer)),
        Command(
            "approve", NoInput, _APPROVE, _step(Store.approve_answer), states=_OPEN, refusal=_OVER
        ),
        Command("return", NoInput, _APPROVE, _step(Store.return_answer)),
        Command("retry", NoInput, _APPROVE, _step(Store.retry_answer), states=_OPEN, refusal=_OVER),
    )
}


# -- session commands --------------------------------------------------------------------


async def _update(s: Stores, t: Target, changes: SessionUpdate) -> Session:
    return await s.store.update_session(t.session.id, changes, actor=t.actor, at=t.at)


class RoleAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)
    role: Role


async def _assign(s: Stores, t: Target, body: RoleAssignment) -> Session:
    """Roles only go to existing staff accounts."""
    if await s.staff.get_user(body.user_id) is None:
        field = FieldError(("user_id",), "no such staff user", "ref")
        raise InvalidInput(f"no staff user with id {body.user_id!r}", [field])
    sid = t.session.id
    return await s.store.assign_role(sid, body.user_id, body.role, actor=t.actor, at=t.at)


class RoleRevocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str
    role: Role


async def _revoke(s: Stores, t: Target, body: RoleRevocation) -> Session:
    sid = t.session.id
    return await s.store.revoke_role(sid, body.user_id, body.role, actor=t.actor, at=t.at)


class CloseSession(BaseModel):
    """How to close: what becomes of the answers still queued."""

    model_config = ConfigDict(extra="forbid")

    queued: QueuedAtClose = Field(
        default="post",
        description='"post": publish them before the closing post; "cancel": back to drafts',
    )


async def _close(s: Stores, t: Target, body: CloseSession) -> Session:
    sid = t.session.id
    return await s.store.close_session(sid, actor=t.actor, at=t.at, queued=body.queued)


SessionCommand = Command[Any, Session]
_LIFECYCLE = Action.SESSION_LIFECYCLE

SESSION_COMMANDS: dict[str, SessionCommand] = {
    c.name: c
    for c in (
        Command("update", SessionUpdate, Action.SESSION_UPDATE, _update),
        Command("assign", RoleAssignment, Action.SESSION_ASSIGN, _assign),
        Command("revoke", RoleRevocation, Action.SESSION_ASSIGN, _revoke),
        Command("schedule", NoInput, _LIFECYCLE, _step(Store.schedule_session)),
        Command("unschedule", NoInput, _LIFECYCLE, _step(Store.unschedule_session)),
        Command("start", NoInput, _LIFECYCLE, _step(Store.start_session)),
        Command("close", CloseSession, _LIFECYCLE, _close),
        Command("archive", NoInput, _LIFECYCLE, _step(Store.archive_session)),
    )
}


# -- invitation commands -----------------------------------------------------------------


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    note: invitations.Note | None = None
    expires_in_hours: Hours = DEFAULT_HOURS


async def _invite(s: Stores, t: Target, body: InvitationCreate) -> tuple[Invitation, str]:
    """A pending invitation and its secret (for the link, shown once)."""
    return await s.invitations.create(
        t.session.id, body.role, note=body.note, hours=body.expires_in_hours, actor=t.actor
    )


async def _uninvite(s: Stores, t: Target, _: NoInput) -> None:
    await s.invitations.revoke(t.session.id, t.id, actor=t.actor)


InvitationCommand = Command[Any, Any]
TAKES_STAFF = frozenset(status for status in SessionStatus if takes_staff(status))

INVITATION_COMMANDS: dict[str, InvitationCommand] = {
    c.name: c
    for c in (
        Command(
            "invite",
            InvitationCreate,
            Action.SESSION_ASSIGN,
            _invite,
            states=TAKES_STAFF,
            refusal="it takes no new staff",
        ),
        Command("uninvite", NoInput, Action.SESSION_ASSIGN, _uninvite),
    )
}
