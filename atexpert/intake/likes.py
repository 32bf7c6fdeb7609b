"""Keeping like counts current: a periodic batch lookup of a session's recent open questions.

Likes keep growing after a question arrives. Every ``likes_refresh_seconds`` (a setting,
0: off) one process per session looks up the pending and approved questions whose post
is younger than :data:`MAX_AGE` with ``GET /2/tweets?ids=`` (100 per call) and stores the
counts that changed with :meth:`atexpert.store.store.Store.set_question_likes`: one
``question.metrics`` event each, versions kept, so a moderator's approve never conflicts
with a refresh.

X bills every post a lookup returns as a post read (the search-read price): with a
session budget, a refresh reads at most what leaves ``reserve`` posts of budget for the
questions themselves, newest questions first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.costs import CallKind
from atexpert.domain.questions import Question, QuestionStatus
from atexpert.intake.x_reads import XFailure, XReader
from atexpert.store import keys
from atexpert.store.redis_conn import RedisClient
from atexpert.x.meter import Meter

log = logging.getLogger(__name__)

ACTOR = "intake"
#: Questions whose post is older are left as they are (their likes have mostly settled).
MAX_AGE = timedelta(hours=24)
#: X's most ids per ``GET /2/tweets`` call.
BATCH = 100
OPEN = (QuestionStatus.PENDING, QuestionStatus.APPROVED)


class LikesStore(Protocol):
    """What the refresh needs from :class:`atexpert.store.store.Store`."""

    async def list_questions(
        self,
        session_id: str,
        status: QuestionStatus | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Question]: ...

    async def set_question_likes(
        self,
        session_id: str,
        likes: dict[str, int],
        *,
        actor: str,
        at: datetime | None = None,
    ) -> list[str]: ...


class LikesRefresh:
    def __init__(
        self,
        redis: RedisClient,
        store: LikesStore,
        meter: Meter,
        *,
        interval_seconds: float,
        reserve: int = 100,
        clock: Clock | None = None,
    ) -> None:
        self.redis = redis
        self.store = store
        self.meter = meter
        self.interval_seconds = interval_seconds
        self.reserve = reserve
        self.clock = clock or SystemClock()

    @property
    def enabled(self) -> bool:
        return self.interval_seconds > 0

    async def claim(self, session_id: str) -> bool:
        """Whether this process refreshes the session now: once per interval, across
        every process (the first to set the key until it expires)."""
        if not self.enabled:
            return False
        ttl_ms = max(int(self.interval_seconds * 1000), 1)
        return bool(await self.redis.set(keys.intake(session_id, "likes"), "1", nx=True, px=ttl_ms))

    async def refresh(
        self, reader: XReader, session_id: str, now: datetime | None = None
    ) -> list[str]:
        """Look up the likes of the session's recent open questions; the ids updated."""
        now = now or self.clock.now()
        recent = [
            q
            for status in OPEN
            for q in await self.store.list_questions(session_id, status)
            if now - q.created_at <= MAX_AGE
        ]
        # Newest first; tweet ids (snowflakes) order posts of the same second.
        recent.sort(key=lambda q: (q.created_at, int(q.tweet_id)), reverse=True)
        room = await self.meter.headroom(session_id, CallKind.SEARCH_READ)
        if room is not None:
            recent = recent[: max(room - self.reserve, 0)]
        updated: list[str] = []
        for start in range(0, len(recent), BATCH):
            batch = recent[start : start + BATCH]
            counts = await reader.like_counts(session_id, [q.tweet_id for q in batch])
            changed = {
                q.id: counts[q.tweet_id]
                for q in batch
                if q.tweet_id in counts and counts[q.tweet_id] != q.likes
            }
            if changed:
                updated += await self.store.set_question_likes(session_id, changed, actor=ACTOR)
        return updated

    async def run_once(self, reader: XReader, session_id: str) -> None:
        """Refresh the session if its interval has passed; X failures wait for the next."""
        if not await self.claim(session_id):
            return
        try:
            updated = await self.refresh(reader, session_id)
        except XFailure as exc:
            log.warning(
                "likes refresh %s: %s; next one in %ss", session_id, exc, self.interval_seconds
            )
            return
        log.debug("likes refresh %s: %d questions updated", session_id, len(updated))
