"""Short garbage collections in a process that holds many long-lived connections.

CPython's full collection walks every object the collector tracks. A process with 10,000
open public websockets tracks about 900,000 (some 90 per connection), and a full
collection then stops the event loop for about half a second on a 2-core machine, longer
when it is loaded: every viewer's next event waits. Full collections come when the
tracked objects have grown by a quarter since the last one, which a connect ramp or a
reconnect storm does several times over (`bench/bench_public.py` with ``BENCH_GC=1``
prints them). Walking those connections again finds nothing: they live for minutes or
hours.

So once a wave of new connections has settled (or every few waves during a long ramp),
:class:`Collector` moves every live object into the permanent generation
(:func:`gc.freeze`): later collections walk only what is newer. Objects freed by
reference counting are still freed at once; only garbage cycles among frozen objects
wait. When as many connections have closed since the freeze
as half of those open at it (and at least ``wave``), the collector unfreezes them: the
next full collection reclaims those cycles, once.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("atexpert.live")

#: During a long ramp (a storm), freeze every this many waves without waiting to settle.
RAMP_WAVES = 4


@dataclass
class Collector:
    """When to freeze and unfreeze the collector's generations; :meth:`tick` decides."""

    #: Connections opened since the last freeze before freezing again (0: never freeze).
    wave: int = 500
    #: Seconds with no new connection before a wave counts as settled.
    settle_s: float = 2.0
    freeze: Callable[[], None] = field(default=gc.freeze, repr=False)
    unfreeze: Callable[[], None] = field(default=gc.unfreeze, repr=False)
    opened: int = 0
    closed: int = 0
    #: Connections open at the last freeze.
    frozen_open: int = 0
    _open: int = 0
    _last_join: float = 0.0

    def joined(self, now: float) -> None:
        self.opened += 1
        self._open += 1
        self._last_join = now

    def left(self) -> None:
        self.closed += 1
        self._open -= 1

    def tick(self, now: float) -> None:
        """Freeze after a settled wave of joins; unfreeze after enough leaves."""
        if self.wave <= 0:
            return
        if self.frozen_open and self.closed >= max(self.wave, self.frozen_open // 2):
            self.unfreeze()
            log.info("live: %d connections closed since the freeze; unfrozen", self.closed)
            self.frozen_open = self.closed = 0
        settled = now - self._last_join >= self.settle_s
        if self.opened >= self.wave and (settled or self.opened >= RAMP_WAVES * self.wave):
            self.freeze()
            log.info("live: %d connections open; frozen for the collector", self._open)
            self.frozen_open, self.opened = self._open, 0
