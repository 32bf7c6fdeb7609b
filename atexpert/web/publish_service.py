"""Runs a :class:`~atexpert.publish.publisher.SessionPublisher` for every session with work to do.

The app starts one :class:`PublishService`; every process may run one, the per-session
lease keeps a single active publisher per session. A session has work while it is live or
wraps up, and once closed until its queue is empty and its end announcement is posted (when on).
How a publisher reaches X as the brand is the ``posters`` factory: it opens a
:class:`~atexpert.publish.x_posts.Poster` for a session (the brand's OAuth 2.0 user token with
:func:`tweepy_posters`, asked for before every call so that it is refreshed however long
the publisher runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from atexpert.domain.announce import Moment
from atexpert.domain.answers import AnswerStatus
from atexpert.domain.clock import Clock
from atexpert.domain.sessions import Session, SessionStatus
from atexpert.publish.outbox import Outbox
from atexpert.publish.publisher import CostMeter, PublishConfig, SessionPublisher
from atexpert.publish.x_posts import Poster, TweepyPoster
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from atexpert.web.logs import in_session
from atexpert.web.tasks import stop_task
from atexpert.x.client import async_client

log = logging.getLogger(__name__)

PosterFactory = Callable[[Session], AbstractAsyncContextManager[Poster]]


def tweepy_posters(
    settings: Settings, user_token: Callable[[Session, str | None], Awaitable[str]]
) -> PosterFactory:
    """Posters acting with the brand's OAuth 2.0 user token (``user_token(session, refused)``,
    :meth:`~atexpert.x.accounts.XAccountStore.session_token`), asked for before every call."""

    @asynccontextmanager
    async def open_poster(session: Session) -> AsyncIterator[Poster]:
        token = await user_token(session, None)  # not connected: stop here, retry next tick
        async with async_client(settings, user_access_token=token) as client:
            yield TweepyPoster(
                client,
                user_auth=False,
                host_user_id=session.host_account.user_id,
                token=lambda refused: user_token(session, refused),
            )

    return open_poster


class PublishService:
    def __init__(
        self,
        store: Store,
        redis: RedisClient,
        posters: PosterFactory,
        *,
        config: PublishConfig | None = None,
        clock: Clock | None = None,
        meter: CostMeter | None = None,
    ) -> None:
        self.store = store
        self.meter = meter
        self.redis = redis
        self.posters = posters
        self.config = config or PublishConfig()
        self.clock = clock
        self._running: dict[str, tuple[asyncio.Event, asyncio.Task[None]]] = {}

    @property
    def running(self) -> set[str]:
        return {sid for sid, (_, task) in self._running.items() if not task.done()}

    async def tick(self) -> None:
        """Start a publisher for each session with work, stop those without."""
        wanted = set()
        for session in await self.store.list_sessions():
            if await self.has_work(session):
                wanted.add(session.id)
                if session.id not in self.running:
                    stop = asyncio.Event()
                    task = asyncio.create_task(
                        self._publish(session, stop),
                        name=session.id,
                        context=in_session(session.id),
                    )
                    self._running[session.id] = (stop, task)
        for sid in set(self._running) - wanted:
            await self._stop(sid)

    async def has_work(self, session: Session) -> bool:
        if session.status in (SessionStatus.LIVE, SessionStatus.WRAPPING_UP):
            return True
        if session.status is not SessionStatus.CLOSED:
            return False
        for status in (AnswerStatus.QUEUED, AnswerStatus.PUBLISHING):
            if await self.store.list_answers(session.id, status):
                return True
        outbox = Outbox(self.redis, session.id)
        return session.options.announce and await outbox.announcement_id(Moment.END) is None

    async def _publish(self, session: Session, stop: asyncio.Event) -> None:
        try:
            async with self.posters(session) as poster:
                publisher = SessionPublisher(
                    self.store,
                    self.redis,
                    poster,
                    session.id,
                    config=self.config,
                    clock=self.clock,
                    meter=self.meter,
                )
                await publisher.run(stop)
        except Exception:
            log.exception("publisher of %s stopped; the next tick restarts it", session.id)

    async def _stop(self, session_id: str) -> None:
        stop, task = self._running.pop(session_id)
        await stop_task(task, stop, timeout=5)

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Tick every ``interval`` seconds until ``stop``; then stop every publisher."""
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception:
                    log.exception("publish service tick failed; retrying")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(interval):
                        await stop.wait()
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        for sid in list(self._running):
            await self._stop(sid)
