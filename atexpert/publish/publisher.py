"""Publishing a live session's answers to X as threads, exactly once per part.

One :class:`SessionPublisher` per session posts, while it holds the session's publishing
lease (:class:`~atexpert.store.scheduler.Lease`), so two processes never post the same part:

1. the start announcement (the root of the session's thread), when announcements are on;
2. each answer, in queue order: claimed queued -> publishing with its thread written to the
   outbox in the same atomic step (:mod:`atexpert.publish.outbox`), then part by part, each
   recorded with its tweet id before the next one is sent; then the reply to each merged
   asker (:mod:`atexpert.domain.merged`), planned at claim time, post by post the same way;
   and the replies a merge added to an answer already published, the same way;
3. once the session is closed (not while it wraps up) and nothing is left to publish, the
   end announcement: the session's last post, counting every answer posted.

Exactly once: before sending a post the publisher notes the attempt in Redis. A post whose
outcome is unknown (timeout, connection dropped, 5xx, or a publisher killed mid-call) is
reconciled against the host's own timeline (a post replying to the same parent with the
same text) before it is sent again. 429 waits until X's reset, a spent daily limit until
the day's reset, both shown in the publisher status; a refusal (402, 403...) fails the
answer with X's reason, and ``retry`` (failed -> queued) resumes after the last posted part.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Protocol

from redis.exceptions import RedisError

from atexpert.domain import announce, merged
from atexpert.domain.announce import Moment
from atexpert.domain.answers import Answer, AnswerStatus, MergedReply
from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.costs import CallKind, post_kind
from atexpert.domain.errors import Conflict, NotFound
from atexpert.domain.publish_plan import Route, plan
from atexpert.domain.questions import Question, QuestionStatus, post_link
from atexpert.domain.sessions import Session, SessionStatus
from atexpert.domain.splitter import SplitError
from atexpert.publish.outbox import (
    ACTOR,
    Outbox,
    PublisherStatus,
    claimed_route,
    outbox_merged,
    outbox_parts,
    reply_target,
)
from atexpert.publish.x_posts import Ambiguous, DailyLimit, Poster, RateLimited, Refused, same_text
from atexpert.recap.summary import recap_url
from atexpert.store import metrics
from atexpert.store.after_hours import AutoReplies
from atexpert.store.redis_conn import RedisClient
from atexpert.store.scheduler import Lease
from atexpert.store.store import Store

log = logging.getLogger(__name__)
#: The session statuses in which answers are published.
PUBLISHING = (SessionStatus.LIVE, SessionStatus.WRAPPING_UP, SessionStatus.CLOSED)
#: The endpoint name X's post limits are kept under (:meth:`Meter.note_limits`).
CREATE_TWEET = "create_tweet"


@dataclass(frozen=True)
class PublishConfig:
    lease_ttl: timedelta = timedelta(seconds=10)
    #: How long the loop rests between two looks for work (the publish delay at worst).
    idle_wait: timedelta = timedelta(milliseconds=250)
    backoff_first: float = 0.5
    backoff_max: float = 30.0
    #: Unknown outcomes (timeouts, 5xx) in a row on one post before the answer fails.
    max_unknown: int = 8
    #: The app's public URL, for the recap link of sessions with ``options.recap_link``.
    public_base_url: str | None = None


class CostMeter(Protocol):
    """Counts X calls per session and keeps X's limits (:class:`atexpert.x.meter.Meter`)."""

    async def record(self, session_id: str, kind: CallKind, count: int = 1) -> None: ...

    async def note_limits(self, endpoint: str, headers: Mapping[str, str]) -> None: ...


class Claim(Enum):
    CLAIMED = "claimed"
    WAITING = "waiting"  # for the session's thread root (the start announcement)
    SKIPPED = "skipped"  # failed, or changed meanwhile


class LostLease(Exception):
    """Another publisher holds the session now: stop before posting anything."""


class GaveUp(Exception):
    """X kept failing without a verdict on one post."""


class SessionPublisher:
    def __init__(
        self,
        store: Store,
        redis: RedisClient,
        poster: Poster,
        session_id: str,
        *,
        config: PublishConfig | None = None,
        clock: Clock | None = None,
        owner: str | None = None,
        meter: CostMeter | None = None,
    ) -> None:
        self.store = store
        self.meter = meter
        self.poster = poster
        self.session_id = session_id
        self.config = config or PublishConfig()
        self.clock = clock or SystemClock()
        self.outbox = Outbox(redis, session_id)
        self.auto_replies = AutoReplies(redis, session_id)
        self.lease = Lease(
            redis, name=f"publish:{session_id}", ttl=self.config.lease_ttl, owner=owner
        )
        self._daily: DailyLimit | None = None
        #: After a refused announcement, when to try it again (no hammering X meanwhile).
        self._announce_hold: dict[Moment, datetime] = {}
        #: The session's last event when its published answers had no reply left to post
        #: (they are not read again until an event comes: a merge is one).
        self._late_checked: str | None = None

    # -- the loop ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Publish until ``stop`` is set (or the task is cancelled); the lease is released."""
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                try:
                    if await self.lease.acquire() is not None:
                        await self.work()
                except LostLease:
                    log.info("publisher of %s: lease lost to another process", self.session_id)
                except Exception:
                    _reraise_cancel()
                    log.exception("publisher of %s failed; retrying", self.session_id)
                await self._idle(stop)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await self.lease.release()

    async def _idle(self, stop: asyncio.Event) -> None:
        # A plain wait, not a blocking XREAD: redis-py's cluster client can swallow a
        # cancellation that lands during a blocking read, and a killed publisher must stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.idle_wait.total_seconds()):
                await stop.wait()
        _reraise_cancel()  # asyncio.wait_for of Python 3.11 could lose a cancellation

    async def work(self) -> None:
        """Everything publishable now: announcements and every queued answer."""
        session = await self.store.get_session(self.session_id)
        if session.status not in PUBLISHING:
            return
        root = await self._announce_start(session)
        pending = [
            *await self.store.list_answers(self.session_id, AnswerStatus.PUBLISHING),
            *await self.store.list_answers(self.session_id, AnswerStatus.QUEUED),
        ]
        waiting = False
        for answer in pending:
            waiting |= not await self.publish(answer, session, root)
        await self._late_merges(session)
        await self._auto_replies()
        if session.status is SessionStatus.CLOSED:
            await self._announce_end(session, root)
        if not waiting:
            await self._status("idle")

    # -- answers -------------------------------------------------------------------------

    async def publish(self, answer: Answer, session: Session, root: str | None) -> bool:
        """Claim ``answer`` if queued, then post its remaining parts. False when it has to
        wait (for the session's thread root), True when it is done with for now."""
        if answer.status is AnswerStatus.QUEUED:
            claim = await self._claim(answer, session, root)
            if claim is not Claim.CLAIMED:
                return claim is Claim.SKIPPED
        raw = await self.outbox.raw_answer(answer.id)
        answer = Answer.model_validate(raw)
        if answer.status is not AnswerStatus.PUBLISHING:
            return True
        parent = reply_target(raw)
        total = len(answer.parts)
        first: str | None = None
        for index, part in enumerate(answer.parts):
            if part.status == "posted" and part.tweet_id is not None:
                first = first or part.tweet_id
                parent = part.tweet_id
                continue
            field = f"{answer.id}:{index}"
            await self._status("posting", answer.id, f"part {index + 1}/{total}")
            try:
                tweet_id = await self._deliver(part.text, parent, field)
            except (Refused, GaveUp) as exc:
                reason = exc.reason if isinstance(exc, Refused) else str(exc)
                why = f"part {index + 1}/{total}: {reason}"
                await self.store.mark_failed(self.session_id, answer.id, why, actor=ACTOR)
                await self.outbox.record_error(f"answer {answer.id} {why}", self.clock.now())
                return True
            await self.store.record_part_posted(
                self.session_id, answer.id, index, tweet_id, actor=ACTOR
            )
            await self.outbox.clear_attempt(field)
            summoned = index == 0 and claimed_route(raw) is Route.REPLY
            await self._count(part.text, summoned)
            first = first or tweet_id
            parent = tweet_id
        if first is not None and not await self._answer_merged(answer, session, first):
            return True
        with contextlib.suppress(Conflict):  # an asker merged meanwhile: next pass
            await self.store.mark_published(self.session_id, answer.id, actor=ACTOR)
        return True

    async def _late_merges(self, session: Session) -> None:
        """Reply to the askers merged into answers after they were published."""
        last = await self.store.last_event_id(self.session_id)
        if last == self._late_checked:
            return
        late = [
            answer
            for answer in await self.store.list_answers(self.session_id, AnswerStatus.PUBLISHED)
            if answer.replies_pending
        ]
        for answer in late:
            first = answer.parts[0].tweet_id if answer.parts else None
            if first is not None:
                await self._answer_merged(answer, session, first)
        if not late:
            self._late_checked = last

    async def _answer_merged(self, answer: Answer, session: Session, first: str) -> bool:
        """Reply to each merged asker, once the thread (its ``first`` post) is on X. X's
        refusal of one reply is kept on it and the others go on; False when X gave no
        verdict: a publishing answer fails (``retry`` resumes after the last posted post),
        a published one tries again next pass."""
        url = post_link(session.host_account.handle, first)
        for i, reply in enumerate(answer.merged):
            parent = reply.reply_to
            for j, part in enumerate(reply.parts):
                if reply.error is not None:
                    break
                if part.tweet_id is not None:
                    parent = part.tweet_id
                    continue
                text = merged.text_of(reply, j, session, url)
                field = f"{answer.id}:m{i}:{j}"
                await self._status("posting", answer.id, f"reply to @{reply.handle}")
                try:
                    tweet_id = await self._deliver(text, parent, field)
                except Refused as exc:
                    await self.store.record_merged_refused(
                        self.session_id, answer.id, i, exc.reason, actor=ACTOR
                    )
                    why = f"answer {answer.id} reply to @{reply.handle}: {exc.reason}"
                    await self.outbox.record_error(why, self.clock.now())
                    break
                except GaveUp as exc:
                    why = f"reply to @{reply.handle}: {exc}"
                    if answer.status is AnswerStatus.PUBLISHING:  # else: again next pass
                        await self.store.mark_failed(self.session_id, answer.id, why, actor=ACTOR)
                    await self.outbox.record_error(f"answer {answer.id} {why}", self.clock.now())
                    return False
                await self.store.record_merged_posted(
                    self.session_id, answer.id, i, j, text, tweet_id, actor=ACTOR
                )
                await self.outbox.clear_attempt(field)
                await self._count(text, j == 0 and reply.route == Route.REPLY.value)
                parent = tweet_id
        return True

    async def _claim(self, answer: Answer, session: Session, root: str | None) -> Claim:
        """queued -> publishing, with the thread written to the outbox."""
        try:
            answered, replies = await merged_replies(self.store, answer, session, root)
            thread = plan(answer, answered[0], session, root)
        except (SplitError, NotFound) as exc:
            await self._fail_unclaimed(answer, f"cannot build the thread: {exc}")
            return Claim.SKIPPED
        if thread.route is Route.STANDALONE and session.options.announce:
            await self._status("waiting", answer.id, "waiting for the start announcement")
            return Claim.WAITING  # it continues the session's thread, which has no root yet
        try:
            raw = await self.outbox.raw_answer(answer.id)
            sent = await self.outbox.attempted(f"{answer.id}:0")  # part 1 may be on X
            parts = outbox_parts(raw, thread, sent=sent)
            kept = outbox_merged(raw, replies)
            await self.outbox.claim(Answer.model_validate(raw), parts, self.clock.now(), kept)
        except (Conflict, NotFound):
            return Claim.SKIPPED  # withdrawn or changed meanwhile: look again next pass
        return Claim.CLAIMED

    async def _fail_unclaimed(self, answer: Answer, why: str) -> None:
        with contextlib.suppress(Conflict):
            await self.store.start_publishing(self.session_id, answer.id, actor=ACTOR)
            await self.store.mark_failed(self.session_id, answer.id, why, actor=ACTOR)
        await self.outbox.record_error(f"answer {answer.id}: {why}", self.clock.now())

    # -- announcements -------------------------------------------------------------------

    async def _auto_replies(self) -> None:
        """The after-hours automatic replies intake queued (:mod:`atexpert.store.after_hours`),
        each posted once; one X refuses is dropped with the reason in the status."""
        replies = self.auto_replies
        for reply in await replies.pending():
            field = "auto:" + reply.key
            try:
                await self._deliver(reply.text, reply.reply_to, field)
            except (Refused, GaveUp) as exc:
                reason = exc.reason if isinstance(exc, Refused) else str(exc)
                await self.outbox.record_error(f"automatic reply: {reason}", self.clock.now())
            else:
                await self._count(reply.text, summoned=reply.summoned)
            await replies.done(reply.key)
            await self.outbox.clear_attempt(field)

    async def _announce_start(self, session: Session) -> str | None:
        """The root of the session's thread (posted now if needed); None when off."""
        if not session.options.announce:
            return None
        if session.thread_root_id is not None:
            return session.thread_root_id
        text = announce.render(session, Moment.START)
        return await self._announce(Moment.START, text, None)

    async def _announce_end(self, session: Session, root: str | None) -> None:
        if not session.options.announce or session.closing_tweet_id is not None:
            return
        busy = [
            *await self.store.list_answers(self.session_id, AnswerStatus.PUBLISHING),
            *await self.store.list_answers(self.session_id, AnswerStatus.QUEUED),
        ]
        if busy:
            return
        done = await self.store.list_answers(self.session_id, AnswerStatus.PUBLISHED)
        if any(a.replies_pending for a in done):
            return  # the replies to askers merged late come first
        recap = None
        if session.options.recap_link and self.config.public_base_url:
            recap = recap_url(self.config.public_base_url, session.id)
        text = announce.render(session, Moment.END, answered=len(done), recap_url=recap)
        await self._announce(Moment.END, text, root)

    async def _announce(self, moment: Moment, text: str, parent: str | None) -> str | None:
        hold = self._announce_hold.get(moment)
        if hold is not None and hold > self.clock.now():
            return None
        field = f"announce:{moment.value}"
        try:
            tweet_id = await self._deliver(text, parent, field)
        except (Refused, GaveUp) as exc:
            reason = exc.reason if isinstance(exc, Refused) else str(exc)
            retry = timedelta(seconds=self.config.backoff_max)
            self._announce_hold[moment] = self.clock.now() + retry
            why = f"{moment.value} announcement: {reason}"
            await self.outbox.record_error(why, self.clock.now())
            return None
        await self.store.record_announcement(
            self.session_id, moment.value, tweet_id, actor=ACTOR, at=self.clock.now()
        )
        await self.outbox.clear_attempt(field)
        await self._count(text, summoned=False)
        return tweet_id

    # -- one post, exactly once ----------------------------------------------------------

    async def _deliver(self, text: str, parent: str | None, field: str) -> str:
        """Post ``text`` replying to ``parent``; the id of the post (new or reconciled)."""
        unknown = 0
        while True:
            if not await self.lease.renew():
                raise LostLease()
            try:
                if await self.outbox.attempted(field):
                    found = await self._reconcile(text, parent)
                    if found is not None:
                        return found
                await self._respect_daily_limit()
                await self.outbox.mark_attempt(field, self.clock.now())
                posted = await self.poster.post(text, parent)
            except RateLimited as exc:
                metrics.PUBLISH_FAILURES.labels("rate_limited").inc()
                await self.outbox.clear_attempt(field)  # a 429 posted nothing
                await self._note_limits(exc.headers)
                self._daily = exc.daily or self._daily
                until = exc.reset_at or self.clock.now()
                await self._sleep_until(until, "rate_limited", "X answered 429")
                continue
            except Refused as exc:
                metrics.PUBLISH_FAILURES.labels("refused").inc()
                if exc.duplicate:  # maybe our own earlier attempt: look for it
                    found = await self._reconcile(text, parent)
                    if found is not None:
                        return found
                await self.outbox.clear_attempt(field)
                raise
            except Ambiguous as exc:
                metrics.PUBLISH_FAILURES.labels("unknown_outcome").inc()
                unknown += 1
                if unknown >= self.config.max_unknown:
                    metrics.PUBLISH_FAILURES.labels("gave_up").inc()
                    raise GaveUp(f"no verdict from X after {unknown} tries: {exc}") from exc
                delay = min(self.config.backoff_first * 2 ** (unknown - 1), self.config.backoff_max)
                resume = self.clock.now() + timedelta(seconds=delay)
                await self._sleep_until(resume, "retrying", str(exc))
                continue
            self._daily = posted.daily or self._daily
            await self._note_limits(posted.headers)
            return posted.tweet_id

    async def _count(self, text: str, summoned: bool) -> None:
        """Meter one post X charged for (reconciled ones too: X charged them)."""
        metrics.PUBLISH_PARTS.inc()
        if self.meter is not None:
            await self.meter.record(self.session_id, post_kind(text, summoned_reply=summoned))

    async def _note_limits(self, headers: Mapping[str, str]) -> None:
        """Keep X's post limits for ``GET /api/x/limits`` (none sent: nothing to keep)."""
        if self.meter is not None and headers:
            await self.meter.note_limits(CREATE_TWEET, headers)

    async def _reconcile(self, text: str, parent: str | None) -> str | None:
        """Our post replying to ``parent`` with ``text``, if X has it."""
        for post in await self.poster.own_posts(since_id=parent):
            if post.reply_to == parent and same_text(text, post.text):
                log.info("publisher of %s: reconciled post %s", self.session_id, post.tweet_id)
                return post.tweet_id
        return None

    async def _respect_daily_limit(self) -> None:
        daily = self._daily
        if daily is not None and daily.remaining <= 0 and daily.reset_at > self.clock.now():
            await self._sleep_until(daily.reset_at, "daily_limit", "X's daily post limit is spent")
            self._daily = None

    async def _sleep_until(self, until: datetime, state: str, detail: str) -> None:
        """Wait for X (keeping the lease), with the reason and the ETA in the status."""
        await self._status(state, None, detail, resume_at=until)
        step = self.config.lease_ttl.total_seconds() / 3
        while (left := (until - self.clock.now()).total_seconds()) > 0:
            await asyncio.sleep(min(left, step))
            if not await self.lease.renew():
                raise LostLease()

    async def _status(
        self,
        state: str,
        answer_id: str | None = None,
        detail: str | None = None,
        *,
        resume_at: datetime | None = None,
    ) -> None:
        daily = self._daily
        await self.outbox.set_status(
            PublisherStatus(
                state=state,
                answer_id=answer_id,
                detail=detail,
                resume_at=resume_at,
                daily_remaining=daily.remaining if daily else None,
                daily_reset_at=daily.reset_at if daily else None,
                updated_at=self.clock.now(),
            )
        )


async def merged_replies(
    store: Store, answer: Answer, session: Session, root: str | None
) -> tuple[list[Question], list[MergedReply]]:
    """The answer's questions (its first one must exist: NotFound), and the replies each
    asker of a question merged into them gets (:mod:`atexpert.domain.merged`)."""
    answered = [await store.get_question(session.id, answer.question_ids[0])]
    for qid in answer.question_ids[1:]:
        with contextlib.suppress(NotFound):
            answered.append(await store.get_question(session.id, qid))
    found = await store.list_questions(session.id, QuestionStatus.MERGED)
    askers = merged.askers(answered, found)
    return answered, [merged.plan_reply(answer, q, session, root) for q in askers]


def _reraise_cancel() -> None:
    """A client library may turn our cancellation into its own error (redis-py's timeout
    around a blocking read does): a cancelled publisher must stop, never loop on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError()
