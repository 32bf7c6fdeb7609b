"""The publishing outbox in Redis.

The outbox of an answer is its own ``parts`` list: claiming it (queued -> publishing)
writes the rendered thread into ``parts`` in the SAME atomic step as the status change and
its ``answer.publishing`` event (:meth:`Store.start_publishing` with ``parts``); each posted part
is then recorded with its tweet id (``answer.part_posted``). Part 1's record also carries
``reply_to`` (the post it answers) and ``route``, fixed at claim time. A part already
posted is never rendered again: a retried answer resumes after its last posted part.
The replies to merged askers (``merged``) are written in the same claim step and kept the
same way once one of their posts is on X.

The announcements' tweet ids are fields of the session record (``thread_root_id``,
``closing_tweet_id``), set by :meth:`Store.record_announcement` (``session.announced``).

Next to the records, per session (same hash tag, so one Cluster slot):

- ``ama:{s}:pub:attempts``  hash ``<answer id>:<part>`` or ``announce:<moment>`` -> time:
  a post was sent and its outcome is not known yet. The publisher reconciles against the
  host's timeline before sending it again.
- ``ama:{s}:pub:status``    hash: what the publisher is doing, why it waits, until when.
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import AwareDatetime, BaseModel

from atexpert.domain import twittertext
from atexpert.domain.answers import Answer, MergedReply
from atexpert.domain.errors import NotFound
from atexpert.domain.events import Record
from atexpert.domain.publish_plan import PlannedPart, Route, ThreadPlan
from atexpert.domain.sessions import ANNOUNCEMENT_FIELD
from atexpert.store import keys
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store

ACTOR = "publisher"


def reply_target(raw: Record) -> str | None:
    """``reply_to`` of part 1 as written at claim time (None: a new post)."""
    parts = raw.get("parts") or []
    first = parts[0] if isinstance(parts, list) and parts else {}
    value = first.get("reply_to") if isinstance(first, dict) else None
    return str(value) if value else None


def outbox_parts(raw: Record, plan: ThreadPlan, *, sent: bool = False) -> list[Record]:
    """The parts to write at claim: the plan; or, once a part was posted or part 1 was
    ``sent`` (it may be on X), the stored parts as they are: a retry resumes the thread
    as claimed, it never renders it again."""
    kept = raw.get("parts")
    if isinstance(kept, list) and claimed_plan(raw) is not None:
        posted = any(isinstance(p, dict) and p.get("status") == "posted" for p in kept)
        if posted or sent:
            return kept
    out: list[Record] = [{"text": p.text, "status": "pending"} for p in plan.parts]
    out[0] |= {"reply_to": plan.reply_to, "route": plan.route.value}
    return out


def outbox_merged(raw: Record, fresh: list[MergedReply]) -> list[Record]:
    """The replies to merged askers to write at claim: ``fresh``; or, once one of the
    stored ones was posted or refused, the stored ones as they are (a retry resumes),
    then the fresh ones of askers merged since."""
    kept = Answer.model_validate(raw).merged
    if any(r.error or any(p.tweet_id for p in r.parts) for r in kept):
        known = {r.question_id for r in kept} | {r.handle.lower() for r in kept}
        new = [r for r in fresh if not {r.question_id, r.handle.lower()} & known]
        return [r.model_dump(mode="json") for r in [*kept, *new]]
    return [r.model_dump(mode="json") for r in fresh]


def claimed_route(raw: Record) -> Route | None:
    """The route written at claim time (None before the claim)."""
    parts = raw.get("parts")
    first = parts[0] if isinstance(parts, list) and parts else None
    route = first.get("route") if isinstance(first, dict) else None
    return Route(route) if route in {r.value for r in Route} else None


def claimed_plan(raw: Record) -> ThreadPlan | None:
    """The thread as claimed into the outbox (what is, or will be, on X); None before."""
    route = claimed_route(raw)
    parts = raw.get("parts")
    if route is None or not isinstance(parts, list):
        return None
    texts = [str(p.get("text", "")) for p in parts if isinstance(p, dict)]
    return ThreadPlan(
        route=route,
        reply_to=reply_target(raw),
        parts=[PlannedPart(text=t, weighted_length=twittertext.weighted_length(t)) for t in texts],
    )


class Outbox:
    """Redis side of publishing for one session."""

    def __init__(self, redis: RedisClient, session_id: str) -> None:
        self.redis = redis
        self.session_id = session_id
        self.store = Store(redis)

    async def raw_answer(self, answer_id: str) -> Record:
        """The stored answer record, with the fields the Answer model leaves out."""
        raw = await self.redis.get(keys.answer(self.session_id, answer_id))
        if raw is None:
            raise NotFound("answer", answer_id)
        value: Record = json.loads(raw)
        return value

    async def claim(
        self, answer: Answer, parts: list[Record], at: datetime, merged: list[Record]
    ) -> None:
        """queued -> publishing, writing the outbox ``parts`` and ``merged``, in one step.

        Raises IllegalTransition when the answer is no longer queued, Conflict when it
        changed since it was read (another publisher claimed it, or it was withdrawn).
        """
        await self.store.start_publishing(
            self.session_id,
            answer.id,
            actor=ACTOR,
            at=at,
            parts=parts,
            merged=merged,
            version=answer.version,
        )

    # -- attempts (posts sent, outcome unknown) -----------------------------------------

    async def mark_attempt(self, field: str, at: datetime) -> None:
        await self.redis.hset(keys.publisher(self.session_id, "attempts"), field, at.isoformat())

    async def attempted(self, field: str) -> bool:
        return bool(await self.redis.hexists(keys.publisher(self.session_id, "attempts"), field))

    async def clear_attempt(self, field: str) -> None:
        await self.redis.hdel(keys.publisher(self.session_id, "attempts"), field)

    # -- announcements -------------------------------------------------------------------

    async def announcement_id(self, moment: str) -> str | None:
        """The tweet id of the ``moment`` announcement (from the session record)."""
        session = await self.store.get_session(self.session_id)
        value = getattr(session, ANNOUNCEMENT_FIELD[moment])
        return str(value) if value else None

    # -- status --------------------------------------------------------------------------

    async def set_status(self, status: PublisherStatus) -> None:
        """Replace the current activity; ``last_error`` stays (see :meth:`record_error`)."""
        dumped = status.model_dump(mode="json", exclude={"last_error", "last_error_at"})
        fields = {k: "" if v is None else str(v) for k, v in dumped.items()}
        await self.redis.hset(keys.publisher(self.session_id, "status"), mapping=fields)  # type: ignore[arg-type]

    async def record_error(self, error: str, at: datetime) -> None:
        await self.redis.hset(
            keys.publisher(self.session_id, "status"),
            mapping={"last_error": error[:1000], "last_error_at": at.isoformat()},
        )

    async def status(self) -> PublisherStatus:
        raw = await self.redis.hgetall(keys.publisher(self.session_id, "status"))
        return PublisherStatus.model_validate({k: v for k, v in raw.items() if v != ""})


class PublisherStatus(BaseModel):
    """What the session's publisher does now; ``resume_at`` when it waits for X."""

    state: str = "idle"
    answer_id: str | None = None
    detail: str | None = None
    resume_at: AwareDatetime | None = None
    daily_remaining: int | None = None
    daily_reset_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    #: The last refusal or give-up, with X's reason (kept until the next one).
    last_error: str | None = None
    last_error_at: AwareDatetime | None = None
