"""What each live role may see of a session's records (pure, no I/O).

Three views, computed once per event and shared by every client of the view:

* ``staff`` (moderator and admin consoles): every record as stored, and the session's
  settings (auto-moderation config, intake mode).
* ``expert``: the session, every answer, and only approved or answered questions, without
  the moderators' private note or reject reason; no settings.
* ``public``: a session that is scheduled or later (never a draft), its answered questions
  (tweet text and the author's public handle and name only) and its answers once
  publishing starts, with only the parts already posted on X.

A view returns ``None`` when the record is invisible to it. An event is sent to a view only
when the view of the record changed, so an event that touches nothing a role may see (a
moderator note, a pending question) never reaches it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from atexpert.events import Entity, Record, Setting

Json = dict[str, Any]


class View(StrEnum):
    STAFF = "staff"
    EXPERT = "expert"
    PUBLIC = "public"


class LiveRole(StrEnum):
    """The endpoint a client connects to."""

    MODERATOR = "moderator"
    EXPERT = "expert"
    ADMIN = "admin"
    PUBLIC = "public"

    @property
    def view(self) -> View:
        return _ROLE_VIEW[self]


_ROLE_VIEW = {
    LiveRole.MODERATOR: View.STAFF,
    LiveRole.ADMIN: View.STAFF,
    LiveRole.EXPERT: View.EXPERT,
    LiveRole.PUBLIC: View.PUBLIC,
}

EXPERT_QUESTION_STATUSES = frozenset({"approved", "answered"})
EXPERT_HIDDEN_QUESTION_FIELDS = ("moderator_note", "reject_reason")
PUBLIC_SESSION_STATUSES = frozenset({"scheduled", "live", "closed", "archived"})
PUBLIC_SESSION_FIELDS = (
    "id",
    "title",
    "description",
    "hashtags",
    "scheduled_start",
    "scheduled_end",
    "time_zone",
    "language",
    "status",
    "started_at",
    "closed_at",
)
PUBLIC_QUESTION_FIELDS = (
    "id",
    "tweet_id",
    "text",
    "display_text",
    "created_at",
    "status",
    "answer_id",
)
PUBLIC_ANSWER_STATUSES = frozenset({"publishing", "published"})


def view_record(view: View, entity: Entity | Setting, record: Record | None) -> Json | None:
    """``record`` as ``view`` sees it, or None when it must not see it at all."""
    if record is None or view is View.STAFF:
        return record
    if entity == "automod" or entity == "intake":  # settings: staff only
        return None
    if view is View.EXPERT:
        return _expert(entity, record)
    return _public(entity, record)


def _expert(entity: Entity, record: Record) -> Json | None:
    if entity != "question":
        return record
    if record.get("status") not in EXPERT_QUESTION_STATUSES:
        return None
    return {k: v for k, v in record.items() if k not in EXPERT_HIDDEN_QUESTION_FIELDS}


def _public(entity: Entity, record: Record) -> Json | None:
    if entity == "session":
        if record.get("status") not in PUBLIC_SESSION_STATUSES:
            return None
        out = {k: record[k] for k in PUBLIC_SESSION_FIELDS if k in record}
        host = record.get("host_account") or {}
        out["host_handle"] = host.get("handle")
        return out
    if entity == "question":
        if record.get("status") != "answered":
            return None
        out = {k: record[k] for k in PUBLIC_QUESTION_FIELDS if k in record}
        author = record.get("author") or {}
        out["author"] = {"handle": author.get("handle"), "name": author.get("name", "")}
        return out
    if record.get("status") not in PUBLIC_ANSWER_STATUSES:
        return None
    parts = [
        {"text": p.get("text"), "tweet_id": p.get("tweet_id")}
        for p in record.get("parts") or []
        if isinstance(p, dict) and p.get("tweet_id")
    ]
    return {
        "id": record.get("id"),
        "question_ids": record.get("question_ids") or [],
        "status": record.get("status"),
        "parts": parts,
    }


def event_message(
    view: View,
    event_id: str,
    event: Json,
    entity: Entity | Setting,
    entity_id: str,
    before: Record | None,
    after: Record | None,
) -> Json | None:
    """The ``event`` message for ``view``, or None when the view saw no change.

    ``event`` holds the stream entry's kind, actor and at; ``record`` is the whole record
    after the event as the view sees it (``null``: drop it, it left the view).
    """
    seen = view_record(view, entity, after)
    if view is not View.STAFF and seen == view_record(view, entity, before):
        return None
    message: Json = {
        "type": "event",
        "id": event_id,
        "kind": event["kind"],
        "entity": entity,
        "entity_id": entity_id,
        "at": event["at"],
        "record": seen,
    }
    if view is not View.PUBLIC:
        message["actor"] = event["actor"]
    return message


def snapshot_message(
    view: View,
    last_event_id: str,
    session: Record | None,
    questions: list[Record],
    answers: list[Record],
) -> Json:
    """The state ``view`` sees, as of the event ``last_event_id`` (lists in arrival order)."""
    return {
        "type": "snapshot",
        "last_event_id": last_event_id,
        "session": view_record(view, "session", session),
        "questions": _visible(view, "question", questions),
        "answers": _visible(view, "answer", answers),
    }


def _visible(view: View, entity: Entity, records: list[Record]) -> list[Json]:
    out: list[Json] = []
    for record in records:
        seen = view_record(view, entity, record)
        if seen is not None:
            out.append(seen)
    return out
