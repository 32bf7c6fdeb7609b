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
import random
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.exceptions import RedisError

from atexpert.domain.answers import Answer
from atexpert.domain.errors import NotFound
from atexpert.domain.events import Record, SessionState, decode_event, dumps, fold
from atexpert.domain.questions import Question
from atexpert.domain.series_announce import AnnouncementState
from atexpert.domain.sessions import Session
from atexpert.live.collector import Collector
from atexpert.live.presence import Presence
from atexpert.live.views import Json, RenderedView, View, event_message
from atexpert.store import checkpoint, keys, metrics
from atexpert.store.automod import StoredConfig
from atexpert.store.checkpoint import Checkpoint, Trimmed, id_key
from atexpert.store.intake_state import IntakePause, IntakeSetting
from atexpert.store.redis_conn import RedisClient
from atexpert.store.staff import REVOCATIONS

log = logging.getLogger("atexpert.live")

READ_COUNT = 500
BLOCK_MS = 1_000
RETRY_S = 0.5
LAG_PROBE_S = 0.25
LAG_SAMPLES = 4

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
    window: int = Field(
        default=2_000,
        ge=1,
        description="Events kept rendered per session for resuming clients (their frames for "
        "the 3 views: about 1.6 KiB an event; older ids get a resync and the snapshot).",
    )
    idle_s: float = Field(default=30.0, ge=0, description="Keep a feed this long without clients.")
    claim_ttl_s: float = Field(default=60.0, gt=0, description="Lifetime of a soft claim.")
    close_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="A closed client has this long to read what is still buffered for it "
        "and the close frame; then its connection is reset.",
    )
    handshakes: int = Field(default=16, ge=1, description="Handshakes checked at once.")
    freeze_wave: int = Field(
        default=500,
        ge=0,
        description="Public connections opened before the live objects are frozen out of "
        "the garbage collector's walks (atexpert.live.collector); 0: never.",
    )
    max_public: int = Field(
        default=10_000,
        ge=0,
        description="Public clients per process at most (those connecting included); "
        "beyond, newcomers are refused with 1013 and a retry hint.",
    )
    max_loop_lag_s: float = Field(
        default=2.0,
        gt=0,
        description="Refuse newcomer public clients while the event loop lags this much.",
    )
    retry_after_s: float = Field(
        default=5.0, gt=0, description="A refused client's retry hint: 1 to 2 times this."
    )


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
        self._views: dict[View, RenderedView] = {}
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
            await self.follow()

    async def follow(self) -> None:
        """Read what came after :attr:`position` (waiting up to ``BLOCK_MS``) and apply it."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.xread(
            {self.events_key: self.position, self.presence.stream: self.presence.position},
            count=READ_COUNT,
            block=BLOCK_MS,
        )
        pipe.hget(keys.checkpoint(self.session_id), "id")  # answered after the XREAD
        try:
            reply, trimmed_to = await pipe.execute()
            if trimmed_to is not None and id_key(str(trimmed_to)) > id_key(self.position):
                await self._reload()  # the feed fell behind a trim: entries may be gone
                return
        except (RedisError, OSError, Trimmed) as exc:
            log.warning("live feed %s: %s; retrying", self.session_id, exc)
            await asyncio.sleep(RETRY_S)
            return
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
        """The state as of the log's last entry: the checkpoint's, then the tail folded in;
        the tail's last ``window`` entries rendered. Its cost depends on the records and the
        tail, not on how long the log has grown (see :mod:`atexpert.store.checkpoint`)."""
        await self.presence.load()
        for _ in range(checkpoint.TRIES):
            base = await checkpoint.load(self.redis, self.session_id)
            self._start_from(base)
            unseen = await self.redis.xlen(self.events_key) - self.window  # no frames for those
            try:
                async for entries in checkpoint.tail(
                    self.redis, self.session_id, base.id, chunk=READ_COUNT
                ):
                    for entry_id, fields in entries:
                        self._apply(entry_id, fields, live=False, render=unseen <= 0)
                        unseen -= 1
            except Trimmed:
                continue
            if self.state.session is None:
                raise NotFound("session", self.session_id)
            self._views = {view: RenderedView.of(view, self.state) for view in View}
            return
        raise Trimmed(self.session_id)

    def _start_from(self, base: Checkpoint) -> None:
        """Forget everything; start from ``base``'s state, its records shaped as the API's."""
        st = base.state
        self.state = SessionState(
            session=None if st.session is None else normalize("session", st.session),
            questions={k: normalize("question", v) for k, v in st.questions.items()},
            answers={k: normalize("answer", v) for k, v in st.answers.items()},
            automod=None if st.automod is None else normalize("automod", st.automod),
            intake=None if st.intake is None else normalize("intake", st.intake),
            intake_pause=None
            if st.intake_pause is None
            else normalize("intake_pause", st.intake_pause),
            announcements={k: normalize("announcement", v) for k, v in st.announcements.items()},
            last_event_id=base.id,
        )
        self.position = base.id
        self._ring.clear()
        self._index.clear()
        self._views.clear()

    async def _reload(self) -> None:
        """Load again (a trim passed this feed's position) beside the current state, then
        switch: every client gets a resync and the new snapshot, as one resuming from a
        trimmed id does."""
        fresh = SessionFeed(self.redis, self.session_id, self.window)
        await fresh._load()
        self.state, self.position, self._views = fresh.state, fresh.position, fresh._views
        self._ring, self._index, self._base = fresh._ring, fresh._index, fresh._base
        self._snapshots.clear()
        session = Session.model_validate(self.state.session)
        for sub in list(self.subscribers):
            sub.deliver(RESYNC)
            sub.deliver(self.snapshot(sub.view))
            sub.session_changed(session)  # its roles may have changed meanwhile

    def _apply(
        self, entry_id: str, fields: Mapping[str, str], *, live: bool = True, render: bool = True
    ) -> None:
        """Fold one entry into the records and each view's snapshot records; render it into
        the window (``render``) and hand it to the clients (``live``)."""
        self.position = entry_id
        try:
            event = decode_event(self.session_id, entry_id, fields)
            before, after = fold(self.state, event, normalize)
        except (ValueError, KeyError, IndexError) as exc:  # pydantic's errors are ValueErrors
            log.error("live feed %s: cannot apply event %s: %s", self.session_id, entry_id, exc)
            return
        self._snapshots.clear()
        for rendered in self._views.values():  # empty while loading: built once after
            rendered.put(event.entity, event.entity_id, after)
        if not render:
            return
        head: Json = {"kind": event.kind.value, "actor": event.actor, "at": event.at.isoformat()}
        frames: dict[View, str | None] = {}
        for view in View:
            message = event_message(
                view, entry_id, head, event.entity, event.entity_id, before, after
            )
            frame = None if message is None else dumps(message)
            # the same frame for several views is kept once in the window
            frames[view] = next((f for f in frames.values() if f == frame), frame)
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
        """The view's snapshot as of :attr:`position`, serialized once per position (a join
        of the view's records, kept rendered: :class:`~atexpert.live.views.RenderedView`)."""
        frame = self._snapshots.get(view)
        if frame is None:
            frame = self._snapshots[view] = self._views[view].message(self.position)
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
        #: Public clients connected or connecting (the endpoint counts them).
        self.public_clients = 0
        #: How late the event loop runs its timers lately, in seconds.
        self.lag = 0.0
        #: Keeps full garbage collections short (:mod:`atexpert.live.collector`).
        self.collector = Collector(wave=self.config.freeze_wave)
        self._idle: dict[str, asyncio.TimerHandle] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._revocations: asyncio.Task[None] | None = None
        self._lag_probe: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._ticker = asyncio.create_task(self._tick(), name="live-heartbeat")
        self._revocations = asyncio.create_task(self._follow_revocations(), name="live-revoked")
        self._lag_probe = asyncio.create_task(self._probe_lag(), name="live-lag")

    async def stop(self) -> None:
        self._stopping.set()
        if self._lag_probe is not None:
            self._lag_probe.cancel()
        if self._ticker is not None:
            await self._ticker
        if self._revocations is not None:
            self._revocations.cancel()
            await asyncio.wait({self._revocations}, timeout=BLOCK_MS / 1000 + 1)
        for handle in self._idle.values():
            handle.cancel()
        feeds, self.feeds = list(self.feeds.values()), {}
        await asyncio.gather(*(f.stop() for f in feeds), return_exceptions=True)

    def full(self) -> bool:
        """Whether to refuse a newcomer public client: too many, or the loop lags."""
        return (
            self.public_clients >= self.config.max_public or self.lag >= self.config.max_loop_lag_s
        )

    def retry_after(self) -> int:
        """Seconds a refused client should wait: 1 to 2 times ``retry_after_s``, so the
        refused don't all come back at once."""
        return round(self.config.retry_after_s * (1 + random.random()))

    async def _probe_lag(self) -> None:
        """Keep :attr:`lag`: the least delay of the last few timers, so one slow step (or
        one moment without the CPU) does not turn clients away."""
        loop = asyncio.get_running_loop()
        recent: deque[float] = deque(maxlen=LAG_SAMPLES)
        while True:
            start = loop.time()
            await asyncio.sleep(LAG_PROBE_S)
            recent.append(max(0.0, loop.time() - start - LAG_PROBE_S))
            self.lag = min(recent)
            self.collector.tick(loop.time())

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
