"""The recap page of a session run end to end against the X emulator: fans post on X, intake
reads their posts, moderators approve and merge, the expert answers, the publisher posts the
threads with the real tweepy client, the session closes and the recap links to it all."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from atexpert.domain.questions import post_link
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.intake.poll import Ingestor, IntakeSettings, PollIntake, target_of
from atexpert.intake.x_reads import XReader
from atexpert.settings import Settings
from atexpert.store.intake_state import IntakeMode, IntakeStore
from atexpert.store.redis_conn import RedisClient
from atexpert.x.client import async_client
from tests.support import emulator_fixtures
from tests.support.publish_world import LONG_ANSWER, PublishWorld, make_world
from tests.support.recap_web import Links, recap_app
from tests.support.waiting import wait_for

server, control = emulator_fixtures.server, emulator_fixtures.control

FAST_INTAKE = IntakeSettings(
    poll_interval_seconds=0.05, backoff_base_seconds=0.05, backoff_max_seconds=0.5
)


@pytest.fixture
def settings(server: EmulatorServer, control: EmulatorControl) -> Settings:
    return Settings(
        x_api_base_url=server.base_url,
        x_bearer_token=SecretStr(control.app()["bearer_token"]),
        secret_key=SecretStr("recap-world-secret-" + "x" * 32),
    )


@pytest.fixture
async def world(
    control: EmulatorControl, settings: Settings, redis_standalone: RedisClient
) -> AsyncIterator[PublishWorld]:
    async for w in make_world(control, settings, redis_standalone, language="fr"):
        yield w


async def ingest(world: PublishWorld, expected: int) -> None:
    session = await world.store.get_session(world.session_id)
    async with async_client(world.settings) as client:
        poller = PollIntake(
            target_of(session, world.brand.id),
            IntakeMode.MENTIONS,
            XReader(client, world.meter),
            Ingestor(world.store, IntakeStore(world.redis)),
            world.meter,
            FAST_INTAKE,
            opens_at=session.intake_opens_at,
        )

        async def all_in() -> bool:
            await poller.poll_once()
            return len(await world.store.list_questions(world.session_id)) >= expected

        await wait_for(all_in)


async def test_recap_of_a_session_run_through_the_emulator(world: PublishWorld) -> None:
    sid, store = world.session_id, world.store
    quiet = world.control.post("fan_1", "@Airbus #AskAirbus Pourquoi la cabine est si calme ?")
    again = world.control.post("fan_2", "@Airbus #AskAirbus La cabine, pourquoi si silencieuse ?")
    seats = world.control.post("fan_1", "@Airbus #AskAirbus Combien de sièges en classe éco ?")
    later = world.control.post("fan_2", "@Airbus #AskAirbus Et les hublots <b>géants</b> ?")
    await ingest(world, 4)
    q_quiet, q_again, q_seats, q_later = (f"q_{t}" for t in (quiet, again, seats, later))
    for qid in (q_quiet, q_seats, q_later):
        await store.approve_question(sid, qid, actor="alice")
    await store.merge_question(sid, q_again, q_quiet, actor="alice")
    long_answer = await world.answer(q_quiet, LONG_ANSWER)
    short_answer = await world.answer(q_seats, "Entre 300 et 350 selon la compagnie.")
    publisher = world.publisher()
    assert await publisher.lease.acquire() is not None
    await publisher.work()
    await store.close_session(sid, actor="scheduler")

    done = await store.get_answer(sid, long_answer.id)
    short = await store.get_answer(sid, short_answer.id)
    assert len(done.posted_tweet_ids) == 3 and len(short.posted_tweet_ids) == 1
    posts = await world.timeline()  # what X shows on the host's timeline
    posted = [p["id"] for p in posts]
    # fan_2's question was merged into fan_1's: fan_2 got the thread too, under their post
    (reply,) = done.merged
    assert reply.handle == "fan_2" and reply.reply_to == again
    replied = [p.tweet_id for p in reply.parts if p.tweet_id]
    assert len(replied) == len(reply.parts)
    # The two answers may be published in either order; each thread's parts are in order.
    assert sorted(posted) == sorted(done.posted_tweet_ids + short.posted_tweet_ids + replied)
    assert [p for p in posted if p in done.posted_tweet_ids] == done.posted_tweet_ids

    app = recap_app(world.settings, world.redis)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get(f"/recap/{sid}")
    assert r.status_code == 200
    links = Links()
    links.feed(r.text)
    assert links.scripts == 0

    def url(handle: str, tweet_id: str) -> str:  # where the configured X (the emulator) shows it
        return post_link(handle, tweet_id, world.settings.x_post_link)

    for post in posts:  # every part of every answer's thread, as X names it
        if post["id"] not in replied:
            assert url("Airbus", post["id"]) in links.hrefs
    # and, for the merged asker, the first post that answered them
    assert url("Airbus", replied[0]) in links.hrefs
    for handle, tweet in (("fan_1", quiet), ("fan_1", seats), ("fan_2", again)):
        assert url(handle, tweet) in links.hrefs
    html = r.text
    # the merged asker is shown under the main question, before its answer's thread
    first_post = html.index(url("Airbus", done.posted_tweet_ids[0]))
    assert html.index(url("fan_1", quiet)) < html.index(url("fan_2", again)) < first_post
    assert "Aussi posée par" in html and "1/3" in html
    # the approved question left unanswered is listed with its note, escaped
    assert "Questions sans réponse" in html
    assert "Et les hublots &lt;b&gt;géants&lt;/b&gt; ?" in html
    assert url("fan_2", later) in links.hrefs
