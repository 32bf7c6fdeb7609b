"""What X API calls cost under pay-per-use, and a pure meter to stay within a budget.

Prices are in US dollars as :class:`~decimal.Decimal` (never floats). The defaults are X's
2026 rate card; a deployment overrides them with its own :class:`RateCard`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from atexpert.domain import twittertext

Price = Annotated[Decimal, Field(ge=0, decimal_places=6)]


class CallKind(StrEnum):
    OWN_MENTIONS_READ = "own_mentions_read"  # per post read from our own mentions
    SEARCH_READ = "search_read"  # per post read by search or from a stream
    POST = "post"  # per post created
    SUMMONED_REPLY = "summoned_reply"  # per reply to a post that mentions us
    POST_WITH_URL = "post_with_url"  # per post created that holds a URL


class RateCard(BaseModel):
    """Price of one unit of each kind of call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    own_mentions_read: Price = Decimal("0.001")
    search_read: Price = Decimal("0.005")
    post: Price = Decimal("0.015")
    summoned_reply: Price = Decimal("0.010")
    post_with_url: Price = Decimal("0.20")

    def price(self, kind: CallKind) -> Decimal:
        price: Decimal = getattr(self, kind.value)
        return price


DEFAULT_RATE_CARD = RateCard()


def cost(kind: CallKind, count: int = 1, card: RateCard = DEFAULT_RATE_CARD) -> Decimal:
    """Cost of ``count`` units of ``kind``."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return card.price(kind) * count


def post_kind(text: str, *, summoned_reply: bool = False) -> CallKind:
    """How a post is billed: any URL makes it a URL post; else a reply to a post that
    mentions us is a summoned reply, anything else a plain post."""
    if twittertext.url_spans(text):
        return CallKind.POST_WITH_URL
    return CallKind.SUMMONED_REPLY if summoned_reply else CallKind.POST


def spend_periods(at: datetime, time_zone: str) -> tuple[str, str]:
    """The local day (``2026-12-06``) and month (``2026-12``) of ``at`` in ``time_zone``:
    where a spend counts for the per-day and per-month totals."""
    local = at.astimezone(ZoneInfo(time_zone))
    return local.date().isoformat(), local.strftime("%Y-%m")


class Spend(BaseModel):
    """Spend accumulated by kind; immutable, :meth:`add` returns a new one."""

    model_config = ConfigDict(frozen=True)

    by_kind: dict[CallKind, Decimal] = Field(default_factory=dict)
    counts: dict[CallKind, NonNegativeInt] = Field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum(self.by_kind.values(), Decimal(0))

    def add(self, kind: CallKind, count: int = 1, card: RateCard = DEFAULT_RATE_CARD) -> Spend:
        amount = cost(kind, count, card)
        by_kind = {**self.by_kind, kind: self.by_kind.get(kind, Decimal(0)) + amount}
        counts = {**self.counts, kind: self.counts.get(kind, 0) + count}
        return Spend(by_kind=by_kind, counts=counts)


def would_exceed(budget: Decimal, spend: Decimal | Spend, next_cost: Decimal) -> bool:
    """Whether spending ``next_cost`` more would take ``spend`` past ``budget``."""
    spent = spend.total if isinstance(spend, Spend) else spend
    return spent + next_cost > budget
