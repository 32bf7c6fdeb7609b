"""Login cookies, CSRF, bearer tokens: what a browser or a script sees."""

from __future__ import annotations

from datetime import timedelta

import httpx

from atexpert.web.auth import COOKIE_NAME, CSRF_HEADER
from tests.support.api_world import PASSWORD, Api, bearer

pytest_plugins = ("tests.support.api_world",)

NEW_TOKEN = {"name": "ci"}


async def test_login_sets_a_hardened_cookie_and_returns_csrf(api: Api) -> None:
    await api.user("alice")
    r = await api.client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200
    assert r.json()["user"]["username"] == "alice" and r.json()["csrf_token"]
    assert "password_hash" not in r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(COOKIE_NAME + "=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered
    assert "secure" not in lowered  # plain http in tests
    me = await api.client.get("/api/me")
    assert me.status_code == 200
    assert me.json()["auth"] == "cookie" and me.json()["csrf_token"] == r.json()["csrf_token"]


async def test_cookie_is_secure_over_https(api: Api) -> None:
    await api.user("alice")
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        r = await c.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert "secure" in r.headers["set-cookie"].lower()


async def test_cookie_is_secure_behind_a_tls_proxy(api: Api) -> None:
    """Plain http to the app, but the public URL is https (TLS ends at a proxy)."""
    await api.user("alice")
    services = api.services
    services.settings = services.settings.model_copy(
        update={"public_base_url": "https://ama.example"}
    )
    r = await api.client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert "secure" in r.headers["set-cookie"].lower()


async def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    await api.user("alice")
    for username, password in (("alice", "wrong-password"), ("nobody", PASSWORD)):
        r = await api.client.post("/api/login", json={"username": username, "password": password})
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_credentials"
        assert "set-cookie" not in r.headers


async def test_state_change_by_cookie_needs_the_csrf_header(api: Api) -> None:
    await api.user("alice")
    client, csrf = await api.login("alice")
    r = await client.post("/api/me/tokens", json=NEW_TOKEN)
    assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
    r = await client.post("/api/me/tokens", json=NEW_TOKEN, headers={CSRF_HEADER: "bogus"})
    assert r.status_code == 403
    r = await client.post("/api/me/tokens", json=NEW_TOKEN, headers={CSRF_HEADER: csrf})
    assert r.status_code == 201
    # Reads need no CSRF token.
    assert (await client.get("/api/me/tokens")).status_code == 200


async def test_csrf_token_of_another_login_is_refused(api: Api) -> None:
    await api.user("alice")
    first, _ = await api.login("alice")
    _, csrf2 = await api.login("alice")
    r = await first.post("/api/me/tokens", json=NEW_TOKEN, headers={CSRF_HEADER: csrf2})
    assert r.status_code == 403


async def test_bearer_needs_no_csrf(api: Api) -> None:
    _, token = await api.user("bot")
    r = await api.client.post("/api/me/tokens", json=NEW_TOKEN, headers=bearer(token))
    assert r.status_code == 201
    assert (await api.client.get("/api/me", headers=bearer(token))).json()["auth"] == "token"


async def test_bad_and_revoked_tokens_are_refused(api: Api) -> None:
    _, token = await api.user("bot")
    for header in ("Bearer atx_nonsense", "Bearer ", "Basic Ym90OnB3", token):
        r = await api.client.get("/api/me", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.json()["error"] == "invalid_token"
        assert r.headers["www-authenticate"].startswith("Bearer")
    made = await api.client.post("/api/me/tokens", json=NEW_TOKEN, headers=bearer(token))
    secret, token_id = made.json()["secret"], made.json()["token"]["id"]
    assert (await api.client.get("/api/me", headers=bearer(secret))).status_code == 200
    listed = await api.client.get("/api/me/tokens", headers=bearer(token))
    assert token_id in {t["id"] for t in listed.json()} and secret not in listed.text
    r = await api.client.delete(f"/api/me/tokens/{token_id}", headers=bearer(token))
    assert r.status_code == 204
    r = await api.client.get("/api/me", headers=bearer(secret))
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


async def test_tokens_of_others_cannot_be_revoked(api: Api) -> None:
    _, alice = await api.user("alice")
    _, bob = await api.user("bob")
    made = await api.client.post("/api/me/tokens", json=NEW_TOKEN, headers=bearer(alice))
    token_id = made.json()["token"]["id"]
    r = await api.client.delete(f"/api/me/tokens/{token_id}", headers=bearer(bob))
    assert r.status_code == 404
    assert (await api.client.get("/api/me", headers=bearer(made.json()["secret"]))).is_success


async def test_tampered_cookie_is_refused(api: Api) -> None:
    await api.user("alice")
    client, _ = await api.login("alice")
    value = client.cookies[COOKIE_NAME]
    forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    for bad in (forged, "garbage", ""):
        client.cookies.set(COOKIE_NAME, bad)
        r = await client.get("/api/me")
        assert r.status_code == 401, bad
        assert r.json()["error"] == "invalid_session"


async def test_cookie_signed_with_another_key_is_refused(api: Api) -> None:
    from itsdangerous import URLSafeTimedSerializer

    await api.user("alice")
    client, _ = await api.login("alice")
    other = URLSafeTimedSerializer("another-key", salt="atexpert.login").dumps("whatever")
    client.cookies.set(COOKIE_NAME, other)
    assert (await client.get("/api/me")).status_code == 401


async def test_logout_ends_the_session(api: Api) -> None:
    await api.user("alice")
    client, csrf = await api.login("alice")
    stolen = client.cookies[COOKIE_NAME]
    r = await client.post("/api/logout", headers={CSRF_HEADER: csrf})
    assert r.status_code == 204
    assert COOKIE_NAME not in client.cookies
    # Replaying the old cookie does not work either: the session is gone server-side.
    replay = api.new_client(cookies={COOKIE_NAME: stolen})
    assert (await replay.get("/api/me")).status_code == 401


async def test_login_session_expires(api: Api) -> None:
    await api.user("alice")
    client, _ = await api.login("alice")
    api.clock.advance(timedelta(hours=13))
    r = await client.get("/api/me")
    assert r.status_code == 401 and r.json()["error"] == "invalid_session"


async def test_anonymous_gets_401_with_a_clear_error(api: Api) -> None:
    r = await api.client.get("/api/sessions")
    assert r.status_code == 401
    assert r.json() == {"error": "not_authenticated", "message": "log in or send an API token"}


async def test_admin_creates_users_and_duplicates_conflict(api: Api) -> None:
    _, admin = await api.user("root", admin=True)
    body = {"username": "Mia", "password": "long-enough-passphrase", "display_name": "Mia M."}
    r = await api.client.post("/api/users", json=body, headers=bearer(admin))
    assert r.status_code == 201 and r.json()["username"] == "mia"
    r = await api.client.post("/api/users", json=body, headers=bearer(admin))
    assert r.status_code == 409 and "taken" in r.json()["message"]
    r = await api.client.post(
        "/api/login", json={"username": "mia", "password": "long-enough-passphrase"}
    )
    assert r.status_code == 200
    users = await api.client.get("/api/users", headers=bearer(admin))
    assert [u["username"] for u in users.json()] == ["mia", "root"]


async def test_change_password(api: Api) -> None:
    _, token = await api.user("alice")
    body = {"current_password": PASSWORD, "new_password": "brand-new-pw"}
    r = await api.client.post("/api/me/password", json=body, headers=bearer(token))
    assert r.status_code == 204
    old = await api.client.post("/api/login", json={"username": "alice", "password": PASSWORD})
    assert old.status_code == 401
    new = await api.client.post(
        "/api/login", json={"username": "alice", "password": "brand-new-pw"}
    )
    assert new.status_code == 200
    short = {"current_password": "brand-new-pw", "new_password": "short"}
    r = await api.client.post("/api/me/password", json=short, headers=bearer(token))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "new_password"]
