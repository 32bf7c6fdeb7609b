"""``atexpert demo`` as a user runs it: a real process, stopped with a real signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import free_port, wait_ready

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_the_demo_removes_its_data_when_stopped(
    tmp_path: Path, sig: signal.Signals, status: int
) -> None:
    """The demo's temporary directory holds password hashes and X tokens: whatever stops
    the demo (Ctrl+C, or a service manager's SIGTERM), nothing of it stays on disk."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ATEXPERT_")}
    environ["TMPDIR"] = str(temp)
    proc = subprocess.Popen(
        [sys.executable, "-m", "atexpert.cli.main", "demo", "--port", str(port)],
        cwd=tmp_path, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}")
        assert next(p.name for p in temp.iterdir()).startswith("atexpert-demo-")
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == status
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert list(temp.iterdir()) == []
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
