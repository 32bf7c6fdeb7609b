"""Staff accounts, API tokens and login sessions in Redis (all under the ``{staff}`` hash tag).

Keys:
    ama:{staff}:usernames          hash username -> user id
    ama:{staff}:user:<id>          StaffUser JSON
    ama:{staff}:token:<sha256>     ApiToken JSON (the token secret itself is never stored)
    ama:{staff}:tokens:<user id>   hash token id -> sha256 of the token
    ama:{staff}:login:<sha256>     LoginSession JSON, expiring

Failed logins are counted by :mod:`atexpert.store.login_throttle`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.staff import ApiToken, StaffUser, normalize_username
from atexpert.store import keys, lua

RedisClient = Redis | RedisCluster

TOKEN_PREFIX = "atx_"

_CREATE_USER = lua.script(__name__, "staff_create_user.lua")


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
            raise ValueError(f"invalid username {username!r}: 2-32 of a-z 0-9 _ . -")
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
        raw = await self._redis.get(keys.staff(f"user:{user_id}"))
        return None if raw is None else StaffUser.model_validate_json(raw)

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
        ids = await self._redis.hvals(keys.staff("usernames"))
        raws = await self._mget([keys.staff(f"user:{_text(i)}") for i in ids])
        users = [StaffUser.model_validate_json(r) for r in raws if r is not None]
        return sorted(users, key=lambda u: u.username)

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
            new_hash = await asyncio.to_thread(self._hasher.hash, password)
            user = user.model_copy(update={"password_hash": new_hash})
            await self._redis.set(keys.staff(f"user:{user.id}"), user.model_dump_json(), xx=True)
        return user

    async def set_password(self, user_id: str, password: str) -> StaffUser:
        user = await self.require_user(user_id)
        new_hash = await asyncio.to_thread(self._hasher.hash, password)
        user = user.model_copy(update={"password_hash": new_hash})
        await self._redis.set(keys.staff(f"user:{user.id}"), user.model_dump_json(), xx=True)
        return user

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
            await pipe.execute()
        return True

    async def user_for_token(self, secret: str) -> StaffUser | None:
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        raw = await self._redis.get(keys.staff(f"token:{_sha256(secret)}"))
        if raw is None:
            return None
        return await self.get_user(ApiToken.model_validate_json(raw).user_id)

    # -- login sessions ----------------------------------------------------------------

    async def create_login(self, user_id: str, ttl: timedelta) -> tuple[str, LoginSession]:
        """A new login session: its id (goes in the cookie) and its record."""
        sid = secrets.token_urlsafe(32)
        login = LoginSession(
            user_id=user_id, csrf=secrets.token_urlsafe(32), expires_at=self._clock.now() + ttl
        )
        await self._redis.set(
            keys.staff(f"login:{_sha256(sid)}"),
            login.model_dump_json(),
            px=int(ttl / timedelta(milliseconds=1)),
        )
        return sid, login

    async def get_login(self, sid: str) -> LoginSession | None:
        raw = await self._redis.get(keys.staff(f"login:{_sha256(sid)}"))
        if raw is None:
            return None
        login = LoginSession.model_validate_json(raw)
        return login if login.expires_at > self._clock.now() else None

    async def delete_login(self, sid: str) -> None:
        await self._redis.delete(keys.staff(f"login:{_sha256(sid)}"))
