"""The publishing endpoints through the app (mounted as app.py is asked to mount them);
what the publisher leaves behind (thread root, spend, X's limits) as the API shows it."""

from __future__ import annotations

import pytest

from atexpert.domain.answers import AnswerDraft, AnswerStatus
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.publish.publisher import SessionPublisher
from atexpert.publish.x_posts import TweepyPoster
from atexpert.settings import Settings
from atexpert.x.client import async_client
from atexpert.x.meter import Meter
from tests.support import emulator_fixtures
from tests.support.api_world import ApiWorld, bearer
from tests.support.publish_world import FAST

server = emulator_fixtures.server

pytest_plugins = ("tests.support.api_world",)


@pytest.fixture
def mounted(world: ApiWorld) -> ApiWorld:
    return world


async def test_published_thread_root_spend_and_limits_show_in_the_api(
    mounted: ApiWorld, server: EmulatorServer
) -> None:
    w, client = mounted, mounted.api.client
    control = EmulatorControl(server.base_url)
    control.reset()
    brand = control.create_account("Airbus", "Airbus")
    store, redis = w.api.services.store, w.api.services.redis
    await store.submit_answer(w.sid, w.answer, actor="expert")
    settings = Settings(
        x_api_base_url=server.base_url, x_bearer_token=control.app()["bearer_token"]
    )
    async with async_client(settings, user_access_token=brand.oauth2_access_token) as x:
        poster = TweepyPoster(x, user_auth=False, host_user_id=brand.id)
        publisher = SessionPublisher(store, redis, poster, w.sid, config=FAST, meter=Meter(redis))
        assert await publisher.lease.acquire() is not None
        await publisher.work()
    answer = await store.get_answer(w.sid, w.answer)
    assert answer.status is AnswerStatus.PUBLISHED
    admin = bearer(w.tokens["admin"])

    r = await client.get(f"/api/sessions/{w.sid}", headers=admin)
    assert r.status_code == 200, r.text
    root = r.json()["thread_root_id"]
    assert root is not None and root not in answer.posted_tweet_ids
    assert r.json()["closing_tweet_id"] is None

    r = await client.get(f"/api/sessions/{w.sid}/spend", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["counts"] == {"post": 2}  # the start announcement and the answer

    r = await client.get("/api/x/limits", headers=admin)
    assert r.status_code == 200, r.text
    [posts] = [e for e in r.json() if e["endpoint"] == "create_tweet"]
    assert posts["user_24h_limit"] is not None
    assert posts["user_24h_remaining"] == posts["user_24h_limit"] - 2


async def test_thread_preview_announcements_and_status(mounted: ApiWorld) -> None:
    w, client = mounted, mounted.api.client
    expert = bearer(w.tokens["expert"])
    r = await client.get(f"/api/sessions/{w.sid}/answers/{w.answer}/thread", headers=expert)
    assert r.status_code == 200, r.text
    thread = r.json()
    # the question does not mention @Airbus and no announcement is posted yet
    assert (thread["route"], thread["reply_to"]) == ("standalone", None)
    assert thread["parts"][0]["text"].startswith("«Q @fan2: How do wings work? #AskAirbus»")

    r = await client.get(f"/api/sessions/{w.sid}/announcements", headers=expert)
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is True and "Ask Airbus" in r.json()["start"]["text"]

    r = await client.get(f"/api/sessions/{w.sid}/auto-reply", headers=expert)
    assert r.status_code == 200, r.text
    reply = r.json()  # no business hours: always open, the reply is off
    assert (reply["enabled"], reply["open_now"], reply["next_change"]) == (False, True, None)
    assert reply["text"].startswith("@xxxxxxxxxxxxxxx Thanks for your message!")
    assert reply["weighted_length"] <= reply["max_length"] == 280
    assert reply["price_usd"] == "0.010"

    await w.api.services.store.submit_answer(w.sid, w.answer, actor="expert")
    r = await client.get(f"/api/sessions/{w.sid}/publishing", headers=expert)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status"]["state"] == "idle" and view["eta"] is None
    assert view["queue"] == [
        {"answer_id": w.answer, "status": "queued", "parts_total": 1, "parts_posted": 0}
    ]


async def test_access_and_bad_input(mounted: ApiWorld) -> None:
    w, client = mounted, mounted.api.client
    outsider, expert = bearer(w.tokens["outsider"]), bearer(w.tokens["expert"])
    r = await client.get(f"/api/sessions/{w.sid}/publishing", headers=outsider)
    assert r.status_code == 403
    r = await client.get("/api/sessions/s_nope/publishing", headers=expert)
    assert r.status_code == 404
    r = await client.get(f"/api/sessions/{w.sid}/answers/a_nope/thread", headers=expert)
    assert r.status_code == 404
    huge = await w.api.services.store.create_answer(
        w.sid, AnswerDraft(question_ids=[w.approved], text="word " * 2_500), expert_id="x"
    )
    r = await client.get(f"/api/sessions/{w.sid}/answers/{huge.id}/thread", headers=expert)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["text"]
