"""Run the emulator over real HTTP: in a background thread (tests, demo) or standalone."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from atexpert.emulator.app import create_emulator_app
from atexpert.emulator.core import Emulator


class EmulatorServer:
    """``with EmulatorServer() as emu: emu.base_url`` — uvicorn on a free port in a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **app_options: Any) -> None:
        self.app = create_emulator_app(**app_options)
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="x-emulator", daemon=True)
        self.host = host
        self.port = port

    @property
    def emulator(self) -> Emulator:
        emu: Emulator = self.app.state.emulator
        return emu

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the X emulator did not start")
            time.sleep(0.01)
        sockets = [s for srv in self._server.servers for s in srv.sockets]
        self.port = sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        loop = self.emulator.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop may have closed meanwhile
                loop.call_soon_threadsafe(self.emulator.hub.drop)  # let open streams end now
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_emulator(host: str = "127.0.0.1", port: int = 8400, snapshot: Path | None = None) -> None:
    """Serve the emulator until interrupted (``atexpert emulator --host --port``)."""
    uvicorn.run(create_emulator_app(snapshot_path=snapshot), host=host, port=port, log_level="info")
