"""The host X account endpoints: the app on real Redis, X played by the emulator over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import redis.asyncio as aioredis

from atexpert.app import create_app
from atexpert.auth import CSRF_HEADER
from atexpert.clock import ManualClock
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from atexpert.x_accounts import XAccountStore
from tests.test_api_support import BASE, FAST_HASHER, PASSWORD, Api, bearer
from tests.test_x_accounts import (
    authorize_in_browser,
    brand,
    control,
    emulator_settings,
    query_of,
    server,
)

__all__ = ["brand", "control", "server"]  # fixtures shared with test_x_accounts


@pytest.fixture
async def api(
    redis_standalone: aioredis.Redis, server: EmulatorServer, control: EmulatorControl
) -> AsyncIterator[Api]:
    settings = emulator_settings(
        server, control, public_base_url=BASE, secret_key="test-secret-key-" + "x" * 32
    )
    clock = ManualClock(datetime.now(UTC))
    app = create_app(
        settings,
        redis=redis_standalone,
        clock=clock,
        password_hasher=FAST_HASHER,
        run_scheduler=False,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            api = Api(app, client, clock)
            yield api
            for other in api.others:
                await other.aclose()


@pytest.fixture
async def admin(api: Api) -> dict[str, str]:
    _, token = await api.user("root", admin=True)
    return bearer(token)


def store(api: Api) -> XAccountStore:
    s = api.services
    return XAccountStore(s.redis, s.settings, api.clock)


async def start(api: Api, admin: dict[str, str], body: object = None) -> str:
    r = await api.client.post("/api/x/connect", json=body or {}, headers=admin)
    assert r.status_code == 200, r.text
    url: str = r.json()["authorize_url"]
    return url


async def test_connect_through_x_then_list_without_tokens(
    api: Api, admin: dict[str, str], brand: AccountTokens
) -> None:
    url = await start(api, admin, {"handle": "@Airbus"})
    location = await authorize_in_browser(url, "Airbus")
    assert location.startswith(BASE + "/api/x/callback?")
    # X redirects the browser: a cross-site navigation, so no login cookie comes along.
    browser = api.new_client()
    r = await browser.get(location)
    assert r.status_code == 303 and r.headers["location"] == "/admin?x_connected=Airbus"

    r = await api.client.get("/api/x/accounts", headers=admin)
    assert r.status_code == 200
    (listed,) = r.json()
    assert listed["handle"] == "Airbus" and listed["user_id"] == brand.id
    assert listed["connected_by"] == "root" and listed["expires_at"]
    assert listed["needs_reconnect"] is False
    token = await store(api).user_token("Airbus")
    assert token not in r.text and "token" not in r.text

    again = await browser.get(location)  # the same redirect replayed
    assert again.status_code == 400
    assert again.json()["error"] == "oauth_failed"
    assert "already used" in again.json()["message"]


async def test_callback_errors_are_clear_400s(
    api: Api, admin: dict[str, str], brand: AccountTokens
) -> None:
    browser = api.new_client()
    r = await browser.get("/api/x/callback", params={"state": "made-up", "code": "abc"})
    assert r.status_code == 400 and "start connecting again" in r.json()["message"]
    r = await browser.get("/api/x/callback", params={"code": "abc"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "state"]

    url = await start(api, admin)
    location = await authorize_in_browser(url, "Airbus", decision="deny")
    r = await browser.get(location)
    assert r.status_code == 400 and "access_denied" in r.json()["message"]
    r = await browser.get(
        "/api/x/callback", params={"state": query_of(location)["state"], "code": "x"}
    )
    assert r.status_code == 400 and "already used" in r.json()["message"]  # denied = spent

    url = await start(api, admin, {"handle": "Airbus"})
    r = await browser.get(await authorize_in_browser(url, "someone_else"))
    assert r.status_code == 400 and "not @Airbus" in r.json()["message"]
    assert (await api.client.get("/api/x/accounts", headers=admin)).json() == []

    r = await api.client.post("/api/x/connect", json={"handle": "not a handle"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "handle"]


async def test_only_admins(api: Api, admin: dict[str, str], brand: AccountTokens) -> None:
    await store(api).put_tokens("Airbus", brand.id, brand.oauth2_access_token, None)
    _, token = await api.user("mia")
    mia = bearer(token)
    for method, path in [
        ("POST", "/api/x/connect"),
        ("GET", "/api/x/accounts"),
        ("DELETE", "/api/x/accounts/Airbus"),
    ]:
        r = await api.client.request(method, path, json={}, headers=mia)
        assert r.status_code == 403, (method, path, r.text)
        assert "only an admin" in r.json()["message"]
        anonymous = await api.client.request(method, path, json={})
        assert anonymous.status_code == 401
    assert await store(api).user_token("Airbus") == brand.oauth2_access_token


async def test_cookie_login_needs_csrf(api: Api, admin: dict[str, str]) -> None:
    client = api.new_client()
    r = await client.post("/api/login", json={"username": "root", "password": PASSWORD})
    csrf = r.json()["csrf_token"]
    r = await client.post("/api/x/connect", json={})
    assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
    r = await client.post("/api/x/connect", json={}, headers={CSRF_HEADER: csrf})
    assert r.status_code == 200 and "code_challenge=" in r.json()["authorize_url"]


async def test_disconnect(api: Api, admin: dict[str, str], brand: AccountTokens) -> None:
    await store(api).put_tokens("Airbus", brand.id, brand.oauth2_access_token, None)
    r = await api.client.delete("/api/x/accounts/@airbus", headers=admin)
    assert r.status_code == 204
    assert (await api.client.get("/api/x/accounts", headers=admin)).json() == []
    r = await api.client.delete("/api/x/accounts/Airbus", headers=admin)
    assert r.status_code == 404
    assert r.json()["message"].startswith("host account @Airbus is not connected")
    r = await api.client.delete("/api/x/accounts/bad%20handle!", headers=admin)
    assert r.status_code == 422
