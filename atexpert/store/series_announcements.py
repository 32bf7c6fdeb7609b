"""The state of the announcements before each occurrence of a series, in Redis.

One hash per session (``ama:{s_x}:series:announce``, the session's own slot): field = the
minutes before the start, value = :class:`~atexpert.domain.series_announce.AnnouncementState`
as JSON. Every change is one Lua step (``series_announce.lua``) that checks the state it
leaves and the scheduler's fence (a leader whose lease was taken over cannot record over
its successor), then writes the record and appends its event (``announcement.*``, the
whole new record) to the session's log: the log folds to exactly what the hash holds.
Claiming writes the text to post before the post is sent, so a retry after a crash posts
the same text, or finds it on the host's timeline (reconciliation) first.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from atexpert.domain.errors import Conflict, NotFound
from atexpert.domain.events import EventKind, Record
from atexpert.domain.series_announce import AnnouncementState
from atexpert.store import keys, lua
from atexpert.store.redis_conn import RedisClient

_STEP = lua.script(__name__, "series_announce.lua")

Op = Literal["claim", "posted", "failed", "missed", "release", "edit"]
Verdict = Literal["ok", "retry", "done", "fence"]
#: The event each step writes (an edit that skips the announcement: ``skipped``).
KINDS: dict[Op, EventKind] = {
    "claim": EventKind.ANNOUNCEMENT_CLAIMED,
    "posted": EventKind.ANNOUNCEMENT_POSTED,
    "failed": EventKind.ANNOUNCEMENT_FAILED,
    "missed": EventKind.ANNOUNCEMENT_MISSED,
    "release": EventKind.ANNOUNCEMENT_RELEASED,
    "edit": EventKind.ANNOUNCEMENT_EDITED,
}


class AnnouncementStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._step = redis.register_script(_STEP)

    async def states(self, session_id: str) -> dict[int, AnnouncementState]:
        raw = await self._redis.hgetall(keys.series_announcements(session_id))
        return {int(k): AnnouncementState.model_validate_json(v) for k, v in raw.items()}

    async def step(
        self,
        session_id: str,
        before_minutes: int,
        op: Op,
        patch: Record,
        *,
        actor: str,
        at: datetime,
        fence: int | None = None,
    ) -> tuple[Verdict, AnnouncementState]:
        """Run ``op`` on one announcement, with its event by ``actor`` at ``at``; the
        verdict and the state it is in now."""
        skip = op == "edit" and patch.get("status") == "skipped"
        kind = EventKind.ANNOUNCEMENT_SKIPPED if skip else KINDS[op]
        step_keys = [
            keys.series_announcements(session_id),
            keys.session(session_id),
            keys.events(session_id),
        ]
        args = [op, str(before_minutes), "" if fence is None else str(fence), json.dumps(patch)]
        reply = await self._step(keys=step_keys, args=[*args, kind.value, actor, at.isoformat()])
        verdict = str(reply[0])
        if verdict == "missing":
            raise NotFound("session", session_id)
        return verdict, AnnouncementState.model_validate_json(str(reply[1]))  # type: ignore[return-value]

    async def edit(
        self, session_id: str, before_minutes: int, patch: Record, *, actor: str, at: datetime
    ) -> AnnouncementState:
        """The admin's change (text or skip); Conflict once it is no longer editable."""
        patch = patch | {"edited_by": actor, "edited_at": at.isoformat()}
        verdict, state = await self.step(
            session_id, before_minutes, "edit", patch, actor=actor, at=at
        )
        if verdict != "ok":
            raise Conflict(
                f"the announcement {before_minutes} minutes before {session_id} is "
                f"{state.status}; it can no longer be changed"
            )
        return state
