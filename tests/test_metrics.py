"""``GET /metrics``: after real traffic through uvicorn (HTTP, a websocket, a question taken
in from the X emulator, a 3-part thread published to it), parsed with prometheus_client's
own parser; and who may read it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr
from starlette.applications import Starlette
from websockets.asyncio.client import connect

from atexpert.domain.answers import AnswerDraft, AnswerStatus
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.web.app import create_app
from tests.support import emulator_fixtures
from tests.support.api_world import bearer, settings
from tests.support.app_server import AppServer
from tests.support.observed_app import label_values, observed_app, scrape, value
from tests.support.publish_world import LONG_ANSWER
from tests.support.waiting import wait_for

server, control = emulator_fixtures.server, emulator_fixtures.control


async def test_metrics_after_traffic(
    server: EmulatorServer,
    control: EmulatorControl,
    redis_url: str,
    redis_standalone: aioredis.Redis,
) -> None:
    world = await observed_app(server, control, redis_url, redis_standalone)
    sid, auth = world.session_id, bearer(world.token)
    with AppServer(world.app) as app:
        base = f"http://127.0.0.1:{app.port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            before = await scrape(client)
            ws = await connect(app.url(f"/ws/sessions/{sid}/public"))
            assert json.loads(await ws.recv())["type"] == "snapshot"
            tweet = control.post("fan_1", "@Airbus #AskAirbus why is the A350 cabin so quiet?")

            async def question_id() -> str | None:
                r = await client.get(f"/api/sessions/{sid}/questions", headers=auth)
                assert r.status_code == 200, r.text
                found = [q["id"] for q in r.json() if q["tweet_id"] == tweet]
                return found[0] if found else None

            await wait_for(question_id)
            qid = await question_id()
            assert qid is not None
            await world.store.approve_question(sid, qid, actor="mod")
            draft = AnswerDraft(question_ids=[qid], text=LONG_ANSWER)
            answer = await world.store.create_answer(sid, draft, expert_id="expert")
            await world.store.submit_answer(sid, answer.id, actor="expert")

            async def published() -> bool:
                done = await world.store.get_answer(sid, answer.id)
                return done.status is AnswerStatus.PUBLISHED

            await wait_for(published, timeout=30)
            r = await client.get("/no/such/page", headers={"X-Request-ID": "trace-42"})
            assert r.status_code == 404 and r.headers["x-request-id"] == "trace-42"
            assert len(r.headers["x-request-id"]) > 0
            await wait_for(lambda: app.app.state.live_hub.feeds[sid].subscribers)
            after = await scrape(client)
            await ws.close()

            def delta(sample: str, **labels: str) -> float:
                return value(after, sample, **labels) - value(before, sample, **labels)

            route = "/api/sessions/{session_id}/questions"
            assert delta("atexpert_http_requests_total", route=route, status="200") >= 1
            assert delta("atexpert_http_requests_total", route="unmatched", status="404") == 1
            assert sid not in {s.labels.get("route") for s in after["atexpert_http_requests"]}
            assert value(after, "atexpert_websocket_connections", role="public") >= 1
            assert delta("atexpert_live_events_total") >= 5  # question, moderation, answer...
            assert delta("atexpert_live_frames_total") >= 1
            assert delta("atexpert_intake_posts_total", outcome="received") == 1
            assert delta("atexpert_intake_lag_seconds_count") == 1
            assert delta("atexpert_publish_parts_total") == 3
            assert "atexpert_publish_failures" in after
            assert {"user_mentions", "create_tweet"} <= label_values(
                after["atexpert_x_calls"], "endpoint"
            )
            # the first part replies to the fan who mentioned us: a summoned reply
            assert delta("atexpert_x_billed_units_total", kind="summoned_reply") == 1
            assert delta("atexpert_x_billed_units_total", kind="post") == 2
            assert delta("atexpert_x_spend_usd_total", kind="post") == pytest.approx(0.03)
            assert delta("atexpert_x_spend_usd_total", kind="own_mentions_read") == pytest.approx(
                0.001
            )
            assert value(after, "atexpert_redis_ping_seconds_count") >= 1

            async def closed() -> bool:
                now = await scrape(client)
                return value(now, "atexpert_websocket_connections", role="public") == value(
                    before, "atexpert_websocket_connections", role="public"
                )

            await wait_for(closed)


@pytest.fixture
async def local_app(redis_standalone: aioredis.Redis) -> AsyncIterator[Starlette]:
    app = create_app(settings(), redis=redis_standalone, run_scheduler=False)
    async with app.router.lifespan_context(app):
        yield app


def client_from(app: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 5000))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_metrics_only_for_local_direct_clients_by_default(local_app: Starlette) -> None:
    async with client_from(local_app, "127.0.0.1") as local:
        assert (await local.get("/metrics")).status_code == 200
        for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):  # came through a proxy
            r = await local.get("/metrics", headers={header: "203.0.113.9"})
            assert r.status_code == 403 and r.json()["error"] == "forbidden"
    async with client_from(local_app, "203.0.113.9") as remote:
        assert (await remote.get("/metrics")).status_code == 403


async def test_metrics_token_when_set(redis_standalone: aioredis.Redis) -> None:
    token = "metrics-token-" + "m" * 20
    configured = settings().model_copy(update={"metrics_token": SecretStr(token)})
    app = create_app(configured, redis=redis_standalone, run_scheduler=False)
    async with app.router.lifespan_context(app), client_from(app, "203.0.113.9") as client:
        assert (await client.get("/metrics")).status_code == 401
        r = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and "atexpert_http_requests_total" in r.text
