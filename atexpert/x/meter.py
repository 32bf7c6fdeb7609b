"""The cost and quota meter in Redis: X calls counted and priced per session.

Prices come from :mod:`atexpert.domain.costs` (a configurable
:class:`~atexpert.domain.costs.RateCard`).
Amounts are kept as integer micro-dollars (a rate card has at most 6 decimals), so
concurrent ``HINCRBY`` from several processes add up exactly. Keys of a session carry its
hash tag; the X rate limits seen in response headers are app-wide. Days and months are
those of the session's time zone when the call is counted (a session without an end, such
as a desk, is held to a monthly budget: its intake pauses when the month's spend reaches it
and resumes on the 1st)::

    ama:{s_x}:meter              hash  usd:<kind> -> micro-dollars, n:<kind> -> units
    ama:{s_x}:meter:budget       micro-dollars; absent: no budget
    ama:{s_x}:meter:days         hash  local day (YYYY-MM-DD) -> micro-dollars
    ama:{s_x}:meter:months       hash  local month (YYYY-MM) -> micro-dollars
    ama:{s_x}:meter:monthly_budget  micro-dollars a local month may spend; absent: no limit
    ama:{meter}:limits           hash  <endpoint> -> JSON of the last x-rate-limit-* seen
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.costs import DEFAULT_RATE_CARD, CallKind, RateCard, Spend, spend_periods
from atexpert.store import keys, metrics
from atexpert.store.redis_conn import RedisClient

MICRO = Decimal(1_000_000)
_HEADERS = {
    "limit": "x-rate-limit-limit",
    "remaining": "x-rate-limit-remaining",
    "reset": "x-rate-limit-reset",
    "user_24h_limit": "x-user-limit-24hour-limit",
    "user_24h_remaining": "x-user-limit-24hour-remaining",
    "user_24h_reset": "x-user-limit-24hour-reset",
    "app_24h_limit": "x-app-limit-24hour-limit",
    "app_24h_remaining": "x-app-limit-24hour-remaining",
    "app_24h_reset": "x-app-limit-24hour-reset",
}


def _texts(raw: Mapping[Any, Any]) -> dict[str, str]:
    """A Redis hash reply as text (clients may or may not decode responses)."""
    return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def to_micro(usd: Decimal) -> int:
    return int((usd * MICRO).to_integral_value())


def from_micro(micro: int) -> Decimal:
    return Decimal(micro) / MICRO


def _left(budget: Decimal | None, spent: Decimal) -> Decimal | None:
    return None if budget is None else max(budget - spent, Decimal(0))


class EndpointLimits(BaseModel):
    """The last rate-limit headers X sent for one endpoint (absent ones are None)."""

    endpoint: str
    seen_at: float
    limit: int | None = None
    remaining: int | None = None
    reset: int | None = Field(default=None, description="Unix time the window resets")
    user_24h_limit: int | None = None
    user_24h_remaining: int | None = None
    user_24h_reset: int | None = None
    app_24h_limit: int | None = None
    app_24h_remaining: int | None = None
    app_24h_reset: int | None = None


class SpendReport(BaseModel):
    """Spend of one session, for the API (amounts are decimal strings in USD)."""

    session_id: str
    total_usd: Decimal
    by_kind_usd: dict[CallKind, Decimal]
    counts: dict[CallKind, int]
    budget_usd: Decimal | None
    remaining_usd: Decimal | None
    day: str = Field(description="Today in the session's time zone (YYYY-MM-DD)")
    today_usd: Decimal
    month: str = Field(description="This month in the session's time zone (YYYY-MM)")
    month_usd: Decimal
    monthly_budget_usd: Decimal | None
    month_remaining_usd: Decimal | None


class Meter:
    def __init__(
        self, redis: RedisClient, card: RateCard = DEFAULT_RATE_CARD, *, clock: Clock | None = None
    ) -> None:
        self._redis = redis
        self.card = card
        self.clock = clock or SystemClock()

    async def record(self, session_id: str, kind: CallKind, count: int = 1) -> None:
        """Count ``count`` billed units of ``kind`` against the session."""
        if count <= 0:
            return
        micro = to_micro(self.card.price(kind)) * count
        metrics.X_UNITS.labels(kind.value).inc(count)
        metrics.X_SPEND.labels(kind.value).inc(float(from_micro(micro)))
        day, month = await self._periods(session_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hincrby(keys.meter(session_id), "usd:" + kind.value, micro)
        pipe.hincrby(keys.meter(session_id), "n:" + kind.value, count)
        pipe.hincrby(keys.meter_days(session_id), day, micro)
        pipe.hincrby(keys.meter_months(session_id), month, micro)
        await pipe.execute()

    async def _periods(self, session_id: str, at: datetime | None = None) -> tuple[str, str]:
        """The local day and month of ``at`` (default now) in the session's time zone (UTC
        for a session that does not exist)."""
        raw = await self._redis.get(keys.session(session_id))
        zone = str(json.loads(raw).get("time_zone") or "UTC") if raw is not None else "UTC"
        return spend_periods(at or self.clock.now(), zone)

    async def _period_spend(self, key: str, period: str) -> Decimal:
        raw = await self._redis.hget(key, period)
        return from_micro(int(raw)) if raw is not None else Decimal(0)

    async def spend(self, session_id: str) -> Spend:
        raw: dict[str, str] = _texts(await self._redis.hgetall(keys.meter(session_id)))
        by_kind: dict[CallKind, Decimal] = {}
        counts: dict[CallKind, int] = {}
        for field, value in raw.items():
            prefix, _, name = field.partition(":")
            try:
                kind = CallKind(name)
            except ValueError:
                continue
            if prefix == "usd":
                by_kind[kind] = from_micro(int(value))
            elif prefix == "n":
                counts[kind] = int(value)
        return Spend(by_kind=by_kind, counts=counts)

    async def set_budget(self, session_id: str, budget: Decimal | None) -> None:
        """Set (or with None, remove) the session's budget in USD."""
        if budget is None:
            await self._redis.delete(keys.meter_budget(session_id))
        elif budget < 0:
            raise ValueError("a budget is >= 0")
        else:
            await self._redis.set(keys.meter_budget(session_id), to_micro(budget))

    async def budget(self, session_id: str) -> Decimal | None:
        raw = await self._redis.get(keys.meter_budget(session_id))
        return None if raw is None else from_micro(int(raw))

    async def set_monthly_budget(self, session_id: str, budget: Decimal | None) -> None:
        """Set (or with None, remove) what the session may spend per local month, in USD."""
        key = keys.meter_monthly_budget(session_id)
        if budget is None:
            await self._redis.delete(key)
        elif budget < 0:
            raise ValueError("a budget is >= 0")
        else:
            await self._redis.set(key, to_micro(budget))

    async def monthly_budget(self, session_id: str) -> Decimal | None:
        raw = await self._redis.get(keys.meter_monthly_budget(session_id))
        return None if raw is None else from_micro(int(raw))

    async def _left(self, session_id: str) -> tuple[Decimal | None, str]:
        """What the budgets leave (None: no budget) and why intake stops when nothing is."""
        budget = await self.budget(session_id)
        monthly = await self.monthly_budget(session_id)
        left, why = None, ""
        if budget is not None:
            left, why = budget - (await self.spend(session_id)).total, f"budget ${budget}"
        if monthly is not None:
            _, month = await self._periods(session_id)
            month_left = monthly - await self._period_spend(keys.meter_months(session_id), month)
            if left is None or month_left < left:
                left, why = month_left, f"monthly budget ${monthly} of {month}"
        return left, why

    async def budget_reached(self, session_id: str) -> str:
        """Which budget stops intake, in words (``budget $5``, ``monthly budget $50 of
        2026-12``)."""
        return (await self._left(session_id))[1]

    async def headroom(self, session_id: str, kind: CallKind) -> int | None:
        """How many more units of ``kind`` fit in the budgets (None: no budget): the
        session's, and this local month's."""
        left, _ = await self._left(session_id)
        if left is None:
            return None
        price = self.card.price(kind)
        if left <= 0:
            return 0
        return int(left // price) if price > 0 else 1 << 30

    async def report(self, session_id: str, at: datetime | None = None) -> SpendReport:
        """The session's spend, in total, today and this month (``at``: default now)."""
        spend = await self.spend(session_id)
        budget = await self.budget(session_id)
        monthly = await self.monthly_budget(session_id)
        day, month = await self._periods(session_id, at)
        month_usd = await self._period_spend(keys.meter_months(session_id), month)
        return SpendReport(
            session_id=session_id,
            total_usd=spend.total,
            by_kind_usd=spend.by_kind,
            counts=dict(spend.counts),
            budget_usd=budget,
            remaining_usd=_left(budget, spend.total),
            day=day,
            today_usd=await self._period_spend(keys.meter_days(session_id), day),
            month=month,
            month_usd=month_usd,
            monthly_budget_usd=monthly,
            month_remaining_usd=_left(monthly, month_usd),
        )

    async def note_limits(self, endpoint: str, headers: Mapping[str, str]) -> None:
        """Count an X answer and remember its rate-limit headers (none: nothing to keep)."""
        metrics.X_CALLS.labels(endpoint).inc()
        values: dict[str, Any] = {}
        for name, header in _HEADERS.items():
            raw = headers.get(header)
            if raw is not None and raw.strip().isdigit():
                values[name] = int(raw)
        if values:
            record = EndpointLimits(
                endpoint=endpoint, seen_at=self.clock.now().timestamp(), **values
            )
            await self._redis.hset(keys.METER_LIMITS, endpoint, record.model_dump_json())

    async def limits(self) -> list[EndpointLimits]:
        """The last limits seen per endpoint; a window whose reset passed is shown full."""
        raw: dict[str, str] = _texts(await self._redis.hgetall(keys.METER_LIMITS))
        now = self.clock.now().timestamp()
        out: list[EndpointLimits] = []
        for value in raw.values():
            try:
                seen = EndpointLimits.model_validate(json.loads(value))
            except ValueError:
                continue
            if seen.reset is not None and seen.reset <= now and seen.limit is not None:
                seen = seen.model_copy(update={"remaining": seen.limit})
            if seen.user_24h_reset is not None and seen.user_24h_reset <= now:
                seen = seen.model_copy(update={"user_24h_remaining": seen.user_24h_limit})
            if seen.app_24h_reset is not None and seen.app_24h_reset <= now:
                seen = seen.model_copy(update={"app_24h_remaining": seen.app_24h_limit})
            out.append(seen)
        return sorted(out, key=lambda e: e.endpoint)
