"""Exports of a session whose log a checkpoint trimmed, and exports over a range of days."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from atexpert.recap import exports
from atexpert.store import checkpoint
from atexpert.store.checkpoint import Policy
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from tests.support.api_world import Api, ApiWorld, bearer, incoming
from tests.support.api_world import api as api
from tests.support.api_world import world as world
from tests.support.seeded_session import seed_session

PARIS = ZoneInfo("Europe/Paris")


async def test_a_trimmed_session_exports_its_checkpoint_and_imports_again(
    redis: RedisClient,
) -> None:
    from redis.asyncio.cluster import RedisCluster

    seeded = await seed_session(redis)
    sid, store = seeded.session_id, Store(redis)
    everything = await exports.read_all_events(store, sid)
    assert await checkpoint.write(redis, sid, Policy(every=1, keep=5)) == len(everything) - 5
    doc = await exports.export_session(store, redis, sid)
    assert doc.checkpoint is not None and [e.id for e in doc.events] == [
        e.id for e in everything[-5:]
    ]
    assert doc.complete_from == everything[-6].at  # the last event folded in
    assert f"Complete from {everything[-6].at.isoformat()}" in exports.to_markdown(doc)
    first = exports.to_json(doc)
    before = await store.snapshot(sid)
    if isinstance(redis, RedisCluster):
        await redis.flushall(target_nodes=RedisCluster.PRIMARIES)
    else:
        await redis.flushall()
    imported = await exports.import_session(redis, exports.parse_export(first))
    assert imported.id == sid
    assert exports.to_json(await exports.export_session(store, redis, sid)) == first
    assert await store.replay(sid) == before == await store.snapshot(sid)


async def test_an_export_whose_events_overlap_its_checkpoint_is_refused(
    redis: RedisClient,
) -> None:
    seeded = await seed_session(redis)
    store = Store(redis)
    everything = await exports.read_all_events(store, seeded.session_id)
    await checkpoint.write(redis, seeded.session_id, Policy(every=1, keep=5))
    raw = json.loads(exports.to_json(await exports.export_session(store, redis, seeded.session_id)))
    raw["events"].insert(0, json.loads(everything[-6].model_dump_json()))
    with pytest.raises(exports.InvalidInput, match="after the checkpoint"):
        exports.parse_export(json.dumps(raw))


def paris(day: int, hour: int, minute: int, start: datetime) -> datetime:
    """``hour:minute`` in Paris, ``day`` days after ``start``'s date in Paris."""
    local = start.astimezone(PARIS).date() + timedelta(days=day)
    return datetime.combine(local, time(hour, minute), tzinfo=PARIS)


async def test_a_csv_export_over_a_range_of_days_in_the_sessions_time_zone(
    api: Api, world: ApiWorld
) -> None:
    store, now = api.services.store, api.clock.now()
    # 00:30 in Paris is still the day before in UTC: it counts for its Paris day
    times = [paris(1, 0, 30, now), paris(1, 23, 59, now), paris(2, 0, 0, now), paris(3, 9, 0, now)]
    ids = [
        (await store.add_question(world.sid, incoming(10 + i), at=t))[0].id
        for i, t in enumerate(times)
    ]
    await checkpoint.write(api.services.redis, world.sid, Policy(every=1, keep=2))
    admin = bearer(world.tokens["admin"])
    day1 = times[0].date().isoformat()
    day2 = times[2].date().isoformat()
    url = f"/api/sessions/{world.sid}/export"
    r = await api.client.get(url, params={"format": "csv", "from": day1, "to": day2}, headers=admin)
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text.removeprefix("\ufeff"), newline="")))
    assert [row["question_id"] for row in rows] == ids[:2]
    md = await api.client.get(url, params={"format": "md", "from": day1, "to": day2}, headers=admin)
    assert md.status_code == 200 and "Questions: 2 received" in md.text


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"format": "csv", "from": "2025-12-02"}, "both from and to"),
        ({"format": "csv", "to": "2025-12-02"}, "both from and to"),
        ({"format": "csv", "from": "2025-12-02", "to": "2025-12-02"}, "ends after it starts"),
        ({"format": "csv", "from": "2024-01-01", "to": "2025-12-02"}, "366 days at most"),
        ({"format": "json", "from": "2025-12-01", "to": "2025-12-02"}, "no range"),
        ({"format": "csv", "from": "yesterday", "to": "2025-12-02"}, "date"),
    ],
)
async def test_a_bad_range_is_a_422_that_says_why(
    api: Api, world: ApiWorld, params: dict[str, str], says: str
) -> None:
    url = f"/api/sessions/{world.sid}/export"
    r = await api.client.get(url, params=params, headers=bearer(world.tokens["admin"]))
    assert r.status_code == 422
    assert says in r.text
