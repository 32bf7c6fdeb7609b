"""Automatic replies after business hours: intake queues one per asker and closed period,
the publisher posts them (:mod:`atexpert.publish.publisher`), exactly once, like answers.

A session whose ``options.after_hours`` is ``auto_reply`` keeps reading X while closed;
each new question then gets the session's ``auto_reply_text`` (with ``{back}``: when it
reopens) as a reply, once per asker and closed period::

    ama:{s_x}:autoreply            hash  <period>|<asker id> -> AutoReply JSON, until posted
    ama:{s_x}:autoreply:<period>   set   askers answered in that closed period (kept 30 days)

The period is the instant the session reopens (:func:`~atexpert.domain.business_hours.
closed_period`); queueing is one Lua step, so two intake processes cannot both queue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel

from atexpert.domain.business_hours import (
    AfterHours,
    auto_reply,
    closed_period,
    is_open,
    next_change,
)
from atexpert.domain.clock import Clock
from atexpert.domain.questions import IncomingQuestion, Question
from atexpert.domain.sessions import Session
from atexpert.store import keys, lua
from atexpert.store.redis_conn import RedisClient

_QUEUE = lua.script(__name__, "after_hours_queue.lua")
#: How long the askers of a closed period are remembered (longer than any closed period).
KEEP_ASKERS = timedelta(days=30)


class AutoReply(BaseModel):
    """An automatic reply to post: ``text`` in reply to the post ``reply_to``."""

    key: str
    reply_to: str
    text: str
    #: The question mentions the host (X prices a reply to it as a summoned reply).
    summoned: bool


class AutoReplies:
    """The automatic replies of one session waiting to be posted."""

    def __init__(self, redis: RedisClient, session_id: str) -> None:
        self.redis = redis
        self.session_id = session_id

    async def queue(self, period: str, asker_id: str, reply: AutoReply) -> bool:
        """Queue ``reply`` unless the asker has one in ``period``; True if queued."""
        queued: Any = await self.redis.eval(
            _QUEUE,
            2,
            keys.auto_replied(self.session_id, period),
            keys.auto_replies(self.session_id),
            asker_id,
            reply.key,
            reply.model_dump_json(),
            int(KEEP_ASKERS.total_seconds() * 1000),
        )
        return bool(queued)

    async def pending(self) -> list[AutoReply]:
        raw = await self.redis.hgetall(keys.auto_replies(self.session_id))
        replies = [AutoReply.model_validate_json(v) for v in raw.values()]
        return sorted(replies, key=lambda r: (len(r.reply_to), r.reply_to))  # oldest first

    async def done(self, key: str) -> None:
        await self.redis.hdel(keys.auto_replies(self.session_id), key)


class _Sink(Protocol):
    async def add_question(
        self, session_id: str, incoming: IncomingQuestion, *, at: datetime | None = None
    ) -> tuple[Question, bool]: ...


class _Sessions(Protocol):
    async def get_session(self, session_id: str) -> Session: ...


class AfterHoursSink:
    """A question sink for intake that, while the session is closed and its
    ``after_hours`` is ``auto_reply``, queues an automatic reply to each new question
    (once per asker and closed period; never to a post the host may not reply to)."""

    def __init__(self, inner: _Sink, sessions: _Sessions, redis: RedisClient, clock: Clock):
        self.inner = inner
        self.sessions = sessions
        self.redis = redis
        self.clock = clock

    async def add_question(
        self, session_id: str, incoming: IncomingQuestion, *, at: datetime | None = None
    ) -> tuple[Question, bool]:
        question, created = await self.inner.add_question(session_id, incoming, at=at)
        if created and incoming.replyable is not False:
            await self._reply_after_hours(await self.sessions.get_session(session_id), incoming)
        return question, created

    async def _reply_after_hours(self, session: Session, incoming: IncomingQuestion) -> None:
        options, now, zone = session.options, self.clock.now(), session.time_zone
        hours = options.business_hours
        if hours is None or options.after_hours is not AfterHours.AUTO_REPLY:
            return
        if is_open(now, hours, zone):
            return
        period = closed_period(now, hours, zone)
        text = auto_reply(
            options.auto_reply_text, incoming.author.handle, next_change(now, hours, zone), zone
        )
        reply = AutoReply(
            key=f"{period}|{incoming.author.id}",
            reply_to=incoming.tweet_id,
            text=text,
            summoned=incoming.replyable is True,
        )
        await AutoReplies(self.redis, session.id).queue(period, incoming.author.id, reply)
