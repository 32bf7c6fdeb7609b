"""Auto-moderation at the edges: each session's config in Redis, and the intake hook.

Keys (the session's hash tag, so one slot per session)::

    ama:{s_x}:automod                 hash: config JSON, version, updated_by, updated_at
    ama:{s_x}:automod:by:<author id>  sorted set: the author's questions (JSON) by post time

Every change of the config appends ``automod.changed`` (the whole new config) to the
session's event log in the same step (:mod:`atexpert.store.session_settings`).

:class:`AutomodSink` wraps the store where intake adds questions
(:class:`atexpert.intake.poll.QuestionSink`): every NEW question is evaluated and the decision
applied as the actor ``automod`` (approve, reject with the reason, or hold: tag
``automod-hold`` and the reason as the moderator note). If auto-moderation fails the
question simply stays pending.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict

from atexpert.domain.automod import Context, Decision, PastQuestion, comparable, evaluate
from atexpert.domain.automod_config import AutomodConfig, Outcome
from atexpert.domain.errors import Conflict, NotFound
from atexpert.domain.events import EventKind
from atexpert.domain.questions import IncomingQuestion, Question, QuestionStatus
from atexpert.store import keys
from atexpert.store.redis_conn import RedisClient
from atexpert.store.session_settings import SettingWriter

log = logging.getLogger(__name__)

ACTOR = "automod"
HOLD_TAG = "automod-hold"
#: How long an author's questions are remembered (longest window of a rule).
HISTORY = timedelta(hours=24)
HISTORY_MAX = 200


class StoredConfig(BaseModel):
    """A session's config with its version (0: never set, the defaults apply)."""

    model_config = ConfigDict(frozen=True)

    config: AutomodConfig = AutomodConfig()
    version: int = 0
    updated_by: str | None = None
    updated_at: AwareDatetime | None = None


class AutomodStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._writer = SettingWriter(redis, "the automod config")

    async def get(self, session_id: str) -> StoredConfig:
        raw = await self._redis.hgetall(keys.automod(session_id))
        if not raw:
            return StoredConfig()
        return StoredConfig.model_validate({**raw, "config": json.loads(raw["config"])})

    async def put(
        self,
        session_id: str,
        config: AutomodConfig,
        *,
        actor: str,
        at: datetime,
        expected_version: int | None = None,
    ) -> StoredConfig:
        """Replace the config and log ``automod.changed``; Conflict unless it is still at
        ``expected_version``, NotFound if the session does not exist."""
        version = await self._writer.write(
            session_id,
            keys.automod(session_id),
            EventKind.AUTOMOD_CHANGED,
            {"config": config.model_dump(mode="json")},
            {"config": config.model_dump_json()},
            actor=actor,
            at=at,
            expected_version=expected_version,
        )
        return StoredConfig(config=config, version=version, updated_by=actor, updated_at=at)

    async def remember(self, question: Question) -> list[PastQuestion]:
        """Record ``question`` in its author's history; the author's questions posted before."""
        key = keys.automod_history(question.session_id, question.author.id)
        mine = keys.ms(question.created_at)
        text = comparable(question.text)
        entry = json.dumps({"id": question.tweet_id, "text": text})
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(key, {entry: mine})
        pipe.zremrangebyscore(key, "-inf", mine - HISTORY / timedelta(milliseconds=1))
        pipe.zremrangebyrank(key, 0, -HISTORY_MAX - 1)
        pipe.pexpire(key, HISTORY)
        pipe.zrange(key, 0, -1, withscores=True)
        *_, members = await pipe.execute()
        order = (mine, int(question.tweet_id))
        past: list[PastQuestion] = []
        for raw, score in members:
            item = json.loads(raw)
            if (int(score), int(item["id"])) < order:
                at = datetime.fromtimestamp(score / 1000, tz=question.created_at.tzinfo)
                past.append(PastQuestion(at=at, text=str(item["text"])))
        return past


class ModerationStore(Protocol):
    """What the hook needs from :class:`atexpert.store.store.Store`."""

    async def add_question(
        self, session_id: str, incoming: IncomingQuestion, *, at: datetime | None = None
    ) -> tuple[Question, bool]: ...

    async def list_questions(
        self,
        session_id: str,
        status: QuestionStatus | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Question]: ...

    async def approve_question(
        self, session_id: str, question_id: str, *, actor: str, at: datetime | None = None
    ) -> Question: ...

    async def reject_question(
        self,
        session_id: str,
        question_id: str,
        reason: str,
        *,
        actor: str,
        at: datetime | None = None,
    ) -> Question: ...

    async def set_question_tags(
        self, session_id: str, question_id: str, tags: list[str], *, actor: str
    ) -> Question: ...

    async def set_question_note(
        self, session_id: str, question_id: str, note: str | None, *, actor: str
    ) -> Question: ...


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class AutomodSink:
    """A question sink for intake that auto-moderates every new question it stores.

    The questions of one author are handled one at a time, in call order (intake calls in
    tweet order), so a burst meets the per-hour and duplicate rules as if sent slowly.
    """

    def __init__(self, store: ModerationStore, automod: AutomodStore) -> None:
        self.store = store
        self.automod = automod
        self._turns: dict[tuple[str, str], _Turn] = {}

    @asynccontextmanager
    async def _turn(self, session_id: str, author_id: str) -> AsyncIterator[None]:
        key = (session_id, author_id)
        turn = self._turns.setdefault(key, _Turn())
        turn.users += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[key]

    async def add_question(
        self, session_id: str, incoming: IncomingQuestion, *, at: datetime | None = None
    ) -> tuple[Question, bool]:
        async with self._turn(session_id, incoming.author.id):
            question, created = await self.store.add_question(session_id, incoming, at=at)
            if created:
                try:
                    await self.moderate(question)
                except Exception:  # the question stays pending: a person decides
                    log.exception("automod failed on %s of %s", question.id, session_id)
        return question, created

    async def moderate(self, question: Question) -> Decision:
        """Evaluate a stored question and apply the decision (skipped if someone was faster)."""
        config = (await self.automod.get(question.session_id)).config
        recent = await self.automod.remember(question)
        if not config.enabled:
            return Decision(outcome=Outcome.NONE)
        approved: frozenset[str] = frozenset()
        if config.raid_mode:
            approved = await self._approved_authors(question.session_id)
        context = Context(now=question.created_at, recent=recent, approved_authors=approved)
        decision = evaluate(question, config, context)
        try:
            await self._apply(question, decision, config)
        except (Conflict, NotFound) as exc:  # a moderator acted first, or it is gone
            log.info("automod left %s alone: %s", question.id, exc)
        return decision

    async def _approved_authors(self, session_id: str) -> frozenset[str]:
        ids: set[str] = set()
        for status in (QuestionStatus.APPROVED, QuestionStatus.ANSWERED):
            ids |= {q.author.id for q in await self.store.list_questions(session_id, status)}
        return frozenset(ids)

    async def _apply(self, question: Question, decision: Decision, config: AutomodConfig) -> None:
        sid, qid = question.session_id, question.id
        reason = decision.reason(config.language)
        if decision.outcome is Outcome.APPROVE:
            await self.store.approve_question(sid, qid, actor=ACTOR)
        elif decision.outcome is Outcome.REJECT:
            await self.store.reject_question(sid, qid, reason, actor=ACTOR)
        elif decision.outcome is Outcome.HOLD:
            await self.store.set_question_tags(sid, qid, [HOLD_TAG], actor=ACTOR)
            await self.store.set_question_note(sid, qid, reason, actor=ACTOR)
