"""The benchmark client fleet (bench/fleet.py) against the app's public endpoint, small and
fast, so it doesn't rot between benchmark runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from atexpert.domain.sessions import SessionUpdate
from atexpert.settings import Settings
from atexpert.web.app import create_app
from bench.fleet import Fleet, FleetSpec, marker
from tests.support.app_server import AppServer
from tests.support.live_world import LiveWorld, scheduled_session
from tests.support.live_world import world as world

EVENTS = 5


@pytest.fixture
async def server(redis_url: str, world: LiveWorld) -> AsyncIterator[AppServer]:
    settings = Settings(redis_url=redis_url, secret_key=SecretStr("fleet-" + "x" * 32))
    with AppServer(create_app(settings, run_scheduler=False)) as running:
        yield running


@pytest.fixture
async def scheduled(world: LiveWorld) -> str:
    return await scheduled_session(world.store)


async def publish(world: LiveWorld, session_id: str, first: int, count: int) -> None:
    for seq in range(first, first + count):
        update = SessionUpdate(description=f"{marker(seq)} the A350 flies far")
        await world.store.update_session(session_id, update, actor="root")


@pytest.mark.parametrize("client", ["light", "websockets"])
async def test_every_viewer_gets_every_event_in_order(
    server: AppServer, world: LiveWorld, scheduled: str, client: str
) -> None:
    url = server.url(f"/ws/sessions/{scheduled}/public")
    with Fleet(FleetSpec(url=url, clients=20, client=client, lifetime_s=60), processes=2) as fleet:
        opened = await asyncio.to_thread(fleet.open, 30)
        assert opened.connected == 20
        await asyncio.to_thread(fleet.expect, 1)
        await publish(world, scheduled, 1, EVENTS)
        got = await asyncio.to_thread(fleet.wait, EVENTS, 30)
    assert (got.in_sync, got.lost, got.duplicates) == (20, 0, 0)
    assert len(got.latencies) == 20 * EVENTS
    assert 0 < got.p(99) < 30


async def test_a_viewer_cut_off_resumes_after_its_last_event(
    server: AppServer, world: LiveWorld, scheduled: str
) -> None:
    url = server.url(f"/ws/sessions/{scheduled}/public")
    spec = FleetSpec(url=url, clients=4, backoff_base_s=0.05, backoff_cap_s=0.2, lifetime_s=60)
    with Fleet(spec, processes=1) as fleet:
        await asyncio.to_thread(fleet.open, 30)
        await asyncio.to_thread(fleet.expect, 1)
        await publish(world, scheduled, 1, 2)
        await asyncio.to_thread(fleet.wait, 2, 30)
        for conn in list(server.server.server_state.connections):  # the server cuts all
            conn.loop.call_soon_threadsafe(conn.transport.abort)
        await publish(world, scheduled, 3, 2)
        got = await asyncio.to_thread(fleet.wait, 4, 30)
    assert (got.in_sync, got.lost, got.reconnects) == (4, 0, 4)
    assert (got.recovered, got.resyncs) == (0, 0)  # the missed events, not a snapshot
