"""The intake and cost endpoints through the app (real Redis, ASGI transport)."""

from __future__ import annotations

import pytest

from atexpert.domain.costs import CallKind
from atexpert.store.intake_state import IntakeStore
from atexpert.x.meter import Meter
from tests.support.api_world import Api, ApiWorld, bearer

pytest_plugins = ("tests.support.api_world",)


@pytest.fixture
def mounted(world: ApiWorld) -> ApiWorld:
    return world


def _as(w: ApiWorld, role: str) -> dict[str, str]:
    return bearer(w.tokens[role])


async def test_status_mode_and_counters(mounted: ApiWorld) -> None:
    w, client = mounted, mounted.api.client
    r = await client.get(f"/api/sessions/{w.sid}/intake", headers=_as(w, "moderator"))
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == "mentions" and r.json()["state"] == "idle"
    state = IntakeStore(w.api.services.redis)
    await state.count(w.sid, {"received": 3, "retweet": 1})
    await state.set_status(w.sid, state="backoff", last_error="user_mentions: 503")
    r = await client.put(
        f"/api/sessions/{w.sid}/intake/mode", json={"mode": "stream"}, headers=_as(w, "admin")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "stream" and body["state"] == "backoff"
    assert body["counters"] == {"received": 3, "retweet": 1}
    assert body["last_error"] == "user_mentions: 503"


@pytest.mark.parametrize(
    "body",
    [{"mode": "firehose"}, {}, {"mode": "stream", "extra": 1}, {"mode": None}],
)
async def test_bad_mode_is_a_422_with_field_details(mounted: ApiWorld, body: object) -> None:
    r = await mounted.api.client.put(
        f"/api/sessions/{mounted.sid}/intake/mode", json=body, headers=_as(mounted, "admin")
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][0] == "body"


async def test_budget_and_spend(mounted: ApiWorld) -> None:
    w, client = mounted, mounted.api.client
    meter = Meter(w.api.services.redis)
    await meter.record(w.sid, CallKind.OWN_MENTIONS_READ, 40)
    await meter.record(w.sid, CallKind.SEARCH_READ, 2)
    r = await client.put(
        f"/api/sessions/{w.sid}/budget", json={"budget_usd": "0.25"}, headers=_as(w, "admin")
    )
    assert r.status_code == 200, r.text
    assert r.json()["budget_usd"] == "0.25"
    r = await client.get(f"/api/sessions/{w.sid}/spend", headers=_as(w, "expert"))
    body = r.json()
    assert body["total_usd"] == "0.05"
    assert body["counts"] == {"own_mentions_read": 40, "search_read": 2}
    assert body["remaining_usd"] == "0.20"
    r = await client.put(
        f"/api/sessions/{w.sid}/budget", json={"budget_usd": None}, headers=_as(w, "admin")
    )
    assert r.json()["budget_usd"] is None and r.json()["remaining_usd"] is None


@pytest.mark.parametrize("value", [-1, "abc", "0.0000001", 10**9, [1]])
async def test_bad_budget_is_a_422(mounted: ApiWorld, value: object) -> None:
    r = await mounted.api.client.put(
        f"/api/sessions/{mounted.sid}/budget",
        json={"budget_usd": value},
        headers=_as(mounted, "admin"),
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][:2] == ["body", "budget_usd"]


async def test_invalid_json_body_is_a_4xx(mounted: ApiWorld) -> None:
    r = await mounted.api.client.put(
        f"/api/sessions/{mounted.sid}/budget",
        content=b'{"budget_usd": ',
        headers={**_as(mounted, "admin"), "content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500


async def test_who_may_see_and_change(mounted: ApiWorld) -> None:
    w, client = mounted, mounted.api.client
    assert (await client.get(f"/api/sessions/{w.sid}/intake")).status_code == 401
    r = await client.get(f"/api/sessions/{w.sid}/spend", headers=_as(w, "outsider"))
    assert r.status_code in (403, 404)
    r = await client.put(
        f"/api/sessions/{w.sid}/budget", json={"budget_usd": 1}, headers=_as(w, "moderator")
    )
    assert r.status_code == 403
    r = await client.get("/api/sessions/s_nope/intake", headers=_as(w, "admin"))
    assert r.status_code == 404


async def test_x_limits(mounted: ApiWorld, api: Api) -> None:
    meter = Meter(api.services.redis)
    await meter.note_limits(
        "create_tweet",
        {
            "x-rate-limit-limit": "200",
            "x-rate-limit-remaining": "199",
            "x-rate-limit-reset": "9999999999",
            "x-user-limit-24hour-limit": "100",
            "x-user-limit-24hour-remaining": "97",
            "x-user-limit-24hour-reset": "9999999999",
        },
    )
    r = await api.client.get("/api/x/limits", headers=_as(mounted, "admin"))
    assert r.status_code == 200, r.text
    [limits] = r.json()
    assert limits["endpoint"] == "create_tweet"
    assert limits["remaining"] == 199 and limits["user_24h_remaining"] == 97
    r = await api.client.get("/api/x/limits", headers=_as(mounted, "moderator"))
    assert r.status_code == 403
