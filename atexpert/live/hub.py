"""The per-process live hub: one reader task per session tails its Redis Stream.

A :class:`SessionFeed` replays the session's event log once when its first client arrives,
then follows it with ``XREAD BLOCK``. It keeps the session's records in memory, renders
each event once per :class:`~atexpert.live.views.View` (one JSON string shared by every
client of that view) and remembers the rendered events of the last ``window`` stream
entries, so a client resuming after an id still in that window gets exactly what it missed.
Every process runs its own feeds from the same stream: no sticky load balancing needed.

The feed also tails ``ama:{s}:live``, a short stream of ephemeral moderator notices
(presence, soft claims), whose current state sits in two hashes with per-entry deadlines;
see :mod:`atexpert.live.presence`.

The hub also tails ``ama:{staff}:revoked``, where logging out, revoking a token, ending a
user's logins and disabling or deleting a user announce the identities they revoke: each
process closes its clients opened with one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.exceptions import RedisError

from atexpert.domain.answers import Answer
from atexpert.domain.errors import NotFound
from atexpert.domain.events import EventKind, Record, SessionState, decode_event, dumps, fold
from atexpert.domain.questions import Question
from atexpert.domain.series_announce import AnnouncementState
from atexpert.domain.sessions import Session
from atexpert.live.presence import Presence
from atexpert.live.views import Json, View, event_message, snapshot_message
from atexpert.store import keys, metrics
from atexpert.store.automod import StoredConfig
from atexpert.store.intake_state import IntakePause, IntakeSetting
from atexpert.store.redis_conn import RedisClient
from atexpert.store.staff import REVOCATIONS
from atexpert.store.store import Store

log = logging.getLogger("atexpert.live")

READ_COUNT = 500
BLOCK_MS = 1_000
RETRY_S = 0.5
LOAD_TRIES = 20

_MODELS: dict[str, type[BaseModel]] = {
    "session": Session,
    "question": Question,
    "answer": Answer,
    "automod": StoredConfig,
    "intake": IntakeSetting,
    "intake_pause": IntakePause,
    "announcement": AnnouncementState,
}
RESYNC = dumps({"type": "resync", "reason": "the events after your id are no longer available"})


class Subscriber(Protocol):
    """A connected client as the feed sees it."""

    @property
    def view(self) -> View: ...

    @property
    def staff(self) -> bool:
        """Receives presence and claim notices."""
        ...

    def deliver(self, frame: str) -> None:
        """Queue ``frame`` without blocking (the subscriber handles its own overflow)."""

    def session_changed(self, session: Session) -> None:
        """The session record changed (roles may have been revoked)."""

    def heartbeat(self, now: float, ping: str) -> None:
        """Send ``ping``; give up on a client silent for too long (``now``: loop time)."""

    def revoked(self, identity: str) -> None:
        """``identity`` (``login:<sha256>``, ``token:<id>``, ``user:<id>``) was revoked."""


def normalize(entity: str, record: Record) -> Record:
    """The record with every field, as the API shows it."""
    return _MODELS[entity].model_validate(record).model_dump(mode="json")


def stream_entries(reply: Any) -> list[tuple[str, str, Mapping[str, str]]]:
    """XREAD's reply (RESP2 list or RESP3 dict) as (stream, id, fields), in order."""
    if not reply:
        return []
    pairs = reply.items() if isinstance(reply, dict) else [(s[0], s[1]) for s in reply]
    out: list[tuple[str, str, Mapping[str, str]]] = []
    for stream, entries in pairs:
        if isinstance(entries, list) and entries and isinstance(entries[0], list):
            entries = entries[0]
        out.extend((str(stream), str(eid), fields) for eid, fields in entries)
    return out


class LiveConfig(BaseSettings):
    """Limits of the live endpoints, from ``ATEXPERT_LIVE_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="ATEXPERT_LIVE_", extra="ignore")

    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed besides public_base_url's (JSON list in the env).",
    )
    heartbeat_s: float = Field(default=15.0, gt=0, description="Server ping interval.")
    heartbeat_timeout_s: float = Field(
        default=45.0, gt=0, description="Close a client silent for this long (no pong)."
    )
    send_queue: int = Field(default=1000, ge=1, description="Frames queued per client at most.")
    max_message_bytes: int = Field(default=64 * 1024, ge=256, description="Client frame cap.")
    rate_per_s: float = Field(default=10.0, gt=0, description="Client messages per second.")
    burst: int = Field(default=20, ge=1, description="Client message burst.")
    max_strikes: int = Field(default=10, ge=1, description="Rejected messages before a close.")
    window: int = Field(default=10_000, ge=1, description="Events kept for resuming clients.")
    idle_s: float = Field(default=30.0, ge=0, description="Keep a feed this long without clients.")
    claim_ttl_s: float = Field(default=60.0, gt=0, description="Lifetime of a soft claim.")
    close_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="A closed client has this long to read what is still buffered for it "
        "and the close frame; then its connection is reset.",
    )
    handshakes: int = Field(default=16, ge=1, description="Handshakes checked at once.")


class SessionFeed:
    """One session followed by this process."""

    def __init__(self, redis: RedisClient, session_id: str, window: int) -> None:
        self.session_id = session_id
        self.redis = redis
        self.window = window
        self.events_key = keys.events(session_id)
        self.presence = Presence(redis, session_id)
        self.position = "0-0"
        #: The session's records (every field, as the API shows them), folded from the log.
        self.state = SessionState()
        self.subscribers: set[Subscriber] = set()
        self._ring: deque[tuple[str, dict[View, str | None]]] = deque()
        self._index: dict[str, int] = {}
        self._base = 0  # sequence number of _ring[0]
        self._snapshots: dict[View, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- loading and following ------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"live-feed-{self.session_id}")

    async def stop(self) -> None:
        """Stop reading. A flag as well as a cancel: redis-py may swallow a cancellation."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=BLOCK_MS / 1000 + 1)

    async def _run(self) -> None:
        try:
            await self._load()
        except BaseException as exc:
            self.ready.set_exception(exc)  # LiveHub.feed hands it to the waiting clients
            if isinstance(exc, Exception):
                return  # not raised again: asyncio would log it as never retrieved
            raise
        self.ready.set_result(None)
        while not self._stopping.is_set():
            try:
                reply = await self.redis.xread(
                    {self.events_key: self.position, self.presence.stream: self.presence.position},
                    count=READ_COUNT,
                    block=BLOCK_MS,
                )
            except (RedisError, OSError) as exc:
                log.warning("live feed %s: %s; retrying", self.session_id, exc)
                await asyncio.sleep(RETRY_S)
                continue
            notices = False
            for stream, entry_id, fields in stream_entries(reply):
                if stream == self.events_key:
                    self._apply(entry_id, fields)
                else:
                    self.presence.position = entry_id
                    notices = True
            if notices:
                await self.refresh_presence()

    async def _load(self) -> None:
        """Replay the whole log: the state and the rendered window, as of its last entry.

        A log trimmed of its start cannot be replayed: then the state comes from the
        records (read between two equal stream heads) and the window starts empty.
        """
        await self.presence.load()
        first: Any = await self.redis.xrange(self.events_key, count=1)
        if not first:
            raise NotFound("session", self.session_id)
        head = decode_event(self.session_id, str(first[0][0]), first[0][1])
        if head.kind is not EventKind.SESSION_CREATED:
            await self._load_records()
            return
        start = "-"
        unseen = await self.redis.xlen(self.events_key) - self.window  # no frames for those
        while True:
            chunk: Any = await self.redis.xrange(self.events_key, min=start, count=READ_COUNT)
            for entry_id, fields in chunk:
                self._apply(str(entry_id), fields, live=False, render=unseen <= 0)
                unseen -= 1
            if len(chunk) < READ_COUNT:
                break
            start = "(" + str(chunk[-1][0])

    async def _load_records(self) -> None:
        store = Store(self.redis)
        for _ in range(LOAD_TRIES):
            head = await store.last_event_id(self.session_id)
            snap = await store.snapshot(self.session_id)
            if await store.last_event_id(self.session_id) == head:
                break
        self.position = head
        self.state = SessionState(
            session=snap.session.model_dump(mode="json"),
            questions={k: q.model_dump(mode="json") for k, q in snap.questions.items()},
            answers={k: a.model_dump(mode="json") for k, a in snap.answers.items()},
            last_event_id=head,
        )

    def _apply(
        self, entry_id: str, fields: Mapping[str, str], *, live: bool = True, render: bool = True
    ) -> None:
        """Fold one entry into the records; render it into the window (``render``) and hand
        it to the clients (``live``)."""
        self.position = entry_id
        try:
            event = decode_event(self.session_id, entry_id, fields)
            before, after = fold(self.state, event, normalize)
        except (ValueError, KeyError, IndexError) as exc:  # pydantic's errors are ValueErrors
            log.error("live feed %s: cannot apply event %s: %s", self.session_id, entry_id, exc)
            return
        self._snapshots.clear()
        if not render:
            return
        head: Json = {"kind": event.kind.value, "actor": event.actor, "at": event.at.isoformat()}
        frames: dict[View, str | None] = {}
        for view in View:
            message = event_message(
                view, entry_id, head, event.entity, event.entity_id, before, after
            )
            frames[view] = None if message is None else dumps(message)
        self._remember(entry_id, frames)
        if not live:
            return
        queued = 0
        for sub in list(self.subscribers):
            frame = frames[sub.view]
            if frame is not None:
                sub.deliver(frame)
                queued += 1
        metrics.LIVE_EVENTS.inc()
        metrics.LIVE_FRAMES.inc(queued)
        if event.entity == "session":
            session = Session.model_validate(after)
            for sub in list(self.subscribers):
                sub.session_changed(session)

    def _remember(self, entry_id: str, frames: dict[View, str | None]) -> None:
        self._index[entry_id] = self._base + len(self._ring)
        self._ring.append((entry_id, frames))
        while len(self._ring) > self.window:
            old, _ = self._ring.popleft()
            del self._index[old]
            self._base += 1

    # -- clients ----------------------------------------------------------------------------

    @property
    def session(self) -> Record | None:
        return self.state.session

    def snapshot(self, view: View) -> str:
        """The view's snapshot as of :attr:`position`, serialized once per position."""
        frame = self._snapshots.get(view)
        if frame is None:
            message = snapshot_message(
                view,
                self.position,
                self.state.session,
                list(self.state.questions.values()),
                list(self.state.answers.values()),
                self.state.intake_pause,
                list(self.state.announcements.values()),
            )
            frame = self._snapshots[view] = dumps(message)
        return frame

    def attach(self, sub: Subscriber, after: str | None) -> list[str]:
        """Subscribe ``sub``; the frames to send it first (synchronous: nothing can slip in).

        ``after=None``: a snapshot. After an id in the window: exactly the missed events
        its view may see. Otherwise: a ``resync`` then a fresh snapshot.
        """
        if after is None:
            first = [self.snapshot(sub.view)]
        elif after == self.position:
            first = []
        elif after in self._index:
            start = self._index[after] - self._base + 1
            frames = (self._ring[i][1][sub.view] for i in range(start, len(self._ring)))
            first = [f for f in frames if f is not None]
        else:
            first = [RESYNC, self.snapshot(sub.view)]
        if sub.staff:
            first.append(self.presence.frame())
        self.subscribers.add(sub)
        return first

    def detach(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    async def refresh_presence(self) -> None:
        """Re-read presence and claims and send them to the staff clients if they changed."""
        try:
            changed = await self.presence.load()
        except (RedisError, OSError) as exc:
            log.warning("live feed %s: presence: %s", self.session_id, exc)
            return
        if changed:
            frame = self.presence.frame()
            for sub in list(self.subscribers):
                if sub.staff:
                    sub.deliver(frame)


class LiveHub:
    """Every :class:`SessionFeed` of this process; start it with the app, stop it after."""

    def __init__(self, redis: RedisClient, config: LiveConfig | None = None) -> None:
        self.redis = redis
        self.config = config or LiveConfig()
        self.handshakes = asyncio.Semaphore(self.config.handshakes)
        self.feeds: dict[str, SessionFeed] = {}
        self._idle: dict[str, asyncio.TimerHandle] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._revocations: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._ticker = asyncio.create_task(self._tick(), name="live-heartbeat")
        self._revocations = asyncio.create_task(self._follow_revocations(), name="live-revoked")

    async def stop(self) -> None:
        self._stopping.set()
        if self._ticker is not None:
            await self._ticker
        if self._revocations is not None:
            self._revocations.cancel()
            await asyncio.wait({self._revocations}, timeout=BLOCK_MS / 1000 + 1)
        for handle in self._idle.values():
            handle.cancel()
        feeds, self.feeds = list(self.feeds.values()), {}
        await asyncio.gather(*(f.stop() for f in feeds), return_exceptions=True)

    async def feed(self, session_id: str) -> SessionFeed:
        """The session's feed, started (and loaded) if needed; NotFound for no session."""
        keys.check_id("session", session_id)
        feed = self.feeds.get(session_id)
        if feed is None:
            feed = self.feeds[session_id] = SessionFeed(self.redis, session_id, self.config.window)
            feed.start()
        try:
            await asyncio.shield(feed.ready)
        except Exception:
            if self.feeds.get(session_id) is feed:
                del self.feeds[session_id]
            raise
        return feed

    def attach(self, feed: SessionFeed, sub: Subscriber, after: str | None) -> list[str]:
        handle = self._idle.pop(feed.session_id, None)
        if handle is not None:
            handle.cancel()
        return feed.attach(sub, after)

    def detach(self, feed: SessionFeed, sub: Subscriber) -> None:
        """Forget ``sub``; a feed left without clients stops after ``idle_s``."""
        feed.detach(sub)
        if not feed.subscribers and feed.session_id not in self._idle:
            loop = asyncio.get_running_loop()
            self._idle[feed.session_id] = loop.call_later(self.config.idle_s, self._retire, feed)

    def _retire(self, feed: SessionFeed) -> None:
        self._idle.pop(feed.session_id, None)
        if not feed.subscribers and self.feeds.get(feed.session_id) is feed:
            del self.feeds[feed.session_id]
            asyncio.get_running_loop().create_task(feed.stop())

    async def _follow_revocations(self) -> None:
        """Close the clients of every identity revoked from now on, by any process."""
        position: str | None = None
        while not self._stopping.is_set():
            try:
                if position is None:
                    last: Any = await self.redis.xrevrange(REVOCATIONS, count=1)
                    position = str(last[0][0]) if last else "0-0"
                reply = await self.redis.xread(
                    {REVOCATIONS: position}, count=READ_COUNT, block=BLOCK_MS
                )
            except (RedisError, OSError) as exc:
                log.warning("live revocations: %s; retrying", exc)
                await asyncio.sleep(RETRY_S)
                continue
            for _, entry_id, fields in stream_entries(reply):
                position = entry_id
                self.revoke(str(fields.get("identity", "")))

    def revoke(self, identity: str) -> None:
        """Tell every client of this process that ``identity`` was revoked."""
        for feed in list(self.feeds.values()):
            for sub in list(feed.subscribers):
                sub.revoked(identity)

    async def _tick(self) -> None:
        """Heartbeats: ping every client, renew this process's presence entries."""
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.config.heartbeat_s)
                return
            now = loop.time()
            for feed in list(self.feeds.values()):
                ping = dumps({"type": "ping", "last_event_id": feed.position})
                for sub in list(feed.subscribers):
                    sub.heartbeat(now, ping)
                try:
                    await feed.presence.renew(self.config.heartbeat_timeout_s)
                except (RedisError, OSError) as exc:
                    log.warning("live presence of %s: %s", feed.session_id, exc)
