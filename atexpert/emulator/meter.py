"""Pay-per-use metering with X's 2026 prices, in micro-dollars."""

from __future__ import annotations

from atexpert.emulator.problems import credits_depleted
from atexpert.emulator.state import State

PRICES_MICRO = {
    "mentions_read": 1_000,  # per post returned by users/:id/mentions
    "search_read": 5_000,  # per post returned by search or delivered by the stream
    "post": 15_000,
    "summoned_reply": 10_000,
    "post_with_url": 200_000,
}


def require_credit(state: State, kind: str | None = None) -> None:
    """Raise 402 CreditsDepleted when the balance cannot pay for ``kind`` (or is empty)."""
    if not state.policy.metering:
        return
    need = PRICES_MICRO[kind] if kind else 1
    if state.balance_micro < need:
        raise credits_depleted()


def charge(state: State, kind: str, count: int = 1) -> None:
    """Debit ``count`` units of ``kind``; the balance never goes below zero."""
    if not state.policy.metering or count <= 0:
        return
    amount = PRICES_MICRO[kind] * count
    state.balance_micro = max(state.balance_micro - amount, 0)
    state.spent_micro[kind] = state.spent_micro.get(kind, 0) + amount
    state.dirty = True


def usd(micro: int) -> str:
    """Dollars with at least two decimals and no trailing zeros beyond them."""
    whole, _, frac = f"{micro / 1_000_000:.6f}".partition(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"
