"""What each audience may see of a session's records, defined once (pure, no I/O).

Four audiences: the ``public`` (no login), a session's ``expert``, its ``moderator`` and an
``admin``. For each, a :class:`Shape` per kind of record says which records it sees (by
status) and which fields of them: whitelists, so a field added to a model stays hidden from
the public and the experts until it is listed here. REST handlers, the live websockets
(:mod:`atexpert.live.views`), the pages, the recap and the analytics all project through
:func:`project`; exports are the admin's (the whole records and the event log).

* moderator, admin: every record whole, the session's settings and, for an occurrence of
  a series, its announcements (state, text, tweet id).
* expert: the session, every answer, and only approved, answered or merged questions (a
  merged one names an asker who gets the answer too), without the moderators' private note
  or reject reason; no settings nor announcements, but whether intake is paused and why
  (its banner). In the analytics, no free-text reject reason and no asker of a question
  it may not see.
* series: whole for moderators and admins; the public sees its page's fields only (no staff,
  no budget), the experts nothing.
* public: a session that is scheduled or later (never a draft), its answered questions
  (tweet text and the author's public handle and name only) and its answers once
  publishing starts, with only the parts already posted on X.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from atexpert.domain.staff import SessionMembership, StaffRole, StaffUser, roles_of

Json = dict[str, Any]


class Audience(StrEnum):
    PUBLIC = "public"
    EXPERT = "expert"
    MODERATOR = "moderator"
    ADMIN = "admin"


@dataclass(frozen=True)
class Shape:
    """What one audience sees of one kind of record."""

    #: Statuses of the records it sees (None: every record).
    statuses: frozenset[str] | None = None
    #: Fields it sees (None: the whole record).
    fields: tuple[str, ...] | None = None
    #: Fields kept of a sub-object, or of each object of a list.
    nested: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: A list's items kept only when this key of theirs is set.
    items_with: Mapping[str, str] = field(default_factory=dict)
    #: Fields made from a sub-object's field: name -> (field, sub-field).
    derived: Mapping[str, tuple[str, str]] = field(default_factory=dict)


WHOLE = Shape()
EXPERT_QUESTION_STATUSES = frozenset({"approved", "answered", "merged"})
PUBLIC_SESSION_STATUSES = frozenset({"scheduled", "live", "wrapping_up", "closed", "archived"})
PUBLIC_QUESTION_STATUSES = frozenset({"answered"})
PUBLIC_ANSWER_STATUSES = frozenset({"publishing", "published"})

SESSION_FIELDS = (
    "id",
    "title",
    "description",
    "guest",
    "kind",
    "hashtags",
    "host_account",
    "expert_ids",
    "moderator_ids",
    "scheduled_start",
    "scheduled_end",
    "time_zone",
    "intake_opens_before_minutes",
    "wrap_up_minutes",
    "first_response_minutes",
    "language",
    "options",
    "status",
    "version",
    "created_by",
    "created_at",
    "updated_by",
    "updated_at",
    "started_at",
    "closed_at",
    "wrap_up_until",
    "close_queued",
    "archived_at",
    "fence",
    "thread_root_id",
    "closing_tweet_id",
    "series_id",
    "occurrence_on",
    "on_duty",
    "saved_replies",
)
PUBLIC_SESSION_FIELDS = (
    "id",
    "title",
    "description",
    "guest",
    "kind",
    "hashtags",
    "scheduled_start",
    "scheduled_end",
    "time_zone",
    "language",
    "status",
    "started_at",
    "closed_at",
    "wrap_up_until",
)
#: Everything of a question but the moderators' private note and reject reason.
EXPERT_QUESTION_FIELDS = (
    "id",
    "session_id",
    "tweet_id",
    "url",
    "author",
    "text",
    "display_text",
    "received_at",
    "created_at",
    "replyable",
    "likes",
    "status",
    "starred",
    "priority",
    "tags",
    "handed_back",
    "handback_reason",
    "merged_into",
    "answer_id",
    "decided_by",
    "decided_at",
    "assignee",
    "handover_note",
    "version",
)
PUBLIC_QUESTION_FIELDS = (
    "id",
    "tweet_id",
    "text",
    "display_text",
    "created_at",
    "status",
    "answer_id",
    "author",
)
ANSWER_FIELDS = (
    "id",
    "session_id",
    "question_ids",
    "expert_id",
    "text",
    "parts",
    "merged",
    "status",
    "error",
    "created_at",
    "updated_by",
    "updated_at",
    "version",
)
PUBLIC_ANSWER_FIELDS = ("id", "question_ids", "status", "parts")
#: A series in public (its page and calendar feed): no staff, budget, options or schedule
#: of announcements.
PUBLIC_SERIES_FIELDS = (
    "slug",
    "title",
    "description",
    "hashtags",
    "time_zone",
    "language",
    "rrule",
    "start_time",
    "duration_minutes",
)
#: Whether intake is paused and why: the experts' banner too.
PAUSE_FIELDS = ("paused", "reason", "version", "updated_at")

_STAFF: dict[str, Shape | None] = {
    "session": WHOLE,
    "question": WHOLE,
    "answer": WHOLE,
    "automod": WHOLE,
    "intake": WHOLE,
    "intake_pause": WHOLE,
    "announcement": WHOLE,
    "series": WHOLE,
}
SHAPES: dict[Audience, dict[str, Shape | None]] = {
    Audience.ADMIN: _STAFF,
    Audience.MODERATOR: _STAFF,
    Audience.EXPERT: {
        "session": Shape(fields=SESSION_FIELDS),
        "question": Shape(EXPERT_QUESTION_STATUSES, EXPERT_QUESTION_FIELDS),
        "answer": Shape(fields=ANSWER_FIELDS),
        "automod": None,
        "intake": None,
        "intake_pause": Shape(fields=PAUSE_FIELDS),
        "announcement": None,
        "series": None,
    },
    Audience.PUBLIC: {
        "session": Shape(
            PUBLIC_SESSION_STATUSES,
            PUBLIC_SESSION_FIELDS,
            derived={"host_handle": ("host_account", "handle")},
        ),
        "question": Shape(
            PUBLIC_QUESTION_STATUSES,
            PUBLIC_QUESTION_FIELDS,
            nested={"author": ("handle", "name")},
        ),
        "answer": Shape(
            PUBLIC_ANSWER_STATUSES,
            PUBLIC_ANSWER_FIELDS,
            nested={"parts": ("text", "tweet_id")},
            items_with={"parts": "tweet_id"},
        ),
        "automod": None,
        "intake": None,
        "intake_pause": None,
        "announcement": None,
        "series": Shape(
            fields=PUBLIC_SERIES_FIELDS, derived={"host_handle": ("host_account", "handle")}
        ),
    },
}
#: Audiences that read the analytics' free-text reject reasons.
REASON_READERS = frozenset({Audience.MODERATOR, Audience.ADMIN})
#: Audiences told which staff member acted (usernames), e.g. in live events.
ACTOR_READERS = frozenset({Audience.EXPERT, Audience.MODERATOR, Audience.ADMIN})


def audience_of(user: StaffUser | None, session: SessionMembership) -> Audience | None:
    """The audience ``user`` (None: anonymous) belongs to on ``session``; None for a staff
    user with no role there (who sees nothing of it)."""
    if user is None:
        return Audience.PUBLIC
    roles = roles_of(user, session)
    for role, audience in (
        (StaffRole.ADMIN, Audience.ADMIN),
        (StaffRole.MODERATOR, Audience.MODERATOR),
        (StaffRole.EXPERT, Audience.EXPERT),
    ):
        if role in roles:
            return audience
    return None


def reader_of(user: StaffUser, session: SessionMembership) -> Audience:
    """The audience of ``user``, already allowed to read ``session`` (so it has a role)."""
    audience = audience_of(user, session)
    assert audience is not None, "the caller was allowed to read the session"
    return audience


def shape(audience: Audience, entity: str) -> Shape | None:
    """How ``audience`` sees records of ``entity`` (None: not at all)."""
    return SHAPES[audience].get(entity)


def sees_status(audience: Audience, entity: str, status: str) -> bool:
    """Whether ``audience`` sees a record of ``entity`` in ``status``."""
    found = shape(audience, entity)
    return found is not None and (found.statuses is None or status in found.statuses)


def project(audience: Audience, entity: str, record: Mapping[str, Any] | None) -> Json | None:
    """``record`` as ``audience`` sees it, or None when it must not see it at all."""
    found = shape(audience, entity)
    if record is None or found is None:
        return None
    if found.statuses is not None and record.get("status") not in found.statuses:
        return None
    if found.fields is None:
        return dict(record)
    out = {k: _nested(found, k, record[k]) for k in found.fields if k in record}
    for name, (outer, inner) in found.derived.items():
        sub = record.get(outer)
        out[name] = sub.get(inner) if isinstance(sub, Mapping) else None
    return out


def project_all(
    audience: Audience, entity: str, records: Iterable[Mapping[str, Any]]
) -> list[Json]:
    """The records ``audience`` sees, as it sees them, in their order."""
    seen = (project(audience, entity, r) for r in records)
    return [r for r in seen if r is not None]


def _nested(found: Shape, name: str, value: Any) -> Any:
    keep = found.nested.get(name)
    if keep is None:
        return value
    if isinstance(value, Mapping):
        return {k: value[k] for k in keep if k in value}
    required = found.items_with.get(name)
    return [
        {k: item[k] for k in keep if k in item}
        for item in value or []
        if isinstance(item, Mapping) and (required is None or item.get(required))
    ]


def asker_history(
    audience: Audience,
    earlier: Iterable[Mapping[str, Any]],
    answers: Mapping[str, Mapping[str, Any]],
) -> list[Json]:
    """Desk mode: the ``earlier`` questions of an asker (records, newest first) that
    ``audience`` sees, each as ``{"question", "answer"}`` (the answer by id from
    ``answers``, when it has one ``audience`` sees; else None)."""
    out: list[Json] = []
    for record in earlier:
        question = project(audience, "question", record)
        if question is None:
            continue
        answer = answers.get(str(record.get("answer_id") or ""))
        out.append({"question": question, "answer": project(audience, "answer", answer)})
    return out
