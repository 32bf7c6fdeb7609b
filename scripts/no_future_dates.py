"""Refuse literal future dates in tests that don't freeze the clock.

A test that types "2026-12-01" and compares it, directly or through the app, with the wall
clock changes meaning the day that date passes: main's CI broke on 2026-12-01 that way.
A literal date is fine in a module that freezes time with ``ManualClock`` (then it is only
data), in the past (it stays past), or as a far sentinel (year 2100 and later). Elsewhere
build dates from the clock (``datetime.now(UTC) + timedelta(days=1)``), or, when the date
really is only data, say so on its line with ``# date-ok: <why>``.

Usage: python scripts/no_future_dates.py [DIR ...]   (default: tests)
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?![\d])")
FROZEN = "ManualClock"
OPT_OUT = "# date-ok:"
SENTINEL_YEAR = 2100


def literal_dates(tree: ast.AST) -> Iterator[tuple[int, date]]:
    """(line, date) of ISO dates in strings and of ``datetime(Y, M, D, ...)``/``date(...)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in ISO_DATE.finditer(node.value):
                found = _date(*(int(part) for part in match.groups()))
                if found is not None:
                    yield node.lineno, found
        elif isinstance(node, ast.Call) and _called(node) in {"datetime", "date"}:
            numbers = [a.value for a in node.args[:3] if isinstance(a, ast.Constant)]
            if len(numbers) == 3 and all(type(n) is int for n in numbers):
                found = _date(*numbers)
                if found is not None:
                    yield node.lineno, found


def _called(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def problems(path: Path, today: date) -> Iterator[str]:
    source = path.read_text(encoding="utf-8")
    if FROZEN in source:
        return
    lines = source.splitlines()
    for line, found in literal_dates(ast.parse(source, filename=str(path))):
        if today < found and found.year < SENTINEL_YEAR and OPT_OUT not in lines[line - 1]:
            yield (
                f"{path}:{line}: literal date {found.isoformat()} is in the future and this "
                f"module does not freeze the clock ({FROZEN}): once the wall clock passes it, "
                "the test changes meaning. Build it from the clock (now + timedelta(...)), "
                f"freeze the clock, or mark a date that is only data with '{OPT_OUT} <why>'."
            )


def main(argv: list[str]) -> int:
    today = date.today()
    found = [
        problem
        for folder in argv or ["tests"]
        for path in sorted(Path(folder).rglob("*.py"))
        for problem in problems(path, today)
    ]
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
