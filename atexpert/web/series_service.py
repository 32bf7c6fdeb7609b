"""The scheduler leader's series jobs as the app runs them: occurrences created ahead of
time (each with the series' X budget), and their announcements posted from the host
account with its connected OAuth 2.0 token."""

from __future__ import annotations

from atexpert.domain.clock import Clock
from atexpert.domain.series import Series
from atexpert.domain.sessions import Session
from atexpert.publish.series_announcer import SeriesAnnouncer
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.store.scheduler import LeaderJob
from atexpert.store.series import OccurrencePlanner, SeriesStore
from atexpert.store.store import Store
from atexpert.web.publish_service import tweepy_posters
from atexpert.x.accounts import XAccountStore
from atexpert.x.meter import Meter


def series_jobs(
    redis: RedisClient, store: Store, settings: Settings, clock: Clock
) -> list[LeaderJob]:
    meter = Meter(redis, clock=clock)

    async def with_budget(series: Series, session: Session) -> None:
        if series.budget_usd is not None:
            await meter.set_budget(session.id, series.budget_usd)

    accounts = XAccountStore(redis, settings, clock)
    return [
        OccurrencePlanner(store, SeriesStore(redis, clock), on_created=with_budget),
        SeriesAnnouncer(
            redis, tweepy_posters(settings, accounts.session_token), clock, meter=meter
        ),
    ]
