"""Figures of one session for its staff, computed from its records and events (pure).

Definitions (docs/recap.md says the same):

- per minute: questions by the UTC minute they were received, every minute from the
  first to the last one listed (zeros included);
- status counts are the questions' current statuses; ``approved_total`` is approved +
  answered (every question that reached the expert);
- time to answer: from a question's arrival (``received_at``) to its ``question.answered``
  event; median as :func:`statistics.median`, p90 by nearest rank (the ceil(0.9 n)-th
  smallest);
- moderators: decisions (approve, reject, merge, requeue, restore) per actor, automod
  excluded; experts: answers drafted and published, questions answered; each person
  named by their display name (:class:`atexpert.domain.staff.StaffNames`);
- auto-moderation hits: the decisions of the ``automod`` actor by the rule named in their
  reason (``automod [rule]: ...``), trusted-author approvals included;
- X spend: the session's meter (counts and US dollars per call kind).

Computed for an audience (:mod:`atexpert.domain.views`): only moderators and admins read the
free-text reject reasons; top askers count only the questions the audience may see.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from atexpert.domain.answers import AnswerStatus
from atexpert.domain.costs import CallKind, Spend
from atexpert.domain.events import Event, EventKind
from atexpert.domain.questions import Question, QuestionStatus
from atexpert.domain.staff import StaffNames
from atexpert.domain.views import REASON_READERS, Audience, sees_status
from atexpert.store.store import SessionSnapshot

AUTOMOD = "automod"
TOP_ASKERS = 10
_RULE = re.compile(r"automod \[([a-z0-9-]+)\]")
_DECISIONS = {
    EventKind.QUESTION_APPROVED: "approved",
    EventKind.QUESTION_REJECTED: "rejected",
    EventKind.QUESTION_MERGED: "merged",
    EventKind.QUESTION_REQUEUED: "requeued",
    EventKind.QUESTION_RESTORED: "restored",
}
#: The only rule whose decision is an approval (its event carries no reason).
TRUSTED_RULE = "trusted-author"


class MinuteCount(BaseModel):
    minute: datetime
    count: int


class StatusCounts(BaseModel):
    received: int = 0
    pending: int = 0
    approved: int = 0
    answered: int = 0
    rejected: int = 0
    merged: int = 0
    approved_total: int = 0


class Count(BaseModel):
    """One labelled number (a reason, an asker)."""

    label: str
    count: int


class AnswerTimes(BaseModel):
    answered: int
    median_seconds: float | None
    p90_seconds: float | None


class ModeratorActivity(BaseModel):
    actor: str
    name: str = ""
    approved: int = 0
    rejected: int = 0
    merged: int = 0
    requeued: int = 0
    restored: int = 0
    total: int = 0


class ExpertActivity(BaseModel):
    #: The expert's user id.
    expert: str
    name: str = ""
    drafted: int = 0
    published: int = 0
    questions_answered: int = 0


class RuleHits(BaseModel):
    rule: str
    approved: int = 0
    rejected: int = 0
    held: int = 0
    total: int = 0


class XSpend(BaseModel):
    total_usd: Decimal
    by_kind_usd: dict[CallKind, Decimal]
    counts: dict[CallKind, int]


class Analytics(BaseModel):
    per_minute: list[MinuteCount]
    counts: StatusCounts
    reject_reasons: list[Count]
    answer_times: AnswerTimes
    moderators: list[ModeratorActivity]
    experts: list[ExpertActivity]
    top_askers: list[Count]
    automod: list[RuleHits]
    x_spend: XSpend


def compute(
    snapshot: SessionSnapshot,
    events: Sequence[Event],
    spend: Spend,
    audience: Audience,
    names: StaffNames | None = None,
) -> Analytics:
    """Every figure of the session that ``audience`` may read (``events``: its whole log,
    oldest first)."""
    names = names or StaffNames()
    readable = [
        q for q in snapshot.questions.values() if sees_status(audience, "question", q.status)
    ]
    return Analytics(
        per_minute=per_minute(events),
        counts=status_counts(snapshot),
        reject_reasons=reject_reasons(snapshot) if audience in REASON_READERS else [],
        answer_times=answer_times(events),
        moderators=moderators(events, names),
        experts=experts(snapshot, events, names),
        top_askers=top_askers(readable),
        automod=automod_hits(events),
        x_spend=XSpend(
            total_usd=spend.total, by_kind_usd=dict(spend.by_kind), counts=dict(spend.counts)
        ),
    )


def per_minute(events: Sequence[Event]) -> list[MinuteCount]:
    minutes = Counter(
        e.at.astimezone(UTC).replace(second=0, microsecond=0)
        for e in events
        if e.kind is EventKind.QUESTION_RECEIVED
    )
    if not minutes:
        return []
    out: list[MinuteCount] = []
    at, last = min(minutes), max(minutes)
    while at <= last:
        out.append(MinuteCount(minute=at, count=minutes.get(at, 0)))
        at += timedelta(minutes=1)
    return out


def status_counts(snapshot: SessionSnapshot) -> StatusCounts:
    by = Counter(q.status for q in snapshot.questions.values())
    return StatusCounts(
        received=len(snapshot.questions),
        pending=by[QuestionStatus.PENDING],
        approved=by[QuestionStatus.APPROVED],
        answered=by[QuestionStatus.ANSWERED],
        rejected=by[QuestionStatus.REJECTED],
        merged=by[QuestionStatus.MERGED],
        approved_total=by[QuestionStatus.APPROVED] + by[QuestionStatus.ANSWERED],
    )


def _ranked(counter: Counter[str], limit: int | None = None) -> list[Count]:
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Count(label=k, count=v) for k, v in ranked[:limit]]


def reject_reasons(snapshot: SessionSnapshot) -> list[Count]:
    return _ranked(
        Counter(
            q.reject_reason or "?"
            for q in snapshot.questions.values()
            if q.status is QuestionStatus.REJECTED
        )
    )


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the ceil(share * n)-th smallest value."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def answer_waits(events: Sequence[Event]) -> list[float]:
    """Seconds from each answered question's arrival to its ``question.answered`` event."""
    received: dict[str, datetime] = {}
    waits: list[float] = []
    for e in events:
        if e.kind is EventKind.QUESTION_RECEIVED:
            received[e.entity_id] = e.at
        elif e.kind is EventKind.QUESTION_ANSWERED and e.entity_id in received:
            waits.append((e.at - received[e.entity_id]).total_seconds())
    return waits


def answer_times(events: Sequence[Event]) -> AnswerTimes:
    return times_of(answer_waits(events))


def times_of(waits: Sequence[float]) -> AnswerTimes:
    """The median and p90 of ``waits`` (seconds)."""
    if not waits:
        return AnswerTimes(answered=0, median_seconds=None, p90_seconds=None)
    return AnswerTimes(
        answered=len(waits),
        median_seconds=float(statistics.median(waits)),
        p90_seconds=percentile(waits, 0.9),
    )


def moderators(events: Sequence[Event], names: StaffNames) -> list[ModeratorActivity]:
    table: dict[str, Counter[str]] = {}
    for e in events:
        field = _DECISIONS.get(e.kind)
        if field is not None and e.actor != AUTOMOD:
            table.setdefault(e.actor, Counter())[field] += 1
    rows = [
        ModeratorActivity(actor=actor, name=names.name(actor), total=sum(c.values()), **c)
        for actor, c in table.items()
    ]
    return sorted(rows, key=lambda r: (-r.total, r.actor))


def experts(
    snapshot: SessionSnapshot, events: Sequence[Event], names: StaffNames
) -> list[ExpertActivity]:
    """One row per expert, whether named by username (events) or user id (answers)."""
    rows: dict[str, ExpertActivity] = {}

    def row(ref: str) -> ExpertActivity:
        uid = names.user_id(ref)
        return rows.setdefault(uid, ExpertActivity(expert=uid, name=names.name(uid)))

    for e in events:
        if e.kind is EventKind.ANSWER_DRAFTED:
            row(e.actor).drafted += 1
    for answer in snapshot.answers.values():
        if answer.status is AnswerStatus.PUBLISHED:
            row(answer.expert_id).published += 1
    for q in snapshot.questions.values():
        by = snapshot.answers.get(q.answer_id or "")
        if q.status is QuestionStatus.ANSWERED and by is not None:
            row(by.expert_id).questions_answered += 1
    return sorted(rows.values(), key=lambda r: (-r.published, -r.drafted, r.expert))


def top_askers(questions: Iterable[Question], limit: int = TOP_ASKERS) -> list[Count]:
    return _ranked(Counter("@" + q.author.handle for q in questions), limit)


def automod_hits(events: Sequence[Event]) -> list[RuleHits]:
    table: dict[str, Counter[str]] = {}
    for e in events:
        if e.actor != AUTOMOD:
            continue
        if e.kind is EventKind.QUESTION_APPROVED:
            rule, outcome = TRUSTED_RULE, "approved"
        elif e.kind is EventKind.QUESTION_REJECTED:
            rule, outcome = _rule(e.data.get("reject_reason")), "rejected"
        elif e.kind is EventKind.QUESTION_NOTED:
            rule, outcome = _rule(e.data.get("moderator_note")), "held"
        else:
            continue
        table.setdefault(rule, Counter())[outcome] += 1
    rows = [RuleHits(rule=rule, total=sum(c.values()), **c) for rule, c in table.items()]
    return sorted(rows, key=lambda r: (-r.total, r.rule))


def _rule(reason: object) -> str:
    found = _RULE.match(reason) if isinstance(reason, str) else None
    return found.group(1) if found else "?"
