"""Desk mode, the session kind: a desk has no end, goes live at its start and stays live
until an admin closes it; an event keeps its required end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError

from atexpert.domain.clock import ManualClock
from atexpert.domain.events import EventKind
from atexpert.domain.sessions import (
    HostAccount,
    SessionFields,
    SessionKind,
    SessionStatus,
    due_at,
)
from atexpert.store import keys
from atexpert.store.scheduler import Lease, Scheduler
from atexpert.store.store import Store
from atexpert.web.intake_service import receiving
from tests.support.api_world import Api, bearer, session_body

pytest_plugins = ("tests.support.api_world",)

START = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)


def desk_fields(**over: object) -> SessionFields:
    body: dict[str, object] = {
        "title": "Air France helps",
        "kind": "desk",
        "hashtags": ["#AFhelp"],
        "host_account": HostAccount(handle="AirFrance"),
        "scheduled_start": START,
        "time_zone": "Europe/Paris",
    }
    return SessionFields.model_validate(body | over)


def test_a_desk_has_no_end_and_a_first_response_target() -> None:
    desk = desk_fields()
    assert desk.kind is SessionKind.DESK
    assert desk.scheduled_end is None
    assert desk.first_response_minutes == 60


def test_a_desk_with_an_end_is_refused() -> None:
    with pytest.raises(ValidationError, match="a desk has no end"):
        desk_fields(scheduled_end=START + timedelta(hours=1))


def test_an_event_still_needs_its_end() -> None:
    with pytest.raises(ValidationError, match="scheduled_end is required"):
        desk_fields(kind="event")
    event = desk_fields(kind="event", scheduled_end=START + timedelta(hours=1))
    assert event.kind is SessionKind.EVENT


async def test_the_scheduler_starts_a_desk_and_never_closes_it(
    redis_standalone: aioredis.Redis,
) -> None:
    store = Store(redis_standalone)
    clock = ManualClock(START - timedelta(days=1))
    desk = await store.create_session(desk_fields(), actor="brand", at=clock.now())
    await store.schedule_session(desk.id, actor="brand", at=clock.now())
    scheduler = Scheduler(store, Lease(redis_standalone), clock)

    clock.set(START)
    assert (await scheduler.tick()).started == [desk.id]
    live = await store.get_session(desk.id)
    assert live.status is SessionStatus.LIVE
    assert due_at(live) is None
    assert receiving(live, clock.now())
    # Not due any more: the global due index no longer lists it.
    assert await redis_standalone.zscore(keys.GLOBAL_DUE, desk.id) is None

    for _ in range(3):
        clock.advance(timedelta(days=120))
        report = await scheduler.tick()
        assert report.closed == [] and report.started == []
    assert (await store.get_session(desk.id)).status is SessionStatus.LIVE

    # An admin closes it, with the closing flow of an event.
    closed = await store.close_session(desk.id, actor="admin", at=clock.now())
    assert closed.status is SessionStatus.CLOSED
    kinds = [e.kind for e in await store.read_events(desk.id, count=100)]
    assert kinds[-1] is EventKind.SESSION_CLOSED


async def test_a_desk_is_created_over_http_and_an_endless_event_is_a_clear_422(
    api: Api,
) -> None:
    _, token = await api.user("boss", admin=True)
    auth = bearer(token)
    body = session_body(kind="desk", first_response_minutes=30)
    del body["scheduled_end"]
    r = await api.client.post("/api/sessions", json=body, headers=auth)
    assert r.status_code == 201, r.text
    desk = r.json()
    assert (desk["kind"], desk["scheduled_end"], desk["first_response_minutes"]) == (
        "desk",
        None,
        30,
    )
    r = await api.client.post(f"/api/sessions/{desk['id']}/schedule", headers=auth)
    assert r.status_code == 200, r.text

    endless = session_body()
    del endless["scheduled_end"]
    r = await api.client.post("/api/sessions", json=endless, headers=auth)
    assert r.status_code == 422
    assert "scheduled_end is required" in r.text
    r = await api.client.post("/api/sessions", json=session_body(kind="desk"), headers=auth)
    assert r.status_code == 422
    assert "a desk has no end" in r.text
