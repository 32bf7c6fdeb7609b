"""bench/bench_desk_week.py at a small scale: a desk week on the accelerated clock with a
tiny checkpoint interval. Its consoles resume across trims and end equal to a fresh
snapshot, the stream stays bounded and Redis memory under the stated ceiling (the script
checks all of it and exits 1 otherwise; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_small_desk_week_keeps_its_stream_bounded_and_its_consoles_in_sync() -> None:
    small = ["--questions", "1400", "--every", "200", "--keep", "100", "--slack", "1200"]
    run = subprocess.run(
        [sys.executable, "bench/bench_desk_week.py", *small, "--rate", "70", "--pause", "0.4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert out.rstrip().endswith("PASS")
    consoles = [line for line in out.splitlines() if "same as a fresh snapshot" in line]
    assert len(consoles) == 5
    resyncs = sum(int(line.split("reconnects")[1].split()[0]) for line in consoles)
    assert resyncs >= 1  # at least one console resumed from an id a checkpoint had trimmed
    days = [line.split() for line in out.split("summary")[1].splitlines()[2:9]]
    assert [int(d[0]) for d in days] == list(range(1, 8))
    assert max(int(d[4].split("/")[0]) for d in days) <= 1500  # keep + every + slack
