"""Figures across the sessions of a series, for its admins (pure).

One row per session, from the same definitions as one session's analytics
(:mod:`atexpert.recap.analytics`):

- ``received``: every question stored for the session; ``answered``: those whose status is
  answered; ``answered_share``: answered / received, ``approved_answered_share``:
  answered / (approved + answered), the share of the questions that reached the expert;
- response times: from a question's arrival to its ``question.answered`` event, median and
  p90 by nearest rank;
- ``spend_usd``: the session's X meter.

The totals add the counts and the spend up, and take the median and p90 over every
answered question of the series (not a median of medians).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from atexpert.domain.costs import Spend
from atexpert.domain.events import Event
from atexpert.domain.sessions import SessionStatus
from atexpert.recap.analytics import AnswerTimes, answer_waits, status_counts, times_of
from atexpert.recap.exports import CSV_BOM
from atexpert.recap.exports import _cell as csv_cell
from atexpert.store.store import SessionSnapshot


@dataclass(frozen=True)
class SessionInput:
    """What the figures of one session are made from: its records, whole event log (oldest
    first) and X meter."""

    snapshot: SessionSnapshot
    events: Sequence[Event]
    spend: Spend


class Figures(BaseModel):
    received: int
    approved_total: int
    answered: int
    answered_share: float | None
    approved_answered_share: float | None
    response_times: AnswerTimes
    spend_usd: Decimal


class SessionRow(Figures):
    session_id: str
    title: str
    status: SessionStatus
    scheduled_start: datetime
    time_zone: str


class SeriesAnalytics(BaseModel):
    series_id: str
    sessions: list[SessionRow]
    totals: Figures


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _figures(
    received: int, approved_total: int, answered: int, waits: Sequence[float], spend: Decimal
) -> Figures:
    return Figures(
        received=received,
        approved_total=approved_total,
        answered=answered,
        answered_share=_share(answered, received),
        approved_answered_share=_share(answered, approved_total),
        response_times=times_of(waits),
        spend_usd=spend,
    )


def compute(series_id: str, inputs: Iterable[SessionInput]) -> SeriesAnalytics:
    """The series' figures: a row per session, in the order given, and the totals."""
    rows: list[SessionRow] = []
    every_wait: list[float] = []
    for item in inputs:
        session = item.snapshot.session
        counts = status_counts(item.snapshot)
        waits = answer_waits(item.events)
        every_wait += waits
        figures = _figures(
            counts.received, counts.approved_total, counts.answered, waits, item.spend.total
        )
        rows.append(
            SessionRow(
                session_id=session.id,
                title=session.title,
                status=session.status,
                scheduled_start=session.scheduled_start,
                time_zone=session.time_zone,
                **figures.model_dump(),
            )
        )
    totals = _figures(
        sum(r.received for r in rows),
        sum(r.approved_total for r in rows),
        sum(r.answered for r in rows),
        every_wait,
        sum((r.spend_usd for r in rows), Decimal(0)),
    )
    return SeriesAnalytics(series_id=series_id, sessions=rows, totals=totals)


CSV_COLUMNS = (
    "session_id",
    "title",
    "status",
    "scheduled_start",
    "received",
    "approved_total",
    "answered",
    "answered_share",
    "median_response_seconds",
    "p90_response_seconds",
    "spend_usd",
)


def _csv_row(first: str, title: str, status: str, start: str, f: Figures) -> list[str]:
    def num(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    return [
        first,
        title,
        status,
        start,
        str(f.received),
        str(f.approved_total),
        str(f.answered),
        "" if f.answered_share is None else f"{f.answered_share:.4f}",
        num(f.response_times.median_seconds),
        num(f.response_times.p90_seconds),
        str(f.spend_usd),
    ]


def to_csv(figures: SeriesAnalytics) -> str:
    """A row per session (UTC start times), then a ``total`` row; like the sessions' CSV
    export: RFC 4180, a UTF-8 BOM first, no cell a spreadsheet would run as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in figures.sessions:
        row = _csv_row(r.session_id, r.title, r.status.value, r.scheduled_start.isoformat(), r)
        writer.writerow([csv_cell(v) for v in row])
    writer.writerow(_csv_row("total", "", "", "", figures.totals))
    return CSV_BOM + out.getvalue()
