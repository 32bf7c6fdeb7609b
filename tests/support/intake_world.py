"""The world of the intake tests: a live #AskAirbus session hosted by @Airbus on real Redis,
fans to post on the X emulator, and the intake pieces wired to them.

The ``world`` fixture needs the emulator's ``control`` and ``settings`` fixtures
(tests/support/emulator_fixtures.py) and ``redis``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tweepy.asynchronous import AsyncClient

from atexpert.domain.sessions import HostAccount, Session, SessionFields
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from atexpert.intake.poll import Ingestor, IntakeSettings, PollIntake, target_of
from atexpert.intake.posts import Target
from atexpert.intake.stream import StreamIntake, stream_factory
from atexpert.intake.x_reads import XReader
from atexpert.settings import Settings
from atexpert.store.intake_state import IntakeMode, IntakeStore
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from atexpert.x.client import async_client
from atexpert.x.meter import Meter

FAST = IntakeSettings(
    poll_interval_seconds=0.05,
    min_poll_seconds=0.05,
    backoff_base_seconds=0.05,
    backoff_max_seconds=0.5,
)
#: Requests per window the ``world`` emulator allows the polled endpoints: enough for
#: ``FAST`` polls (X's own 450 / 15 min pace polls every 2 s; tests/test_intake_pace.py
#: checks that pace against X's limits).
ROOMY_LIMIT = 1_000_000


@dataclass
class IntakeWorld:
    """A live #AskAirbus session hosted by @Airbus, and fans to post on X."""

    control: EmulatorControl
    settings: Settings
    redis: RedisClient
    store: Store
    state: IntakeStore
    meter: Meter
    host: AccountTokens
    session: Session
    client: AsyncClient

    @property
    def sid(self) -> str:
        return self.session.id

    @property
    def target(self) -> Target:
        return target_of(self.session, self.host.id)

    def reader(self) -> XReader:
        return XReader(self.client, self.meter)

    def ingestor(self) -> Ingestor:
        return Ingestor(self.store, self.state)

    def poller(self, mode: IntakeMode, settings: IntakeSettings = FAST, **kw: Any) -> PollIntake:
        return PollIntake(
            self.target,
            mode,
            self.reader(),
            self.ingestor(),
            self.meter,
            settings,
            opens_at=self.session.intake_opens_at,
            **kw,
        )

    def streamer(self, settings: IntakeSettings = FAST) -> StreamIntake:
        bearer = self.settings.x_bearer_token
        assert bearer is not None
        make = stream_factory(bearer.get_secret_value(), self.settings.x_api_base_url)
        intake = StreamIntake(make, self.reader(), self.ingestor(), self.meter, settings)
        intake.serve(self.target, self.session.intake_opens_at)
        return intake

    def post(self, username: str, text: str, **extra: Any) -> str:
        return self.control.post(username, text, **extra)

    async def tweet_ids(self) -> set[str]:
        return {q.tweet_id for q in await self.store.list_questions(self.sid)}

    async def received_events(self) -> list[str]:
        events = await self.store.read_events(self.sid, count=10_000)
        return [e.entity_id for e in events if e.kind == "question.received"]


@pytest.fixture
async def world(
    control: EmulatorControl, settings: Settings, redis: RedisClient
) -> AsyncIterator[IntakeWorld]:
    for endpoint in ("user_mentions", "search_recent"):
        control.set_limit(endpoint, app=ROOMY_LIMIT)
    host = control.create_account("Airbus", "Airbus")
    for i in (1, 2, 3):
        control.create_account(f"fan_{i}", f"Fan {i}")
    store = Store(redis)
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Inside the A350 cabin",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus", user_id=host.id),
        scheduled_start=now + timedelta(minutes=1),
        scheduled_end=now + timedelta(hours=1),
    )
    session = await store.create_session(fields, actor="admin")
    await store.schedule_session(session.id, actor="admin")
    session = await store.start_session(session.id, actor="admin")
    async with async_client(settings) as client:
        yield IntakeWorld(
            control,
            settings,
            redis,
            store,
            IntakeStore(redis),
            Meter(redis),
            host,
            session,
            client,
        )
