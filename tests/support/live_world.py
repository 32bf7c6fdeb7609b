"""The world of the live websocket tests: a live session on the standalone test Redis, one
staff user (and bearer token) per role, and the websocket clients to close at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher
from websockets.asyncio.client import ClientConnection

from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import HostAccount, SessionFields
from atexpert.domain.staff import StaffUser
from atexpert.store.staff import StaffStore
from atexpert.store.store import Store

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@dataclass
class LiveWorld:
    redis: aioredis.Redis
    store: Store
    staff: StaffStore
    session_id: str
    users: dict[str, StaffUser]
    tokens: dict[str, str]
    tweet: int = 1000
    clients: list[ClientConnection] = field(default_factory=list)

    async def ask(self, text: str = "What is the range of the A350?", **author: Any) -> str:
        self.tweet += 1
        who = Author(id=str(self.tweet), handle=f"user{self.tweet}", name="Ann", **author)
        incoming = IncomingQuestion(tweet_id=str(self.tweet), author=who, text=text, created_at=T0)
        question, _ = await self.store.add_question(self.session_id, incoming)
        return question.id

    async def draft(self) -> str:
        """A new draft session (its public endpoint refuses clients): its id."""
        now = datetime.now(UTC)
        fields = SessionFields(
            title="Not yet",
            hashtags=["Soon"],
            host_account=HostAccount(handle="Airbus"),
            scheduled_start=now + timedelta(days=30),
            scheduled_end=now + timedelta(days=31),
        )
        return (await self.store.create_session(fields, actor="root")).id


async def scheduled_session(store: Store) -> str:
    """A new scheduled session, an hour from now (public, and its fields can change): its id."""
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Ask Airbus",
        hashtags=["AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=now + timedelta(hours=1),
        scheduled_end=now + timedelta(hours=2),
    )
    session = await store.create_session(fields, actor="root")
    await store.schedule_session(session.id, actor="root")
    return session.id


@pytest.fixture
async def world(redis_standalone: aioredis.Redis) -> AsyncIterator[LiveWorld]:
    store = Store(redis_standalone)
    staff = StaffStore(redis_standalone, hasher=PasswordHasher(time_cost=1, memory_cost=1024))
    users = {
        "root": await staff.create_user("root", "password-1", is_admin=True),
        "mia": await staff.create_user("mia", "password-1"),
        "max": await staff.create_user("max", "password-1"),
        "eve": await staff.create_user("eve", "password-1"),
        "out": await staff.create_user("out", "password-1"),
    }
    tokens = {name: (await staff.create_token(u.id, "live"))[1] for name, u in users.items()}
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Ask Airbus",
        hashtags=["AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        moderator_ids=[users["mia"].id, users["max"].id],
        expert_ids=[users["eve"].id],
        scheduled_start=now + timedelta(hours=1),
        scheduled_end=now + timedelta(hours=2),
    )
    session = await store.create_session(fields, actor="root")
    await store.schedule_session(session.id, actor="root")
    await store.start_session(session.id, actor="root")
    made = LiveWorld(redis_standalone, store, staff, session.id, users, tokens)
    yield made
    await asyncio.gather(*(ws.close() for ws in made.clients), return_exceptions=True)
