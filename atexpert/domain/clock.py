"""Time source: the app uses :class:`SystemClock`; tests drive a :class:`ManualClock`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from atexpert.domain.errors import InvalidInput


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


def _as_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: a timezone-aware one is required")
    return dt.astimezone(UTC)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, start: datetime) -> None:
        self._now = _as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, dt: datetime) -> None:
        self._now = _as_utc(dt)

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` (never backwards) and return the new time."""
        if delta < timedelta(0):
            raise ValueError("a ManualClock cannot go backwards with advance()")
        self._now += delta
        return self._now


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; :class:`InvalidInput` if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.field(
            ("time_zone",), f"unknown time zone {name!r} (use an IANA name like Europe/Paris)"
        ) from None


def local_to_utc(
    wall: datetime, time_zone: str, *, fold: int = 0, field: str = "scheduled_start"
) -> datetime:
    """The UTC instant of the wall-clock time ``wall`` (naive) in ``time_zone``.

    A wall time in a spring-forward gap never happens there and is refused with
    :class:`InvalidInput`. One in an autumn fold happens twice: ``fold=0`` (the default)
    picks the first occurrence, still on summer time, ``fold=1`` the second. ``field``
    names the input in the error.
    """
    if wall.tzinfo is not None:
        raise InvalidInput.field((field,), "a local wall time has no UTC offset")
    if fold not in (0, 1):
        raise ValueError("fold is 0 or 1")
    tz = zone(time_zone)
    local = wall.replace(tzinfo=tz, fold=fold)
    if not _exists(local):
        raise InvalidInput.field(
            (field,),
            f"{wall:%Y-%m-%d %H:%M} does not exist in {time_zone}: the clocks skip it "
            "(daylight saving time starts)",
        )
    return local.astimezone(UTC)


def is_ambiguous(wall: datetime, time_zone: str) -> bool:
    """Whether ``wall`` (naive) happens twice in ``time_zone`` (autumn fold)."""
    tz = zone(time_zone)
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    return first.utcoffset() != second.utcoffset() and _exists(first)


def _exists(local: datetime) -> bool:
    return local.astimezone(UTC).astimezone(local.tzinfo).replace(tzinfo=None) == local.replace(
        tzinfo=None
    )


def utc_to_local(instant: datetime, time_zone: str) -> datetime:
    """``instant`` (aware) as a wall-clock time in ``time_zone``, for display."""
    return _as_utc(instant).astimezone(zone(time_zone))


#: Short month names as the consoles' Intl.DateTimeFormat writes them (en-GB, fr-FR).
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec"),
    "fr": (
        "janv.",
        "févr.",
        "mars",
        "avr.",
        "mai",
        "juin",
        "juil.",
        "août",
        "sept.",
        "oct.",
        "nov.",
        "déc.",
    ),
}


#: The zone abbreviations English writes (CLDR's en-GB and en-US, as browsers show them);
#: other zones are named by their offset, like the browsers do ("GMT+9", not "JST").
_ABBREVIATIONS = frozenset(
    {
        "UTC",
        "GMT",
        "BST",
        "WET",
        "WEST",
        "CET",
        "CEST",
        "EET",
        "EEST",
        "EST",
        "EDT",
        "CST",
        "CDT",
        "MST",
        "MDT",
        "PST",
        "PDT",
        "AKST",
        "AKDT",
        "HST",
    }
)


def shown_time(instant: datetime, time_zone: str, lang: str = "en") -> str:
    """``instant`` as every page shows a time: "6 Dec 2026, 15:04 CET", in ``time_zone``
    with the zone's short name (an offset like GMT+9 where English has no abbreviation),
    the form of the consoles' formatDateTime (frontend/js/i18n.js)."""
    local = utc_to_local(instant, time_zone)
    name = local.tzname() or ""
    if name not in _ABBREVIATIONS:
        offset = local.utcoffset() or timedelta(0)
        minutes = round(offset.total_seconds() / 60)
        sign = "+" if minutes >= 0 else "-"
        hours, rest = divmod(abs(minutes), 60)
        name = f"GMT{sign}{hours}" + (f":{rest:02d}" if rest else "")
    months = _MONTHS.get(lang, _MONTHS["en"])
    return f"{local.day} {months[local.month - 1]} {local.year}, {local:%H:%M} {name}"
