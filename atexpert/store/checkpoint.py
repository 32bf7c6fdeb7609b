"""A bounded event log: each session's state checkpointed, the log trimmed to its tail.

A session's checkpoint (``ama:{s}:checkpoint``, a hash) holds the session's state as
:func:`~atexpert.domain.events.replay` folds it (``state``: :class:`SessionState` JSON,
zlib-compressed and base64-encoded by :func:`encode_state`, for a desk's state is big and
rewritten whole) as of one event (``id``, and that event's time ``at``). ONE Lua step
(``checkpoint_write.lua``) writes it and trims the stream of every entry up to that id
(``XTRIM MINID``), so the checkpoint plus the stream's entries always make the whole log.
The step refuses a checkpoint folded from another base than the current checkpoint
(another process was faster: nothing is lost, the work is done again later) and one that
is not newer.

Every reader starts from the checkpoint: :func:`fold_log` (the store's replay), the live
hub's load, the exports. Reading the tail while a trim runs is safe: each chunk is read with
the checkpoint id in the same round trip; a checkpoint beyond the position read from means
entries may be gone, :class:`Trimmed` is raised and the reader starts again.

:class:`Checkpointer` runs in every app process; a lease makes one of them do the work. A
session gets a new checkpoint once ``every`` events stand beyond the ``keep`` newest ones,
which stay in the stream (resuming consoles, the hub's window, recent audit trail). The
stream then holds between ``keep`` and ``keep + every`` entries (plus what arrives until the
next pass); the checkpoint grows with the session's records (docs/events.md, "A
bounded log", weighs the two).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel

from atexpert.domain.events import Event, SessionState, decode_event, replay
from atexpert.store import keys, lua
from atexpert.store.redis_conn import RedisClient
from atexpert.store.scheduler import Lease, run_ticks

log = logging.getLogger(__name__)

WRITE_LUA = lua.script(__name__, "checkpoint_write.lua")
CHUNK = 1000
#: Reads of a log started again because a checkpoint trimmed it meanwhile, at most.
TRIES = 20

Entry = tuple[str, Mapping[str, str]]


class Checkpoint(BaseModel):
    """The session's state folded up to the event ``id`` ("0-0": no checkpoint yet)."""

    id: str = "0-0"
    #: The time of the event ``id``: the log is complete from then on.
    at: AwareDatetime | None = None
    state: SessionState = SessionState()


class Trimmed(Exception):
    """A checkpoint trimmed the log past the position being read: read it again."""


def id_key(entry_id: str) -> tuple[int, int]:
    """A stream id, ordered: ``"1732612345678-3"`` -> ``(1732612345678, 3)``."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def after_id(entry_id: str) -> str:
    """The smallest stream id above ``entry_id``."""
    ms, seq = id_key(entry_id)
    return f"{ms}-{seq + 1}"


async def load(redis: RedisClient, session_id: str) -> Checkpoint:
    """The session's checkpoint; an empty one (id "0-0") if the log was never trimmed."""
    cid, at, state = await redis.hmget(keys.checkpoint(session_id), ["id", "at", "state"])
    if cid is None or state is None:
        return Checkpoint()
    return Checkpoint(id=cid, at=at or None, state=decode_state(state))


def encode_state(state: SessionState) -> str:
    """The ``state`` field of a checkpoint: compressed JSON (about 6 times smaller)."""
    return base64.b64encode(zlib.compress(state.model_dump_json().encode(), 1)).decode()


def decode_state(field: str | bytes) -> SessionState:
    return SessionState.model_validate_json(zlib.decompress(base64.b64decode(field)))


async def tail(
    redis: RedisClient, session_id: str, after: str, *, chunk: int = CHUNK, limit: int | None = None
) -> AsyncIterator[list[Entry]]:
    """The entries after ``after`` in chunks (at most ``limit`` in all); :class:`Trimmed`
    when a checkpoint passed ``after`` meanwhile."""
    stream, position, left = keys.events(session_id), after, limit
    while left is None or left > 0:
        count = chunk if left is None else min(chunk, left)
        pipe = redis.pipeline(transaction=False)
        pipe.xrange(stream, min="(" + position, count=count)
        pipe.hget(keys.checkpoint(session_id), "id")
        entries, cid = await pipe.execute()
        if cid is not None and id_key(str(cid)) > id_key(position):
            raise Trimmed(session_id)
        if not entries:
            return
        out = [(str(eid), fields) for eid, fields in entries]
        yield out
        position = out[-1][0]
        left = None if left is None else left - len(out)
        if len(out) < count:
            return


async def read_log(
    redis: RedisClient, session_id: str, *, chunk: int = CHUNK
) -> tuple[Checkpoint, list[Event]]:
    """The session's log: its checkpoint and every event after it, read consistently."""
    for _ in range(TRIES):
        base = await load(redis, session_id)
        events: list[Event] = []
        try:
            async for entries in tail(redis, session_id, base.id, chunk=chunk):
                events.extend(decode_event(session_id, eid, f) for eid, f in entries)
        except Trimmed:
            continue
        return base, events
    raise Trimmed(session_id)


async def fold_log(redis: RedisClient, session_id: str, *, chunk: int = CHUNK) -> SessionState:
    """The session's state from its log: the checkpoint's, then the tail folded in."""
    base, events = await read_log(redis, session_id, chunk=chunk)
    return replay(events, base.state)


@dataclass(frozen=True)
class Policy:
    """When a session gets a new checkpoint (see the module's docstring)."""

    every: int = 1_000
    keep: int = 1_000

    def __post_init__(self) -> None:
        if self.every < 1 or self.keep < 1:
            raise ValueError("a checkpoint policy folds and keeps at least 1 event")


async def write(redis: RedisClient, session_id: str, policy: Policy) -> int:
    """Checkpoint the session if ``policy`` says so: the entries trimmed (0: none, or
    another process checkpointed meanwhile). Safe to run twice or in several processes."""
    beyond = int(await redis.xlen(keys.events(session_id))) - policy.keep
    if beyond < policy.every:
        return 0
    base = await load(redis, session_id)
    state, last, at = base.state, base.id, base.at
    try:
        async for entries in tail(redis, session_id, base.id, limit=beyond):
            events = [decode_event(session_id, eid, f) for eid, f in entries]
            replay(events, state)
            last, at = events[-1].id, events[-1].at
    except Trimmed:
        return 0
    if last == base.id or at is None:
        return 0
    script = redis.register_script(WRITE_LUA)
    trimmed = await script(
        keys=[keys.checkpoint(session_id), keys.events(session_id)],
        args=[base.id, last, at.isoformat(), encode_state(state), after_id(last)],
    )
    return max(int(trimmed), 0)


class Checkpointer:
    """Checkpoints every session due for one, in the process holding the ``checkpoint``
    lease (the Lua step's compare keeps two processes from trimming on each other)."""

    def __init__(
        self,
        redis: RedisClient,
        policy: Policy | None = None,
        *,
        interval: timedelta = timedelta(seconds=30),
        lease: Lease | None = None,
    ) -> None:
        self.redis = redis
        self.policy = policy or Policy()
        self.interval = interval
        self.lease = lease or Lease(redis, name="checkpoint", ttl=max(interval * 4, _MIN_TTL))

    async def tick(self) -> dict[str, int]:
        """One pass over every session if we hold the lease: entries trimmed per session."""
        if await self.lease.acquire() is None:
            return {}
        ids: Any = await self.redis.zrange(keys.GLOBAL_SESSIONS, 0, -1)
        done: dict[str, int] = {}
        for raw in ids:
            sid = raw.decode() if isinstance(raw, bytes) else str(raw)
            try:
                trimmed = await write(self.redis, sid, self.policy)
            except ValueError as exc:  # an event that does not fold: keep the whole log
                log.error("checkpoint of %s: %s", sid, exc)
                continue
            if trimmed:
                done[sid] = trimmed
        return done

    async def run(self, stop: asyncio.Event) -> None:
        """A pass every ``interval`` until ``stop`` is set; failures are logged, retried."""
        await run_ticks(self.tick, self.interval, stop, self.lease, "checkpoint")


_MIN_TTL = timedelta(seconds=10)
