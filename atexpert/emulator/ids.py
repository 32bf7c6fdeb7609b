"""Snowflake-like ids: numeric strings that grow with time, as X's do."""

from __future__ import annotations

_TWEPOCH_MS = 1288834974657


class Snowflake:
    """Makes unique ids from a millisecond time; later times give larger ids."""

    def __init__(self, worker: int = 1) -> None:
        self._worker = worker & 0x3FF
        self._issued: set[int] = set()
        self._last = 0

    def make(self, ms: int, *, monotonic: bool = True) -> str:
        """A new id for time ``ms``; ``monotonic`` also keeps it above every earlier one."""
        base = (max(ms - _TWEPOCH_MS, 0) << 22) | (self._worker << 12)
        candidate = max(base, self._last + 1) if monotonic else base
        while candidate in self._issued:
            candidate += 1
        self._issued.add(candidate)
        self._last = max(self._last, candidate)
        return str(candidate)

    def reserve(self, value: str) -> None:
        """Mark an id loaded from a snapshot as taken."""
        n = int(value)
        self._issued.add(n)
        self._last = max(self._last, n)
