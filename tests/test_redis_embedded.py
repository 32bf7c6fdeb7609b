"""The embedded Redis keeps data across restarts and recovers from a crashed owner."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from atexpert.store.redis_embedded import (
    DataDirInUse,
    EmbeddedRedis,
    EmbeddedRedisError,
    RedisBinaryNotFound,
    find_redis_server,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _need_binary() -> None:
    try:
        find_redis_server()
    except RedisBinaryNotFound as exc:
        pytest.skip(str(exc))


def _client(server: EmbeddedRedis) -> redis.Redis:
    return redis.Redis.from_url(server.url, decode_responses=True)


def test_data_survives_a_restart(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as server, _client(server) as c:
        c.set("{s}:name", "AskAirbus")
        c.xadd("{s}:events", {"type": "created"})
    assert not server.running
    assert not server.socket_path.exists()
    with EmbeddedRedis(tmp_path / "redis") as server, _client(server) as c:
        assert c.get("{s}:name") == "AskAirbus"
        assert c.xlen("{s}:events") == 1


def test_start_ignores_stale_socket_and_pid_file(tmp_path: Path) -> None:
    data = tmp_path / "redis"
    data.mkdir()
    with socket.socket(socket.AF_UNIX) as s:  # a socket file nobody listens on any more
        s.bind(str(data / "redis.sock"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (data / "redis.pid").write_text(str(dead.pid))
    with EmbeddedRedis(data) as server, _client(server) as c:
        assert c.ping()
        assert int((data / "redis.pid").read_text()) != dead.pid


def test_second_owner_of_a_data_dir_gets_a_clear_error(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as first, _client(first) as c:
        c.set("k", "1")
        with pytest.raises(DataDirInUse, match=f"pid {os.getpid()}"):
            EmbeddedRedis(tmp_path / "redis").start()
        assert c.get("k") == "1"  # the running server was left alone


@pytest.mark.parametrize("socket_deleted", [False, True], ids=["answering", "socket-deleted"])
def test_server_orphaned_by_a_killed_app_is_replaced_without_data_loss(
    tmp_path: Path, socket_deleted: bool
) -> None:
    data = tmp_path / "redis"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "import redis\n"
        "from atexpert.store.redis_embedded import EmbeddedRedis\n"
        "e = EmbeddedRedis(Path(sys.argv[1])); e.start()\n"
        "redis.Redis.from_url(e.url).set('written', 'before crash')\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(data)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as app:
        assert app.stdout is not None
        assert app.stdout.readline().strip() == "ready"
        orphan_pid = int((data / "redis.pid").read_text())
        app.send_signal(signal.SIGKILL)
    if socket_deleted:  # unreachable but alive: it must be stopped by its pid
        (data / "redis.sock").unlink()
    with EmbeddedRedis(data) as server, _client(server) as c:
        assert c.get("written") == "before crash"
        assert int((data / "redis.pid").read_text()) != orphan_pid
    assert not _alive(orphan_pid)


def _alive(pid: int) -> bool:
    """Running (a zombie left for a non-reaping init to collect does not count)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_a_broken_binary_gives_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'boom' >&2\nexit 3\n")
    fake.chmod(0o755)
    server = EmbeddedRedis(tmp_path / "redis", binary=fake)
    with pytest.raises(EmbeddedRedisError, match="exited with code 3"):
        server.start()
    assert not server.running
    with EmbeddedRedis(tmp_path / "redis") as ok, _client(ok) as c:  # lock was released
        assert c.ping()


def test_too_long_data_dir_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedRedisError, match="too long"):
        EmbeddedRedis(tmp_path / ("d" * 120))
