"""Publishing answers as threads: the real tweepy client against the X emulator over HTTP,
real Redis. Assertions read the host's timeline through the X API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import tweepy

from atexpert.domain.answers import AnswerStatus
from atexpert.domain.costs import CallKind
from atexpert.domain.events import EventKind
from atexpert.domain.sessions import Session, SessionOptions
from atexpert.emulator.control_client import EmulatorControl
from atexpert.publish.outbox import Outbox
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.web.publish_service import PublishService, tweepy_posters
from tests.support import emulator_fixtures
from tests.support.publish_world import FAST, LONG_ANSWER, PublishWorld, make_world
from tests.support.waiting import wait_for

server, control, settings = (
    emulator_fixtures.server,
    emulator_fixtures.control,
    emulator_fixtures.settings,
)

NOT_SUMMONED = "You can only reply to or quote posts where you are mentioned or are the author."


@pytest.fixture
async def world(
    control: EmulatorControl, settings: Settings, redis: RedisClient
) -> AsyncIterator[PublishWorld]:
    async for w in make_world(control, settings, redis):
        yield w


async def publish_all(world: PublishWorld) -> None:
    publisher = world.publisher()
    assert await publisher.lease.acquire() is not None
    await publisher.work()


async def test_three_part_answer_is_a_thread_under_the_question(world: PublishWorld) -> None:
    qid = await world.ask("@Airbus why is the A350 cabin so quiet? #AskAirbus")
    answer = await world.answer(qid, LONG_ANSWER)
    await publish_all(world)

    done = await world.store.get_answer(world.session_id, answer.id)
    assert done.status is AnswerStatus.PUBLISHED
    assert len(done.parts) == 3
    question = await world.store.get_question(world.session_id, qid)
    assert question.status.value == "answered"
    posts = await world.timeline()
    assert [p["id"] for p in posts] == done.posted_tweet_ids
    assert posts[0]["replied_to"] == question.tweet_id
    assert [p["replied_to"] for p in posts[1:]] == [p["id"] for p in posts[:-1]]
    assert [p["text"][-3:] for p in posts] == ["1/3", "2/3", "3/3"]
    # the outbox was written with the claim, and each part with its own event
    kinds = [e.kind for e in await world.store.read_events(world.session_id, count=1000)]
    assert kinds.count(EventKind.ANSWER_PART_POSTED) == 3
    assert kinds.index(EventKind.ANSWER_PUBLISHING) < kinds.index(EventKind.ANSWER_PART_POSTED)
    # metered: part 1 is a summoned reply, the next parts replies to our own posts
    spend = await world.meter.spend(world.session_id)
    assert spend.counts == {CallKind.SUMMONED_REPLY: 1, CallKind.POST: 2}
    # and X's post limits, as the last post's headers told them
    [limits] = [e for e in await world.meter.limits() if e.endpoint == "create_tweet"]
    assert limits.user_24h_limit is not None and limits.user_24h_remaining is not None
    assert limits.user_24h_remaining <= limits.user_24h_limit - 3


async def test_non_mentioning_question_is_answered_in_the_session_thread(
    control: EmulatorControl, settings: Settings, redis_standalone: RedisClient
) -> None:
    options = SessionOptions(announce=True, numbering=True, signature="— Airbus cabin team")
    async for world in make_world(control, settings, redis_standalone, options=options):
        qid = await world.ask("why is the A350 cabin so quiet? #AskAirbus")
        question = await world.store.get_question(world.session_id, qid)
        # X would refuse a direct reply: the fan did not mention the host account
        with pytest.raises(tweepy.Forbidden) as refused:
            await world.client.create_tweet(
                text="direct reply", in_reply_to_tweet_id=question.tweet_id, user_auth=False
            )
        assert NOT_SUMMONED in refused.value.api_messages
        answer = await world.answer(qid, "Wider fuselage, newer engines, better insulation.")
        await publish_all(world)

        posts = await world.timeline()
        root, reply = posts
        assert "We're live: Inside the A350 cabin" in root["text"] and root["replied_to"] is None
        assert reply["replied_to"] == root["id"]
        assert reply["text"].startswith("«Q @fan_1: why is the A350 cabin so quiet? #AskAirbus»")
        assert reply["text"].endswith("— Airbus cabin team")
        done = await world.store.get_answer(world.session_id, answer.id)
        assert done.status is AnswerStatus.PUBLISHED
        # the thread root is on the session record (session.announced), so in its JSON
        session = await world.store.get_session(world.session_id)
        assert session.thread_root_id == root["id"]
        assert (
            await Outbox(redis_standalone, world.session_id).announcement_id("start") == root["id"]
        )
        kinds = [e.kind for e in await world.store.read_events(world.session_id, count=1000)]
        assert kinds.count(EventKind.SESSION_ANNOUNCED) == 1


async def test_end_announcement_after_the_last_answer_in_french(
    control: EmulatorControl, settings: Settings, redis_standalone: RedisClient
) -> None:
    options = SessionOptions(announce=True)
    async for world in make_world(
        control, settings, redis_standalone, options=options, language="fr"
    ):
        qid = await world.ask("@Airbus pourquoi la cabine est-elle si calme ?")
        await world.answer(qid, "Le fuselage est plus large et les moteurs plus récents.")
        await world.store.close_session(world.session_id, actor="admin")
        await publish_all(world)
        posts = await world.timeline()
        assert [p["text"].split(":")[0] for p in (posts[0], posts[-1])] == [
            "C'est parti\u202f",
            "C'est terminé\u202f",
        ]
        assert "1 réponse publiée" in posts[-1]["text"]
        assert posts[-1]["replied_to"] == posts[0]["id"]
        assert len(posts) == 3
        session = await world.store.get_session(world.session_id)
        assert (session.thread_root_id, session.closing_tweet_id) == (
            posts[0]["id"],
            posts[-1]["id"],
        )
        assert await world.store.replay(world.session_id) == await world.store.snapshot(
            world.session_id
        )


async def test_announcements_turned_off_post_nothing_but_answers(
    control: EmulatorControl, settings: Settings, redis_standalone: RedisClient
) -> None:
    async for world in make_world(control, settings, redis_standalone):  # announce=False
        qid = await world.ask("no mention here, sorry")
        await world.answer(qid, "Still answered, as a post of its own.")
        await world.store.close_session(world.session_id, actor="admin")
        await publish_all(world)
        posts = await world.timeline()
        assert len(posts) == 1 and posts[0]["replied_to"] is None
        assert posts[0]["text"].startswith("«Q @fan_1: no mention here, sorry»")


async def test_two_publishers_never_post_the_same_part(world: PublishWorld) -> None:
    aids = []
    for n in range(3):
        qid = await world.ask(f"@Airbus question {n} for two publishers?")
        aids.append((await world.answer(qid, LONG_ANSWER.replace(". ", f". ({n}) "))).id)
    first, second = world.publisher(), world.publisher()
    assert await first.lease.acquire() is not None
    assert await second.lease.acquire() is None  # one publisher per session
    await first.lease.release()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in (first, second)]

    async def all_published() -> bool:
        answers = [await world.store.get_answer(world.session_id, a) for a in aids]
        return all(a.status is AnswerStatus.PUBLISHED for a in answers)

    await wait_for(all_published)
    stop.set()
    await asyncio.gather(*tasks)
    posts = await world.timeline()
    assert len(posts) == 9 and len({p["text"] for p in posts}) == 9


async def test_the_service_publishes_live_sessions_and_stops_when_done(world: PublishWorld) -> None:
    async def brand_token(session: Session, refused: str | None) -> str:
        assert session.id == world.session_id
        return world.brand.oauth2_access_token

    posters = tweepy_posters(world.settings, brand_token)
    service = PublishService(world.store, world.redis, posters, config=FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop, interval=0.05))
    qid = await world.ask("@Airbus is anyone publishing?")
    aid = (await world.answer(qid, "Yes: the publish service.")).id

    async def published() -> bool:
        answer = await world.store.get_answer(world.session_id, aid)
        return answer.status is AnswerStatus.PUBLISHED

    await wait_for(published)
    assert service.running == {world.session_id}
    await world.store.close_session(world.session_id, actor="admin")
    await wait_for(lambda: not service.running)
    stop.set()
    await task
    assert [p["text"] for p in await world.timeline()] == ["Yes: the publish service."]


async def test_end_announcement_links_to_the_recap_when_asked(
    control: EmulatorControl, settings: Settings, redis_standalone: RedisClient
) -> None:
    options = SessionOptions(announce=True, recap_link=True)
    async for world in make_world(control, settings, redis_standalone, options=options):
        qid = await world.ask("@Airbus what is the cruise altitude?")
        await world.answer(qid, "Around 11,000 metres, depending on weight and winds.")
        await world.store.close_session(world.session_id, actor="admin")
        publisher = world.publisher(replace(FAST, public_base_url="https://ama.example.org"))
        assert await publisher.lease.acquire() is not None
        await publisher.work()
        closing = (await world.timeline())[-1]
        assert f"https://ama.example.org/recap/{world.session_id}" in closing["text"]
