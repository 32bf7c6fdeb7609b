"""Business hours of a session: weekly windows in the session's time zone, plus closed dates.

A session that never ends (a desk) may be open only at some hours; outside them intake
pauses or answers each asker once with an automatic reply (``SessionOptions.after_hours``).
Hours are wall-clock times of the session's time zone, so "08:00" stays 08:00 across DST
changes. A window opening or closing at a time the spring-forward jump skips (02:30 in
Paris on the last Sunday of March) takes effect when the clocks jump; a time the autumn
fall-back repeats takes effect at its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from atexpert.domain import twittertext
from atexpert.domain.costs import CallKind, cost
from atexpert.domain.events import JsonList

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: How far :func:`next_change` looks ahead (closed dates may follow each other for months).
HORIZON_DAYS = 400
MIDNIGHT = time(0)
#: How ``{back}`` shows the reopening in an automatic reply (the session's local time).
BACK = "%Y-%m-%d %H:%M"
#: The longest reply :func:`auto_reply` makes of a template: a 15-character handle, and
#: ``{back}`` as long as it gets.
LONGEST_HANDLE, LONGEST_BACK = "x" * 15, "2027-03-29 08:00"


class AfterHours(StrEnum):
    """What happens to questions asked while the session is closed (after hours)."""

    PAUSE = "pause"  # intake pauses; the questions wait on X until it opens
    AUTO_REPLY = "auto_reply"  # intake goes on; each asker gets one automatic reply


class Window(BaseModel):
    """Open on ``days`` from ``opens`` until ``closes`` (``00:00``: until midnight)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Weekday] = Field(min_length=1, max_length=7)
    opens: time
    closes: time

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise ValueError("opening hours are times of the session's time zone, without offset")
        if self.closes != MIDNIGHT and self.closes <= self.opens:
            raise ValueError("a window closes after it opens (00:00: at midnight)")
        return self

    def covers(self, local: datetime) -> bool:
        if WEEKDAYS[local.weekday()] not in self.days:
            return False
        now = local.time().replace(tzinfo=None)
        return self.opens <= now and (self.closes == MIDNIGHT or now < self.closes)


class BusinessHours(BaseModel):
    """Weekly windows (e.g. Monday to Friday, 08:00 to 20:00) and dates closed all day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    windows: list[Window] = Field(min_length=1, max_length=28)
    closed_dates: JsonList[date] = Field(default=[], max_length=366)


def is_open(at: datetime, hours: BusinessHours, time_zone: str) -> bool:
    """Whether ``at`` (an aware instant) falls in ``hours`` of ``time_zone``."""
    local = at.astimezone(ZoneInfo(time_zone))
    if local.date() in hours.closed_dates:
        return False
    return any(w.covers(local) for w in hours.windows)


def next_change(at: datetime, hours: BusinessHours, time_zone: str) -> datetime | None:
    """The first instant after ``at`` when :func:`is_open` changes (UTC); None if it never
    does within :data:`HORIZON_DAYS`."""
    zone = ZoneInfo(time_zone)
    now_open = is_open(at, hours, time_zone)
    first = at.astimezone(zone).date()
    for n in range(HORIZON_DAYS):
        day = first + timedelta(days=n)
        for wall in _boundaries(day, hours):
            instant = _instant(wall, zone)
            if instant > at and is_open(instant, hours, time_zone) != now_open:
                return instant
    return None


def closed_period(at: datetime, hours: BusinessHours, time_zone: str) -> str:
    """An id of the closed period ``at`` falls in (``at`` outside hours): when it reopens,
    in ISO UTC (``never`` when it does not), the same for every instant of the period."""
    reopens = next_change(at, hours, time_zone)
    return "never" if reopens is None else reopens.isoformat()


def auto_reply(template: str, handle: str, reopens: datetime | None, time_zone: str) -> str:
    """The automatic reply to @``handle``: ``template`` with ``{back}`` replaced by when the
    session reopens in its time zone (``2027-03-29 08:00``; ``soon`` when unknown), after a
    mention of the asker (X refuses the same text twice from one account)."""
    back = "soon" if reopens is None else reopens.astimezone(ZoneInfo(time_zone)).strftime(BACK)
    return f"@{handle} " + template.replace("{back}", back)


class AutoReplyPreview(BaseModel):
    """The automatic reply as an asker would get it now, at its longest (a 15-character
    handle), with its length as X counts it and its price."""

    enabled: bool = Field(description="The session has business hours and after_hours auto_reply")
    open_now: bool
    next_change: datetime | None = Field(description="When it next opens or closes (UTC)")
    text: str
    weighted_length: int
    max_length: int = 280
    price_usd: Decimal = Field(description="Per reply to a question that mentions the host")


def preview_auto_reply(
    template: str,
    hours: BusinessHours | None,
    after_hours: AfterHours,
    time_zone: str,
    now: datetime,
) -> AutoReplyPreview:
    """What :func:`auto_reply` would post to an asker now (always open without hours)."""
    open_now = hours is None or is_open(now, hours, time_zone)
    change = None if hours is None else next_change(now, hours, time_zone)
    reopens = change
    if open_now and change is not None and hours is not None:  # the end of the next closing
        reopens = next_change(change, hours, time_zone)
    text = auto_reply(template, LONGEST_HANDLE, reopens, time_zone)
    return AutoReplyPreview(
        enabled=hours is not None and after_hours is AfterHours.AUTO_REPLY,
        open_now=open_now,
        next_change=change,
        text=text,
        weighted_length=twittertext.weighted_length(text),
        price_usd=cost(CallKind.SUMMONED_REPLY),
    )


def _boundaries(day: date, hours: BusinessHours) -> list[datetime]:
    """Local wall times of ``day`` at which being open may change, in order."""
    walls = {datetime.combine(day, MIDNIGHT)}
    for window in hours.windows:
        if WEEKDAYS[day.weekday()] in window.days:
            walls.add(datetime.combine(day, window.opens))
            end_day = day + timedelta(days=1) if window.closes == MIDNIGHT else day
            walls.add(datetime.combine(end_day, window.closes))
    return sorted(walls)


def _instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant whose local time in ``zone`` is ``wall`` or later (UTC)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # ``wall`` is skipped by a spring-forward jump: the answer is the jump itself.
    lo = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    hi = int(first.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)
