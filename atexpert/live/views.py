"""What each live role receives: snapshots and events through the role's view (pure).

Three views, computed once per event and shared by every client of the view; what each
sees of a record is :mod:`atexpert.domain.views`' projection for its audience:

* ``staff`` (moderator and admin consoles): every record as stored, the settings and the
  announcements of a series occurrence.
* ``expert``: the expert's projection (no private note or reject reason, no settings).
* ``public``: the public's projection.

A view returns ``None`` when the record is invisible to it. An event is sent to a view only
when the view of the record changed, so an event that touches nothing a role may see (a
moderator note, a pending question) never reaches it.
"""

from __future__ import annotations

from enum import StrEnum

from atexpert.domain.events import Announcement, Entity, Record, SessionState, Setting, dumps
from atexpert.domain.views import ACTOR_READERS, Audience, project
from atexpert.domain.views import PUBLIC_SESSION_STATUSES as PUBLIC_SESSION_STATUSES
from atexpert.domain.views import Json as Json


class View(StrEnum):
    STAFF = "staff"
    EXPERT = "expert"
    PUBLIC = "public"

    @property
    def audience(self) -> Audience:
        """Staff consoles (moderator, admin) see what a moderator sees."""
        return Audience.MODERATOR if self is View.STAFF else Audience(self.value)


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


def view_record(
    view: View, entity: Entity | Setting | Announcement, record: Record | None
) -> Json | None:
    """``record`` as ``view`` sees it, or None when it must not see it at all."""
    return project(view.audience, entity, record)


def event_message(
    view: View,
    event_id: str,
    event: Json,
    entity: Entity | Setting | Announcement,
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
    if view.audience in ACTOR_READERS:
        message["actor"] = event["actor"]
    return message


def snapshot_message(
    view: View,
    last_event_id: str,
    session: Record | None,
    questions: list[Record],
    answers: list[Record],
    intake_pause: Record | None = None,
    announcements: list[Record] | None = None,
) -> Json:
    """The state ``view`` sees, as of the event ``last_event_id`` (lists in arrival order)."""
    message: Json = {
        "type": "snapshot",
        "last_event_id": last_event_id,
        "session": view_record(view, "session", session),
        "questions": _visible(view, "question", questions),
        "answers": _visible(view, "answer", answers),
    }
    pause = view_record(view, "intake_pause", intake_pause)
    if pause is not None:
        message["intake_pause"] = pause
    seen = _visible(view, "announcement", announcements or [])
    if seen:
        message["announcements"] = seen
    return message


def _visible(view: View, entity: Entity | Announcement, records: list[Record]) -> list[Json]:
    out: list[Json] = []
    for record in records:
        seen = view_record(view, entity, record)
        if seen is not None:
            out.append(seen)
    return out


class RenderedView:
    """The records ``view`` sees, each kept as its JSON and updated as events come, so the
    view's snapshot is a join of strings however long the log (same text as
    ``dumps(snapshot_message(...))``). Invisible records stay as None: their place in the
    arrival order is kept."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.session = "null"
        self.questions: dict[str, str | None] = {}
        self.answers: dict[str, str | None] = {}
        self.intake_pause: str | None = None
        self.announcements: dict[str, str | None] = {}

    @classmethod
    def of(cls, view: View, state: SessionState) -> RenderedView:
        out = cls(view)
        out.put("session", "", state.session)
        for qid, question in state.questions.items():
            out.put("question", qid, question)
        for aid, answer in state.answers.items():
            out.put("answer", aid, answer)
        out.put("intake_pause", "", state.intake_pause)
        for key, announcement in state.announcements.items():
            out.put("announcement", key, announcement)
        return out

    def put(
        self, entity: Entity | Setting | Announcement, entity_id: str, record: Record | None
    ) -> None:
        """The record's new value (the view's snapshot does not show automod or intake)."""
        seen = view_record(self.view, entity, record)
        text = None if seen is None else dumps(seen)
        if entity == "question":
            self.questions[entity_id] = text
        elif entity == "answer":
            self.answers[entity_id] = text
        elif entity == "session":
            self.session = text or "null"
        elif entity == "intake_pause":
            self.intake_pause = text
        elif entity == "announcement":
            self.announcements[entity_id] = text

    def message(self, last_event_id: str) -> str:
        """The snapshot message's JSON text."""
        questions = ",".join(t for t in self.questions.values() if t is not None)
        answers = ",".join(t for t in self.answers.values() if t is not None)
        pause = "" if self.intake_pause is None else ',"intake_pause":' + self.intake_pause
        seen = ",".join(t for t in self.announcements.values() if t is not None)
        announced = f',"announcements":[{seen}]' if seen else ""
        return (
            f'{{"type":"snapshot","last_event_id":{dumps(last_event_id)},'
            f'"session":{self.session},"questions":[{questions}],"answers":[{answers}]'
            f"{pause}{announced}}}"
        )
