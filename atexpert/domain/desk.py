"""Desk mode (pure, no I/O): the queue of waiting questions, shifts and assignment.

A desk (:class:`~atexpert.domain.sessions.SessionKind`) answers customers as they write.

* The queue: the questions still waiting for their first response (pending or approved),
  oldest first, each with its waiting time and whether it is past the desk's target
  (``first_response_minutes`` after it was received). Waiting times are computed from the
  injected clock's ``now`` by the server, from ``received_at`` by the browser.
* Shifts: the session's ``on_duty`` lists the staff user ids of the agents (the session's
  experts, who answer) on duty; an agent starts and ends their own shift
  (``session.shift_changed``).
* The asker's history (:func:`earlier`): beside a question, the earlier questions of the
  same X account in this session, newest first, each with its answer if any; what each
  role sees of them is :func:`atexpert.domain.views.asker_history`.
* Assignment: a waiting question's ``assignee`` is one agent on duty (or none), with an
  optional hand-over note (``question.assigned``). Assigning a question someone else holds
  is the hand-over. The rule for answering: assignment routes, it does not lock; anyone
  who may answer on the session may answer any question, assigned or not, so a question
  is never stuck behind an agent who left. An agent's console lists the questions
  assigned to them first.

Shifts and assignment work on any session (an event with several experts may use them);
they matter on a desk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, Field

from atexpert.domain.errors import InvalidInput
from atexpert.domain.events import Change, Record
from atexpert.domain.questions import Question, QuestionStatus
from atexpert.domain.saved_replies import SavedReply
from atexpert.domain.sessions import Session, SessionAction, transition

#: The statuses of a question still waiting for its first response.
WAITING = frozenset({QuestionStatus.PENDING, QuestionStatus.APPROVED})
#: The longest hand-over note.
MAX_HANDOVER_NOTE = 500


class Waiting(BaseModel):
    """One waiting question of the queue."""

    question_id: str
    received_at: AwareDatetime
    waiting_seconds: int = Field(description="Since it was received, on the server's clock")
    target_at: AwareDatetime = Field(description="When its first response is due")
    past_target: bool
    assignee: str | None = Field(description="The staff user id of the agent it is assigned to")
    assigned_to_me: bool


def target_at(session: Session, received_at: datetime) -> datetime:
    """When the first response to a question received at ``received_at`` is due."""
    return received_at + timedelta(minutes=session.first_response_minutes)


def waiting(question: Question, session: Session, now: datetime, me: str | None) -> Waiting:
    due = target_at(session, question.received_at)
    return Waiting(
        question_id=question.id,
        received_at=question.received_at,
        waiting_seconds=max(int((now - question.received_at).total_seconds()), 0),
        target_at=due,
        past_target=due <= now,
        assignee=question.assignee,
        assigned_to_me=me is not None and question.assignee == me,
    )


def queue(
    session: Session, questions: Iterable[Question], now: datetime, me: str | None = None
) -> list[Waiting]:
    """The waiting questions: those assigned to ``me`` (a staff user id) first, then the
    others, each group oldest first."""
    found = [waiting(q, session, now, me) for q in questions if q.status in WAITING]
    return sorted(found, key=lambda w: (not w.assigned_to_me, w.received_at, w.question_id))


def shift(session: Session, user_id: str, on_duty: bool, *, actor: str, at: datetime) -> Change:
    """``user_id`` (an agent: an expert of the session) starts or ends a shift."""
    if on_duty and user_id not in session.expert_ids:
        raise InvalidInput.field(("on_duty",), "only the session's agents (its experts) go on duty")
    current = [u for u in session.on_duty if u != user_id]
    if on_duty:
        current.append(user_id)
    return _change(session, SessionAction.SHIFT, {"on_duty": current}, actor=actor, at=at)


def _change(
    session: Session, action: SessionAction, patch: Record, *, actor: str, at: datetime
) -> Change:
    """A change of the desk's settings, refused if the session changed meanwhile."""
    return transition(
        session.id, action, actor=actor, at=at, patch=patch, expected_version=session.version
    )


def assignment_patch(session: Session, assignee: str | None, note: str | None) -> Record:
    """The patch assigning a question to ``assignee`` (None: unassign), who must be on
    duty, with an optional hand-over ``note``."""
    if assignee is not None and assignee not in session.on_duty:
        raise InvalidInput.field(("assignee",), "not an agent on duty on this session")
    if note is not None and len(note) > MAX_HANDOVER_NOTE:
        raise InvalidInput.field(("note",), f"at most {MAX_HANDOVER_NOTE} characters")
    return {"assignee": assignee, "handover_note": (note or None) if assignee else None}


def replies_change(
    session: Session, replies: Sequence[SavedReply], *, actor: str, at: datetime
) -> Change:
    """The session's saved replies become ``replies`` (:mod:`atexpert.domain.saved_replies`)."""
    patch = {"saved_replies": [r.model_dump(mode="json") for r in replies]}
    return _change(session, SessionAction.REPLIES, patch, actor=actor, at=at)


def target_change(session: Session, minutes: int, *, actor: str, at: datetime) -> Change:
    """The first-response target becomes ``minutes``, live desk or not."""
    patch = {"first_response_minutes": minutes}
    return _change(session, SessionAction.TARGET, patch, actor=actor, at=at)


#: The most earlier questions shown beside one.
HISTORY = 20


def earlier(question: Question, questions: Iterable[Question]) -> list[Question]:
    """The questions the same X account sent before ``question``, newest first."""
    mine = [
        q
        for q in questions
        if q.author.id == question.author.id
        and q.id != question.id
        and (q.received_at, q.id) < (question.received_at, question.id)
    ]
    return sorted(mine, key=lambda q: (q.received_at, q.id), reverse=True)[:HISTORY]
