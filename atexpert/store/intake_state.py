"""Intake state in Redis: the cursor, the status shown by the API, counters, flags.

All keys carry the session's hash tag::

    ama:{s_x}:intake:cursor      newest tweet id covered (since_id of the next read)
    ama:{s_x}:intake:status      hash: state, last_error, lag... (see IntakeStatus)
    ama:{s_x}:intake:n           hash: counters (received, duplicates, skipped_*...)
    ama:{s_x}:intake:config      hash: the session's intake mode (absent: the default),
                                 version, updated_by, updated_at
    ama:{s_x}:intake:pause       hash: whether intake is paused and why, version...

The cursor only moves forward, and only after the questions it covers are stored, so a
crash makes intake read some posts again (harmless: the store dedupes by tweet id) and
never skip one. Choosing the mode appends ``intake.mode_changed`` to the session's event
log in the same step (:mod:`atexpert.store.session_settings`); so does a pause of intake
or its end (``intake_pause.changed``), which the consoles show as a banner.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from atexpert.domain.errors import Conflict, NotFound
from atexpert.domain.events import EventKind
from atexpert.store import keys, lua
from atexpert.store.redis_conn import RedisClient
from atexpert.store.session_settings import SettingWriter


class IntakeMode(StrEnum):
    MENTIONS = "mentions"  # host's mentions timeline, filtered by hashtag (default)
    STREAM = "stream"  # filtered stream, rule per session, search catch-up on (re)connect
    SEARCH = "search"  # recent search polling


class IntakeState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    BACKOFF = "backoff"  # X or the network failed; retrying at retry_at
    RATE_LIMITED = "rate_limited"  # 429: waiting for x-rate-limit-reset
    PAUSED_BUDGET = "paused_budget"  # the next read could exceed the session's budget
    STOPPED = "stopped"


class PauseReason(StrEnum):
    """Why intake stopped reading X (what the consoles' banner says)."""

    BUDGET = "budget"  # the session's budget is (nearly) used up
    X_ERRORS = "x_errors"  # X or the network fails; retrying
    X_RATE_LIMIT = "x_rate_limit"  # X's rate limit is used up until its reset
    X_TOKEN = "x_token"  # X refuses the app's token (revoked or invalid)
    OUTSIDE_HOURS = "outside_hours"  # the session is closed (business hours, after_hours pause)


def pause_reason(status: int | None) -> PauseReason:
    """The pause reason of a failed X read with HTTP ``status`` (None: network)."""
    if status in (401, 403):
        return PauseReason.X_TOKEN
    return PauseReason.X_RATE_LIMIT if status == 429 else PauseReason.X_ERRORS


class IntakePause(BaseModel):
    """Whether the session's intake is paused, and why (version 0: never paused)."""

    model_config = ConfigDict(frozen=True)

    paused: bool = False
    reason: PauseReason | None = None
    version: int = 0
    updated_by: str | None = None
    updated_at: AwareDatetime | None = None


#: Actor of the ``intake_pause.changed`` events.
PAUSE_ACTOR = "intake"

#: What became of each post read: exactly one of these per post.
OUTCOMES = (
    "received",
    "duplicates",
    "retweet",
    "own_post",
    "no_hashtag",
    "malformed",
    "over_budget",  # delivered by the stream past the budget: billed, not stored
)
COUNTERS = (*OUTCOMES, "truncated", "calls", "errors")

# KEYS[1] cursor; ARGV[1] candidate id. Numeric ids compare by length, then as strings.
_ADVANCE = lua.script(__name__, "intake_state_advance.lua")


class IntakeSetting(BaseModel):
    """The session's chosen intake mode with its version (version 0: never chosen)."""

    model_config = ConfigDict(frozen=True)

    mode: IntakeMode | None = Field(default=None, description="None: the default mode")
    version: int = 0
    updated_by: str | None = None
    updated_at: AwareDatetime | None = None


class IntakeStatus(BaseModel):
    """What the API shows about one session's intake."""

    session_id: str
    mode: IntakeMode
    state: IntakeState = IntakeState.IDLE
    cursor: str | None = Field(default=None, description="newest tweet id read so far")
    last_error: str | None = None
    last_error_at: AwareDatetime | None = None
    last_read_at: AwareDatetime | None = Field(
        default=None, description="last successful read from X"
    )
    lag_seconds: float | None = Field(
        default=None, description="tweet time to stored question, for the last question"
    )
    retry_at: AwareDatetime | None = None
    paused_reason: str | None = None
    counters: dict[str, int] = Field(default_factory=dict)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class IntakeStore:
    """Reads and writes the intake keys of sessions."""

    def __init__(self, redis: RedisClient, default_mode: IntakeMode = IntakeMode.MENTIONS) -> None:
        self._redis = redis
        self.default_mode = default_mode
        self._advance = redis.register_script(_ADVANCE)
        self._writer = SettingWriter(redis, "the intake mode")
        self._pause_writer = SettingWriter(redis, "the intake pause")

    async def cursor(self, session_id: str) -> str | None:
        raw = await self._redis.get(keys.intake(session_id, "cursor"))
        return None if raw is None else _text(raw)

    async def advance(self, session_id: str, tweet_id: str) -> bool:
        """Move the cursor to ``tweet_id`` if that is newer; True if it moved."""
        moved = await self._advance(keys=[keys.intake(session_id, "cursor")], args=[tweet_id])
        return bool(moved)

    async def setting(self, session_id: str) -> IntakeSetting:
        raw = await self._redis.hgetall(keys.intake(session_id, "config"))
        return IntakeSetting.model_validate({_text(k): _text(v) for k, v in raw.items()})

    async def mode(self, session_id: str) -> IntakeMode:
        return (await self.setting(session_id)).mode or self.default_mode

    async def set_mode(
        self, session_id: str, mode: IntakeMode, *, actor: str, at: datetime
    ) -> IntakeSetting:
        """Choose the session's mode and log ``intake.mode_changed``; NotFound if the
        session does not exist."""
        version = await self._writer.write(
            session_id,
            keys.intake(session_id, "config"),
            EventKind.INTAKE_MODE_CHANGED,
            {"mode": mode.value},
            {"mode": mode.value},
            actor=actor,
            at=at,
        )
        return IntakeSetting(mode=mode, version=version, updated_by=actor, updated_at=at)

    async def pause(self, session_id: str) -> IntakePause:
        raw = await self._redis.hgetall(keys.intake(session_id, "pause"))
        fields = {_text(k): _text(v) for k, v in raw.items()}
        paused, reason = fields.get("paused") == "1", fields.get("reason") or None
        return IntakePause.model_validate({**fields, "paused": paused, "reason": reason})

    async def set_pause(self, session_id: str, reason: PauseReason | None, *, at: datetime) -> bool:
        """Say intake is paused for ``reason`` (None: running again), with its event, only
        when that changes what was said; True if it did. A concurrent write wins."""
        current = await self.pause(session_id)
        if current.reason == reason and current.paused == (reason is not None):
            return False
        data: dict[str, Any] = {"paused": reason is not None, "reason": reason}
        try:
            await self._pause_writer.write(
                session_id,
                keys.intake(session_id, "pause"),
                EventKind.INTAKE_PAUSE_CHANGED,
                data,
                {"paused": "1" if reason else "0", "reason": reason or ""},
                actor=PAUSE_ACTOR,
                at=at,
                expected_version=current.version,
            )
        except (Conflict, NotFound):
            return False
        return True

    async def count(self, session_id: str, counts: dict[str, int]) -> None:
        nonzero = {k: v for k, v in counts.items() if v}
        if not nonzero:
            return
        pipe = self._redis.pipeline(transaction=False)
        for name, n in nonzero.items():
            pipe.hincrby(keys.intake(session_id, "n"), name, n)
        await pipe.execute()

    async def set_status(self, session_id: str, **fields: object) -> None:
        """Update status fields; None clears one. Datetimes are stored as ISO text."""
        key = keys.intake(session_id, "status")
        mapping: dict[Any, Any] = {}
        gone: list[str] = []
        for name, value in fields.items():
            if value is None:
                gone.append(name)
            elif isinstance(value, datetime):
                mapping[name] = value.isoformat()
            else:
                mapping[name] = str(value)
        pipe = self._redis.pipeline(transaction=False)
        if mapping:
            pipe.hset(key, mapping=mapping)
        if gone:
            pipe.hdel(key, *gone)
        await pipe.execute()

    async def status(self, session_id: str) -> IntakeStatus:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(keys.intake(session_id, "status"))
        pipe.hgetall(keys.intake(session_id, "n"))
        raw, counters = await pipe.execute()
        mode = await self.mode(session_id)
        fields = {
            _text(k): _text(v) for k, v in raw.items() if _text(k) in IntakeStatus.model_fields
        }
        return IntakeStatus.model_validate(
            {
                **fields,
                "session_id": session_id,
                "mode": mode,
                "cursor": await self.cursor(session_id),
                "counters": {_text(k): int(v) for k, v in counters.items()},
            }
        )
