"""The host X account endpoints: the app on real Redis, X played by the emulator over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from atexpert.cli.demo import seed_demo
from atexpert.domain.clock import ManualClock
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from atexpert.emulator.demo import demo_emulator
from atexpert.settings import Settings
from atexpert.web.app import create_app
from atexpert.web.auth import CSRF_HEADER
from atexpert.x.accounts import XAccountStore
from tests.support.api_world import BASE, FAST_HASHER, PASSWORD, Api, bearer
from tests.support.emulator_fixtures import control, server
from tests.support.x_oauth import authorize_in_browser, brand, emulator_settings, query_of

__all__ = ["brand", "control", "server"]  # fixtures the tests here use


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

    assert listed["name"] == "Airbus"

    again = await browser.get(location)  # the same redirect replayed
    assert "already used" in admin_error(again)


def admin_error(r: httpx.Response) -> str:
    """The reason the callback sends the admin's browser back to the admin page with."""
    assert r.status_code == 303, r.text
    location = httpx.URL(r.headers["location"])
    assert location.path == "/admin" and set(location.params) == {"x_error"}
    return location.params["x_error"]


async def test_callback_errors_send_the_admin_back_with_the_reason(
    api: Api, admin: dict[str, str], brand: AccountTokens
) -> None:
    browser = api.new_client()
    r = await browser.get("/api/x/callback", params={"state": "made-up", "code": "abc"})
    assert "start connecting again" in admin_error(r)
    r = await browser.get("/api/x/callback", params={"state": "made-up"})
    assert "no authorization code" in admin_error(r)
    # Not a redirect from X at all: a plain 422 with the field.
    r = await browser.get("/api/x/callback", params={"code": "abc"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "state"]

    url = await start(api, admin)
    location = await authorize_in_browser(url, "Airbus", decision="deny")
    r = await browser.get(location)
    assert admin_error(r) == "it was not authorized on X (access_denied)"
    r = await browser.get(
        "/api/x/callback", params={"state": query_of(location)["state"], "code": "x"}
    )
    assert "already used" in admin_error(r)  # denied = spent

    url = await start(api, admin, {"handle": "Airbus"})
    r = await browser.get(await authorize_in_browser(url, "someone_else"))
    assert "not @Airbus" in admin_error(r)
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


async def test_the_demo_shows_airbus_connected_and_connects_through_its_emulator(
    redis_standalone: aioredis.Redis, tmp_path: Path
) -> None:
    """``atexpert demo``'s settings (its emulator's OAuth client, the served address as the
    callback's): @Airbus is connected from the start, and connecting works end to end."""
    demo = Settings(
        data_dir=tmp_path,
        public_base_url=BASE,
        secret_key=SecretStr("test-secret-key-" + "x" * 32),
    )
    async with demo_emulator(demo) as settings:
        seed = await seed_demo(settings, redis_standalone, datetime.now(UTC))
        app = create_app(settings, redis=redis_standalone, run_scheduler=False)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as admin_page:
                login = {"username": "admin", "password": seed.logins["admin"]}
                r = await admin_page.post("/api/login", json=login)
                csrf = {CSRF_HEADER: r.json()["csrf_token"]}
                (listed,) = (await admin_page.get("/api/x/accounts")).json()
                assert (listed["handle"], listed["name"], listed["connected_by"]) == (
                    "Airbus",
                    "Airbus",
                    "admin",
                )
                assert "offline.access" in listed["scopes"] and not listed["needs_reconnect"]

                r = await admin_page.post(
                    "/api/x/connect", json={"handle": "@Airbus"}, headers=csrf
                )
                location = await authorize_in_browser(r.json()["authorize_url"], "Airbus")
                assert location.startswith(BASE + "/api/x/callback?")
                r = await admin_page.get(location)
                assert r.headers["location"] == "/admin?x_connected=Airbus"
