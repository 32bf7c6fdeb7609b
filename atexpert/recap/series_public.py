"""A series as the public sees it: its page's figures and its iCalendar feed (pure).

The series is projected through :mod:`atexpert.domain.views` (no staff ids, no budget, no
options), its sessions too: a draft is never shown, and a session archived without ever
running (a discarded draft or a cancelled occurrence) is neither upcoming nor past. Each
session shows its own title, description and guest line (the occurrence's topic and
expert, as the admins write them); staff names never appear: a display name may be the
login username.

- upcoming: scheduled (and not yet over), live or wrapping up, soonest first;
- past: closed or archived after it ran, latest first, each with its recap;
- next date: the first scheduled public session still to start, or the recurrence's next
  start where no public session stands for it yet;
- the feed: one VEVENT per upcoming or past session (UID from the session id, so a
  calendar app updates an event rather than adding it twice), its times in the session's
  zone with that zone's VTIMEZONE, so the local time stays right across DST changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
from pydantic import BaseModel

from atexpert.domain.series import Series, local_date, occurrence_session_id, occurrences
from atexpert.domain.sessions import Session, SessionStatus
from atexpert.domain.views import Audience, project, sees_status
from atexpert.recap.summary import RECAP_STATUSES

UPCOMING = (SessionStatus.SCHEDULED, SessionStatus.LIVE, SessionStatus.WRAPPING_UP)
#: Recurrence starts looked at for the next date (some may be sessions already).
LOOKAHEAD = 12
PRODID = "-//atexpert//series calendar//EN"


class SeriesSession(BaseModel):
    """One session of a series, in public."""

    id: str
    title: str
    description: str
    #: The occurrence's own expert ("": none).
    guest: str = ""
    scheduled_start: datetime
    scheduled_end: datetime
    time_zone: str
    status: SessionStatus
    live_path: str
    recap_path: str | None = None


class PublicSeries(BaseModel):
    slug: str
    title: str
    description: str
    hashtags: list[str]
    host_handle: str
    time_zone: str
    language: str
    rrule: str
    start_time: str
    duration_minutes: int
    next_start: datetime | None
    calendar_path: str
    upcoming: list[SeriesSession]
    past: list[SeriesSession]


def series_path(slug: str) -> str:
    return f"/series/{slug}"


def calendar_path(slug: str) -> str:
    return f"/series/{slug}.ics"


def _public(session: Session) -> bool:
    return sees_status(Audience.PUBLIC, "session", session.status)


def _upcoming(session: Session, now: datetime) -> bool:
    if session.status is SessionStatus.SCHEDULED:
        end = session.scheduled_end  # None: a desk, which never ends
        return end is None or end >= now
    return session.status in UPCOMING


def _past(session: Session) -> bool:
    return session.status in RECAP_STATUSES and session.started_at is not None


def _entry(session: Session) -> SeriesSession:
    ran = _past(session)
    return SeriesSession(
        id=session.id,
        title=session.title,
        description=session.description,
        guest=session.guest,
        scheduled_start=session.scheduled_start,
        scheduled_end=session.scheduled_end,
        time_zone=session.time_zone,
        status=session.status,
        live_path=f"/live/{session.id}",
        recap_path=f"/recap/{session.id}" if ran else None,
    )


def next_start(series: Series, sessions: Sequence[Session], now: datetime) -> datetime | None:
    """The next date of the series (see the module's docstring)."""
    public = [s for s in sessions if _public(s)]
    known = {s.id for s in public}
    starts = [
        s.scheduled_start
        for s in public
        if s.status is SessionStatus.SCHEDULED and s.scheduled_start > now
    ]
    starts += [
        start
        for start in occurrences(series, now, LOOKAHEAD)
        if occurrence_session_id(series.id, local_date(start, series.time_zone)) not in known
    ][:1]
    return min(starts, default=None)


def public_series(series: Series, sessions: Sequence[Session], now: datetime) -> PublicSeries:
    """The series' public page: ``sessions`` are all of its sessions, in any order."""
    seen = project(Audience.PUBLIC, "series", series.model_dump(mode="json"))
    assert seen is not None, "the public sees every series"
    public = sorted((s for s in sessions if _public(s)), key=lambda s: s.scheduled_start)
    return PublicSeries.model_validate(
        {
            **seen,
            "next_start": next_start(series, sessions, now),
            "calendar_path": calendar_path(series.slug),
            "upcoming": [_entry(s) for s in public if _upcoming(s, now)],
            "past": [_entry(s) for s in reversed(public) if _past(s)],
        }
    )


def _description(entry: SeriesSession, hashtags: Sequence[str], base: str) -> str:
    """The event's text: the guest, the session's description, hashtags, the live page and
    the recap."""
    lines = [entry.guest] if entry.guest else []
    if entry.description:
        lines.append(entry.description)
    lines.append(" ".join(hashtags))
    lines.append(base + entry.live_path)
    if entry.recap_path:
        lines.append(base + entry.recap_path)
    return "\n\n".join(lines)


def calendar(
    series: Series,
    sessions: Sequence[Session],
    now: datetime,
    public_base_url: str,
) -> bytes:
    """The iCalendar feed of the series' upcoming and past sessions, oldest first."""
    page = public_series(series, sessions, now)
    updated = {s.id: s.updated_at for s in sessions}
    base = public_base_url.rstrip("/")
    host = urlsplit(base).hostname or "atexpert"
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("name", page.title)
    cal.add("x-wr-calname", page.title)
    cal.add("x-wr-timezone", page.time_zone)
    cal.add("url", base + series_path(page.slug))
    entries = sorted([*page.upcoming, *page.past], key=lambda e: e.scheduled_start)
    for entry in entries:
        zone = ZoneInfo(entry.time_zone)
        event = icalendar.Event()
        event.add("uid", f"{entry.id}@{host}")
        event.add("dtstamp", updated[entry.id])
        event.add("dtstart", entry.scheduled_start.astimezone(zone))
        event.add("dtend", entry.scheduled_end.astimezone(zone))
        event.add("summary", entry.title)
        event.add("description", _description(entry, page.hashtags, base))
        event.add("url", base + entry.live_path)
        event.add("status", "CONFIRMED")
        cal.add_component(event)
    if entries:
        first = entries[0].scheduled_start.date() - timedelta(days=1)
        last = entries[-1].scheduled_end.date() + timedelta(days=366)
        cal.add_missing_timezones(first_date=first, last_date=last)
    feed: bytes = cal.to_ical()
    return feed
