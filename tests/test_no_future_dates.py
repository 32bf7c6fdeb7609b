"""The guard of scripts/check against literal future dates in tests."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "no_future_dates.py"


def guard() -> ModuleType:
    spec = importlib.util.spec_from_file_location("no_future_dates", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(folder)], capture_output=True, text=True, check=False
    )


def test_a_future_date_outside_a_frozen_clock_is_refused_with_the_reason(tmp_path: Path) -> None:
    soon = date.today() + timedelta(days=30)
    (tmp_path / "test_soon.py").write_text(
        f'START = "{soon.isoformat()}T10:00"\n'
        f"END = datetime({soon.year}, {soon.month}, {soon.day}, 11)\n"
    )
    result = run(tmp_path)
    assert result.returncode == 1
    assert result.stderr.count(f"literal date {soon.isoformat()} is in the future") == 2
    assert "test_soon.py:1:" in result.stderr and "test_soon.py:2:" in result.stderr
    assert "once the wall clock passes it" in result.stderr


def test_past_dates_frozen_clocks_sentinels_and_marked_data_pass(tmp_path: Path) -> None:
    soon = date.today() + timedelta(days=30)
    past = date.today() - timedelta(days=400)
    (tmp_path / "test_past.py").write_text(f'AT = "{past.isoformat()}T09:00:00Z"\n')
    (tmp_path / "test_frozen.py").write_text(
        f"CLOCK = ManualClock(datetime({soon.year}, {soon.month}, {soon.day}, tzinfo=UTC))\n"
    )
    (tmp_path / "test_never.py").write_text('NEVER = "9999-12-31"\n')
    (tmp_path / "test_marked.py").write_text(
        f'ROW = "{soon.isoformat()}"  # date-ok: a CSV cell, never compared with now\n'
    )
    result = run(tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_project_tests_pass_the_guard() -> None:
    module = guard()
    tests = Path(__file__).resolve().parent
    found = [p for path in sorted(tests.rglob("*.py")) for p in module.problems(path, date.today())]
    assert found == []
