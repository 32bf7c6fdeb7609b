"""Bad input from X never stops intake: it is logged and skipped, the good posts go on.

The emulator only sends well-formed answers, so a tiny "hostile X" (a real HTTP server
speaking the same endpoints) serves what a broken or changed X might: bodies that are not
JSON, posts without ids or authors, unknown fields, huge or odd Unicode text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from atexpert.domain.questions import MAX_TEXT
from atexpert.domain.sessions import HostAccount, Session, SessionFields
from atexpert.intake.poll import Ingestor, PollIntake, target_of
from atexpert.intake.stream import StreamIntake, stream_factory
from atexpert.intake.x_reads import XReader
from atexpert.settings import Settings
from atexpert.store.intake_state import IntakeMode, IntakeState, IntakeStore
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from atexpert.x.client import async_client
from atexpert.x.meter import Meter
from tests.support.intake_world import FAST
from tests.support.waiting import wait_for

HOST_ID = "1000"
SID = "s_hostile"
BASE_ID = 1_900_000_000_000_000_000


def _post(n: int, text: str, **extra: Any) -> dict[str, Any]:
    return {"id": str(BASE_ID + n), "text": text, "author_id": "2000", **extra}


USER = {"id": "2000", "username": "fan_1", "name": "Fan", "created_at": "2020-01-01T00:00:00Z"}
HUGE = "@Airbus #AskAirbus " + "é" * 30_000
ODD = (
    "@Airbus #AskAirbus \u202eRTL\u202c zero\u200bwidth 👩🏽‍🚀 \U0001f1eb\U0001f1f7 \ud800 nul\x00"
)

BAD_PAGE: dict[str, Any] = {
    "data": [
        "not an object",
        {"text": "@Airbus #AskAirbus no id"},
        {"id": "12ab", "text": "@Airbus #AskAirbus bad id", "author_id": "2000"},
        {"id": str(BASE_ID + 1), "text": "@Airbus #AskAirbus no author"},
        {"id": str(BASE_ID + 2), "author_id": "2000"},
        _post(3, "@Airbus #AskAirbus unknown fields", galaxy={"x": 1}, created_at="yesterday"),
        _post(4, HUGE),
        _post(5, ODD),
        _post(6, "@Airbus #AskAirbus author missing from includes", author_id="2001"),
    ],
    "includes": {"users": [USER, "garbage", {"id": 5}]},
    "meta": {"result_count": 9, "newest_id": str(BASE_ID + 6)},
}
GOOD_IDS = {str(BASE_ID + n) for n in (3, 4, 5, 6)}


class HostileX:
    """Serves mentions (a non-JSON body, then a bad page) and a stream of bad lines."""

    def __init__(self) -> None:
        self.mention_calls = 0
        app = Starlette(
            routes=[
                Route("/2/users/{id}/mentions", self.mentions),
                Route("/2/tweets/search/recent", self.search),
                Route("/2/tweets/search/stream", self.stream),
                Route("/2/tweets/search/stream/rules", self.rules, methods=["GET", "POST"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port = 0

    async def mentions(self, request: Request) -> Response:
        self.mention_calls += 1
        if self.mention_calls == 1:
            return Response("<html>upstream error</html>", media_type="application/json")
        if self.mention_calls == 2:
            return Response(b'{"data": [', media_type="application/json")
        if request.query_params.get("since_id") == str(BASE_ID + 6):
            return JSONResponse({"meta": {"result_count": 0}})
        return Response(json.dumps(BAD_PAGE), media_type="application/json")

    async def search(self, request: Request) -> Response:
        return JSONResponse({"meta": {"result_count": 0}})

    async def rules(self, request: Request) -> Response:
        return JSONResponse({"meta": {"sent": "2026-11-26T00:00:00Z", "result_count": 0}})

    async def stream(self, request: Request) -> Response:
        tag = [{"id": "1", "tag": SID}]

        def line(value: Any) -> bytes:
            return json.dumps(value).encode() + b"\r\n"

        async def body() -> AsyncIterator[bytes]:
            yield b"\r\n"
            yield b"this is not json\r\n"
            yield line({"data": "a string", "matching_rules": tag})
            yield line({"errors": [{"title": "operational-disconnect"}]})
            yield line({"data": {"id": "x"}, "matching_rules": tag})
            yield b'{"data": {"id": "1", "text": "cut in the mid\r\n'
            for n in (7, 8):
                post = _post(n, f"@Airbus #AskAirbus streamed {n}", extra_field=[1, 2])
                yield line({"data": post, "includes": {"users": [USER]}, "matching_rules": tag})
            while True:
                await asyncio.sleep(0.1)
                yield b"\r\n"

        return StreamingResponse(body(), media_type="application/json")

    def __enter__(self) -> HostileX:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "hostile X did not start"
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def hostile() -> Iterator[HostileX]:
    with HostileX() as x:
        yield x


async def _session(store: Store) -> Session:
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Hostile",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus", user_id=HOST_ID),
        scheduled_start=now + timedelta(minutes=1),
        scheduled_end=now + timedelta(hours=1),
    )
    await store.create_session(fields, actor="admin", session_id=SID)
    await store.schedule_session(SID, actor="admin")
    return await store.start_session(SID, actor="admin")


async def test_malformed_mentions_are_logged_and_skipped(
    hostile: HostileX, redis_standalone: RedisClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    store = Store(redis_standalone)
    session = await _session(store)
    state = IntakeStore(redis_standalone)
    settings = Settings(x_api_base_url=f"http://127.0.0.1:{hostile.port}", x_bearer_token="t")
    async with async_client(settings) as client:
        meter = Meter(redis_standalone)
        poller = PollIntake(
            target_of(session, HOST_ID),
            IntakeMode.MENTIONS,
            XReader(client, meter),
            Ingestor(store, state),
            meter,
            FAST,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        try:
            await wait_for(lambda: state.cursor(SID))
            assert await state.cursor(SID) == str(BASE_ID + 6)
        finally:
            stop.set()
            await task
    questions = {q.tweet_id: q for q in await store.list_questions(SID)}
    assert set(questions) == GOOD_IDS
    assert len(questions[str(BASE_ID + 4)].text) == MAX_TEXT
    odd = questions[str(BASE_ID + 5)].text
    assert "👩🏽‍🚀" in odd and "\x00" not in odd and "\ud800" not in odd
    assert questions[str(BASE_ID + 6)].author.handle == "i"  # x.com/i/status/<id>
    snowflake_ms = ((BASE_ID + 3) >> 22) + 1288834974657  # "yesterday" is no time: the id's
    assert questions[str(BASE_ID + 3)].created_at.timestamp() == snowflake_ms / 1000
    status = await state.status(SID)
    assert status.counters["malformed"] == 5
    assert status.counters["errors"] == 2 and status.counters["truncated"] == 1
    assert status.state is IntakeState.STOPPED
    assert "not JSON" in caplog.text and "malformed post" in caplog.text


async def test_malformed_stream_lines_are_logged_and_skipped(
    hostile: HostileX, redis_standalone: RedisClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    store = Store(redis_standalone)
    session = await _session(store)
    state = IntakeStore(redis_standalone)
    base_url = f"http://127.0.0.1:{hostile.port}"
    settings = Settings(x_api_base_url=base_url, x_bearer_token="t")
    async with async_client(settings) as client:
        meter = Meter(redis_standalone)
        intake = StreamIntake(
            stream_factory("t", base_url),
            XReader(client, meter),
            Ingestor(store, state),
            meter,
            FAST,
        )
        intake.serve(target_of(session, HOST_ID))
        stop = asyncio.Event()
        task = asyncio.create_task(intake.run(stop))
        try:
            wanted = {str(BASE_ID + 7), str(BASE_ID + 8)}
            await wait_for(lambda: _has(store, wanted))
        finally:
            stop.set()
            await task
    assert {q.tweet_id for q in await store.list_questions(SID)} == wanted
    assert "not JSON" in caplog.text and "line without a post" in caplog.text
    assert (await state.status(SID)).counters["malformed"] >= 1


async def _tweet_ids(store: Store) -> set[str]:
    return {q.tweet_id for q in await store.list_questions(SID)}


async def _has(store: Store, wanted: set[str]) -> bool:
    return wanted <= await _tweet_ids(store)
