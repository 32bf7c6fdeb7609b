"""Real app processes in tests: a free port, and waiting until one serves."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(
    proc: subprocess.Popen[str] | subprocess.Popen[bytes],
    base_url: str,
    timeout: float = 90,
    log: Path | None = None,
) -> None:
    """Until ``base_url/readyz`` answers 200; fail at once, with its stderr (or the ``log``
    file it writes to), if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            said = log.read_text() if log else proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"exited with {proc.returncode}: {said!s}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{base_url} never became ready"
        time.sleep(0.1)
