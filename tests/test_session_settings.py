"""A session's settings (auto-moderation, intake mode) change with their event in one step.

On real Redis (standalone and a 3-master cluster) and through the HTTP API; what the live
consoles receive is in tests/test_live_protocol.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atexpert.domain.automod_config import AutomodConfig
from atexpert.domain.errors import Conflict, NotFound
from atexpert.domain.events import EventKind
from atexpert.domain.sessions import HostAccount, SessionFields
from atexpert.store import keys
from atexpert.store.automod import AutomodStore
from atexpert.store.intake_state import IntakeMode, IntakeStore
from atexpert.store.store import Store
from tests.support.api_world import ApiWorld, bearer
from tests.support.redis_fixtures import RedisClient

pytest_plugins = ("tests.support.api_world",)

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def new_session(store: Store) -> str:
    fields = SessionFields(
        title="Ask Airbus",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=T0 + timedelta(hours=1),
        scheduled_end=T0 + timedelta(hours=2),
    )
    return (await store.create_session(fields, actor="root", at=T0)).id


async def test_a_config_change_is_logged_in_the_same_step_and_a_refused_one_is_not(
    redis: RedisClient,
) -> None:
    store, automod = Store(redis), AutomodStore(redis)
    sid = await new_session(store)
    head = await store.last_event_id(sid)
    raid = AutomodConfig(raid_mode=True, banned=["@troll"])
    saved = await automod.put(sid, raid, actor="mia", at=T0, expected_version=0)
    [event] = await store.read_events(sid, after=head)
    assert event.kind is EventKind.AUTOMOD_CHANGED
    assert (event.entity, event.entity_id, event.actor) == ("automod", sid, "mia")
    assert event.version == saved.version == 1 and event.at == T0
    assert event.data["config"] == raid.model_dump(mode="json")
    assert event.data["updated_by"] == "mia"
    # A stale version: 409, and neither the config nor the log changes.
    with pytest.raises(Conflict, match="changed since version 0"):
        await automod.put(sid, AutomodConfig(), actor="max", at=T0, expected_version=0)
    assert await store.read_events(sid, after=event.id) == []
    assert await automod.get(sid) == saved
    # No session: nothing written at all, not even a stream.
    with pytest.raises(NotFound):
        await automod.put("s_gone", raid, actor="mia", at=T0)
    assert await redis.exists(keys.automod("s_gone"), "ama:{s_gone}:events") == 0
    assert await store.replay(sid) == await store.snapshot(sid)


async def test_choosing_the_intake_mode_is_logged(redis: RedisClient) -> None:
    store, intake = Store(redis), IntakeStore(redis)
    sid = await new_session(store)
    assert await intake.mode(sid) is IntakeMode.MENTIONS  # the default, never chosen
    head = await store.last_event_id(sid)
    chosen = await intake.set_mode(sid, IntakeMode.SEARCH, actor="root", at=T0)
    assert chosen.version == 1 and await intake.mode(sid) is IntakeMode.SEARCH
    [event] = await store.read_events(sid, after=head)
    assert event.kind is EventKind.INTAKE_MODE_CHANGED
    assert (event.entity, event.entity_id, event.actor, event.version) == ("intake", sid, "root", 1)
    assert event.data["mode"] == "search"
    assert (await store.replay(sid)).intake == chosen == await intake.setting(sid)
    with pytest.raises(NotFound):
        await intake.set_mode("s_gone", IntakeMode.STREAM, actor="root", at=T0)
    assert await redis.exists(keys.intake("s_gone", "config"), "ama:{s_gone}:events") == 0


async def test_the_api_logs_who_changed_what(world: ApiWorld) -> None:
    client, store = world.api.client, world.api.services.store
    head = await store.last_event_id(world.sid)
    base = f"/api/sessions/{world.sid}"
    r = await client.put(
        f"{base}/automod/raid", json={"raid_mode": True}, headers=bearer(world.tokens["moderator"])
    )
    assert r.status_code == 200, r.text
    stale = await client.put(
        f"{base}/automod?version=0", json={}, headers=bearer(world.tokens["admin"])
    )
    assert stale.status_code == 409, stale.text
    r = await client.put(
        f"{base}/intake/mode", json={"mode": "stream"}, headers=bearer(world.tokens["admin"])
    )
    assert r.status_code == 200, r.text
    events = await store.read_events(world.sid, after=head)
    assert [(e.kind, e.actor) for e in events] == [
        (EventKind.AUTOMOD_CHANGED, "moderator"),
        (EventKind.INTAKE_MODE_CHANGED, "admin"),
    ]
    assert events[0].data["config"]["raid_mode"] is True
    assert events[1].data["mode"] == "stream"
