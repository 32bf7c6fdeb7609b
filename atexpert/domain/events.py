"""The event vocabulary: state machines, guarded changes, events and their JSON codec.

Every state change is a :class:`Change`: the statuses it may start from (taken from the
entity's transition table), a flat ``patch`` of fields to set (dotted paths such as
``parts.0.tweet_id`` reach into lists and objects) and the event kind. The store applies a
change and appends its :class:`Event` in one atomic step; :func:`fold` replays events
into plain records, so the log alone rebuilds every session.

A session's settings (auto-moderation, intake mode) are written by their own small
scripts (:mod:`atexpert.store.session_settings`), each with its event in the same step: the
``SETTING_KINDS``, whose entity is the setting and whose data is its whole new value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, ValidationError

from atexpert.domain.errors import FieldError, IllegalTransition, InvalidInput

Entity = Literal["session", "question", "answer"]
#: A setting of the session (its entity id is the session id), changed outside the step.
Setting = Literal["automod", "intake", "intake_pause"]
#: An announcement before an occurrence of a series (its id: the minutes before the start),
#: kept in a hash of its own; its events carry the whole new record.
Announcement = Literal["announcement"]
Record = dict[str, Any]

S = TypeVar("S", bound=StrEnum)
A = TypeVar("A", bound=StrEnum)
T = TypeVar("T")


def _empty_object_as_list(value: Any) -> Any:
    # Redis Lua's cjson cannot tell an empty array from an empty object and encodes "{}".
    return [] if value == {} else value


#: A list field of a record that the Lua step may have re-encoded.
JsonList = Annotated[list[T], BeforeValidator(_empty_object_as_list)]


def invalid_input(exc: ValidationError, message: str = "invalid input") -> InvalidInput:
    """A pydantic error as :class:`InvalidInput` with one :class:`FieldError` per problem."""
    errors = [
        FieldError(tuple(e["loc"]), e["msg"], e["type"])
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    return InvalidInput(
        message
        + ": "
        + "; ".join(f"{'.'.join(map(str, e.loc)) or 'body'}: {e.msg}" for e in errors),
        errors,
    )


class EventKind(StrEnum):
    SESSION_CREATED = "session.created"
    SESSION_UPDATED = "session.updated"
    SESSION_SCHEDULED = "session.scheduled"
    SESSION_UNSCHEDULED = "session.unscheduled"
    SESSION_STARTED = "session.started"
    SESSION_WRAPPING_UP = "session.wrapping_up"
    SESSION_CLOSED = "session.closed"
    SESSION_ARCHIVED = "session.archived"
    SESSION_ROLES_CHANGED = "session.roles_changed"
    SESSION_ANNOUNCED = "session.announced"
    SESSION_SHIFT_CHANGED = "session.shift_changed"  # an agent went on or off duty
    SESSION_REPLIES_CHANGED = "session.replies_changed"  # the saved replies, as a whole
    SESSION_TARGET_CHANGED = "session.target_changed"  # a desk's first-response target

    ANNOUNCEMENT_EDITED = "announcement.edited"  # its text replaced, or its skip taken back
    ANNOUNCEMENT_SKIPPED = "announcement.skipped"
    ANNOUNCEMENT_CLAIMED = "announcement.claimed"  # by the scheduler's leader, text fixed
    ANNOUNCEMENT_RELEASED = "announcement.released"  # X said 429: retried at the next tick
    ANNOUNCEMENT_POSTED = "announcement.posted"
    ANNOUNCEMENT_MISSED = "announcement.missed"
    ANNOUNCEMENT_FAILED = "announcement.failed"
    QUESTION_RECEIVED = "question.received"
    QUESTION_APPROVED = "question.approved"
    QUESTION_REJECTED = "question.rejected"
    QUESTION_MERGED = "question.merged"
    QUESTION_REQUEUED = "question.requeued"
    QUESTION_RESTORED = "question.restored"
    QUESTION_ANSWERED = "question.answered"
    QUESTION_EDITED = "question.edited"
    QUESTION_STARRED = "question.starred"
    QUESTION_PRIORITIZED = "question.prioritized"
    QUESTION_TAGGED = "question.tagged"
    QUESTION_NOTED = "question.noted"
    QUESTION_METRICS = "question.metrics"
    QUESTION_ASSIGNED = "question.assigned"  # to an agent on duty, or unassigned
    ANSWER_DRAFTED = "answer.drafted"
    ANSWER_EDITED = "answer.edited"
    ANSWER_SUBMITTED = "answer.submitted"
    ANSWER_APPROVED = "answer.approved"
    ANSWER_RETURNED = "answer.returned"
    ANSWER_QUEUED = "answer.queued"
    ANSWER_WITHDRAWN = "answer.withdrawn"
    ANSWER_PUBLISHING = "answer.publishing"
    ANSWER_PART_POSTED = "answer.part_posted"
    ANSWER_MERGED_REFUSED = "answer.merged_refused"
    ANSWER_MERGED_ADDED = "answer.merged_added"  # a question merged after the claim
    ANSWER_PUBLISHED = "answer.published"
    ANSWER_FAILED = "answer.failed"
    ANSWER_RETRIED = "answer.retried"
    AUTOMOD_CHANGED = "automod.changed"
    INTAKE_MODE_CHANGED = "intake.mode_changed"
    INTAKE_PAUSE_CHANGED = "intake_pause.changed"  # intake paused (and why) or resumed


#: Kinds whose ``data`` is the whole new record rather than a patch.
CREATE_KINDS = frozenset(
    {EventKind.SESSION_CREATED, EventKind.QUESTION_RECEIVED, EventKind.ANSWER_DRAFTED}
)

#: Kinds of a session's settings: ``data`` is the setting's whole new value.
SETTING_KINDS = frozenset(
    {EventKind.AUTOMOD_CHANGED, EventKind.INTAKE_MODE_CHANGED, EventKind.INTAKE_PAUSE_CHANGED}
)


class StateMachine(Generic[S, A]):
    """An explicit ``{(from_status, action): to_status}`` table that raises on anything else."""

    def __init__(self, entity: Entity, table: Mapping[tuple[S, A], S]) -> None:
        self.entity: Entity = entity
        self.table = dict(table)
        actions = {act for (_, act) in self.table}
        self._sources = {
            act: frozenset(src for (src, a) in self.table if a == act) for act in actions
        }
        self._targets = {act: self._target(act) for act in actions}

    def next(self, current: S, action: A, entity_id: str = "", **why: Any) -> S:
        try:
            return self.table[(current, action)]
        except KeyError:
            targets = {to for (_, act), to in self.table.items() if act == action}
            raise IllegalTransition(
                self.entity,
                entity_id,
                current.value,
                action.value,
                already=current in targets,
                **why,
            ) from None

    def sources(self, action: A) -> frozenset[S]:
        """The statuses ``action`` may start from."""
        return self._sources[action]

    def guard(self, entity_id: str, action: A) -> Guard:
        """A precondition: the record is in a status ``action`` may start from."""
        sources = frozenset(s.value for s in self._sources[action])
        return Guard(self.entity, entity_id, action.value, sources)

    def _target(self, action: A) -> S | None:
        """The one status ``action`` leads to, or None when it never changes the status."""
        moves = {to for (src, act), to in self.table.items() if act == action and to != src}
        if len(moves) > 1:
            raise ValueError(f"{action} leads to several statuses; plan it per status")
        return moves.pop() if moves else None

    def change(
        self,
        entity_id: str,
        action: A,
        kind: EventKind,
        patch: Record,
        *,
        actor: str,
        at: datetime,
        **options: Any,
    ) -> Change:
        """The guarded change for ``action``: expected statuses from the table, new status."""
        to = self._targets[action]
        body = dict(patch)
        if to is not None:
            body["status"] = to.value
        return Change(
            entity=self.entity,
            entity_id=entity_id,
            action=action.value,
            kind=kind,
            sources=frozenset(s.value for s in self._sources[action]),
            patch=body,
            actor=actor,
            at=at,
            **options,
        )


@dataclass(frozen=True)
class Change:
    """One guarded patch of one record, plus what its event says."""

    entity: Entity
    entity_id: str
    action: str
    kind: EventKind
    sources: frozenset[str]
    patch: Record
    actor: str
    at: datetime
    fence: int | None = None
    expected_version: int | None = None
    #: Apply only if the record is in ``sources``; otherwise skip silently (no event).
    optional: bool = False
    #: Keep the record's version, and skip silently (no event) when the patch changes
    #: nothing: for metrics read on X (``question.metrics``).
    keep_version: bool = False


@dataclass(frozen=True)
class Guard:
    """A precondition on another record of the same session, checked in the same step."""

    entity: Entity
    entity_id: str
    action: str
    sources: frozenset[str]


@dataclass(frozen=True)
class Create:
    """A new record (with ``id`` and ``status``), refused if the id already exists."""

    entity: Entity
    record: Record
    kind: EventKind
    actor: str
    at: datetime

    @property
    def entity_id(self) -> str:
        return str(self.record["id"])


Step = Guard | Change | Create


class Event(BaseModel):
    """One entry of a session's event stream. ``id`` is the Redis Stream entry id."""

    model_config = ConfigDict(frozen=True)

    id: str = ""
    kind: EventKind
    session_id: str
    entity: Entity | Setting | Announcement
    entity_id: str
    actor: str
    at: AwareDatetime
    version: int
    #: The whole record for create and setting kinds, else the patch (dotted paths) applied.
    data: Record
    fence: int | None = None


#: Record fields a create event leaves out: the stream entry and its key imply them.
_IMPLIED = ("id", "session_id", "version")
#: Time fields of a created record that equal the event's time ``t``, left out too.
_CREATED_AT = {
    EventKind.SESSION_CREATED: ("created_at", "updated_at"),
    EventKind.QUESTION_RECEIVED: ("received_at",),
    EventKind.ANSWER_DRAFTED: ("created_at", "updated_at"),
}
#: Fields of a setting that its event's ``v``, ``a`` and ``t`` give, left out of ``d``.
_SETTING_IMPLIED = ("version", "updated_by", "updated_at")


def event_fields(
    kind: EventKind,
    entity_id: str,
    actor: str,
    at: datetime,
    data: Record,
    fence: int | None = None,
) -> list[str]:
    """Field/value pairs of a stream entry (the step adds ``v``, the new version).

    Every entry has the same fields, so Redis stores their names once per stream node.
    """
    when = at.isoformat()
    if kind in CREATE_KINDS:
        when = str(data[_CREATED_AT[kind][0]])
        data = {
            k: v
            for k, v in data.items()
            if k not in _IMPLIED and not (k in _CREATED_AT[kind] and v == when)
        }
    elif kind in SETTING_KINDS:
        data = {k: v for k, v in data.items() if k not in _SETTING_IMPLIED}
    return [
        *("k", kind.value, "i", entity_id, "a", actor, "t", when),
        *("f", "" if fence is None else str(fence), "d", dumps(data)),
    ]


def decode_event(session_id: str, entry_id: str, fields: Mapping[str, str]) -> Event:
    """One raw entry of a session's stream (as XRANGE/XREAD return it) as an :class:`Event`.

    Readers of the stream use this rather than the entry's fields, which are a storage
    detail; ``event.model_dump(mode="json")`` gives a plain dict of it.
    """
    kind = EventKind(fields["k"])
    entity = kind.value.split(".")[0]
    version = int(fields["v"])
    data = json.loads(fields["d"])
    if kind in CREATE_KINDS:
        data |= {"id": fields["i"], "version": version}
        data |= {"session_id": session_id} if entity != "session" else {}
        data |= {k: fields["t"] for k in _CREATED_AT[kind] if k not in data}
    elif kind in SETTING_KINDS:
        data |= {"version": version, "updated_by": fields["a"], "updated_at": fields["t"]}
    return Event.model_validate(
        {
            "id": entry_id,
            "kind": kind,
            "session_id": session_id,
            "entity": entity,
            "entity_id": fields["i"],
            "actor": fields["a"],
            "at": fields["t"],
            "version": version,
            "data": data,
            "fence": int(fields["f"]) if fields.get("f") else None,
        }
    )


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _path(path: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in path.split(".")]


def apply_patch(record: Record, patch: Mapping[str, Any]) -> Record:
    """A copy of ``record`` with ``patch`` applied (same semantics as the Lua step)."""
    out = json.loads(dumps(record))
    for key, value in patch.items():
        *parents, last = _path(key)
        target: Any = out
        for p in parents:
            target = target[p]
        target[last] = value
    return dict(out)


class SessionState(BaseModel):
    """Plain records of one session, as rebuilt by :func:`replay`."""

    session: Record | None = None
    questions: dict[str, Record] = {}
    answers: dict[str, Record] = {}
    #: The settings, as their last event set them (None: never set).
    automod: Record | None = None
    intake: Record | None = None
    #: Whether intake is paused and why (written by intake, not by a person).
    intake_pause: Record | None = None
    #: The announcements of a series occurrence, by id (the minutes before the start).
    announcements: dict[str, Record] = {}
    last_event_id: str = "0-0"


def _as_is(entity: str, record: Record) -> Record:
    return record


def fold(
    state: SessionState,
    event: Event,
    shape: Callable[[str, Record], Record] = _as_is,
) -> tuple[Record | None, Record]:
    """Fold ``event`` into ``state`` (in place, no I/O): the record before and after it.

    The one fold of events into records: :func:`replay` and the live hub both use it. A
    create, setting or announcement event gives the whole new record, any other event
    patches the current one; the record takes the event's version. ``shape`` turns the new
    record into the form the caller keeps (the live hub: every field, as the API shows it).
    ValueError for a patch of a record the state does not hold.
    """
    before: Record | None
    if event.entity in ("automod", "intake", "intake_pause"):
        before = getattr(state, event.entity)
        after = shape(event.entity, dict(event.data))
        setattr(state, event.entity, after)
    elif event.entity == "announcement":
        before = state.announcements.get(event.entity_id)
        after = shape("announcement", dict(event.data) | {"version": event.version})
        state.announcements[event.entity_id] = after
    elif event.entity == "session":
        before = state.session
        after = state.session = shape("session", _next(before, event))
    else:
        records = state.questions if event.entity == "question" else state.answers
        before = records.get(event.entity_id)
        after = records[event.entity_id] = shape(event.entity, _next(before, event))
    state.last_event_id = event.id
    return before, after


def _next(current: Record | None, event: Event) -> Record:
    if event.kind in CREATE_KINDS:
        return dict(event.data) | {"version": event.version}
    if current is None:
        raise ValueError(f"event {event.id} patches unknown {event.entity} {event.entity_id}")
    return apply_patch(current, event.data) | {"version": event.version}


def replay(events: Iterable[Event], state: SessionState | None = None) -> SessionState:
    """``state`` (a new one if None) with ``events`` folded into it."""
    state = SessionState() if state is None else state
    for event in events:
        fold(state, event)
    return state
