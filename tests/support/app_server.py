"""The app under uvicorn with the settings ``atexpert serve`` uses
(:func:`atexpert.web.serving.server_config`), in a thread of the test process, so a test
can look at the server's open connections and at the app's state.

uvicorn's logging is left unconfigured: its records reach the root logger, and so pytest's
``caplog``, like the app's own.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from atexpert.web.serving import server_config


class AppServer:
    """``app`` on a free port of 127.0.0.1; ``send_buffer``: the SO_SNDBUF of the server's
    sockets (accepted sockets inherit it from the listening one)."""

    def __init__(self, app: Any, *, send_buffer: int | None = None) -> None:
        self.app = app
        sock = socket.socket()
        if send_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        config = server_config(
            app, "127.0.0.1", self.port, log_config=None, timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="app-server", daemon=True
        )

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def connections(self) -> int:
        """Connections the server holds open (HTTP or websocket)."""
        return len(self.server.server_state.connections)

    def __enter__(self) -> AppServer:
        self.thread.start()
        wait_started(self.server, self.thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    """Wait until ``server``, running in ``thread``, listens."""
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app server did not start")
        time.sleep(0.01)
