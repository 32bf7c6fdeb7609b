"""Login failure counters in Redis (under the ``{staff}`` hash tag), one atomic Lua step each.

Keys (built in :mod:`atexpert.store.keys`)::

    ama:{staff}:throttle:<id>    hash: failures, until (ms), last (ms), kind, username, client
    ama:{staff}:throttles        sorted set id -> when the counter is forgotten (ms)

The rules (what is counted, the backoff) are :mod:`atexpert.domain.login_throttle`'s; every
time is the injected clock's, so the Redis key expiry only collects garbage.
"""

from __future__ import annotations

import math
from datetime import timedelta

from atexpert.domain.clock import Clock
from atexpert.domain.login_throttle import (
    Backoff,
    Throttle,
    ThrottleKind,
    ThrottlePolicy,
    client_bucket,
    throttle_id,
    throttle_username,
)
from atexpert.store import keys, lua
from atexpert.store.staff import RedisClient

_STEP = lua.script(__name__, "login_throttle.lua")


def _ms(delta: timedelta) -> int:
    return int(delta / timedelta(milliseconds=1))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _backoff_args(backoff: Backoff) -> list[int]:
    return [backoff.free, _ms(backoff.base), _ms(backoff.cap)]


class LoginThrottle:
    def __init__(
        self, redis: RedisClient, clock: Clock, policy: ThrottlePolicy | None = None
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._policy = policy or ThrottlePolicy()
        self._step = redis.register_script(_STEP)

    async def attempt(self, username: str, client: str) -> int:
        """Let one login attempt of ``username`` from ``client`` through: 0, and it counts as
        a failure until :meth:`succeeded` says otherwise; else the seconds to wait first."""
        wait_ms = await self._run("attempt", username, client)
        return math.ceil(wait_ms / 1000)

    async def succeeded(self, username: str, client: str) -> None:
        """The attempt was right: forget the pair's failures, refund the client's one."""
        await self._run("success", username, client)

    async def _run(self, op: str, username: str, client: str) -> int:
        name, bucket = throttle_username(username), client_bucket(client)
        ids = [throttle_id(kind, name, bucket) for kind in ThrottleKind]
        policy = self._policy
        args: list[str | int] = [op, keys.ms(self._clock.now()), _ms(policy.forget)]
        args += [*_backoff_args(policy.account), *_backoff_args(policy.client)]
        args += [*ids, name, bucket]
        return int(
            await self._step(
                keys=[*(keys.login_throttle(i) for i in ids), keys.LOGIN_THROTTLES], args=args
            )
        )

    async def list(self) -> list[Throttle]:
        """The counters not yet forgotten, those blocking longest first."""
        now = keys.ms(self._clock.now())
        found = await self._redis.zrangebyscore(keys.LOGIN_THROTTLES, f"({now}", "+inf")
        ids = [_text(i) for i in found if isinstance(i, bytes | str)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.hgetall(keys.login_throttle(i))
            records = await pipe.execute()
        out = []
        for i, record in zip(ids, records, strict=True):
            fields = {_text(k): _text(v) for k, v in record.items()}
            if not fields:
                continue
            kind = ThrottleKind(fields["kind"])
            wait = max(0, int(fields["until"]) - now)
            out.append(
                Throttle(
                    id=i,
                    kind=kind,
                    username=fields["username"] if kind is ThrottleKind.ACCOUNT else None,
                    client=fields["client"],
                    failures=int(fields["failures"]),
                    retry_after=math.ceil(wait / 1000),
                )
            )
        return sorted(out, key=lambda t: (-t.retry_after, -t.failures, t.id))

    async def clear(self, throttle_id: str) -> bool:
        """Forget one counter; False when there is none with that id."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.login_throttle(throttle_id))
            pipe.zrem(keys.LOGIN_THROTTLES, throttle_id)
            deleted, _ = await pipe.execute()
        return bool(deleted)
