"""A monthly series planted in real Redis around a given moment: past occurrences that ran
(each with questions, one answered), upcoming scheduled ones with their own topic and
expert, and a draft one the public must never see. The public page, calendar, analytics and
browser tests work from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from atexpert.domain.answers import AnswerDraft
from atexpert.domain.costs import CallKind
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.series import (
    Series,
    SeriesFields,
    local_date,
    occurrence_fields,
    occurrence_session_id,
    occurrences,
)
from atexpert.domain.sessions import HostAccount, Session, SessionStatus
from atexpert.store.redis_conn import RedisClient
from atexpert.store.series import SeriesStore
from atexpert.store.store import Store
from atexpert.x.meter import Meter

PARIS = "Europe/Paris"
SLUG = "ask-airbus"
DRAFT_TOPIC = "Unannounced topic (draft)"
#: Seconds from arrival to answer of the answered question of past session n (0, 1, ...).
WAITS = (240, 600, 90)


def session_record(
    sid: str, start: datetime, status: SessionStatus, *, title: str = "", ran: bool = False
) -> Session:
    """A session record of an hour from ``start`` in Paris, made by hand (no store);
    ``ran``: it started at ``start``."""
    return Session(
        id=sid,
        title=title or sid,
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        time_zone=PARIS,
        status=status,
        started_at=start if ran else None,
        created_by="root",
        created_at=start,
        updated_by="root",
        updated_at=start,
    )


def topic(n: int) -> str:
    return f"Topic {n}: the A350 cabin"


@dataclass
class PlantedSeries:
    series: Series
    #: Session ids, oldest first.
    past: list[str] = field(default_factory=list)
    upcoming: list[str] = field(default_factory=list)
    draft: str = ""


async def plant_series(
    redis: RedisClient,
    now: datetime,
    *,
    past: int = 2,
    upcoming: int = 2,
    expert_ids: tuple[str, ...] = (),
    moderator_ids: tuple[str, ...] = (),
    rrule: str = "FREQ=MONTHLY;BYDAY=1TU",
) -> PlantedSeries:
    """The series "Ask Airbus" (``rrule`` at 15:00 Paris time) seen at ``now``: ``past``
    occurrences before ``now`` closed (past n: 3 questions, 2 approved, 1 answered after
    ``WAITS[n]`` seconds, 1 rejected; 2 posts on the meter), the next ``upcoming`` ones
    scheduled, the one after a draft. Occurrence n is titled :func:`topic` (n counts the
    past ones first)."""
    store = Store(redis)
    series_store = SeriesStore(redis)
    fields = SeriesFields(
        slug=SLUG,
        title="Ask Airbus",
        description="Every month, an Airbus expert answers your questions.",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        time_zone=PARIS,
        rrule=rrule,
        start_time="15:00",
        starts_on=local_date(now - timedelta(days=40 * (past + 1)), PARIS),
        language="en",
        expert_ids=list(expert_ids),
        moderator_ids=list(moderator_ids),
        budget_usd=5,
    )
    series = await series_store.create(fields, "root", at=now)
    planted = PlantedSeries(series)
    earlier = occurrences(series, now - timedelta(days=40 * (past + 1)), 40)
    before = [s for s in earlier if s < now - timedelta(hours=2)][-past:] if past else []
    after = occurrences(series, now, upcoming + 1)
    for n, start in enumerate([*before, *after]):
        sid = occurrence_session_id(series.id, local_date(start, PARIS))
        title = DRAFT_TOPIC if n == len(before) + upcoming else topic(n)
        occurrence = occurrence_fields(series, start).model_copy(update={"title": title})
        created = min(start, now) - timedelta(days=10)
        await store.create_session(
            occurrence,
            actor="root",
            at=created,
            session_id=sid,
            series_id=series.id,
            occurrence_on=local_date(start, PARIS),
        )
        await series_store.index_session(await store.get_session(sid))
        if title == DRAFT_TOPIC:
            planted.draft = sid
            continue
        await store.schedule_session(sid, actor="root", at=created)
        if n >= len(before):
            planted.upcoming.append(sid)
            continue
        await _run(store, Meter(redis), sid, start, n)
        planted.past.append(sid)
    return planted


async def _run(store: Store, meter: Meter, sid: str, start: datetime, n: int) -> None:
    """Session ``sid`` live from ``start``: questions, one answer, then closed."""
    await store.start_session(sid, actor="scheduler", at=start)
    asked = []
    for k in range(3):
        when = start + timedelta(minutes=1 + k)
        incoming = IncomingQuestion(
            tweet_id=str(7_000_000 + 10 * n + k),
            author=Author(id=str(300 + k), handle=f"fan{k}"),
            text=f"Question {k} of session {n} #AskAirbus",
            created_at=when,
        )
        question, _ = await store.add_question(sid, incoming, at=when)
        asked.append((question.id, when))
    (answered, arrived), (approved, _), (rejected, _) = asked
    for qid in (answered, approved):
        await store.approve_question(sid, qid, actor="alice", at=start + timedelta(minutes=4))
    await store.reject_question(
        sid, rejected, "off topic", actor="alice", at=start + timedelta(minutes=4)
    )
    done = arrived + timedelta(seconds=WAITS[n])
    draft = AnswerDraft(question_ids=[answered], text=f"The answer of session {n}.")
    answer = await store.create_answer(sid, draft, expert_id="erin", at=done)
    await store.submit_answer(sid, answer.id, actor="erin", at=done)
    parts = [p.model_dump(mode="json") for p in answer.parts]
    await store.start_publishing(sid, answer.id, actor="publisher", at=done, parts=parts)
    await store.record_part_posted(sid, answer.id, 0, str(8_000 + n), actor="publisher", at=done)
    await store.mark_published(sid, answer.id, actor="publisher", at=done)
    await store.close_session(sid, actor="scheduler", at=start + timedelta(hours=1))
    await meter.record(sid, CallKind.POST, 2)
