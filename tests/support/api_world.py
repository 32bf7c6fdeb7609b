"""Fixtures shared by the web tests: the app on a real Redis, staff users, a seeded world.

The app runs with its lifespan (``app.router.lifespan_context``) and is called through
``httpx.AsyncClient`` over ``ASGITransport``. Passwords use a fast argon2 profile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher
from pydantic import SecretStr
from starlette.applications import Starlette

from atexpert.domain.answers import AnswerDraft
from atexpert.domain.clock import ManualClock
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import SessionFields
from atexpert.domain.staff import StaffUser
from atexpert.settings import Settings
from atexpert.web.api_routing import Services
from atexpert.web.app import create_app

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
PASSWORD = "s3cret-password"
BASE = "http://testserver"


@dataclass
class Api:
    app: Starlette
    client: httpx.AsyncClient
    clock: ManualClock
    others: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    async def user(self, username: str, *, admin: bool = False) -> tuple[StaffUser, str]:
        """A staff user and a bearer token of theirs."""
        user = await self.services.staff.create_user(username, PASSWORD, is_admin=admin)
        _, token = await self.services.staff.create_token(user.id, "tests")
        return user, token

    async def login(self, username: str) -> tuple[httpx.AsyncClient, str]:
        """A separate client logged in by cookie, and its CSRF token."""
        client = self.new_client()
        r = await client.post("/api/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return client, r.json()["csrf_token"]

    def new_client(self, **options: Any) -> httpx.AsyncClient:
        """Another client of the app (``transport``: another one to it), closed with the fixture."""
        options.setdefault("transport", httpx.ASGITransport(app=self.app))
        client = httpx.AsyncClient(base_url=BASE, **options)
        self.others.append(client)
        return client


def settings() -> Settings:
    return Settings(secret_key=SecretStr("test-secret-key-" + "x" * 32))


@pytest.fixture
async def api(redis_standalone: aioredis.Redis) -> AsyncIterator[Api]:
    clock = ManualClock(T0)
    app = create_app(
        settings(),
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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Ask Airbus",
        "hashtags": ["#AskAirbus"],
        "host_account": {"handle": "@Airbus"},
        "scheduled_start": (T0 + timedelta(hours=1)).isoformat(),
        "scheduled_end": (T0 + timedelta(hours=2)).isoformat(),
        "time_zone": "Europe/Paris",
    }
    body.update(over)
    return body


def incoming(n: int, text: str = "How do wings work? #AskAirbus") -> IncomingQuestion:
    return IncomingQuestion(
        tweet_id=str(1_000_000 + n),
        author=Author(id=str(500 + n), handle=f"fan{n}"),
        text=text,
        created_at=T0,
    )


@dataclass
class ApiWorld:
    """Two live sessions S and S2, and one user per role.

    S has a pending question, an approved question and a draft answer by its expert.
    """

    api: Api
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, StaffUser] = field(default_factory=dict)
    sid: str = ""
    sid2: str = ""
    pending: str = ""
    approved: str = ""
    answer: str = ""


ROLES = ("anonymous", "outsider", "moderator", "expert", "admin")


@pytest.fixture
async def world(api: Api) -> ApiWorld:
    w = ApiWorld(api)
    for name in ("admin", "moderator", "expert", "outsider"):
        user, token = await api.user(name, admin=name == "admin")
        w.users[name], w.tokens[name] = user, token
    store, now = api.services.store, api.clock.now()
    fields = SessionFields.model_validate(
        session_body(moderator_ids=[w.users["moderator"].id], expert_ids=[w.users["expert"].id])
    )
    other = SessionFields.model_validate(
        session_body(title="Other", hashtags=["#Other"], expert_ids=[w.users["outsider"].id])
    )
    for target, f in (("sid", fields), ("sid2", other)):
        s = await store.create_session(f, actor="admin", at=now)
        await store.schedule_session(s.id, actor="admin", at=now)
        await store.start_session(s.id, actor="admin", at=now)
        setattr(w, target, s.id)
    pending, _ = await store.add_question(w.sid, incoming(1), at=now)
    approved, _ = await store.add_question(w.sid, incoming(2), at=now)
    await store.approve_question(w.sid, approved.id, actor="moderator", at=now)
    answer = await store.create_answer(
        w.sid,
        AnswerDraft(question_ids=[approved.id], text="With lift."),
        expert_id=w.users["expert"].id,
        at=now,
    )
    w.pending, w.approved, w.answer = pending.id, approved.id, answer.id
    return w
