"""The app's own routes: health, readiness, OpenAPI, JSON errors for unknown routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import redis.asyncio as aioredis
from openapi_spec_validator import validate
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.routing import Route, WebSocketRoute

from atexpert.domain.clock import ManualClock
from atexpert.domain.sessions import SessionFields, SessionStatus
from atexpert.web.api_routing import Services
from atexpert.web.app import DOCUMENTED_ELSEWHERE, ENDPOINTS, create_app
from atexpert.web.auth import CSRF_HEADER
from tests.support.api_world import FAST_HASHER, PASSWORD, T0, Api, session_body, settings

pytest_plugins = ("tests.support.api_world",)


async def test_healthz_and_readyz(api: Api) -> None:
    r = await api.client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await api.client.get("/readyz")
    assert r.status_code == 200 and r.json()["redis"] == "ok"


async def test_readyz_503_when_redis_is_gone(api: Api) -> None:
    # A client pointing at a port where nothing listens stands for a dead Redis.
    dead = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    app = create_app(settings(), redis=dead, run_scheduler=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get("/readyz")
            assert r.status_code == 503
            assert (await client.get("/healthz")).status_code == 200
            r = await client.get("/api/me", headers={"Authorization": "Bearer atx_x"})
            assert r.status_code == 503 and r.json()["error"] == "unavailable"
            assert r.headers["retry-after"]
    await dead.aclose()


async def test_index_live_route_and_consoles(api: Api) -> None:
    r = await api.client.get("/")
    assert r.status_code == 200 and r.json()["openapi"] == "/openapi.json"
    ws = [route.path for route in api.app.routes if isinstance(route, WebSocketRoute)]
    assert ws == ["/ws/sessions/{session_id}/{role}"]
    assert api.app.state.live_hub is not None
    page = await api.client.get("/login")  # the consoles are mounted too
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


async def test_unknown_route_and_method_are_json(api: Api) -> None:
    r = await api.client.get("/api/nope")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await api.client.put("/api/me")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


async def test_openapi_is_valid_and_lists_every_route(api: Api) -> None:
    r = await api.client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    listed = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routes = {
        (route.path, method)
        for route in api.app.routes
        if isinstance(route, Route) and route.path.startswith("/api/")
        for method in (route.methods or ()) - {"HEAD"}
    }
    assert routes and routes == listed
    op_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(op_ids) == len(set(op_ids))
    documented = [*ENDPOINTS, *DOCUMENTED_ELSEWHERE]
    public = {(ep.path, ep.method.lower()) for ep in documented if ep.public}
    assert ("/api/login", "post") in public
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"] and op["responses"], path
            if (path, method) in public:
                assert op["security"] == []
            else:
                csrf = {"csrfToken": []} if method != "get" else {}
                assert op["security"] == [{"cookieAuth": [], **csrf}, {"bearerAuth": []}]
    schemes = doc["components"]["securitySchemes"]
    assert {"cookieAuth", "bearerAuth"} <= set(schemes)
    login = doc["paths"]["/api/login"]["post"]
    assert login["security"] == []
    ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
    create = doc["paths"]["/api/sessions"]["post"]
    assert "422" in create["responses"] and "201" in create["responses"]


async def test_lifespan_runs_the_scheduler(redis_standalone: aioredis.Redis) -> None:
    """With the scheduler on, a scheduled session goes live once its start time comes."""
    clock = ManualClock(T0)
    app = create_app(settings(), redis=redis_standalone, clock=clock, password_hasher=FAST_HASHER)
    async with app.router.lifespan_context(app):
        store = app.state.services.store
        fields = SessionFields.model_validate(session_body())
        session = await store.create_session(fields, actor="admin", at=T0)
        await store.schedule_session(session.id, actor="admin", at=T0)
        clock.advance(timedelta(hours=1, seconds=1))
        deadline = asyncio.get_running_loop().time() + 10
        while (await store.get_session(session.id)).status is not SessionStatus.LIVE:
            assert asyncio.get_running_loop().time() < deadline, "the scheduler never started it"
            await asyncio.sleep(0.05)
        holder = app.state.scheduler.lease.holder_key
        assert await redis_standalone.get(holder) is not None
    # Leaving the lifespan stopped the scheduler and released its lease.
    assert await redis_standalone.get(holder) is None


async def test_app_on_redis_cluster(redis_cluster: RedisCluster) -> None:
    """Staff, sessions and questions work unchanged on a Redis Cluster."""
    app = create_app(
        settings(), redis=redis_cluster, password_hasher=FAST_HASHER, run_scheduler=False
    )
    async with app.router.lifespan_context(app):
        staff = app.state.services.staff
        await staff.create_user("root", PASSWORD, is_admin=True)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.post("/api/login", json={"username": "root", "password": PASSWORD})
            csrf = {CSRF_HEADER: r.json()["csrf_token"]}
            r = await client.post("/api/sessions", json=session_body(), headers=csrf)
            assert r.status_code == 201, r.text
            sid = r.json()["id"]
            assert [s["id"] for s in (await client.get("/api/sessions")).json()] == [sid]
            assert (await client.get("/readyz")).status_code == 200


async def test_lifespan_hooks_run_with_the_app(redis_standalone: aioredis.Redis) -> None:
    seen: list[str] = []

    @asynccontextmanager
    async def worker(services: Services) -> AsyncIterator[None]:
        seen.append("start" if await services.redis.ping() else "no redis")
        yield
        seen.append("stop")

    app = create_app(
        settings(), redis=redis_standalone, run_scheduler=False, lifespan_hooks=[worker]
    )
    async with app.router.lifespan_context(app):
        assert seen == ["start"]
    assert seen == ["start", "stop"]
