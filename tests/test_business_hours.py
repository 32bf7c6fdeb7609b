"""Business hours in the session's time zone across both DST changes (pure domain), the
session options that hold them, and intake pausing while the session is closed
(ManualClock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from atexpert.domain.business_hours import (
    AfterHours,
    BusinessHours,
    Window,
    closed_period,
    is_open,
    next_change,
    preview_auto_reply,
)
from atexpert.domain.clock import ManualClock
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import HostAccount, Session, SessionFields, SessionOptions
from atexpert.emulator.control_client import EmulatorControl
from atexpert.intake.poll import IntakeSettings
from atexpert.intake.x_reads import XReader
from atexpert.publish.publisher import SessionPublisher
from atexpert.publish.x_posts import TweepyPoster
from atexpert.settings import Settings
from atexpert.store.after_hours import AfterHoursSink
from atexpert.store.automod import AutomodSink, AutomodStore
from atexpert.store.intake_state import IntakeStore, PauseReason
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from atexpert.web.intake_service import IntakeService
from atexpert.x.client import async_client
from atexpert.x.meter import Meter
from tests.support import emulator_fixtures
from tests.support.publish_world import FAST

server, control, settings = (
    emulator_fixtures.server,
    emulator_fixtures.control,
    emulator_fixtures.settings,
)

PARIS = "Europe/Paris"
WEEKDAYS = Window(days=["mon", "tue", "wed", "thu", "fri"], opens=time(8), closes=time(20))
#: Monday to Friday 08:00-20:00 in Paris, closed on All Saints' Day 2027.
DESK = BusinessHours(windows=[WEEKDAYS], closed_dates=[date(2027, 11, 1)])


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_a_weekday_desk_across_the_spring_change() -> None:
    # Friday March 26th 2027, 19:59 in Paris (UTC+1): open; it closes at 20:00 (19:00 UTC).
    friday = utc(2027, 3, 26, 18, 59)
    assert is_open(friday, DESK, PARIS)
    assert next_change(friday, DESK, PARIS) == utc(2027, 3, 26, 19, 0)
    # Closed over the weekend, when the clocks move forward (Sunday 28th); it opens on
    # Monday at 08:00 summer time (UTC+2), 06:00 UTC.
    closed = utc(2027, 3, 26, 19, 0)
    assert not is_open(closed, DESK, PARIS)
    assert next_change(closed, DESK, PARIS) == utc(2027, 3, 29, 6, 0)
    assert is_open(utc(2027, 3, 29, 6, 0), DESK, PARIS)
    assert not is_open(utc(2027, 3, 29, 5, 59), DESK, PARIS)


def test_the_autumn_change_and_a_closed_date() -> None:
    # Friday October 29th 2027, 20:00 summer time (18:00 UTC): closed until Tuesday, since
    # Monday November 1st is closed; Tuesday 08:00 is winter time (UTC+1), 07:00 UTC.
    closes = next_change(utc(2027, 10, 29, 12, 0), DESK, PARIS)
    assert closes == utc(2027, 10, 29, 18, 0)
    assert next_change(closes, DESK, PARIS) == utc(2027, 11, 2, 7, 0)
    assert not is_open(utc(2027, 11, 1, 10, 0), DESK, PARIS)


def test_a_window_in_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    night = BusinessHours(windows=[Window(days=["sun"], opens=time(2, 30), closes=time(0))])
    saturday = utc(2027, 3, 27, 12, 0)
    # 02:30 does not exist on March 28th in Paris: 02:00 is 03:00 (01:00 UTC).
    assert next_change(saturday, night, PARIS) == utc(2027, 3, 28, 1, 0)
    # Open until midnight (22:00 UTC in summer time).
    assert next_change(utc(2027, 3, 28, 1, 0), night, PARIS) == utc(2027, 3, 28, 22, 0)


def test_one_closed_period_has_one_id() -> None:
    evening, night = utc(2027, 3, 26, 19, 30), utc(2027, 3, 27, 23, 0)
    assert closed_period(evening, DESK, PARIS) == closed_period(night, DESK, PARIS)
    assert closed_period(evening, DESK, PARIS) != closed_period(
        utc(2027, 3, 29, 19, 0), DESK, PARIS
    )
    assert next_change(evening, BusinessHours(windows=[WEEKDAYS], closed_dates=[]), "UTC")


def test_the_automatic_reply_preview_says_when_the_desk_is_back() -> None:
    friday = utc(2027, 3, 26, 12, 0)  # open: the next closing ends on Monday 08:00
    preview = preview_auto_reply("Back {back}.", DESK, AfterHours.AUTO_REPLY, PARIS, friday)
    assert preview.enabled and preview.open_now
    assert preview.next_change == utc(2027, 3, 26, 19, 0)
    assert preview.text == "@xxxxxxxxxxxxxxx Back 2027-03-29 08:00."
    assert preview.weighted_length == len(preview.text)
    saturday = preview_auto_reply(
        "Back {back}.", DESK, AfterHours.PAUSE, PARIS, friday + timedelta(days=1)
    )
    assert not saturday.enabled and not saturday.open_now
    assert saturday.next_change == utc(2027, 3, 29, 6, 0)


def test_the_options_refuse_what_cannot_be_honoured() -> None:
    with pytest.raises(ValidationError, match="closes after it opens"):
        Window(days=["mon"], opens=time(20), closes=time(8))
    with pytest.raises(ValidationError, match="days"):
        Window(days=[], opens=time(8), closes=time(20))
    with pytest.raises(ValidationError, match="280 characters"):
        SessionOptions(auto_reply_text="x" * 281)
    options = SessionOptions.model_validate(
        {
            "business_hours": {
                "windows": [{"days": ["sat"], "opens": "10:00", "closes": "00:00"}],
                "closed_dates": ["2027-12-25"],
            },
            "after_hours": "auto_reply",
        }
    )
    assert options.after_hours is AfterHours.AUTO_REPLY
    assert options.business_hours is not None


async def desk(store: Store, host_id: str, options: SessionOptions, now: datetime) -> Session:
    """A live session of @AirFrance in Paris time, for a year from ``now``."""
    fields = SessionFields(
        title="Customer desk",
        hashtags=["#AFdesk"],
        host_account=HostAccount(handle="AirFrance", user_id=host_id),
        scheduled_start=now + timedelta(minutes=1),
        scheduled_end=now + timedelta(days=365),
        time_zone=PARIS,
        options=options,
    )
    session = await store.create_session(fields, actor="admin")
    await store.schedule_session(session.id, actor="admin")
    return await store.start_session(session.id, actor="admin")


async def test_intake_pauses_while_the_desk_is_closed(
    redis: RedisClient, settings: Settings, control: EmulatorControl
) -> None:
    host = control.create_account("AirFrance", "Air France")
    clock = ManualClock(utc(2027, 3, 26, 18, 0))  # Friday, 19:00 in Paris: open
    store = Store(redis, clock=clock)
    options = SessionOptions(announce=False, business_hours=DESK)
    session = await desk(store, host.id, options, clock.now())
    state = IntakeStore(redis)
    service = IntakeService(
        redis, store, settings, IntakeSettings(poll_interval_seconds=0.05), clock=clock
    )
    async with async_client(settings) as client:
        reader = XReader(client, Meter(redis, clock=clock), clock=clock)
        try:
            await service.tick(reader)
            assert session.id in service.pollers
            clock.advance(timedelta(hours=1))  # 20:00: closed for the weekend
            await service.tick(reader)
            assert session.id not in service.pollers
            pause = await state.pause(session.id)
            assert pause.paused and pause.reason is PauseReason.OUTSIDE_HOURS
            clock.set(utc(2027, 3, 29, 6, 0))  # Monday 08:00, summer time
            await service.tick(reader)
            assert session.id in service.pollers
            assert not (await state.pause(session.id)).paused
        finally:
            await service.shutdown()
    events = await store.read_events(session.id, count=1000)
    said = [e.data["reason"] for e in events if e.kind == "intake_pause.changed"]
    assert said[:2] == ["outside_hours", None]


async def test_one_automatic_reply_per_asker_and_closed_period(
    redis: RedisClient, settings: Settings, control: EmulatorControl
) -> None:
    host = control.create_account("AirFrance", "Air France")
    fans = {n: control.create_account(n, n.title()) for n in ("fan_1", "fan_2")}
    clock = ManualClock(utc(2027, 3, 27, 10, 0))  # Saturday 11:00 in Paris: closed
    store = Store(redis, clock=clock)
    options = SessionOptions(
        announce=False,
        business_hours=DESK,
        after_hours=AfterHours.AUTO_REPLY,
        auto_reply_text="We are away; back {back}.",
    )
    sid = (await desk(store, host.id, options, clock.now())).id
    sink = AfterHoursSink(AutomodSink(store, AutomodStore(redis)), store, redis, clock)

    async def ask(fan: str, text: str) -> None:
        tweet_id = control.post(fan, f"@AirFrance {text}")
        author = Author(id=fans[fan].id, handle=fan)
        incoming = IncomingQuestion(
            tweet_id=tweet_id, author=author, text=text, created_at=clock.now(), replyable=True
        )
        await sink.add_question(sid, incoming)

    async with async_client(settings, user_access_token=host.oauth2_access_token) as client:
        publisher = SessionPublisher(
            store,
            redis,
            TweepyPoster(client, user_auth=False, host_user_id=host.id),
            sid,
            config=FAST,
            clock=clock,
        )
        assert await publisher.lease.acquire() is not None

        async def replies() -> list[str]:
            await publisher.work()
            timeline = await client.get_users_tweets(host.id, max_results=100, user_auth=False)
            return sorted(str(t.text) for t in timeline.data or [])

        await ask("fan_1", "my bag is lost")
        await ask("fan_1", "hello? my bag")
        await ask("fan_2", "is my flight on time?")
        weekend = [
            "@fan_1 We are away; back 2027-03-29 08:00.",  # Monday, after the DST change
            "@fan_2 We are away; back 2027-03-29 08:00.",
        ]
        assert await replies() == weekend
        assert await publisher.auto_replies.pending() == []

        clock.set(utc(2027, 3, 29, 9, 0))  # Monday 11:00: open, no automatic reply
        await ask("fan_1", "any news of my bag?")
        assert await replies() == weekend
        clock.set(utc(2027, 3, 29, 19, 0))  # Monday 21:00: a new closed period
        await ask("fan_1", "still no bag")
        assert await replies() == sorted([*weekend, "@fan_1 We are away; back 2027-03-30 08:00."])
