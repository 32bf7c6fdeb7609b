"""The intake service as the app runs it: sessions picked up by their window and mode."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from atexpert.intake import IntakeSettings
from atexpert.intake_service import IntakeService, receiving
from atexpert.intake_state import IntakeMode, IntakeState
from atexpert.sessions import HostAccount, SessionFields
from tests import test_intake as base
from tests.test_intake import FAST, World, wait_for

server, control, settings, world = base.server, base.control, base.settings, base.world


async def _ids(world: World) -> set[str]:
    return await world.tweet_ids()


async def test_service_follows_sessions_and_modes(world: World) -> None:
    service = IntakeService(world.redis, world.store, world.settings, FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop, interval=0.05))
    try:
        first = world.post("fan_1", "@Airbus #AskAirbus via mentions")
        await wait_for(lambda: _has(world, {first}))
        assert service.pollers[world.sid].mode is IntakeMode.MENTIONS
        await world.state.set_mode(world.sid, IntakeMode.STREAM)
        await wait_for(lambda: world.control.stream_status()["connected"])
        second = world.post("fan_2", "#AskAirbus via the stream, no mention")
        await wait_for(lambda: _has(world, {first, second}))
        assert world.sid not in service.pollers
        await world.state.set_mode(world.sid, IntakeMode.SEARCH)
        await wait_for(lambda: world.sid in service.pollers)
        third = world.post("fan_3", "#AskAirbus via search")
        await wait_for(lambda: _has(world, {first, second, third}))
        await world.store.close_session(world.sid, actor="admin")
        await wait_for(lambda: world.sid not in service.pollers)
        await wait_for(lambda: _state(world, IntakeState.STOPPED), timeout=5)
        assert await world.tweet_ids() == {first, second, third}
        assert len(await world.received_events()) == 3
    finally:
        stop.set()
        await task


async def _has(world: World, expected: set[str]) -> bool:
    return expected <= await world.tweet_ids()


async def _state(world: World, wanted: IntakeState) -> bool:
    return (await world.state.status(world.sid)).state is wanted


async def test_the_intake_window(world: World) -> None:
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Later",
        hashtags=["#Later"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=now + timedelta(hours=3),
        scheduled_end=now + timedelta(hours=4),
        intake_opens_before_minutes=60,
    )
    session = await world.store.create_session(fields, actor="admin")
    assert not receiving(session, now)
    session = await world.store.schedule_session(session.id, actor="admin")
    assert not receiving(session, now)
    assert receiving(session, now + timedelta(hours=2, minutes=1))
    assert receiving(world.session, now)
    assert IntakeSettings().mode is IntakeMode.MENTIONS
