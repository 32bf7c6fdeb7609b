"""When the live hub freezes and unfreezes the garbage collector's generations."""

from __future__ import annotations

from atexpert.live.collector import Collector


def counting() -> tuple[Collector, list[str]]:
    calls: list[str] = []
    c = Collector(
        wave=3,
        settle_s=2.0,
        freeze=lambda: calls.append("freeze"),
        unfreeze=lambda: calls.append("unfreeze"),
    )
    return c, calls


def test_a_wave_is_frozen_once_it_has_settled() -> None:
    c, calls = counting()
    for t in (0.0, 0.5, 1.0):
        c.joined(t)
    c.tick(2.0)  # the last join was 1 s ago: still arriving
    assert calls == []
    c.tick(3.0)
    assert calls == ["freeze"]
    c.tick(10.0)  # nothing new: nothing to do
    assert calls == ["freeze"]


def test_fewer_joins_than_a_wave_are_left_to_the_collector() -> None:
    c, calls = counting()
    c.joined(0.0)
    c.joined(0.1)
    c.tick(60.0)
    assert calls == []


def test_half_of_the_frozen_connections_gone_unfreezes_them() -> None:
    c, calls = counting()
    for t in range(8):
        c.joined(float(t) / 10)
    c.tick(5.0)
    assert calls == ["freeze"] and c.frozen_open == 8
    for _ in range(3):
        c.left()
    c.tick(6.0)
    assert calls == ["freeze"]  # 3 of 8 closed: not yet half
    c.left()
    c.tick(7.0)
    assert calls == ["freeze", "unfreeze"]


def test_a_wave_of_zero_never_freezes() -> None:
    calls: list[str] = []
    c = Collector(wave=0, freeze=lambda: calls.append("freeze"))
    for t in range(1000):
        c.joined(float(t))
    c.tick(5000.0)
    assert calls == []


def test_a_long_ramp_is_frozen_every_few_waves_without_settling() -> None:
    c, calls = counting()
    for n in range(12):
        c.joined(n * 0.1)
        c.tick(n * 0.1)
    assert calls == ["freeze"]  # after 4 waves of 3, still arriving
