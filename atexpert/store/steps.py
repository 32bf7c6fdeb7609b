"""The base of :class:`~atexpert.store.store.Store`: one atomic Lua step per state change.

Every change runs as ONE Lua step (``store/steps.lua``, EVALSHA-cached) on the keys of one
session: guards checked, records patched, status indexes moved and one event per change
appended to the session's stream, or nothing at all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from atexpert.domain import answers, questions, sessions
from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from atexpert.domain.events import Change, Create, Guard, Record, Step, dumps, event_fields
from atexpert.domain.sessions import Session
from atexpert.store import keys, lua

RedisClient = Redis | RedisCluster

STEP_LUA = lua.script(__name__, "steps.lua")

_ILLEGAL: dict[str, Callable[[Record, str], IllegalTransition]] = {
    "session": sessions.illegal,
    "question": questions.illegal,
    "answer": answers.illegal,
}


def step_args(session_id: str, items: Sequence[Step]) -> tuple[list[str], list[str]]:
    """KEYS and ARGV of ``store/steps.lua`` running ``items`` as one atomic step."""
    all_keys = [keys.events(session_id)]
    slots: dict[str, int] = {}

    def ref(key: str) -> int:
        if key not in slots:
            all_keys.append(key)
            slots[key] = len(all_keys)
        return slots[key]

    ops: list[Record] = []
    for it in items:
        op: Record = {
            "k": ref(keys.record(session_id, it.entity, it.entity_id)),
            "id": it.entity_id,
        }
        statuses: set[str] = set()
        if isinstance(it, Create):
            status = str(it.record["status"])
            statuses.add(status)
            event = event_fields(it.kind, it.entity_id, it.actor, it.at, it.record)
            op |= {
                "create": dumps(it.record),
                "status": status,
                "score": keys.ms(it.at),
                "ev": event,
            }
            if side := derived(session_id, it):
                op["side"] = [[cmd, ref(key), *args] for cmd, key, *args in side]
        else:
            op["src"] = sorted(it.sources)
        if isinstance(it, Change):
            statuses |= it.sources | {str(it.patch.get("status", ""))} - {""}
            event = event_fields(it.kind, it.entity_id, it.actor, it.at, it.patch, it.fence)
            op |= {"patch": it.patch, "ev": event}
            op |= {"ver": it.expected_version} if it.expected_version is not None else {}
            op |= {"fence": it.fence} if it.fence is not None else {}
            op |= {"opt": True} if it.optional else {}
            op |= {"kv": True} if it.keep_version else {}
        index = {s: keys.status_index(session_id, it.entity, s) for s in sorted(statuses)}
        if any(index.values()):
            op["ix"] = {s: ref(k) for s, k in index.items() if k is not None}
        ops.append(op)
    return all_keys, [dumps({"ops": ops})]


def derived(session_id: str, create: Create) -> list[list[Any]]:
    """The derived data a new record writes in its step: a question goes into its asker's
    index; a new session's questions will all be there (the index needs no backfill)."""
    if create.entity == "question":
        author = str(create.record["author"]["id"])
        key = keys.asker_questions(session_id, author)
        return [["ZADD", key, keys.ms(create.at), create.entity_id]]
    if create.entity == "session":
        return [["SET", keys.askers_indexed(session_id), "1"]]
    return []


class Exists(Exception):
    """The record to create exists already (``raw``: its JSON)."""

    def __init__(self, raw: str) -> None:
        self.raw = raw


class StepRunner:
    """Runs atomic steps on one Redis; ``at`` defaults to the clock's now."""

    def __init__(self, redis: RedisClient, *, clock: Clock | None = None) -> None:
        self._redis = redis
        self._clock = clock or SystemClock()
        self._step = redis.register_script(STEP_LUA)

    def _now(self, at: datetime | None) -> datetime:
        return self._clock.now() if at is None else at

    # -- the atomic step ---------------------------------------------------------------

    async def _run(self, session_id: str, items: Sequence[Step]) -> list[str]:
        """Run ``items`` as one atomic step; per item its new record JSON ("" if none)."""
        step_keys, argv = step_args(session_id, items)
        reply = await self._step(keys=step_keys, args=argv)
        if reply[0] == "ok":
            return [str(raw) for raw in reply[2]]
        raise _failure(str(reply[0]), items[int(reply[1]) - 1], str(reply[2]))

    async def _apply(self, session_id: str, *changes: Change, guards: Sequence[Guard] = ()) -> str:
        """Run changes (+ guards) in one step; the first change's new record JSON."""
        results = await self._run(session_id, [*guards, *changes])
        return results[len(guards)]

    async def _get(self, key: str, entity: str, entity_id: str) -> str:
        raw = await self._redis.get(key)
        if raw is None:
            raise NotFound(entity, entity_id)
        return str(raw)

    async def get_session(self, session_id: str) -> Session:
        raw = await self._get(keys.session(session_id), "session", session_id)
        return Session.model_validate_json(raw)

    async def _list(
        self,
        indexes: list[str],
        key_of: Callable[[str], str],
        offset: int,
        limit: int | None,
    ) -> list[str]:
        if offset < 0 or (limit is not None and limit < 0):
            raise InvalidInput.field(("offset",), "offset and limit are >= 0")
        stop = -1 if limit is None else offset + limit - 1
        if len(indexes) == 1:
            ids = strs(await self._redis.zrange(indexes[0], offset, stop))
        else:
            scored: list[Any] = await asyncio.gather(
                *(self._redis.zrange(i, 0, -1, withscores=True) for i in indexes)
            )
            merged = sorted((float(score), str(i)) for pairs in scored for i, score in pairs)
            ids = [i for _, i in merged][offset : None if limit is None else offset + limit]
        if not ids:
            return []
        raws = await self._redis.mget([key_of(i) for i in ids])
        return [str(r) for r in raws if r is not None]


def _failure(reason: str, item: Step, raw: str) -> Exception:
    """The error for a refused step (see the return values of store/steps.lua)."""
    what = f"{item.entity} {item.entity_id}"
    if reason == "missing":
        return NotFound(item.entity, item.entity_id)
    if reason == "exists":
        return Exists(raw)
    record = loads(raw)
    if reason == "status" and not isinstance(item, Create):
        return _ILLEGAL[item.entity](record, item.action)
    if reason == "version" and isinstance(item, Change):
        by = record.get("decided_by") or record.get("updated_by")
        return Conflict(
            f"{what} was changed meanwhile{f' by {by}' if by else ''} (it is "
            f"{record.get('status')}, version {record.get('version')}, not "
            f"{item.expected_version}); reload and retry"
        )
    if reason == "fence" and isinstance(item, Change):
        return Conflict(
            f"stale scheduler lease: fence {item.fence} is below {record.get('fence')} "
            f"already recorded on {what}"
        )
    return InvalidInput(f"{what} has no such part to change")


def loads(raw: str) -> Record:
    value = json.loads(raw)
    return value if isinstance(value, dict) else {}


def strs(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
