"""The automod endpoints: who may read and change a session's config, validation, dry run."""

from __future__ import annotations

from typing import Any

import pytest

from atexpert.web.auth import CSRF_HEADER
from tests.support.api_world import Api, ApiWorld, bearer

pytest_plugins = ("tests.support.api_world",)


def url(w: ApiWorld, tail: str = "") -> str:
    return f"/api/sessions/{w.sid}/automod{tail}"


async def get(w: ApiWorld, role: str, path: str = "") -> Any:
    return await w.api.client.get(url(w, path), headers=bearer(w.tokens[role]))


async def put(w: ApiWorld, role: str, body: Any, path: str = "") -> Any:
    return await w.api.client.put(url(w, path), json=body, headers=bearer(w.tokens[role]))


@pytest.mark.parametrize("role", ["moderator", "admin"])
async def test_defaults_until_set(world: ApiWorld, role: str) -> None:
    r = await get(world, role)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 0 and body["updated_by"] is None
    config = body["config"]
    assert config["profanity"] == ["fr", "en"] and config["link_only"] is True
    assert config["raid_mode"] is False and config["max_per_hour"] is None


@pytest.mark.parametrize(("role", "status"), [("expert", 403), ("outsider", 403)])
async def test_experts_and_outsiders_may_not_read_or_write(
    world: ApiWorld, role: str, status: int
) -> None:
    assert (await get(world, role)).status_code == status
    assert (await put(world, role, {"raid_mode": True})).status_code == status
    assert (await put(world, role, {"raid_mode": True}, "/raid")).status_code == status
    check = await world.api.client.post(
        url(world, "/check"), json={"text": "hi"}, headers=bearer(world.tokens[role])
    )
    assert check.status_code == status
    assert (await get(world, "admin")).json()["version"] == 0


async def test_anonymous_gets_401_and_unknown_session_404(world: ApiWorld) -> None:
    assert (await world.api.client.get(url(world))).status_code == 401
    r = await world.api.client.get(
        "/api/sessions/s_nope/automod", headers=bearer(world.tokens["admin"])
    )
    assert r.status_code == 404


async def test_moderator_replaces_the_config(world: ApiWorld) -> None:
    body = {"blocklist": ["Boeing"], "max_per_hour": 3, "trusted": ["@Airbus"], "shouting": True}
    r = await put(world, "moderator", body)
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["version"] == 1 and saved["updated_by"] == "moderator"
    assert saved["config"]["trusted"] == ["@airbus"] and saved["config"]["max_per_hour"] == 3
    assert (await get(world, "admin")).json() == saved
    # A PUT replaces everything: what is left out is back to its default.
    r = await put(world, "admin", {"raid_mode": True})
    assert r.json()["version"] == 2 and r.json()["config"]["blocklist"] == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"max_per_hour": -1}, ["body", "max_per_hour"]),
        ({"min_followers": -10}, ["body", "min_followers"]),
        ({"blocklist": ["ok", "!!!"]}, ["body", "blocklist", 1]),
        ({"trusted": ["a b"]}, ["body", "trusted", 0]),
        ({"profanity": ["es"]}, ["body", "profanity", 0]),
        ({"raid": True}, ["body", "raid"]),
        ({"actions": {"banned-author": "hold"}}, ["body", "actions"]),
        ({"trusted": ["@x"], "banned": ["x"]}, ["body"]),
        ([], ["body"]),
    ],
)
async def test_bad_config_is_a_422_with_the_field_and_nothing_changes(
    world: ApiWorld, body: Any, loc: list[Any]
) -> None:
    r = await put(world, "moderator", body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_input"
    assert loc in [d["loc"] for d in r.json()["detail"]]
    assert (await get(world, "moderator")).json()["version"] == 0


async def test_malformed_json_and_wrong_content_type(world: ApiWorld) -> None:
    headers = bearer(world.tokens["moderator"]) | {"content-type": "application/json"}
    r = await world.api.client.put(url(world), content=b"{raid", headers=headers)
    assert r.status_code == 400 and r.json()["error"] == "malformed_json"
    r = await world.api.client.put(
        url(world), content=b"raid", headers=bearer(world.tokens["moderator"])
    )
    assert r.status_code == 415


async def test_version_guard_refuses_a_stale_write(world: ApiWorld) -> None:
    r = await world.api.client.put(
        url(world) + "?version=0", json={"shouting": True}, headers=bearer(world.tokens["admin"])
    )
    assert r.status_code == 200 and r.json()["version"] == 1
    stale = await world.api.client.put(
        url(world) + "?version=0", json={"raid_mode": True}, headers=bearer(world.tokens["admin"])
    )
    assert stale.status_code == 409 and "version 0" in stale.json()["message"]
    assert (await get(world, "admin")).json()["config"]["shouting"] is True
    bad = await world.api.client.put(
        url(world) + "?version=-1", json={}, headers=bearer(world.tokens["admin"])
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "version"]


async def test_raid_switch_keeps_the_other_settings(world: ApiWorld) -> None:
    await put(world, "admin", {"blocklist": ["Boeing"], "min_followers": 5})
    r = await put(world, "moderator", {"raid_mode": True}, "/raid")
    assert r.status_code == 200, r.text
    config = r.json()["config"]
    assert config["raid_mode"] is True
    assert config["blocklist"] == ["Boeing"] and config["min_followers"] == 5
    r = await put(world, "moderator", {"raid_mode": False}, "/raid")
    assert r.json()["config"]["raid_mode"] is False and r.json()["version"] == 3
    assert (await put(world, "moderator", {"raid_mode": "maybe"}, "/raid")).status_code == 422


@pytest.mark.parametrize(
    ("text", "outcome", "rule"),
    [
        ("Quelle merde ce vol ? #AskAirbus", "reject", "profanity-fr"),
        ("What the f*ck #AskAirbus", "reject", "profanity-en"),
        ("Scunthorpe, c'est classe ? #AskAirbus", "none", None),
        ("https://t.co/promo #AskAirbus", "reject", "link-only"),
    ],
)
async def test_dry_run_check(world: ApiWorld, text: str, outcome: str, rule: str | None) -> None:
    r = await world.api.client.post(
        url(world, "/check"), json={"text": text}, headers=bearer(world.tokens["moderator"])
    )
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == outcome and r.json()["rule"] == rule
    if rule:
        hit = r.json()["hits"][0]
        assert hit["reason_fr"] and hit["reason_en"]


async def test_dry_run_with_the_stored_or_a_proposed_config(world: ApiWorld) -> None:
    await put(world, "admin", {"banned": ["@troll"]})
    body: dict[str, Any] = {"text": "Bonjour", "author": {"id": "9", "handle": "Troll"}}
    r = await world.api.client.post(
        url(world, "/check"), json=body, headers=bearer(world.tokens["moderator"])
    )
    assert r.json()["outcome"] == "reject" and r.json()["rule"] == "banned-author"
    body["config"] = {"trusted": ["9"]}
    r = await world.api.client.post(
        url(world, "/check"), json=body, headers=bearer(world.tokens["moderator"])
    )
    assert r.json()["outcome"] == "approve"
    body["config"] = {"max_per_hour": 0}
    r = await world.api.client.post(
        url(world, "/check"), json=body, headers=bearer(world.tokens["moderator"])
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:3] == [
        "body",
        "config",
        "max_per_hour",
    ]


async def test_cookie_login_needs_the_csrf_token(api: Api, world: ApiWorld) -> None:
    client, csrf = await api.login("moderator")
    r = await client.put(url(world), json={"raid_mode": True})
    assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
    r = await client.put(url(world), json={"raid_mode": True}, headers={CSRF_HEADER: csrf})
    assert r.status_code == 200 and r.json()["updated_by"] == "moderator"


async def test_endpoints_are_in_the_openapi_document(api: Api) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    assert {"get", "put"} <= set(paths["/api/sessions/{session_id}/automod"])
    assert "put" in paths["/api/sessions/{session_id}/automod/raid"]
    assert "post" in paths["/api/sessions/{session_id}/automod/check"]
