"""Intake in its three modes: the real tweepy client against the emulator over HTTP, real
Redis. Each test posts a known mix on X and checks the exact set of questions stored.

Its world (tests/support/intake_world.py) is shared with the other tests/test_intake_*.py
modules.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from atexpert.domain.clock import ManualClock
from atexpert.domain.sessions import HostAccount, SessionFields
from atexpert.intake.poll import Ingestor, IntakeSettings, PollIntake, target_of
from atexpert.store.intake_state import IntakeMode, IntakeState
from tests.support import emulator_fixtures
from tests.support.intake_world import FAST, IntakeWorld
from tests.support.intake_world import world as world
from tests.support.waiting import wait_for

server, control, settings = (
    emulator_fixtures.server,
    emulator_fixtures.control,
    emulator_fixtures.settings,
)


LONG = "@Airbus #AskAirbus " + "How do you test the cabin air system at altitude? " * 12


@dataclass
class Mix:
    """A known mix of posts and what each mode must keep of it."""

    mention: str
    mention_lower_tag: str
    long_post: str
    restricted: str
    no_mention: str
    no_hashtag: str
    other_hashtag: str
    retweet: str
    own: str
    own_mention: str
    before: set[str]

    @property
    def mentions_expected(self) -> set[str]:
        return {self.mention, self.mention_lower_tag, self.long_post, self.restricted}

    @property
    def search_expected(self) -> set[str]:
        return self.mentions_expected | {self.no_mention}


def post_mix(w: IntakeWorld) -> Mix:
    mention = w.post("fan_1", "@Airbus #AskAirbus when does the A350F fly?")
    return Mix(
        mention=mention,
        mention_lower_tag=w.post("fan_2", "Hey @airbus, #askairbus: is SAF the future?"),
        long_post=w.post("fan_3", LONG),
        restricted=w.post("fan_2", "@Airbus #AskAirbus quiet question", reply_settings="verified"),
        no_mention=w.post("fan_3", "#AskAirbus what about hydrogen planes?"),
        no_hashtag=w.post("fan_1", "@Airbus no hashtag here, just saying hi"),
        other_hashtag=w.post("fan_2", "@Airbus #AskBoeing wrong session"),
        retweet=w.post(
            "fan_2",
            "RT @fan_1: @Airbus #AskAirbus when does the A350F fly?",
            retweet_of_id=mention,
        ),
        own=w.post("Airbus", "#AskAirbus starts now, ask away!"),
        own_mention=w.post("Airbus", "@Airbus #AskAirbus testing our own mention"),
        before=set(),
    )


async def test_mentions_mode_keeps_hashtagged_mentions_only(world: IntakeWorld) -> None:
    mix = post_mix(world)
    poller = world.poller(IntakeMode.MENTIONS)
    assert await poller.poll_once() == 4
    assert await world.tweet_ids() == mix.mentions_expected
    # A second poll reads from the cursor: nothing new, nothing twice.
    assert await poller.poll_once() == 0
    assert sorted(await world.received_events()) == sorted("q_" + t for t in mix.mentions_expected)
    long_q = await world.store.get_question(world.sid, "q_" + mix.long_post)
    assert long_q.text == LONG.strip() or long_q.text == LONG
    assert long_q.author.handle == "fan_3" and long_q.author.name == "Fan 3"
    assert long_q.author.account_created_at is not None
    assert (await world.store.get_question(world.sid, "q_" + mix.mention)).replyable is True
    assert (await world.store.get_question(world.sid, "q_" + mix.restricted)).replyable is False
    status = await world.state.status(world.sid)
    assert status.counters["received"] == 4
    assert status.counters["no_hashtag"] == 2  # other hashtag and no hashtag
    assert status.cursor is not None


async def test_intake_reads_the_time_from_its_clock(world: IntakeWorld) -> None:
    clock = ManualClock(datetime.now(UTC) + timedelta(minutes=10))
    world.post("fan_1", "@Airbus #AskAirbus how quiet is the cabin at cruise?")
    ingestor = Ingestor(world.store, world.state, clock=clock)
    poller = PollIntake(
        world.target, IntakeMode.MENTIONS, world.reader(), ingestor, world.meter, FAST
    )
    assert await poller.poll_once() == 1
    status = await world.state.status(world.sid)
    assert status.last_read_at == clock.now()
    assert status.lag_seconds is not None and 540 < status.lag_seconds <= 600


async def test_search_mode_keeps_every_hashtagged_post(world: IntakeWorld) -> None:
    mix = post_mix(world)
    poller = world.poller(IntakeMode.SEARCH)
    assert await poller.poll_once() == 5
    assert await world.tweet_ids() == mix.search_expected
    assert (await world.store.get_question(world.sid, "q_" + mix.no_mention)).replyable is False
    later = world.post("fan_1", "#AskAirbus one more after the first poll")
    assert await poller.poll_once() == 1
    assert await world.tweet_ids() == mix.search_expected | {later}
    assert len(await world.received_events()) == 6


async def test_paging_reads_every_page_before_moving_the_cursor(world: IntakeWorld) -> None:
    ids = world.control.post_many(
        [{"username": "fan_1", "text": f"@Airbus #AskAirbus question {i}"} for i in range(35)]
    )
    small = IntakeSettings(page_size=10)
    assert await world.poller(IntakeMode.MENTIONS, small).poll_once() == 35
    assert await world.tweet_ids() == set(ids)
    assert await world.state.cursor(world.sid) == max(ids, key=lambda i: (len(i), i))


async def test_stream_mode_delivers_the_exact_set(world: IntakeWorld) -> None:
    mix = post_mix(world)  # before the stream connects: the catch-up brings these
    intake = world.streamer()
    stop = asyncio.Event()
    task = asyncio.create_task(intake.run(stop))
    try:
        await wait_for(lambda: world.control.stream_status()["connected"])
        await wait_for(lambda: _has(world, mix.search_expected))
        live = [
            world.post("fan_1", "@Airbus #AskAirbus live question one"),
            world.post("fan_2", "#AskAirbus live question two"),
        ]
        world.post("fan_3", "#AskBoeing not ours")
        world.post("Airbus", "#AskAirbus our own post")
        expected = mix.search_expected | set(live)
        await wait_for(lambda: _has(world, expected))
        await _settle(world)
        assert await world.tweet_ids() == expected
        assert sorted(await world.received_events()) == sorted("q_" + t for t in expected)
        status = await world.state.status(world.sid)
        assert status.mode is IntakeMode.MENTIONS  # the stored default; the runner is stream
        assert status.state is IntakeState.RUNNING
    finally:
        stop.set()
        await task


async def _has(world: IntakeWorld, expected: set[str]) -> bool:
    return expected <= await world.tweet_ids()


async def _settle(world: IntakeWorld) -> None:
    """Give a late duplicate or stray question the time to show up (it must not)."""
    before = await world.store.last_event_id(world.sid)
    await asyncio.sleep(0.3)
    assert await world.store.last_event_id(world.sid) == before


async def test_one_stream_serves_several_sessions(world: IntakeWorld) -> None:
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Second",
        hashtags=["#AskA350", "#A350Live"],
        host_account=HostAccount(handle="Airbus", user_id=world.host.id),
        scheduled_start=now + timedelta(minutes=1),
        scheduled_end=now + timedelta(hours=1),
    )
    second = await world.store.create_session(fields, actor="admin")
    await world.store.schedule_session(second.id, actor="admin")
    second = await world.store.start_session(second.id, actor="admin")
    intake = world.streamer()
    intake.serve(target_of(second, world.host.id), second.intake_opens_at)
    stop = asyncio.Event()
    task = asyncio.create_task(intake.run(stop))
    try:
        await wait_for(lambda: world.control.stream_status()["connected"])
        first_only = world.post("fan_1", "#AskAirbus for the first session")
        second_only = world.post("fan_2", "#a350live for the second session")
        both = world.post("fan_3", "#AskAirbus #AskA350 for both")
        await wait_for(lambda: _has(world, {first_only, both}))

        async def second_ids() -> set[str]:
            return {q.tweet_id for q in await world.store.list_questions(second.id)}

        await wait_for(lambda: _subset({second_only, both}, second_ids()))
        await _settle(world)
        assert await world.tweet_ids() == {first_only, both}
        assert await second_ids() == {second_only, both}
    finally:
        stop.set()
        await task


async def _subset(expected: set[str], found: Any) -> bool:
    return expected <= await found
