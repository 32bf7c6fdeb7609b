"""Races between actors on separate connections end with exactly one winner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from atexpert.domain.answers import AnswerDraft
from atexpert.domain.errors import Conflict, IllegalTransition
from atexpert.domain.questions import Author, IncomingQuestion, QuestionStatus
from atexpert.domain.sessions import SessionFields
from atexpert.store.store import Store
from tests.support.redis_fixtures import RedisClient

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ACTORS = 50

Connect = Callable[[], Awaitable[RedisClient]]


@pytest.fixture(params=["standalone", "cluster"])
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Connect]:
    """Opens a new client (its own connection pool) per call; closes them all after."""
    opened: list[RedisClient] = []

    async def open_client() -> RedisClient:
        client: RedisClient
        if request.param == "standalone":
            client = aioredis.Redis.from_url(
                request.getfixturevalue("redis_url"), decode_responses=True
            )
        else:
            url = request.getfixturevalue("redis_cluster_url")
            client = RedisCluster.from_url(url, decode_responses=True)
            await client.initialize()
        opened.append(client)
        return client

    first = await open_client()
    if isinstance(first, RedisCluster):
        await first.flushall(target_nodes=RedisCluster.PRIMARIES)
    else:
        await first.flushall()
    try:
        yield open_client
    finally:
        for client in opened:
            await client.aclose()


async def _session_with_question(store: Store) -> tuple[str, str]:
    s = await store.create_session(
        SessionFields(
            title="Race",
            hashtags=["#Race"],
            host_account={"handle": "brand"},  # type: ignore[arg-type]
            scheduled_start=T0 + timedelta(hours=1),
            scheduled_end=T0 + timedelta(hours=2),
        ),
        actor="brand",
        at=T0,
    )
    await store.schedule_session(s.id, actor="brand", at=T0)
    q, _ = await store.add_question(s.id, _tweet(), at=T0)
    return s.id, q.id


def _tweet() -> IncomingQuestion:
    return IncomingQuestion(
        tweet_id="1800000000000000001",
        author=Author(id="1", handle="asker"),
        text="Is this the one?",
        created_at=T0,
    )


async def _stores(connect: Connect, n: int) -> list[Store]:
    return [Store(await connect()) for _ in range(n)]


async def test_fifty_conflicting_moderators_one_winner(connect: Connect) -> None:
    stores = await _stores(connect, ACTORS)
    sid, qid = await _session_with_question(stores[0])
    events_before = await stores[0].read_events(sid, count=1000)

    async def act(i: int, store: Store) -> str:
        # Every moderator acts on the version they saw (1): the UI sends it along.
        if i % 2:
            await store.reject_question(sid, qid, f"no ({i})", actor=f"m{i}", at=T0, version=1)
            return "rejected"
        await store.approve_question(sid, qid, actor=f"m{i}", at=T0, version=1)
        return "approved"

    results = await asyncio.gather(
        *(act(i, s) for i, s in enumerate(stores)), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert len(losers) == ACTORS - 1
    assert all(isinstance(e, Conflict) for e in losers), {type(e) for e in losers}
    q = await stores[0].get_question(sid, qid)
    assert q.status.value == winners[0] and q.version == 2
    new_events = (await stores[0].read_events(sid, count=1000))[len(events_before) :]
    assert len(new_events) == 1
    assert new_events[0].kind.value == f"question.{winners[0]}"
    assert new_events[0].actor == q.decided_by
    by_status = {
        s.value: [x.id for x in await stores[0].list_questions(sid, s)] for s in QuestionStatus
    }
    assert {status: ids for status, ids in by_status.items() if ids} == {winners[0]: [qid]}


async def test_fifty_identical_approvals_one_applies(connect: Connect) -> None:
    stores = await _stores(connect, ACTORS)
    sid, qid = await _session_with_question(stores[0])
    results = await asyncio.gather(
        *(s.approve_question(sid, qid, actor=f"m{i}", at=T0) for i, s in enumerate(stores)),
        return_exceptions=True,
    )
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(losers) == ACTORS - 1
    assert all(isinstance(e, IllegalTransition) and "already approved" in str(e) for e in losers)
    kinds = [e.kind.value for e in await stores[0].read_events(sid, count=1000)]
    assert kinds.count("question.approved") == 1


async def test_the_same_tweet_from_many_pollers_is_stored_once(connect: Connect) -> None:
    stores = await _stores(connect, 20)
    sid, _ = await _session_with_question(stores[0])
    other = _tweet().model_copy(update={"tweet_id": "1800000000000000002"})
    results = await asyncio.gather(*(s.add_question(sid, other, at=T0) for s in stores))
    assert sum(created for _, created in results) == 1
    assert len({q.model_dump_json() for q, _ in results}) == 1
    kinds = [e.kind.value for e in await stores[0].read_events(sid, count=1000)]
    assert kinds.count("question.received") == 2


async def test_one_publisher_claims_an_answer(connect: Connect) -> None:
    stores = await _stores(connect, 20)
    sid, qid = await _session_with_question(stores[0])
    await stores[0].approve_question(sid, qid, actor="m", at=T0)
    a = await stores[0].create_answer(
        sid, AnswerDraft(question_ids=[qid], text="Yes."), expert_id="e", at=T0
    )
    await stores[0].submit_answer(sid, a.id, actor="e", at=T0)
    results = await asyncio.gather(
        *(s.start_publishing(sid, a.id, actor=f"p{i}", at=T0) for i, s in enumerate(stores)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
