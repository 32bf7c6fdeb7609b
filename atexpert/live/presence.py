"""Ephemeral moderator state: who is connected, and soft claims on questions.

Not part of the event log (it is not history). Under the session's hash tag::

    ama:{s}:presence   hash  connection id -> {"user_id", "username", "name", "role", "until"}
    ama:{s}:claims     hash  question id   -> {"user_id", "username", "name", "conn", "until"}

``name`` is the person's display name, what the consoles show (``username`` stays the key).
    ama:{s}:live       stream of bare change notices (capped at ~1000 entries)

``until`` is a wall-clock deadline in ms: entries past it are ignored and pruned, so a
crashed process's moderators vanish by themselves. Every change appends a notice to
``ama:{s}:live``; each process's feed tails it next to the event stream and re-reads
the two hashes. The keys expire a day after their last change.
"""

from __future__ import annotations

import json
from typing import Any

from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.events import dumps
from atexpert.live.views import Json
from atexpert.store import keys, lua
from atexpert.store.redis_conn import RedisClient

NOTICES_MAX = 1000
KEY_TTL_S = 24 * 3600

#: KEYS: claims hash. ARGV: qid, new claim JSON, now ms, user id, key ttl s.
#: Returns nil when granted, else the live claim of another user.
CLAIM_LUA = lua.script(__name__, "presence_claim.lua")

#: KEYS: claims hash. ARGV: qid, user id. 1 when the user's claim was dropped.
RELEASE_LUA = lua.script(__name__, "presence_release.lua")


def _hash(raw: Any) -> dict[str, Json]:
    return {str(k): json.loads(v) for k, v in dict(raw or {}).items()}


def _named(entry: Json) -> Json:
    """The ``name`` to show (an entry written before names were kept has none)."""
    return {"name": entry.get("name") or entry["username"]}


class Presence:
    """Presence and claims of one session, as last read, plus this process's members."""

    def __init__(self, redis: RedisClient, session_id: str, clock: Clock | None = None) -> None:
        self.stream = keys.session_key(session_id, "live")
        self.members_key = keys.session_key(session_id, "presence")
        self.claims_key = keys.session_key(session_id, "claims")
        self.redis = redis
        self.clock = clock or SystemClock()
        self.position = ""
        self.members: dict[str, Json] = {}
        self.claims: dict[str, Json] = {}
        self.local: dict[str, Json] = {}
        self._claim = redis.register_script(CLAIM_LUA)
        self._release = redis.register_script(RELEASE_LUA)

    def now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    async def load(self) -> bool:
        """Re-read both hashes (live entries only); whether anything changed."""
        if not self.position:
            last: Any = await self.redis.xrevrange(self.stream, count=1)
            self.position = str(last[0][0]) if last else "0-0"
        now = self.now_ms()
        members = {
            k: v
            for k, v in _hash(await self.redis.hgetall(self.members_key)).items()
            if v.get("until", 0) > now
        }
        claims = {
            k: v
            for k, v in _hash(await self.redis.hgetall(self.claims_key)).items()
            if v.get("until", 0) > now
        }
        changed = members != self.members or claims != self.claims
        self.members, self.claims = members, claims
        return changed

    def frame(self) -> str:
        moderators = sorted(
            (
                {"conn": k, **{f: v[f] for f in ("user_id", "username", "role")}, **_named(v)}
                for k, v in self.members.items()
            ),
            key=lambda m: (m["username"], m["conn"]),
        )
        claims = [
            {"question_id": q, **{f: c[f] for f in ("user_id", "username", "until")}, **_named(c)}
            for q, c in sorted(self.claims.items())
        ]
        return dumps({"type": "presence", "moderators": moderators, "claims": claims})

    async def _notify(self, *touched: str) -> None:
        await self.redis.xadd(self.stream, {"n": "1"}, maxlen=NOTICES_MAX, approximate=True)
        for key in (self.stream, *touched):
            await self.redis.expire(key, KEY_TTL_S)

    async def join(self, conn: str, member: Json, ttl_s: float) -> None:
        self.local[conn] = member
        entry = {**member, "until": self.now_ms() + int(ttl_s * 1000)}
        await self.redis.hset(self.members_key, conn, dumps(entry))
        await self._notify(self.members_key)

    async def leave(self, conn: str) -> None:
        """Drop the connection and every claim it holds."""
        self.local.pop(conn, None)
        await self.redis.hdel(self.members_key, conn)
        held = [
            q
            for q, c in _hash(await self.redis.hgetall(self.claims_key)).items()
            if c.get("conn") == conn
        ]
        if held:
            await self.redis.hdel(self.claims_key, *held)
        await self._notify()

    async def claim(self, conn: str, member: Json, question_id: str, ttl_s: float) -> Json | None:
        """Claim ``question_id`` for ``ttl_s``; None when granted, else the other holder."""
        now = self.now_ms()
        entry = {
            "user_id": member["user_id"],
            "username": member["username"],
            "name": member.get("name") or member["username"],
            "conn": conn,
            "until": now + int(ttl_s * 1000),
        }
        holder = await self._claim(
            keys=[self.claims_key],
            args=[question_id, dumps(entry), now, member["user_id"], KEY_TTL_S],
        )
        if holder:
            found: Json = json.loads(holder)
            return found
        await self._notify()
        return None

    async def release(self, member: Json, question_id: str) -> bool:
        dropped = bool(
            await self._release(keys=[self.claims_key], args=[question_id, member["user_id"]])
        )
        if dropped:
            await self._notify()
        return dropped

    async def renew(self, ttl_s: float) -> None:
        """Push this process's members' deadlines; prune what expired (anyone's)."""
        now = self.now_ms()
        if self.local:
            until = now + int(ttl_s * 1000)
            await self.redis.hset(
                self.members_key,
                mapping={c: dumps({**m, "until": until}) for c, m in self.local.items()},
            )
        stale = False
        for key in (self.members_key, self.claims_key):
            dead = [
                k
                for k, v in _hash(await self.redis.hgetall(key)).items()
                if v.get("until", 0) <= now
            ]
            if dead:
                await self.redis.hdel(key, *dead)
                stale = True
        if stale:
            await self._notify()
