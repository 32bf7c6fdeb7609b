"""The app mounts the live websockets with the API's authentication (wiring smoke test)."""

from __future__ import annotations

import functools
import warnings

import pytest
import redis

from atexpert.live.protocol import BEARER_PREFIX, SUBPROTOCOL
from atexpert.web.app import create_app
from tests.support.api_world import FAST_HASHER, PASSWORD, bearer, session_body, settings

with warnings.catch_warnings():  # starlette nags about httpx; its TestClient still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect


def test_live_console_opens_with_an_api_token(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as sync:
        sync.flushall()
    app = create_app(
        settings().model_copy(update={"redis_url": redis_url}),
        password_hasher=FAST_HASHER,
        run_scheduler=False,
    )
    with TestClient(app) as client:
        staff = app.state.services.staff
        admin = client.portal.call(
            functools.partial(staff.create_user, "root", PASSWORD, is_admin=True)
        )
        _, token = client.portal.call(staff.create_token, admin.id, "live")
        r = client.post("/api/sessions", json=session_body(), headers=bearer(token))
        sid = r.json()["id"]
        path = f"/ws/sessions/{sid}/admin"
        with client.websocket_connect(
            path, subprotocols=[SUBPROTOCOL, BEARER_PREFIX + token]
        ) as ws:
            first = ws.receive_json()
        assert first["type"] == "snapshot" and first["session"]["id"] == sid
        bad = [SUBPROTOCOL, BEARER_PREFIX + "atx_bad"]
        with (  # accepted, then closed at once with the reason
            pytest.raises(WebSocketDisconnect) as closed,
            client.websocket_connect(path, subprotocols=bad) as ws,
        ):
            ws.receive_json()
        assert closed.value.code == 4401 and "revoked" in closed.value.reason
