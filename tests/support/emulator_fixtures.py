"""Shared X emulator fixtures, reused by test modules that assign the ones they need:
``server, control = emulator_fixtures.server, emulator_fixtures.control``.

``server`` runs the emulator with a stream heartbeat of ``HEARTBEAT_SECONDS``;
``default_server`` with the emulator's default heartbeat (assign it to ``server`` where
that is wanted). ``control`` resets the emulator and clears its faults; ``ctl`` only resets
it. ``http`` is a plain client of the emulator and ``settings`` points the app at it with
the emulator app's bearer token.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.settings import Settings

HEARTBEAT_SECONDS = 0.2
"""The stream keep-alive interval of ``server``."""


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(heartbeat_seconds=HEARTBEAT_SECONDS) as emu:
        yield emu


@pytest.fixture(scope="module")
def default_server() -> Iterator[EmulatorServer]:
    with EmulatorServer() as emu:
        yield emu


@pytest.fixture
def control(server: EmulatorServer) -> EmulatorControl:
    ctl = EmulatorControl(server.base_url)
    ctl.reset()
    ctl.clear_faults()
    return ctl


@pytest.fixture
def ctl(server: EmulatorServer) -> EmulatorControl:
    control = EmulatorControl(server.base_url)
    control.reset()
    return control


@pytest.fixture
def http(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def settings(server: EmulatorServer, control: EmulatorControl) -> Settings:
    app = control.app()
    return Settings(x_api_base_url=server.base_url, x_bearer_token=app["bearer_token"])
