"""Posting the announcements before each occurrence of a series, exactly once.

:class:`SeriesAnnouncer` is a job of the scheduler's leader
(:class:`~atexpert.store.scheduler.Scheduler`): at each tick, for every scheduled occurrence
of every series, each announcement whose time has come
(:mod:`atexpert.domain.series_announce`) is:

1. skipped and recorded as ``missed`` when more than half its offset late (the app was
   down), never posted late;
2. claimed (``scheduled`` -> ``posting``) with the leader's fence and the exact text to
   post, in one Lua step, BEFORE the post is sent;
3. posted from the host account (the lease renewed just before), then recorded
   ``posted`` with its tweet id.

A crash between the post and its record leaves the announcement ``posting``: the next
leader reconciles against the host's own timeline (a post with the same text, not a
reply) and records the post it finds instead of posting again, as the publisher does for
answers (:mod:`atexpert.publish.publisher`). A 429 releases the claim (nothing was posted:
retried at the next tick); a refusal fails the announcement with X's reason (a
"duplicate content" one too, unless the post was attempted before: then it is reconciled).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from atexpert.domain import series_announce
from atexpert.domain.clock import Clock
from atexpert.domain.costs import post_kind
from atexpert.domain.events import Record
from atexpert.domain.series import Series
from atexpert.domain.series_announce import AnnouncementState
from atexpert.domain.sessions import Session, SessionStatus
from atexpert.publish.publisher import CostMeter
from atexpert.publish.x_posts import Ambiguous, Poster, RateLimited, Refused, same_text
from atexpert.store.redis_conn import RedisClient
from atexpert.store.scheduler import Lease
from atexpert.store.series import SeriesStore
from atexpert.store.series_announcements import AnnouncementStore, Op, Verdict

log = logging.getLogger(__name__)
ACTOR = "scheduler"
#: Opens a poster acting as the session's host account.
Posters = Callable[[Session], AbstractAsyncContextManager[Poster]]


class SeriesAnnouncer:
    def __init__(
        self,
        redis: RedisClient,
        posters: Posters,
        clock: Clock,
        *,
        meter: CostMeter | None = None,
    ) -> None:
        self.series = SeriesStore(redis, clock)
        self.states = AnnouncementStore(redis)
        self.posters = posters
        self.clock = clock
        self.meter = meter

    async def __call__(self, lease: Lease, now: datetime) -> list[str]:
        """Post (or record as missed) every announcement due; what it did, e.g.
        ``announced s_x-20270105 -1440`` (the minutes before the start)."""
        done: list[str] = []
        for series in await self.series.list():
            for session in await self.series.sessions(series.id):
                if session.status is SessionStatus.SCHEDULED and session.options.announce:
                    done += await self._session(series, session, lease, now)
        return done

    async def _session(
        self, series: Series, session: Session, lease: Lease, now: datetime
    ) -> list[str]:
        states = await self.states.states(session.id)
        done = []
        for before in series.announce_before_minutes:
            state = states.get(before, AnnouncementState())
            due = series_announce.due_at(session, before)
            if due > now or state.status not in ("scheduled", "posting"):
                continue
            try:
                outcome = await self._one(session, before, state, lease, now)
            except Exception:  # e.g. the host account is not connected: the others go on
                log.exception("announcement %s -%s failed; retrying", session.id, before)
                continue
            if outcome:
                done.append(f"{outcome} {session.id} -{before}")
        return done

    async def _one(
        self, session: Session, before: int, state: AnnouncementState, lease: Lease, now: datetime
    ) -> str | None:
        fence = lease.token
        if fence is None or not await lease.renew():
            return None
        text = series_announce.text_of(session, before, state)
        if state.status == "scheduled" and series_announce.missed(session, before, now):
            await self._step(session, before, "missed", _why(now), fence, now)
            return "missed"
        # The poster first: an account that cannot post (not connected) claims nothing.
        async with self.posters(session) as poster:
            claim = {"status": "posting", "text": text, "attempt_at": now.isoformat()}
            verdict, state = await self._step(session, before, "claim", claim, fence, now)
            if verdict not in ("ok", "retry"):
                return None
            text = state.text or text
            if verdict == "retry":
                found = await _reconcile(poster, text)
                if found is not None:
                    return await self._posted(session, before, text, found, fence, now)
                if series_announce.missed(session, before, now):
                    await self._step(session, before, "missed", _why(now), fence, now)
                    return "missed"
            if not await lease.renew():
                return None  # another process leads now: it reconciles this claim
            try:
                posted = await poster.post(text, None)
            except RateLimited:
                await self._step(session, before, "release", {"status": "scheduled"}, fence, now)
                return None
            except Refused as exc:
                # A duplicate after an earlier attempt may be ours; on a first attempt it
                # is an older post with the same text: X's refusal stands.
                retried = exc.duplicate and verdict == "retry"
                found = await _reconcile(poster, text) if retried else None
                if found is not None:
                    return await self._posted(session, before, text, found, fence, now)
                patch = {"status": "failed", "reason": exc.reason[:500]}
                await self._step(session, before, "failed", patch, fence, now)
                return "failed"
            except Ambiguous as exc:  # stays "posting": the next tick reconciles first
                log.warning("announcement of %s: no verdict from X: %s", session.id, exc)
                return None
        return await self._posted(session, before, text, posted.tweet_id, fence, now)

    async def _step(
        self, session: Session, before: int, op: Op, patch: Record, fence: int, now: datetime
    ) -> tuple[Verdict, AnnouncementState]:
        """One step on the announcement, its event by the scheduler at ``now``."""
        return await self.states.step(
            session.id, before, op, patch, fence=fence, actor=ACTOR, at=now
        )

    async def _posted(
        self, session: Session, before: int, text: str, tweet_id: str, fence: int, now: datetime
    ) -> str:
        patch = {"status": "posted", "tweet_id": tweet_id, "posted_at": now.isoformat()}
        await self._step(session, before, "posted", patch, fence, now)
        if self.meter is not None:
            await self.meter.record(session.id, post_kind(text))
        return "announced"


def _why(now: datetime) -> dict[str, str]:
    return {"status": "missed", "reason": f"too late at {now.isoformat()}: not posted late"}


async def _reconcile(poster: Poster, text: str) -> str | None:
    """Our post with ``text`` (not a reply), if the host's timeline has it."""
    for post in await poster.own_posts(since_id=None):
        if post.reply_to is None and same_text(text, post.text):
            return post.tweet_id
    return None
