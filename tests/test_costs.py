from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from atexpert.domain.costs import (
    DEFAULT_RATE_CARD,
    CallKind,
    RateCard,
    Spend,
    cost,
    post_kind,
    would_exceed,
)


def test_2026_defaults() -> None:
    assert {kind: DEFAULT_RATE_CARD.price(kind) for kind in CallKind} == {
        CallKind.OWN_MENTIONS_READ: Decimal("0.001"),
        CallKind.SEARCH_READ: Decimal("0.005"),
        CallKind.POST: Decimal("0.015"),
        CallKind.SUMMONED_REPLY: Decimal("0.010"),
        CallKind.POST_WITH_URL: Decimal("0.20"),
    }


def test_cost_is_exact_decimal() -> None:
    assert cost(CallKind.SEARCH_READ, 1000) == Decimal("5.000")
    assert cost(CallKind.OWN_MENTIONS_READ, 3) == Decimal("0.003")  # no float drift
    assert cost(CallKind.POST) == Decimal("0.015")
    assert cost(CallKind.POST, 0) == 0
    with pytest.raises(ValueError, match="count must be >= 0"):
        cost(CallKind.POST, -1)


def test_rate_card_is_configurable_and_validated() -> None:
    card = RateCard.model_validate({"post": "0.02", "search_read": "0.004"})
    assert cost(CallKind.POST, 10, card) == Decimal("0.20")
    assert card.price(CallKind.OWN_MENTIONS_READ) == Decimal("0.001")
    for bad in ({"post": "-0.01"}, {"posts": "0.01"}, {"post": "cheap"}):
        with pytest.raises(ValidationError):
            RateCard.model_validate(bad)


def test_post_kind() -> None:
    assert post_kind("Merci !") is CallKind.POST
    assert post_kind("Merci !", summoned_reply=True) is CallKind.SUMMONED_REPLY
    assert post_kind("Voir airbus.com", summoned_reply=True) is CallKind.POST_WITH_URL
    assert post_kind("Voir https://airbus.com/a350") is CallKind.POST_WITH_URL
    assert post_kind("Le chiffre 3.5 n'est pas un lien") is CallKind.POST


def test_spend_accumulates_by_kind_without_mutating() -> None:
    empty = Spend()
    spend = empty.add(CallKind.SEARCH_READ, 200).add(CallKind.POST, 3).add(CallKind.POST)
    assert empty.total == 0
    assert spend.by_kind == {
        CallKind.SEARCH_READ: Decimal("1.000"),
        CallKind.POST: Decimal("0.060"),
    }
    assert spend.counts == {CallKind.SEARCH_READ: 200, CallKind.POST: 4}
    assert spend.total == Decimal("1.060")
    assert Spend.model_validate_json(spend.model_dump_json()) == spend


def test_would_exceed() -> None:
    budget = Decimal("1.00")
    spend = Spend().add(CallKind.POST_WITH_URL, 4)  # 0.80
    assert not would_exceed(budget, spend, cost(CallKind.POST_WITH_URL))  # exactly 1.00
    assert would_exceed(budget, spend, cost(CallKind.POST_WITH_URL) + cost(CallKind.POST))
    assert would_exceed(Decimal(0), Decimal(0), Decimal("0.001"))
    assert not would_exceed(Decimal(0), Decimal(0), Decimal(0))


@given(st.lists(st.tuples(st.sampled_from(list(CallKind)), st.integers(0, 10_000)), max_size=30))
def test_spend_total_is_the_sum_of_costs(calls: list[tuple[CallKind, int]]) -> None:
    spend = Spend()
    for kind, count in calls:
        spend = spend.add(kind, count)
    assert spend.total == sum((cost(kind, count) for kind, count in calls), Decimal(0))
