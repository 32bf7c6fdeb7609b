"""The world of the series tests: the app (series API) on a real Redis and a ManualClock,
the X emulator over HTTP hosting @Airbus, and schedulers whose ticks the tests drive."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from atexpert.domain.clock import ManualClock
from atexpert.domain.sessions import Session, SessionStatus
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from atexpert.publish.publisher import SessionPublisher
from atexpert.publish.series_announcer import Posters, SeriesAnnouncer
from atexpert.publish.x_posts import OwnPost, Posted, Poster, TweepyPoster
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.store.scheduler import Lease, Scheduler, TickReport
from atexpert.store.series import OccurrencePlanner, SeriesStore
from atexpert.store.staff import StaffStore
from atexpert.store.store import Store
from atexpert.web.app import create_app
from atexpert.x.client import async_client
from tests.support.api_world import BASE, FAST_HASHER, bearer
from tests.support.publish_world import FAST

#: 20 December 2026, 09:00 UTC: the series is created two weeks before its first date.
T0 = datetime.fromisoformat("2026-12-20T09:00:00+00:00")
MONTHLY_2027 = "FREQ=MONTHLY;BYDAY=1TU;UNTIL=20271231T230000Z"


def series_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slug": "ask-airbus",
        "title": "Ask Airbus",
        "hashtags": ["#AskAirbus"],
        "host_account": {"handle": "Airbus"},
        "time_zone": "Europe/Paris",
        "rrule": MONTHLY_2027,
        "start_time": "15:00",
        "duration_minutes": 60,
        "budget_usd": "5",
    }
    return body | over


@dataclass
class SeriesWorld:
    client: httpx.AsyncClient
    admin: dict[str, str]
    clock: ManualClock
    redis: RedisClient
    settings: Settings
    brand: AccountTokens
    control: EmulatorControl
    staff: StaffStore

    @property
    def store(self) -> Store:
        return Store(self.redis, clock=self.clock)

    def posters(self) -> Posters:
        """Posters acting as @Airbus with its OAuth 2.0 user token."""

        @asynccontextmanager
        async def open_poster(_: Session) -> AsyncIterator[Poster]:
            token = self.brand.oauth2_access_token
            async with async_client(self.settings, user_access_token=token) as x:
                yield TweepyPoster(x, user_auth=False, host_user_id=self.brand.id)

        return open_poster

    def scheduler(
        self, redis: RedisClient | None = None, posters: Posters | None = None
    ) -> Scheduler:
        """One app process's scheduler with the series jobs (its own client when given)."""
        redis = redis or self.redis
        jobs = [
            OccurrencePlanner(Store(redis, clock=self.clock), SeriesStore(redis, self.clock)),
            SeriesAnnouncer(redis, posters or self.posters(), self.clock),
        ]
        return Scheduler(Store(redis), Lease(redis), self.clock, jobs=jobs)

    def crashing_posters(self, *, after_post: bool) -> Posters:
        """Posters whose process dies once, right after (or right before) sending a post."""
        crashed: list[bool] = []

        @asynccontextmanager
        async def open_poster(session: Session) -> AsyncIterator[Poster]:
            async with self.posters()(session) as poster:
                yield _Crashing(poster, crashed, after_post)

        return open_poster

    async def occurrences(self, series_id: str) -> list[dict[str, Any]]:
        r = await self.client.get(f"/api/series/{series_id}/occurrences", headers=self.admin)
        assert r.status_code == 200, r.text
        result: list[dict[str, Any]] = r.json()
        return result

    async def publish(self, session_id: str) -> None:
        """What the session's publisher does now (the start or closing post)."""
        async with self.posters()(await self.store.get_session(session_id)) as poster:
            publisher = SessionPublisher(
                self.store, self.redis, poster, session_id, config=FAST, clock=self.clock
            )
            assert await publisher.lease.acquire() is not None
            await publisher.work()
            await publisher.lease.release()

    async def tick(self, scheduler: Scheduler) -> TickReport:
        """One scheduler tick, then the publisher of each session it started or closed."""
        report = await scheduler.tick()
        for session_id in [*report.started, *report.closed]:
            await self.publish(session_id)
        return report

    async def next_moment(self, series_id: str, limit: timedelta) -> datetime:
        """The next time something is due (an announcement, a start, an end), as the API
        shows the occurrences; at most ``limit`` from now."""
        now = self.clock.now()
        times = [now + limit]
        for occ in await self.occurrences(series_id):
            session = occ["session"]
            times += [datetime.fromisoformat(a["due_at"]) for a in occ["announcements"]]
            if session["status"] == SessionStatus.SCHEDULED:
                times.append(datetime.fromisoformat(session["scheduled_start"]))
            if session["status"] == SessionStatus.LIVE:
                times.append(datetime.fromisoformat(session["scheduled_end"]))
        return min(t for t in times if t > now)

    async def announcement_events(self, session_id: str) -> list[tuple[str, str, str | None]]:
        """The announcement events of the session's log, oldest first: (kind, minutes
        before the start, tweet id); and its log replays to what is stored."""
        events = await self.store.read_events(session_id, count=10_000)
        assert await self.store.replay(session_id) == await self.store.snapshot(session_id)
        return [
            (e.kind.value, e.entity_id, e.data.get("tweet_id"))
            for e in events
            if e.entity == "announcement"
        ]

    async def timeline(self) -> list[dict[str, Any]]:
        """@Airbus's posts, oldest first: id, text, replied_to."""
        token = self.brand.oauth2_access_token
        out: list[dict[str, Any]] = []
        async with async_client(self.settings, user_access_token=token) as reader:
            pages: dict[str, Any] = {}
            while True:
                response = await reader.get_users_tweets(
                    self.brand.id,
                    max_results=100,
                    tweet_fields=["referenced_tweets"],
                    user_auth=False,
                    **pages,
                )
                for tweet in response.data or []:
                    refs = tweet.referenced_tweets or []
                    parent = next((str(r.id) for r in refs if r.type == "replied_to"), None)
                    out.append({"id": str(tweet.id), "text": tweet.text, "replied_to": parent})
                token_next = response.meta.get("next_token")
                if not token_next:
                    break
                pages = {"pagination_token": token_next}
        return list(reversed(out))


class Killed(Exception):
    """The process died here."""


@dataclass
class _Crashing:
    inner: Poster
    crashed: list[bool]
    after_post: bool

    async def post(self, text: str, reply_to: str | None) -> Posted:
        if self.crashed:
            return await self.inner.post(text, reply_to)
        self.crashed.append(True)
        if self.after_post:
            await self.inner.post(text, reply_to)
        raise Killed("the process died before recording the post")

    async def own_posts(self, since_id: str | None) -> list[OwnPost]:
        return await self.inner.own_posts(since_id)


@asynccontextmanager
async def series_world(
    redis: RedisClient, server_url: str, control: EmulatorControl
) -> AsyncIterator[SeriesWorld]:
    clock = ManualClock(T0)
    settings = Settings(
        secret_key=SecretStr("test-secret-key-" + "x" * 32),
        x_api_base_url=server_url,
        x_bearer_token=control.app()["bearer_token"],
    )
    brand = control.create_account("Airbus", "Airbus")
    app = create_app(
        settings, redis=redis, clock=clock, password_hasher=FAST_HASHER, run_scheduler=False
    )
    async with app.router.lifespan_context(app):
        services = app.state.services
        user = await services.staff.create_user("boss", "s3cret-password", is_admin=True)
        _, token = await services.staff.create_token(user.id, "tests")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield SeriesWorld(
                client, bearer(token), clock, redis, settings, brand, control, services.staff
            )
