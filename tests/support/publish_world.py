"""The world of the publishing tests: a session on real Redis whose host account lives in the
X emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tweepy.asynchronous import AsyncClient

from atexpert.domain.answers import Answer, AnswerDraft, AnswerStatus
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import HostAccount, Session, SessionFields, SessionOptions
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from atexpert.publish.publisher import PublishConfig, SessionPublisher
from atexpert.publish.x_posts import TweepyPoster
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from atexpert.x.client import async_client
from atexpert.x.meter import Meter
from tests.support.waiting import wait_for

FAST = PublishConfig(
    lease_ttl=timedelta(seconds=1),
    idle_wait=timedelta(milliseconds=50),
    backoff_first=0.02,
    backoff_max=0.2,
)

LONG_ANSWER = (
    "The A350 cabin is quieter because the fuselage is wider and the engines are newer. "
    "We also worked on the air system, which renews the cabin air every two to three minutes. "
    "Finally, the lighting follows the time of day at your destination, which helps with jet "
    "lag. All of this was tested with passengers on long flights before entry into service, "
    "and we keep improving it with every delivery. Airlines can also choose their seats, "
    "galleys and lavatories from a catalogue of options that grows every year, so each cabin "
    "feels a little different. Thank you for the question and enjoy your next flight with us."
)


@dataclass
class PublishWorld:
    control: EmulatorControl
    settings: Settings
    redis: RedisClient
    store: Store
    brand: AccountTokens
    session_id: str
    client: AsyncClient
    meter: Meter

    def publisher(self, config: PublishConfig = FAST) -> SessionPublisher:
        poster = TweepyPoster(self.client, user_auth=False, host_user_id=self.brand.id)
        return SessionPublisher(
            self.store, self.redis, poster, self.session_id, config=config, meter=self.meter
        )

    async def ask(self, text: str, username: str = "fan_1") -> str:
        """A fan tweets ``text``; the question is stored and approved. Its question id."""
        tweet_id = self.control.post(username, text)
        incoming = IncomingQuestion(
            tweet_id=tweet_id,
            author=Author(id="1", handle=username),
            text=text,
            created_at=datetime.now(UTC),
        )
        question, _ = await self.store.add_question(self.session_id, incoming)
        await self.store.approve_question(self.session_id, question.id, actor="mod")
        return question.id

    async def merge(
        self, into: str, text: str, username: str, name: str, replyable: bool | None = None
    ) -> str:
        """Fan ``username`` (an account of its own) tweets ``text``; the question is stored
        (with intake's ``replyable`` verdict) and merged into ``into``. Its question id."""
        question_id = await self.asked(text, username, name, replyable)
        await self.store.merge_question(self.session_id, question_id, into, actor="mod")
        return question_id

    async def asked(
        self, text: str, username: str, name: str, replyable: bool | None = None
    ) -> str:
        """Fan ``username`` (an account of its own) tweets ``text``; the question is stored
        as pending. Its question id."""
        account = self.control.create_account(username, name)
        tweet_id = self.control.post(username, text)
        incoming = IncomingQuestion(
            tweet_id=tweet_id,
            author=Author(id=account.id, handle=username, name=name),
            text=text,
            created_at=datetime.now(UTC),
            replyable=replyable,
        )
        question, _ = await self.store.add_question(self.session_id, incoming)
        return question.id

    async def answer(self, question_id: str, text: str) -> Answer:
        draft = AnswerDraft(question_ids=[question_id], text=text)
        answer = await self.store.create_answer(self.session_id, draft, expert_id="expert")
        return await self.store.submit_answer(self.session_id, answer.id, actor="expert")

    async def timeline(self) -> list[dict[str, Any]]:
        """The host's posts, oldest first: id, text, replied_to."""
        async with async_client(
            self.settings, user_access_token=self.brand.oauth2_access_token
        ) as reader:  # a client of its own: the publisher under test may be mid-request
            response = await reader.get_users_tweets(
                self.brand.id, max_results=100, tweet_fields=["referenced_tweets"], user_auth=False
            )
        out = []
        for tweet in reversed(response.data or []):
            refs = tweet.referenced_tweets or []
            parent = next((str(r.id) for r in refs if r.type == "replied_to"), None)
            out.append({"id": str(tweet.id), "text": tweet.text, "replied_to": parent})
        return out


async def live_session(
    store: Store, brand_id: str, *, options: SessionOptions | None = None, language: str = "en"
) -> Session:
    """A live #AskAirbus session hosted by @Airbus (``brand_id``), made by ``admin``."""
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Inside the A350 cabin",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus", user_id=brand_id),
        scheduled_start=now + timedelta(minutes=1),
        scheduled_end=now + timedelta(hours=1),
        language=language,  # type: ignore[arg-type]
        options=options or SessionOptions(announce=False),
    )
    session = await store.create_session(fields, actor="admin")
    await store.schedule_session(session.id, actor="admin")
    return await store.start_session(session.id, actor="admin")


async def run_until_published(world: PublishWorld, answer_ids: list[str], **config: object) -> None:
    """Publish until every answer is published with every reply to its merged askers
    posted or refused (an answer failing fails the test)."""
    publisher = world.publisher(replace(FAST, **config))  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))

    async def published() -> bool:
        answers = [await world.store.get_answer(world.session_id, a) for a in answer_ids]
        failed = [a.error for a in answers if a.status is AnswerStatus.FAILED]
        assert not failed, failed
        if not answer_ids:  # nothing to publish: until the start announcement is done
            session = await world.store.get_session(world.session_id)
            return session.thread_root_id is not None or not session.options.announce
        return all(a.status is AnswerStatus.PUBLISHED and not a.replies_pending for a in answers)

    try:
        await wait_for(published, timeout=60)
    finally:
        stop.set()
        await task


async def make_world(
    control: EmulatorControl,
    settings: Settings,
    redis: RedisClient,
    *,
    options: SessionOptions | None = None,
    language: str = "en",
) -> AsyncIterator[PublishWorld]:
    brand = control.create_account("Airbus", "Airbus")
    control.create_account("fan_1", "A Fan")
    control.create_account("fan_2", "Another Fan")
    store = Store(redis)
    session = await live_session(store, brand.id, options=options, language=language)
    async with async_client(settings, user_access_token=brand.oauth2_access_token) as client:
        yield PublishWorld(control, settings, redis, store, brand, session.id, client, Meter(redis))
