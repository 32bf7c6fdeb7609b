"""The intake service as the app runs it: sessions picked up by their window and mode."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr

from atexpert.domain.sessions import HostAccount, SessionFields
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.intake.poll import IntakeSettings
from atexpert.settings import Settings
from atexpert.store.intake_state import IntakeMode, IntakeState
from atexpert.store.redis_conn import RedisClient
from atexpert.web.app import create_app
from atexpert.web.intake_service import IntakeService, intake_hook, receiving
from tests.support import emulator_fixtures
from tests.support.intake_world import FAST, IntakeWorld
from tests.support.intake_world import world as world
from tests.support.waiting import wait_for

server, control, settings = (
    emulator_fixtures.server,
    emulator_fixtures.control,
    emulator_fixtures.settings,
)


async def _ids(world: IntakeWorld) -> set[str]:
    return await world.tweet_ids()


async def test_service_follows_sessions_and_modes(world: IntakeWorld) -> None:
    service = IntakeService(world.redis, world.store, world.settings, FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop, interval=0.05))
    try:
        first = world.post("fan_1", "@Airbus #AskAirbus via mentions")
        await wait_for(lambda: _has(world, {first}))
        assert service.pollers[world.sid].mode is IntakeMode.MENTIONS
        await world.state.set_mode(
            world.sid, IntakeMode.STREAM, actor="admin", at=datetime.now(UTC)
        )
        await wait_for(lambda: world.control.stream_status()["connected"])
        second = world.post("fan_2", "#AskAirbus via the stream, no mention")
        await wait_for(lambda: _has(world, {first, second}))
        assert world.sid not in service.pollers
        await world.state.set_mode(
            world.sid, IntakeMode.SEARCH, actor="admin", at=datetime.now(UTC)
        )
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


async def _has(world: IntakeWorld, expected: set[str]) -> bool:
    return expected <= await world.tweet_ids()


async def _state(world: IntakeWorld, wanted: IntakeState) -> bool:
    return (await world.state.status(world.sid)).state is wanted


async def test_the_intake_window(world: IntakeWorld) -> None:
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


async def test_the_app_runs_intake_beside_it(
    control: EmulatorControl, server: EmulatorServer, redis_standalone: RedisClient
) -> None:
    """create_app(lifespan_hooks=[intake_hook()]): a tweet becomes a question in the API."""
    host = control.create_account("Airbus", "Airbus")
    control.create_account("fan_1", "Fan")
    settings = Settings(
        secret_key=SecretStr("test-secret-key-" + "x" * 32),
        x_api_base_url=server.base_url,
        x_bearer_token=SecretStr(control.app()["bearer_token"]),
    )
    app = create_app(
        settings, redis=redis_standalone, run_scheduler=False, lifespan_hooks=[intake_hook(FAST)]
    )
    async with app.router.lifespan_context(app):
        services = app.state.services
        _, token = await services.staff.create_token(
            (await services.staff.create_user("root", "s3cret-password", is_admin=True)).id,
            "tests",
        )
        auth = {"Authorization": f"Bearer {token}"}
        now = datetime.now(UTC)
        body = {
            "title": "Ask Airbus",
            "hashtags": ["#AskAirbus"],
            "host_account": {"handle": "@Airbus", "user_id": host.id},
            "scheduled_start": (now + timedelta(minutes=5)).isoformat(),
            "scheduled_end": (now + timedelta(hours=1)).isoformat(),
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            r = await client.post("/api/sessions", json=body, headers=auth)
            sid = r.json()["id"]
            r = await client.post(f"/api/sessions/{sid}/schedule", headers=auth)
            assert r.status_code == 200, r.text
            tweet = control.post("fan_1", "@Airbus #AskAirbus asked before the start")

            async def listed() -> bool:
                r = await client.get(f"/api/sessions/{sid}/questions", headers=auth)
                return [q["tweet_id"] for q in r.json()] == [tweet]

            await wait_for(listed)
            r = await client.get(f"/api/sessions/{sid}/intake", headers=auth)
            status = r.json()
            assert status["state"] == "running" and status["counters"]["received"] == 1
            r = await client.get(f"/api/sessions/{sid}/spend", headers=auth)
            assert r.json()["counts"] == {"own_mentions_read": 1}


async def test_the_service_auto_moderates_what_it_ingests(world: IntakeWorld) -> None:
    service = IntakeService(world.redis, world.store, world.settings, FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop, interval=0.05))
    try:
        clean = world.post("fan_1", "@Airbus #AskAirbus Quelle est l'altitude de croisière ?")
        rude = world.post("fan_2", "@Airbus #AskAirbus Quelle merde ce vol ?")
        await wait_for(lambda: _has(world, {clean, rude}))
        await wait_for(lambda: _status_of(world, rude, "rejected"))
        questions = {q.tweet_id: q for q in await world.store.list_questions(world.sid)}
        assert questions[clean].status.value == "pending"
        assert "profanity" in (questions[rude].reject_reason or "")
    finally:
        stop.set()
        await task


async def _status_of(world: IntakeWorld, tweet_id: str, status: str) -> bool:
    questions = await world.store.list_questions(world.sid)
    return any(q.tweet_id == tweet_id and q.status.value == status for q in questions)
