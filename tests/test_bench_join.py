"""bench/bench_join.py at a small scale: viewers join a session before and after a
checkpoint trimmed its log, every snapshot complete (the script checks them; no timing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_viewers_join_a_session_before_and_after_its_log_is_trimmed() -> None:
    small = ["--sizes", "600", "--viewers", "2", "--questions", "40", "--keep", "50"]
    run = subprocess.run(
        [sys.executable, "bench/bench_join.py", *small],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    summary = run.stdout.split("summary")[1].splitlines()
    rows = [line.split() for line in summary if line.strip().startswith("600")]
    assert [(r[1], r[2]) for r in rows] == [("whole", "log"), ("checkpoint", "50")]
