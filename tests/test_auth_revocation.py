"""A password change or reset ends login sessions (and, on request, API tokens); staff users
are disabled, enabled and deleted, the event logs keeping who did what."""

from __future__ import annotations

import httpx

from atexpert.web.auth import CSRF_HEADER
from tests.support.api_world import PASSWORD, Api, bearer, session_body

pytest_plugins = ("tests.support.api_world",)

NEW_PASSWORD = "a brand new passphrase"


async def works(client: httpx.AsyncClient, **headers: str) -> bool:
    r = await client.get("/api/me", headers=headers)
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


async def test_changing_ones_password_ends_the_other_logins_and_keeps_this_one(api: Api) -> None:
    _, token = await api.user("alice")
    here, csrf = await api.login("alice")
    elsewhere, _ = await api.login("alice")
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    r = await here.post("/api/me/password", json=body, headers={CSRF_HEADER: csrf})
    assert r.status_code == 204, r.text
    assert await works(here)
    assert not await works(elsewhere)
    assert await works(api.client, **bearer(token))  # tokens stay unless asked

    again = {"current_password": NEW_PASSWORD, "new_password": PASSWORD, "revoke_tokens": True}
    r = await here.post("/api/me/password", json=again, headers={CSRF_HEADER: csrf})
    assert r.status_code == 204, r.text
    assert await works(here)
    assert not await works(api.client, **bearer(token))


async def test_an_admin_reset_ends_every_login_and_optionally_the_tokens(api: Api) -> None:
    _, root = await api.user("root", admin=True)
    alice, token = await api.user("alice")
    _, mia = await api.user("mia")
    logged_in, _ = await api.login("alice")
    path = f"/api/users/{alice.id}/password"
    body = {"new_password": NEW_PASSWORD}
    assert (await api.client.post(path, json=body, headers=bearer(mia))).status_code == 403
    r = await api.client.post(path, json=body, headers=bearer(root))
    assert r.status_code == 204, r.text
    assert not await works(logged_in)
    assert await works(api.client, **bearer(token))
    login = {"username": "alice", "password": NEW_PASSWORD}
    assert (await api.client.post("/api/login", json=login)).status_code == 200

    r = await api.client.post(path, json={**body, "revoke_tokens": True}, headers=bearer(root))
    assert r.status_code == 204
    assert not await works(api.client, **bearer(token))
    for unknown in ("nobody", "x" * 100):
        r = await api.client.post(f"/api/users/{unknown}/password", json=body, headers=bearer(root))
        assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_a_disabled_user_can_not_log_in_nor_use_tokens_until_enabled(api: Api) -> None:
    _, root = await api.user("root", admin=True)
    alice, token = await api.user("alice")
    logged_in, _ = await api.login("alice")
    r = await api.client.post(f"/api/users/{alice.id}/disable", headers=bearer(root))
    assert r.status_code == 200 and r.json()["disabled"] is True
    assert not await works(logged_in)
    assert not await works(api.client, **bearer(token))
    right = {"username": "alice", "password": PASSWORD}
    r = await api.client.post("/api/login", json=right)
    assert r.status_code == 403 and r.json()["error"] == "account_disabled"
    wrong = await api.client.post("/api/login", json={**right, "password": "not it at all"})
    assert wrong.status_code == 401  # no hint without the right password
    listed = (await api.client.get("/api/users", headers=bearer(root))).json()
    assert [u["disabled"] for u in listed if u["username"] == "alice"] == [True]

    r = await api.client.post(f"/api/users/{alice.id}/enable", headers=bearer(root))
    assert r.status_code == 200 and r.json()["disabled"] is False
    assert await works(api.client, **bearer(token))
    assert (await api.client.post("/api/login", json=right)).status_code == 200


async def test_a_deleted_user_is_gone_but_the_event_logs_keep_their_name(api: Api) -> None:
    _, root = await api.user("root", admin=True)
    alice, token = await api.user("alice", admin=True)
    r = await api.client.post("/api/sessions", json=session_body(), headers=bearer(token))
    assert r.status_code == 201, r.text
    session_id = r.json()["id"]
    assert (
        await api.client.delete(f"/api/users/{alice.id}", headers=bearer(root))
    ).status_code == 204

    assert not await works(api.client, **bearer(token))
    login = await api.client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 401
    listed = (await api.client.get("/api/users", headers=bearer(root))).json()
    assert [u["username"] for u in listed] == ["root"]
    for method, path in [
        ("DELETE", f"/api/users/{alice.id}"),
        ("POST", f"/api/users/{alice.id}/enable"),
    ]:
        r = await api.client.request(method, path, headers=bearer(root))
        assert r.status_code == 404
    again = {"username": "alice", "password": PASSWORD + "-2"}
    r = await api.client.post("/api/users", json=again, headers=bearer(root))
    assert r.status_code == 409  # the name stays hers in the logs
    [created, *_] = await api.services.store.read_events(session_id)
    assert created.actor == "alice"


async def test_the_last_active_admin_can_not_be_disabled_or_deleted(api: Api) -> None:
    root, root_token = await api.user("root", admin=True)
    for method, path in [
        ("POST", f"/api/users/{root.id}/disable"),
        ("DELETE", f"/api/users/{root.id}"),
    ]:
        r = await api.client.request(method, path, headers=bearer(root_token))
        assert r.status_code == 409 and "active admin" in r.json()["message"]
    ada, ada_token = await api.user("ada", admin=True)
    r = await api.client.post(f"/api/users/{root.id}/disable", headers=bearer(ada_token))
    assert r.status_code == 200
    r = await api.client.delete(f"/api/users/{ada.id}", headers=bearer(ada_token))
    assert r.status_code == 409
