"""Closing a session: the closing post is the session's last post on X and counts every
answer posted, whatever was queued or in flight at the close; nothing is approved or
answered after it; the scheduler's close and the wrap-up period do the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atexpert.cli.common import OPERATOR, stores_of
from atexpert.domain import announce
from atexpert.domain.announce import Moment
from atexpert.domain.answers import AnswerDraft, AnswerStatus
from atexpert.domain.clock import ManualClock
from atexpert.domain.errors import IllegalTransition, SessionClosed
from atexpert.domain.events import EventKind
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import HostAccount, SessionFields, SessionOptions, SessionStatus
from atexpert.emulator.control_client import EmulatorControl
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.store.scheduler import Lease, Scheduler
from atexpert.store.store import Store
from atexpert.web.commands import (
    ANSWER_COMMANDS,
    QUESTION_COMMANDS,
    SESSION_COMMANDS,
    CloseSession,
    NoInput,
    execute,
)
from tests.support import emulator_fixtures
from tests.support.publish_world import PublishWorld, make_world
from tests.support.waiting import wait_for

server, control, settings = (
    emulator_fixtures.server,
    emulator_fixtures.control,
    emulator_fixtures.settings,
)


@pytest.fixture
async def world(
    control: EmulatorControl, settings: Settings, redis_standalone: RedisClient
) -> AsyncIterator[PublishWorld]:
    options = SessionOptions(announce=True)
    async for w in make_world(control, settings, redis_standalone, options=options):
        yield w


async def _statuses(world: PublishWorld, aids: list[str]) -> list[AnswerStatus]:
    return [(await world.store.get_answer(world.session_id, a)).status for a in aids]


@dataclass
class Closing:
    """A session closed with answers in flight, its publisher still running."""

    answers: list[str]
    unanswered: str
    stop: asyncio.Event
    publisher: asyncio.Task[None]


async def _close_with_answers_in_flight(world: PublishWorld, queued: str) -> Closing:
    """Three answers sent to publishing, the first one in flight (slow posts, its response
    lost after X applied it) and the others queued, then the close with ``queued``."""
    stop = asyncio.Event()
    task = asyncio.create_task(world.publisher().run(stop))

    async def thread_started() -> bool:
        return (await world.store.get_session(world.session_id)).thread_root_id is not None

    await wait_for(thread_started, timeout=60)
    world.control.faults(
        latency_ms=400, endpoints=["create_tweet"], timeout_after_apply=1, stall_seconds=0.4
    )
    aids = []
    for n in range(3):
        qid = await world.ask(f"@Airbus question {n} before the close?")
        aids.append((await world.answer(qid, f"Answer number {n}, before the close.")).id)
    unanswered = await world.ask("@Airbus a question nobody answers in time?")

    async def one_in_flight_two_queued() -> bool:
        statuses = await _statuses(world, aids)
        return (
            statuses.count(AnswerStatus.PUBLISHING) == 1
            and statuses.count(AnswerStatus.QUEUED) == 2
        )

    await wait_for(one_in_flight_two_queued, timeout=60)
    stores = stores_of(world.redis)
    close = SESSION_COMMANDS["close"]
    now = datetime.now(UTC)
    choice = CloseSession.model_validate({"queued": queued})
    await execute(close, stores, OPERATOR, world.session_id, "", choice, at=now)
    return Closing(aids, unanswered, stop, task)


async def _closing_post(world: PublishWorld, closing: Closing) -> list[dict[str, Any]]:
    """Wait for the closing post; the host's timeline, oldest first."""

    async def closed_on_x() -> bool:
        return (await world.store.get_session(world.session_id)).closing_tweet_id is not None

    try:
        await wait_for(closed_on_x, timeout=60)
    finally:
        closing.stop.set()
        await closing.publisher
    world.control.clear_faults()
    return await world.timeline()


async def test_queued_and_in_flight_answers_are_posted_before_the_closing_post(
    world: PublishWorld,
) -> None:
    closing = await _close_with_answers_in_flight(world, "post")
    aids, stores = closing.answers, stores_of(world.redis)
    # Closed: the unanswered question gets no answer any more.
    draft = AnswerDraft(question_ids=[closing.unanswered], text="Too late.")
    with pytest.raises(SessionClosed, match="closed: it takes no new answers"):
        await execute(
            ANSWER_COMMANDS["create"], stores, OPERATOR, world.session_id, "", draft, at=_now()
        )
    posts = await _closing_post(world, closing)

    session = await world.store.get_session(world.session_id)
    assert await _statuses(world, aids) == [AnswerStatus.PUBLISHED] * 3
    assert posts[-1]["id"] == session.closing_tweet_id  # the session's last post on X
    assert posts[-1]["text"] == announce.render(session, Moment.END, answered=3)
    assert posts[-1]["replied_to"] == session.thread_root_id
    assert len(posts) == 1 + 3 + 1  # start, three answers once each, the closing post


async def test_cancelled_answers_stay_drafts_and_the_count_is_what_was_posted(
    world: PublishWorld,
) -> None:
    closing = await _close_with_answers_in_flight(world, "cancel")
    aids = closing.answers
    posts = await _closing_post(world, closing)

    session = await world.store.get_session(world.session_id)
    # The one in flight is finished (its post is on X), the queued ones went back to drafts.
    statuses = await _statuses(world, aids)
    assert sorted(statuses) == sorted([AnswerStatus.PUBLISHED] + [AnswerStatus.DRAFT] * 2)
    assert posts[-1]["id"] == session.closing_tweet_id
    assert posts[-1]["text"] == announce.render(session, Moment.END, answered=1)
    assert len(posts) == 1 + 1 + 1
    draft = aids[statuses.index(AnswerStatus.DRAFT)]
    with pytest.raises(SessionClosed, match="no new answers"):
        submit, stores = ANSWER_COMMANDS["submit"], stores_of(world.redis)
        await execute(submit, stores, OPERATOR, world.session_id, draft, NoInput(), at=_now())


def _now() -> datetime:
    return datetime.now(UTC)


# -- the scheduler and the wrap-up period, on a manual clock --------------------------------

START = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


async def _live_session(store: Store, clock: ManualClock, wrap_up_minutes: int) -> str:
    fields = SessionFields(
        title="Ask our pilots",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=START,
        scheduled_end=END,
        wrap_up_minutes=wrap_up_minutes,
    )
    session = await store.create_session(fields, actor="brand", at=START - timedelta(days=1))
    await store.schedule_session(session.id, actor="brand", at=START - timedelta(days=1))
    clock.set(START)
    await store.start_session(session.id, actor="brand", at=START)
    return session.id


async def _approved(store: Store, sid: str, n: int) -> str:
    incoming = IncomingQuestion(
        tweet_id=str(1000 + n),
        author=Author(id=str(n), handle=f"fan_{n}"),
        text=f"@Airbus question {n}?",
        created_at=START,
    )
    question, _ = await store.add_question(sid, incoming, at=START)
    await store.approve_question(sid, question.id, actor="mod", at=START)
    return question.id


async def _queued(store: Store, sid: str, qid: str, at: datetime) -> str:
    draft = AnswerDraft(question_ids=[qid], text="Answered.")
    answer = await store.create_answer(sid, draft, expert_id="expert", at=at)
    return (await store.submit_answer(sid, answer.id, actor="expert", at=at)).id


async def test_the_scheduler_closes_at_the_end_leaving_the_queue_to_post(
    redis: RedisClient,
) -> None:
    clock = ManualClock(START)
    store = Store(redis, clock=clock)
    sid = await _live_session(store, clock, wrap_up_minutes=0)
    aid = await _queued(store, sid, await _approved(store, sid, 1), START)
    scheduler = Scheduler(store, Lease(redis), clock)
    clock.set(END)
    assert (await scheduler.tick()).closed == [sid]
    session = await store.get_session(sid)
    assert (session.status, session.close_queued) == (SessionStatus.CLOSED, "post")
    # Queued, so the publisher posts it before the closing post.
    assert (await store.get_answer(sid, aid)).status is AnswerStatus.QUEUED


async def test_the_wrap_up_period_lets_the_expert_finish_then_closes_for_good(
    redis: RedisClient,
) -> None:
    clock = ManualClock(START)
    store = Store(redis, clock=clock)
    stores = stores_of(redis)
    sid = await _live_session(store, clock, wrap_up_minutes=10)
    approved = await _approved(store, sid, 1)
    pending, _ = await store.add_question(
        sid,
        IncomingQuestion(
            tweet_id="2000",
            author=Author(id="9", handle="late"),
            text="@Airbus q?",
            created_at=START,
        ),
        at=START,
    )
    scheduler = Scheduler(store, Lease(redis), clock)
    clock.set(END)
    assert (await scheduler.tick()).closed == [sid]
    session = await store.get_session(sid)
    assert session.status is SessionStatus.WRAPPING_UP
    assert session.wrap_up_until == END + timedelta(minutes=10)

    # Wrapping up: intake stopped and no new approval ...
    late = IncomingQuestion(
        tweet_id="3000", author=Author(id="8", handle="later"), text="@Airbus q?", created_at=END
    )
    with pytest.raises(IllegalTransition):
        await store.add_question(sid, late, at=END)
    with pytest.raises(SessionClosed, match="wrapping_up: it takes no new approvals"):
        await execute(
            QUESTION_COMMANDS["approve"], stores, OPERATOR, sid, pending.id, NoInput(), at=END
        )
    # ... but the expert still answers what was approved, and it is queued for X.
    draft = AnswerDraft(question_ids=[approved], text="Answered during the wrap-up.")
    answer = await execute(ANSWER_COMMANDS["create"], stores, OPERATOR, sid, "", draft, at=END)
    await execute(ANSWER_COMMANDS["submit"], stores, OPERATOR, sid, answer.id, NoInput(), at=END)
    assert (await store.get_answer(sid, answer.id)).status is AnswerStatus.QUEUED

    clock.advance(timedelta(minutes=9))
    assert (await scheduler.tick()).closed == []
    clock.advance(timedelta(minutes=1))
    assert (await scheduler.tick()).closed == [sid]
    session = await store.get_session(sid)
    assert session.status is SessionStatus.CLOSED
    assert session.closed_at == END + timedelta(minutes=10)
    assert (await store.get_answer(sid, answer.id)).status is AnswerStatus.QUEUED  # to post
    with pytest.raises(SessionClosed, match="closed: it takes no new answers"):
        await execute(ANSWER_COMMANDS["create"], stores, OPERATOR, sid, "", draft, at=clock.now())
    events = await store.read_events(sid, count=1000)
    kinds = [e.kind for e in events if e.entity == "session"]
    assert kinds[-2:] == [EventKind.SESSION_WRAPPING_UP, EventKind.SESSION_CLOSED]
    assert await store.replay(sid) == await store.snapshot(sid)


async def test_closing_during_the_wrap_up_can_cancel_what_is_queued(redis: RedisClient) -> None:
    clock = ManualClock(START)
    store = Store(redis, clock=clock)
    sid = await _live_session(store, clock, wrap_up_minutes=30)
    aid = await _queued(store, sid, await _approved(store, sid, 1), START)
    clock.set(START + timedelta(minutes=20))
    close = SESSION_COMMANDS["close"]
    stores = stores_of(redis)
    wrapping = await execute(close, stores, OPERATOR, sid, "", CloseSession(), at=clock.now())
    assert wrapping.status is SessionStatus.WRAPPING_UP
    assert (await store.get_answer(sid, aid)).status is AnswerStatus.QUEUED
    cancel = CloseSession(queued="cancel")
    closed = await execute(close, stores, OPERATOR, sid, "", cancel, at=clock.now())
    assert (closed.status, closed.close_queued) == (SessionStatus.CLOSED, "cancel")
    assert (await store.get_answer(sid, aid)).status is AnswerStatus.DRAFT
    with pytest.raises(IllegalTransition):
        await execute(close, stores, OPERATOR, sid, "", cancel, at=clock.now())
