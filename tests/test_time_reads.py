"""Product code reads the time only through the injected clock (``atexpert.domain.clock``).

A scan of the source: no call of ``datetime.now()``, ``time.time()`` and the like outside
``atexpert/domain/clock.py``. Monotonic timers (``time.monotonic()``, the event loop's time) for
timeouts and backoff are fine. The X emulator (``atexpert/emulator``) plays X, not the
product, and keeps its own clock (``atexpert/emulator/state.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import atexpert

PACKAGE = Path(atexpert.__file__).parent
ALLOWED = {PACKAGE / "domain" / "clock.py"}
SKIPPED = PACKAGE / "emulator"

#: ``owner.name(...)`` calls that read the wall clock, by owner (a module or a class).
WALL_CLOCK = {
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
    "time": {"time", "time_ns", "localtime", "gmtime", "ctime", "asctime"},
}
#: Of those, the ones that convert the time given as an argument: only a bare call reads.
CONVERTERS = {"localtime", "gmtime", "ctime", "asctime"}


def _owner(node: ast.expr) -> str | None:
    """``datetime`` for ``datetime`` or ``dt.datetime``; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def wall_clock_reads(source: str) -> list[tuple[int, str]]:
    """(line, what) of every direct read of the wall clock in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner, name = _owner(node.func.value), node.func.attr
            converts = name in CONVERTERS and bool(node.args)
            if owner in WALL_CLOCK and name in WALL_CLOCK[owner] and not converts:
                found.append((node.lineno, f"{owner}.{name}()"))
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            names = {a.name for a in node.names} & WALL_CLOCK["time"]
            found += [(node.lineno, f"from time import {name}") for name in sorted(names)]
    return sorted(found)


def test_product_code_reads_the_time_only_through_the_clock() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path not in ALLOWED and SKIPPED not in path.parents
        for line, what in wall_clock_reads(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, (
        "read the time through the injected clock (atexpert.domain.clock.Clock: take a `clock` "
        "and call clock.now()), not directly:\n" + "\n".join(offenders)
    )


def test_the_scan_finds_every_form_of_a_wall_clock_read() -> None:
    source = """
import datetime as dt
import time
from datetime import UTC, date, datetime
from time import time_ns
a = datetime.now(UTC)
b = dt.datetime.utcnow()
c = date.today()
d = time.time()
e = time.gmtime()
f = time.gmtime(0)
g = time.monotonic()
h = clock.now()
"""
    assert wall_clock_reads(source) == [
        (5, "from time import time_ns"),
        (6, "datetime.now()"),
        (7, "datetime.utcnow()"),
        (8, "date.today()"),
        (9, "time.time()"),
        (10, "time.gmtime()"),
    ]
