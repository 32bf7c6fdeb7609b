"""Series: a recurring AMA (pure, no I/O), e.g. "first Tuesday of the month, 15:00 Europe/Paris".

A series holds what every occurrence shares (hashtags, host account, language, options,
staff, budget) and an RFC 5545 recurrence rule (``rrule``, e.g. ``FREQ=MONTHLY;BYDAY=1TU``)
with a local ``start_time`` and a ``duration_minutes``. Each occurrence becomes a normal
session (see :func:`occurrence_fields`), created ahead of time by the scheduler under a
deterministic id (:func:`occurrence_session_id`), so two processes never create it twice.

Local wall times: occurrences are expanded as LOCAL dates and times in the series' time
zone (python-dateutil's rrule on naive datetimes), then the zone is attached. 15:00
Europe/Paris stays 15:00 in Paris all year: 14:00 UTC in winter (CET), 13:00 UTC in summer
(CEST). A local time that happens twice (autumn fold, e.g. 02:30 on the last Sunday of
October) takes the first one, still on summer time. A local time that never happens
(spring-forward gap, e.g. 02:30 on the last Sunday of March) is moved on by the gap: the
session starts at 03:30 summer time, the instant 02:30 winter time would have been.

Rule limits: FREQ is DAILY, WEEKLY, MONTHLY or YEARLY (at most one occurrence a day: the
time of day comes from ``start_time``, so BYHOUR, BYMINUTE, BYSECOND and DTSTART are
refused); ``UNTIL`` in UTC (``...Z``) is read as that instant, otherwise as a local time.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from atexpert.domain.automod_config import AutomodConfig
from atexpert.domain.clock import shown_time
from atexpert.domain.errors import InvalidInput
from atexpert.domain.events import JsonList
from atexpert.domain.sessions import (
    MAX_WRAP_UP,
    HostAccount,
    SessionFields,
    SessionOptions,
    _hashtags,
    _time_zone,
)

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
START_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
RULE_PARTS = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO"}
    | {"BYMONTH", "BYSETPOS", "WKST"}
)
_UTC_UNTIL = re.compile(r"[0-9]{8}T[0-9]{6}Z")
#: Announcements before each occurrence, in minutes: 7 days, 1 day, 15 minutes.
DEFAULT_ANNOUNCE_BEFORE = [7 * 24 * 60, 24 * 60, 15]
MAX_ANNOUNCE_BEFORE = 30 * 24 * 60
#: The most occurrences looked at in one expansion (a rule runs for years at most).
MAX_EXPANSION = 1000
Usd = Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=6)]


def parse_rule(text: str) -> str:
    """The rule normalised (upper case, no ``RRULE:`` prefix); :class:`ValueError` with a
    reason a person can act on when it is not a rule a series can use."""
    rule = text.strip().upper().removeprefix("RRULE:")
    parts: dict[str, str] = {}
    for part in rule.split(";"):
        name, eq, value = part.partition("=")
        if not eq or not value:
            raise ValueError(f"{part!r} is not NAME=VALUE (e.g. FREQ=MONTHLY;BYDAY=1TU)")
        if name not in RULE_PARTS:
            allowed = ", ".join(sorted(RULE_PARTS))
            raise ValueError(
                f"{name} is not allowed here (the time of day is start_time; use {allowed})"
            )
        if name in parts:
            raise ValueError(f"{name} is given twice")
        parts[name] = value
    if parts.get("FREQ") not in FREQUENCIES:
        raise ValueError(f"FREQ is one of {', '.join(FREQUENCIES)} (at most one a day)")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("COUNT and UNTIL cannot both be given")
    try:
        _expand(rule, datetime(2026, 1, 1, 12, 0), "UTC")
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"not a valid RFC 5545 rule: {exc}") from None
    return rule


def _expand(rule: str, first: datetime, time_zone: str) -> rrule:
    """The dateutil rule from the naive local ``first`` start (DTSTART)."""
    parts = []
    for part in rule.split(";"):
        name, _, value = part.partition("=")
        if name == "UNTIL" and _UTC_UNTIL.fullmatch(value):
            instant = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            value = instant.astimezone(ZoneInfo(time_zone)).strftime("%Y%m%dT%H%M%S")
        parts.append(f"{name}={value}")
    parsed = rrulestr(";".join(parts), dtstart=first)
    if not isinstance(parsed, rrule):
        raise ValueError("one RRULE only")
    return parsed


def _slug(v: str) -> str:
    if SLUG.fullmatch(v) is None:
        raise ValueError("lower-case letters, digits and - (not at either end)")
    return v


def _start_time(v: str) -> str:
    if START_TIME.fullmatch(v) is None:
        raise ValueError("a local time HH:MM, e.g. 15:00")
    return v


def _offsets(v: list[int]) -> list[int]:
    if any(not 1 <= m <= MAX_ANNOUNCE_BEFORE for m in v):
        raise ValueError(f"each is between 1 and {MAX_ANNOUNCE_BEFORE} minutes (30 days)")
    if len(set(v)) != len(v):
        raise ValueError("each announcement time is given once")
    return sorted(v, reverse=True)


def new_series_id() -> str:
    return "sr_" + secrets.token_hex(6)


class SeriesFields(BaseModel):
    """What a brand fills in to create a series; the defaults of every occurrence."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: Annotated[str, AfterValidator(_slug)] = Field(
        min_length=1, max_length=64, description="URL name: lower-case letters, digits and -"
    )
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    hashtags: Annotated[list[str], AfterValidator(_hashtags)] = Field(min_length=1, max_length=10)
    host_account: HostAccount
    time_zone: Annotated[str, AfterValidator(_time_zone)] = Field(
        description="IANA time zone of start_time, e.g. Europe/Paris"
    )
    rrule: Annotated[str, AfterValidator(parse_rule)] = Field(
        max_length=500, description='RFC 5545 rule, e.g. "FREQ=MONTHLY;BYDAY=1TU"'
    )
    start_time: Annotated[str, AfterValidator(_start_time)] = Field(
        description="Local start time of each occurrence, HH:MM"
    )
    duration_minutes: int = Field(default=60, ge=15, le=24 * 60)
    #: The local date the rule counts from (DTSTART); None: the day the series is created.
    starts_on: date | None = None
    language: Literal["fr", "en"] = "en"
    options: SessionOptions = SessionOptions()
    expert_ids: JsonList[str] = []
    moderator_ids: JsonList[str] = []
    #: The X budget of each occurrence (None: no budget).
    budget_usd: Usd | None = None
    #: The auto-moderation config of each occurrence (None: the default one).
    automod: AutomodConfig | None = None
    intake_opens_before_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    wrap_up_minutes: int = Field(default=0, ge=0, le=MAX_WRAP_UP)
    announce_before_minutes: Annotated[list[int], AfterValidator(_offsets)] = Field(
        default_factory=lambda: list(DEFAULT_ANNOUNCE_BEFORE),
        max_length=5,
        description="Announcement posts before each occurrence, in minutes (7 d, 1 d, 15 min)",
    )
    create_ahead: int = Field(
        default=2, ge=1, le=12, description="How many next occurrences exist as sessions"
    )


class SeriesUpdate(BaseModel):
    """Fields to change; those left out stay as they are. Occurrences already created keep
    their times (edit those sessions); the next ones follow the new rule."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: str | None = Field(default=None, min_length=1, max_length=64)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    hashtags: list[str] | None = Field(default=None, min_length=1, max_length=10)
    host_account: HostAccount | None = None
    time_zone: str | None = None
    rrule: str | None = Field(default=None, max_length=500)
    start_time: str | None = None
    duration_minutes: int | None = Field(default=None, ge=15, le=24 * 60)
    starts_on: date | None = None
    language: Literal["fr", "en"] | None = None
    options: SessionOptions | None = None
    expert_ids: list[str] | None = None
    moderator_ids: list[str] | None = None
    budget_usd: Usd | None = None
    automod: AutomodConfig | None = None
    intake_opens_before_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    wrap_up_minutes: int | None = Field(default=None, ge=0, le=MAX_WRAP_UP)
    announce_before_minutes: list[int] | None = Field(default=None, max_length=5)
    create_ahead: int | None = Field(default=None, ge=1, le=12)


class Series(SeriesFields):
    model_config = ConfigDict(extra="ignore")

    id: str
    starts_on: date
    version: int = 1
    created_by: str
    created_at: AwareDatetime
    updated_by: str
    updated_at: AwareDatetime


def _rule_of(series: SeriesFields | Series) -> rrule:
    assert series.starts_on is not None
    hour, minute = (int(x) for x in series.start_time.split(":"))
    first = datetime.combine(series.starts_on, time(hour, minute))
    return _expand(series.rrule, first, series.time_zone)


def to_utc(wall: datetime, time_zone: str) -> datetime:
    """The instant of the naive local ``wall`` time: an autumn fold takes the first (summer
    time), a spring-forward gap moves on by the gap (see the module docstring)."""
    return wall.replace(tzinfo=ZoneInfo(time_zone), fold=0).astimezone(UTC)


def local_date(instant: datetime, time_zone: str) -> date:
    return instant.astimezone(ZoneInfo(time_zone)).date()


def occurrences(series: Series, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` starts strictly after ``after`` (aware), as aware UTC datetimes."""
    rule = _rule_of(series)
    # A day's margin: ``after`` as a local wall time is ambiguous around a DST change.
    local_after = after.astimezone(ZoneInfo(series.time_zone)).replace(tzinfo=None)
    out: list[datetime] = []
    for n, wall in enumerate(rule.xafter(local_after - timedelta(days=1), inc=True)):
        if len(out) >= count or n >= MAX_EXPANSION:
            break
        start = to_utc(wall, series.time_zone)
        if start > after:
            out.append(start)
    return out


def first_after(series: SeriesFields, after: datetime) -> datetime | None:
    """The first start after ``after``, None when the rule has ended (fields not yet a
    series: ``starts_on`` must be set)."""
    rule = _rule_of(series)
    for n, wall in enumerate(rule):
        if n >= MAX_EXPANSION * 10:
            return None
        start = to_utc(wall, series.time_zone)
        if start > after:
            return start
    return None


def new_series(fields: SeriesFields, *, series_id: str, actor: str, at: datetime) -> Series:
    """A series from ``fields``, starting on the local day of ``at`` unless told otherwise;
    :class:`InvalidInput` when its rule has no occurrence left after ``at``."""
    starts_on = fields.starts_on or local_date(at, fields.time_zone)
    dumped = fields.model_dump() | {"starts_on": starts_on}
    series = Series(
        **dumped,
        id=series_id,
        created_by=actor,
        created_at=at,
        updated_by=actor,
        updated_at=at,
    )
    check_upcoming(series, at)
    return series


def check_upcoming(series: Series, at: datetime) -> None:
    if first_after(series, at) is None:
        raise InvalidInput.field(("rrule",), "the rule has no occurrence left after now")


def updated(series: Series, changes: SeriesUpdate, *, actor: str, at: datetime) -> Series:
    """The series with ``changes`` applied, validated as a whole."""
    given = changes.model_dump(exclude_unset=True)
    merged = series.model_dump() | {k: v for k, v in given.items() if v is not None}
    merged |= {"version": series.version + 1, "updated_by": actor, "updated_at": at}
    result = Series.model_validate(merged)
    check_upcoming(result, at)
    return result


def occurrence_session_id(series_id: str, on: date) -> str:
    """The session id of the occurrence on local day ``on``: the same in every process."""
    return f"s_{series_id.removeprefix('sr_')}-{on:%Y%m%d}"


def occurrence_fields(series: Series, start: datetime) -> SessionFields:
    """The session of the occurrence starting at ``start``, with the series' defaults. Its
    title (the topic, for the admin to change) carries the date: the start and closing
    posts of two occurrences must differ, X refuses a post that repeats an earlier one."""
    day = shown_time(start, series.time_zone, series.language).split(",")[0]  # "5 Jan 2027"
    return SessionFields(
        title=f"{series.title[: 200 - len(day) - 3]} · {day}",
        description=series.description,
        hashtags=series.hashtags,
        host_account=series.host_account,
        expert_ids=series.expert_ids,
        moderator_ids=series.moderator_ids,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=series.duration_minutes),
        time_zone=series.time_zone,
        intake_opens_before_minutes=series.intake_opens_before_minutes,
        wrap_up_minutes=series.wrap_up_minutes,
        language=series.language,
        options=series.options,
    )


def wanted(series: Series, now: datetime) -> list[datetime]:
    """The starts that must exist as sessions at ``now``: the next ``create_ahead`` ones,
    and every one whose first announcement falls within a day from now."""
    earliest = max(series.announce_before_minutes, default=0)
    horizon = now + timedelta(minutes=earliest) + timedelta(days=1)
    upcoming = occurrences(series, now, series.create_ahead + 31)
    return [s for n, s in enumerate(upcoming) if n < series.create_ahead or s <= horizon]
