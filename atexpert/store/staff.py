"""Staff accounts, API tokens and login sessions in Redis (all under the ``{staff}`` hash tag).

Keys:
    ama:{staff}:usernames          hash username -> user id
    ama:{staff}:user:<id>          StaffUser JSON
    ama:{staff}:token:<sha256>     ApiToken JSON (the token secret itself is never stored)
    ama:{staff}:tokens:<user id>   hash token id -> sha256 of the token
    ama:{staff}:login:<sha256>     LoginSession JSON, expiring
    ama:{staff}:logins:<user id>   sorted set sha256 of a login -> its expiry (ms)
    ama:{staff}:revoked            Stream of revoked identities (``login:<sha256>``,
                                   ``token:<id>``, ``user:<id>``): each app process closes
                                   the websockets opened with them

Deleting a user leaves a tombstone (see :class:`~atexpert.domain.staff.StaffUser`): the
lookups here treat it as absent, but its username stays taken.

Failed logins are counted by :mod:`atexpert.store.login_throttle`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster

from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.errors import Conflict
from atexpert.domain.staff import (
    ApiToken,
    StaffNames,
    StaffUser,
    invalid_username,
    normalize_username,
)
from atexpert.store import keys, lua

RedisClient = Redis | RedisCluster

TOKEN_PREFIX = "atx_"
#: Revocation notices kept (approximately): websockets only need the recent ones.
REVOCATIONS_KEPT = 1000
REVOCATIONS = keys.staff("revoked")
CAS_TRIES = 5

_CREATE_USER = lua.script(__name__, "staff_create_user.lua")


_UPDATE_USER = lua.script(__name__, "staff_update_user.lua")


class UsernameTaken(Exception):
    """The username already exists."""


class UnknownUser(Exception):
    """No such staff user."""


class LoginSession(BaseModel):
    """A browser login: the cookie holds ``sid``; ``csrf`` must come back as a header."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str
    csrf: str
    expires_at: datetime


def login_identity(sid: str) -> str:
    """How a revocation names the login session ``sid`` (its id never leaves the cookie)."""
    return "login:" + _sha256(sid)


def token_identity(token_id: str) -> str:
    return "token:" + token_id


def user_identity(user_id: str) -> str:
    return "user:" + user_id


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class StaffStore:
    def __init__(
        self,
        redis: RedisClient,
        *,
        clock: Clock | None = None,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._redis = redis
        self._clock = clock or SystemClock()
        self._hasher = hasher or PasswordHasher()
        self._create_user = redis.register_script(_CREATE_USER)
        self._update_user = redis.register_script(_UPDATE_USER)
        # Verified against when the username is unknown, so timing does not reveal it.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(8))

    # -- users -------------------------------------------------------------------------

    async def create_user(
        self,
        username: str,
        password: str,
        *,
        display_name: str | None = None,
        is_admin: bool = False,
    ) -> StaffUser:
        name = normalize_username(username)
        if name is None:
            raise ValueError(invalid_username(username))
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        user = StaffUser(
            id=secrets.token_hex(8),
            username=name,
            display_name=display_name or name,
            password_hash=password_hash,
            is_admin=is_admin,
            created_at=self._clock.now(),
        )
        created = await self._create_user(
            keys=[keys.staff("usernames"), keys.staff(f"user:{user.id}")],
            args=[name, user.id, user.model_dump_json()],
        )
        if not created:
            raise UsernameTaken(f"username {name!r} is already taken")
        return user

    async def get_user(self, user_id: str) -> StaffUser | None:
        """The user, disabled or not; None for no user or a deleted one."""
        raw = await self._redis.get(_user_key(user_id))
        user = None if raw is None else StaffUser.model_validate_json(raw)
        return None if user is None or user.deleted_at is not None else user

    async def require_user(self, user_id: str) -> StaffUser:
        user = await self.get_user(user_id)
        if user is None:
            raise UnknownUser(f"no staff user with id {user_id!r}")
        return user

    async def get_by_username(self, username: str) -> StaffUser | None:
        name = normalize_username(username)
        if name is None:
            return None
        user_id = await self._redis.hget(keys.staff("usernames"), name)
        return None if user_id is None else await self.get_user(_text(user_id))

    async def list_users(self) -> list[StaffUser]:
        users = await self._every_user()
        return sorted((u for u in users if u.deleted_at is None), key=lambda u: u.username)

    async def names(self) -> StaffNames:
        """Every staff person's name, deleted ones included (their events stay)."""
        return StaffNames(await self._every_user())

    async def _every_user(self) -> list[StaffUser]:
        ids = await self._redis.hvals(keys.staff("usernames"))
        raws = await self._mget([keys.staff(f"user:{_text(i)}") for i in ids])
        return [StaffUser.model_validate_json(r) for r in raws if r is not None]

    async def _mget(self, keys: list[str]) -> list[str | bytes | None]:
        """MGET (one slot: every key shares the ``{staff}`` tag); ``[]`` for no key."""
        return list(await self._redis.mget(keys)) if keys else []

    async def verify_password(self, username: str, password: str) -> StaffUser | None:
        """The user when ``password`` is right, else None; upgrades outdated hashes."""
        user = await self.get_by_username(username)
        stored = user.password_hash if user is not None else self._dummy_hash
        try:
            await asyncio.to_thread(self._hasher.verify, stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if user is None:
            return None
        if self._hasher.check_needs_rehash(user.password_hash):
            old, new = user.password_hash, await asyncio.to_thread(self._hasher.hash, password)

            def rehash(u: StaffUser) -> StaffUser:  # unless the password changed meanwhile
                return u.model_copy(update={"password_hash": new}) if u.password_hash == old else u

            user = await self._change_user(user.id, rehash)
        return user

    async def set_password(self, user_id: str, password: str) -> StaffUser:
        """Set a new password. Ending the user's other logins is :meth:`end_logins`."""
        new_hash = await asyncio.to_thread(self._hasher.hash, password)
        return await self._change_user(
            user_id, lambda u: u.model_copy(update={"password_hash": new_hash})
        )

    async def set_disabled(self, user_id: str, disabled: bool) -> StaffUser:
        """Disable (ending every login and closing every websocket of the user; the tokens
        stay, refused until enabled) or enable a user. :class:`Conflict` for the last
        active admin."""
        user = await self._change_user(
            user_id, lambda u: u.model_copy(update={"disabled": disabled})
        )
        if disabled:
            await self.end_logins(user_id)
            await self._signal(user_identity(user_id))
        return user

    async def delete_user(self, user_id: str) -> StaffUser:
        """Tombstone the user: no password, no token, no login; id and username kept.
        :class:`Conflict` for the last active admin."""
        user = await self._change_user(
            user_id,
            lambda u: u.model_copy(
                update={"disabled": True, "deleted_at": self._clock.now(), "password_hash": ""}
            ),
        )
        await self.revoke_tokens(user_id)
        await self.end_logins(user_id)
        await self._signal(user_identity(user_id))
        return user

    async def _change_user(
        self, user_id: str, change: Callable[[StaffUser], StaffUser]
    ) -> StaffUser:
        """Apply ``change`` to the stored user (compare-and-set, retried on a race); never
        leaves the staff without an active admin."""
        key = _user_key(user_id)
        for _ in range(CAS_TRIES):
            raw = await self._redis.get(key)
            user = None if raw is None else StaffUser.model_validate_json(raw)
            if raw is None or user is None or user.deleted_at is not None:
                raise UnknownUser(f"no staff user with id {user_id!r}")
            new = change(user)
            guard = user.is_admin and user.active and not new.active
            others: list[str] = []
            if guard:
                ids = {_text(i) for i in await self._redis.hvals(keys.staff("usernames"))}
                others = [keys.staff(f"user:{i}") for i in sorted(ids - {user_id})]
            written = await self._update_user(
                keys=[key, *others], args=[_text(raw), new.model_dump_json(), int(guard)]
            )
            if written == -1:
                raise Conflict("the staff must keep at least one active admin")
            if written == 1:
                return new
        raise Conflict(f"staff user {user_id!r} kept changing; retry")

    # -- API tokens --------------------------------------------------------------------

    async def create_token(self, user_id: str, name: str) -> tuple[ApiToken, str]:
        """A new token for ``user_id``: its record and the secret (shown to the user once)."""
        await self.require_user(user_id)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            id=secrets.token_hex(6), user_id=user_id, name=name, created_at=self._clock.now()
        )
        digest = _sha256(secret)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.staff(f"token:{digest}"), token.model_dump_json())
            pipe.hset(keys.staff(f"tokens:{user_id}"), token.id, digest)
            await pipe.execute()
        return token, secret

    async def list_tokens(self, user_id: str) -> list[ApiToken]:
        digests = await self._redis.hvals(keys.staff(f"tokens:{user_id}"))
        raws = await self._mget([keys.staff(f"token:{_text(d)}") for d in digests])
        tokens = [ApiToken.model_validate_json(r) for r in raws if r is not None]
        return sorted(tokens, key=lambda t: t.created_at)

    async def revoke_token(self, user_id: str, token_id: str) -> bool:
        """Revoke one of ``user_id``'s tokens; False when there is no such token."""
        digest = await self._redis.hget(keys.staff(f"tokens:{user_id}"), token_id)
        if digest is None:
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.staff(f"token:{_text(digest)}"))
            pipe.hdel(keys.staff(f"tokens:{user_id}"), token_id)
            self._signal_in(pipe, token_identity(token_id))
            await pipe.execute()
        return True

    async def revoke_tokens(self, user_id: str) -> None:
        """Revoke every token of ``user_id``."""
        index = keys.staff(f"tokens:{user_id}")
        digests = {_text(k): _text(v) for k, v in (await self._redis.hgetall(index)).items()}
        if not digests:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(keys.staff(f"token:{d}") for d in digests.values()))
            pipe.hdel(index, *digests)
            for token_id in digests:
                self._signal_in(pipe, token_identity(token_id))
            await pipe.execute()

    async def token_owner(self, secret: str) -> tuple[ApiToken, StaffUser] | None:
        """The token of ``secret`` and its user; None if unknown, revoked or the user is
        disabled."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        raw = await self._redis.get(keys.staff(f"token:{_sha256(secret)}"))
        if raw is None:
            return None
        token = ApiToken.model_validate_json(raw)
        user = await self.get_user(token.user_id)
        return None if user is None or not user.active else (token, user)

    # -- login sessions ----------------------------------------------------------------

    async def create_login(self, user_id: str, ttl: timedelta) -> tuple[str, LoginSession]:
        """A new login session: its id (goes in the cookie) and its record."""
        sid, now = secrets.token_urlsafe(32), self._clock.now()
        login = LoginSession(user_id=user_id, csrf=secrets.token_urlsafe(32), expires_at=now + ttl)
        digest, ttl_ms = _sha256(sid), int(ttl / timedelta(milliseconds=1))
        index = keys.staff(f"logins:{user_id}")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.staff(f"login:{digest}"), login.model_dump_json(), px=ttl_ms)
            pipe.zremrangebyscore(index, "-inf", keys.ms(now))
            pipe.zadd(index, {digest: keys.ms(login.expires_at)})
            pipe.pexpire(index, ttl_ms)  # the index lives as long as its newest login
            await pipe.execute()
        return sid, login

    async def get_login(self, sid: str) -> LoginSession | None:
        raw = await self._redis.get(keys.staff(f"login:{_sha256(sid)}"))
        if raw is None:
            return None
        login = LoginSession.model_validate_json(raw)
        return login if login.expires_at > self._clock.now() else None

    async def delete_login(self, sid: str) -> None:
        """Log out: end the login ``sid`` and close its websockets."""
        login = await self.get_login(sid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.staff(f"login:{_sha256(sid)}"))
            if login is not None:
                pipe.zrem(keys.staff(f"logins:{login.user_id}"), _sha256(sid))
            self._signal_in(pipe, login_identity(sid))
            await pipe.execute()

    async def end_logins(self, user_id: str, *, keep: str | None = None) -> None:
        """End every login session of ``user_id`` but ``keep`` (a login id), and close their
        websockets."""
        index = keys.staff(f"logins:{user_id}")
        kept = _sha256(keep) if keep is not None else None
        members = cast(list[bytes | str], await self._redis.zrange(index, 0, -1))
        digests = [d for d in map(_text, members) if d != kept]
        if not digests:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(keys.staff(f"login:{d}") for d in digests))
            pipe.zrem(index, *digests)
            for digest in digests:
                self._signal_in(pipe, "login:" + digest)
            await pipe.execute()

    # -- revocation notices ------------------------------------------------------------

    def _signal_in(self, pipe: Pipeline | ClusterPipeline, identity: str) -> None:
        pipe.xadd(REVOCATIONS, {"identity": identity}, maxlen=REVOCATIONS_KEPT, approximate=True)

    async def _signal(self, identity: str) -> None:
        await self._redis.xadd(
            REVOCATIONS, {"identity": identity}, maxlen=REVOCATIONS_KEPT, approximate=True
        )


def _user_key(user_id: str) -> str:
    """The user's key; :class:`NotFound` for an id that can't exist (it comes from a URL)."""
    return keys.staff("user:" + keys.check_id("user", user_id))
