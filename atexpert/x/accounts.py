"""The brand's host X accounts: connecting them (OAuth 2.0 with PKCE) and keeping their tokens.

Keys (one hash tag, so every operation works on Redis Cluster)::

    ama:{x}:account:<handle>     account JSON (tokens encrypted; lower-cased handle)
    ama:{x}:accounts             set of the connected handles (lower case)
    ama:{x}:pkce:<state>         a pending authorization (encrypted verifier, redirect URI), 10 min
    ama:{x}:refresh:<handle>     lock held while one process refreshes the tokens

X rotates refresh tokens: of two processes refreshing with the same refresh token, one
would get an error and, worse, its token would be gone. So a refresh runs under a Redis
lock, and the stored record is replaced only if nobody changed it in the meantime.

Whatever the run length: every call to X asks :meth:`XAccountStore.user_token` for the
token (publishers do it before each post, see :class:`~atexpert.publish.x_posts.TweepyPoster`),
which refreshes it once less than :func:`refresh_margin` of its lifetime is left: 5 minutes
of X's 2 hours, a quarter of a 5-second token. A token X refuses anyway (401: our clock and
X's disagree) is refreshed at once with ``user_token(handle, refused=token)``, which
refreshes only if the stored token is still the refused one, so many callers refused at
once cause one refresh.
Tokens are secrets: they never leave this module except through :meth:`user_token`,
are never logged, and are stored encrypted with a key derived from the secret key
(:mod:`atexpert.x.sealing`). A record read with clear-text tokens (written by an older
version) or tokens encrypted with a previous key is written again, encrypted with the
current key, in the same compare-and-set step as a refresh; :meth:`XAccountStore.reseal_all`
does it for every account when the app starts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import tweepy
from pydantic import AwareDatetime, BaseModel, ConfigDict, SecretStr

from atexpert.domain import twittertext
from atexpert.domain.clock import Clock
from atexpert.domain.errors import AtexpertError, Conflict, InvalidInput, NotFound
from atexpert.domain.sessions import Session
from atexpert.settings import Settings
from atexpert.store import keys, lua
from atexpert.store.redis_conn import RedisClient
from atexpert.x.client import (
    OAuth2Tokens,
    XAuthError,
    async_client,
    authorization_request,
    exchange_code,
    refresh_user_token,
)
from atexpert.x.sealing import SealBroken, Sealer

log = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
REFRESH_MARGIN = timedelta(minutes=5)
#: Share of a token's lifetime left when it is refreshed, for tokens shorter than 20 minutes.
REFRESH_SHARE = 0.25
REFUSED = frozenset({400})  # invalid_request/invalid_grant: the refresh token is dead
LOCK_TTL = timedelta(seconds=90)  # longer than a token call may take (60 s timeout)

# Replace the record only if it is still what we read (compare-and-set).
_CAS = lua.script(__name__, "accounts_cas.lua")
_SAVE = lua.script(__name__, "accounts_save.lua")
_DELETE = lua.script(__name__, "accounts_delete.lua")
# Release a lock only if we still hold it.
_UNLOCK = lua.script(__name__, "accounts_unlock.lua")


class OAuthFailed(AtexpertError):
    """The OAuth callback cannot be completed (unknown/used state, X refused); HTTP 400."""

    code = "oauth_failed"


def normalize_handle(raw: str, field: str = "handle") -> str:
    """``@Airbus`` -> ``Airbus``; :class:`InvalidInput` when it is no X handle."""
    handle = twittertext.username(raw)
    if handle is None:
        raise InvalidInput.field((field,), twittertext.HANDLE_RULE)
    return handle


class XAccount(BaseModel):
    """A connected account as the API shows it: no tokens."""

    model_config = ConfigDict(frozen=True)

    handle: str
    user_id: str
    name: str | None = None
    scopes: list[str]
    expires_at: AwareDatetime
    connected_by: str
    connected_at: AwareDatetime
    needs_reconnect: bool = False


_TOKENS = ("access_token", "refresh_token")


class _Record(XAccount):
    """A connected account as stored, with its tokens."""

    access_token: SecretStr
    refresh_token: SecretStr | None
    #: When we asked X for the access token (its lifetime starts no earlier); None: before
    #: this was kept, the margin is then :data:`REFRESH_MARGIN`.
    issued_at: AwareDatetime | None = None

    def dumps(self, sealer: Sealer) -> str:
        data = self.model_dump(mode="json")
        for field in _TOKENS:
            token: SecretStr | None = getattr(self, field)
            data[field] = sealer.seal(token.get_secret_value()) if token else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def loads(cls, raw: str, sealer: Sealer) -> tuple[_Record, bool]:
        """The record, and whether its tokens must be sealed again (clear or an old key)."""
        data = json.loads(raw)
        stale = False
        for field in _TOKENS:
            if data.get(field) is not None:
                opened = sealer.open(str(data[field]), f"the X token of @{data.get('handle')}")
                data[field], stale = opened.value, stale or opened.stale
        return cls.model_validate(data), stale

    def public(self) -> XAccount:
        return XAccount.model_validate(
            self.model_dump(exclude={"access_token", "refresh_token", "issued_at"})
        )


class _Pending(BaseModel):
    code_verifier: str
    redirect_uri: str
    handle_hint: str | None
    actor: str


class XAccountStore:
    """Host accounts and their OAuth 2.0 user tokens in Redis."""

    def __init__(
        self,
        redis: RedisClient,
        settings: Settings,
        clock: Clock,
        *,
        lock_poll: timedelta = timedelta(milliseconds=50),
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.clock = clock
        self.lock_poll = lock_poll
        self.sealer = Sealer.of(settings)

    # -- connecting ----------------------------------------------------------------

    async def begin(self, handle_hint: str | None, redirect_uri: str, actor: str) -> str:
        """Start connecting an account: the X authorize URL to send the admin to.

        With ``handle_hint`` the callback only accepts that account; :class:`Conflict` when
        this server has no X app to connect with.
        """
        hint = normalize_handle(handle_hint) if handle_hint else None
        try:
            start = authorization_request(self.settings, redirect_uri=redirect_uri)
        except XAuthError as exc:  # this server has no X app configured
            raise Conflict(f"X accounts cannot be connected here: {exc}") from None
        pending = _Pending(
            code_verifier=self.sealer.seal(start.code_verifier),
            redirect_uri=redirect_uri,
            handle_hint=hint,
            actor=actor,
        )
        await self.redis.set(keys.x_pkce(start.state), pending.model_dump_json(), px=_ms(STATE_TTL))
        return start.url

    async def complete(self, state: str, code: str) -> XAccount:
        """Finish connecting: trade ``code`` for tokens, learn who authorized, store them.

        ``state`` is single use; an unknown, expired or reused one is :class:`OAuthFailed`.
        """
        raw = await self.redis.getdel(keys.x_pkce(state)) if state else None
        if raw is None:
            raise OAuthFailed(
                "this authorization is unknown, expired or already used; start connecting again"
            )
        pending = _Pending.model_validate_json(raw)
        try:
            verifier = self.sealer.open(pending.code_verifier, "this authorization").value
        except SealBroken as exc:
            raise OAuthFailed(f"{exc}; start connecting again") from None
        try:
            tokens = await exchange_code(
                self.settings,
                code=code,
                code_verifier=verifier,
                redirect_uri=pending.redirect_uri,
            )
        except XAuthError as exc:
            raise OAuthFailed(f"X refused the authorization: {exc}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OAuthFailed(f"X could not be reached ({exc}); connect again") from None
        user_id, handle, name = await self._whoami(tokens.access_token)
        if pending.handle_hint and pending.handle_hint.lower() != handle.lower():
            raise OAuthFailed(
                f"you authorized @{handle} on X, not @{pending.handle_hint}; "
                f"log in to X as @{pending.handle_hint} and connect again"
            )
        record = self._record(handle, user_id, tokens, pending.actor, name)
        await self._save(record)
        log.info("connected X account @%s (%s) by %s", handle, user_id, pending.actor)
        return record.public()

    async def cancel(self, state: str) -> None:
        """Forget a pending authorization (the admin declined on X)."""
        if state:
            await self.redis.delete(keys.x_pkce(state))

    async def _whoami(self, access_token: str) -> tuple[str, str, str | None]:
        """The authorizing account's user id, handle and display name."""
        try:
            async with async_client(self.settings, user_access_token=access_token) as client:
                me = await client.get_me(user_auth=False)
        except (tweepy.TweepyException, aiohttp.ClientError, TimeoutError) as exc:
            raise OAuthFailed(f"X did not tell who authorized: {exc}") from None
        if me.data is None:
            raise OAuthFailed("X did not tell who authorized (empty /2/users/me)")
        return str(me.data.id), str(me.data.username), me.data.name or None

    async def put_tokens(
        self,
        handle: str,
        user_id: str,
        access_token: str,
        refresh_token: str | None,
        *,
        expires_in: timedelta = timedelta(hours=2),
        scopes: tuple[str, ...] = (),
        actor: str = "system",
        name: str | None = None,
    ) -> XAccount:
        """Store tokens obtained elsewhere (the demo's emulator accounts, the CLI)."""
        tokens = OAuth2Tokens(access_token, refresh_token, expires_in.total_seconds(), scopes)
        record = self._record(normalize_handle(handle), user_id, tokens, actor, name)
        await self._save(record)
        return record.public()

    def _record(
        self, handle: str, user_id: str, tokens: OAuth2Tokens, actor: str, name: str | None
    ) -> _Record:
        now = self.clock.now()
        return _Record(
            handle=handle,
            user_id=user_id,
            name=name,
            scopes=list(tokens.scopes),
            expires_at=_expiry(now, tokens),
            issued_at=now,
            connected_by=actor,
            connected_at=now,
            access_token=SecretStr(tokens.access_token),
            refresh_token=SecretStr(tokens.refresh_token) if tokens.refresh_token else None,
        )

    async def _save(self, record: _Record) -> None:
        key, member = keys.x_account(record.handle), record.handle.lower()
        await self.redis.eval(_SAVE, 2, key, keys.X_ACCOUNTS, record.dumps(self.sealer), member)

    # -- reading -------------------------------------------------------------------

    async def list_accounts(self) -> list[XAccount]:
        handles = sorted(await self.redis.smembers(keys.X_ACCOUNTS))
        out = []
        for handle in handles:
            raw = await self.redis.get(keys.x_account(str(handle)))
            if raw is not None:
                out.append(XAccount.model_validate_json(raw))  # the tokens stay sealed
        return out

    async def get(self, handle: str) -> XAccount:
        name = normalize_handle(handle)
        raw = await self.redis.get(keys.x_account(name))
        if raw is None:
            raise _not_connected(name)
        return XAccount.model_validate_json(raw)

    async def reseal_all(self) -> int:
        """Seal again, with the current key, the tokens of every account stored in clear
        text or sealed with a previous key; how many were. An account no key opens is
        logged and left as it is (its use answers a clear 409)."""
        done = 0
        for handle in sorted(await self.redis.smembers(keys.X_ACCOUNTS)):
            try:
                done += (await self._load_resealed(str(handle)))[2]
            except NotFound:
                continue  # disconnected meanwhile
            except SealBroken as exc:
                log.warning("%s", exc.message)
        if done:
            log.info("encrypted the tokens of %d X account(s) with the current key", done)
        return done

    async def delete(self, handle: str, actor: str) -> None:
        """Disconnect: forget the account's tokens. :class:`NotFound` when not connected."""
        name = normalize_handle(handle)
        deleted: Any = await self.redis.eval(
            _DELETE, 2, keys.x_account(name), keys.X_ACCOUNTS, name.lower()
        )
        if not deleted:
            raise _not_connected(name)
        log.info("disconnected X account @%s by %s", name, actor)

    async def _load(self, handle: str) -> tuple[_Record, str]:
        record, raw, _ = await self._load_resealed(handle)
        return record, raw

    async def _load_resealed(self, handle: str) -> tuple[_Record, str, bool]:
        """The record, its stored JSON, and whether it was just written again because its
        tokens were clear text or sealed with a previous key."""
        while True:
            raw = await self.redis.get(keys.x_account(handle))
            if raw is None:
                raise _not_connected(handle)
            record, stale = _Record.loads(str(raw), self.sealer)
            if not stale:
                return record, str(raw), False
            written = await self._cas(record.handle, str(raw), record)
            if written is not None:
                return record, written, True

    # -- tokens --------------------------------------------------------------------

    async def session_token(self, session: Session, refused: str | None = None) -> str:
        """The access token of ``session``'s host account (for publishing); ``refused``: see
        :meth:`user_token`."""
        host = session.host_account
        token = await self.user_token(host.handle, refused)
        record, _ = await self._load(host.handle)
        if host.user_id is not None and host.user_id != record.user_id:
            raise Conflict(
                f"host account @{host.handle} of session {session.id} has user id "
                f"{host.user_id}, but the connected @{record.handle} is {record.user_id}"
            )
        return token

    async def user_token(self, handle: str, refused: str | None = None) -> str:
        """A valid access token of ``handle``, refreshed when less than
        :func:`refresh_margin` of its lifetime is left, or when it is ``refused`` (the token
        X just answered 401 to) and nobody has refreshed it since.

        :class:`NotFound` when the account is not connected; :class:`Conflict` when X
        refuses the refresh (revoked: an admin must reconnect) or is unreachable once
        the token has expired.
        """
        name = normalize_handle(handle)
        lock = keys.x_refresh_lock(name)
        deadline = time.monotonic() + LOCK_TTL.total_seconds() + 5
        while True:
            record, _ = await self._load(name)
            if not self._due(record, refused):
                return record.access_token.get_secret_value()
            if record.needs_reconnect:
                raise _reconnect(record.handle, "X refused to refresh its token")
            me = secrets.token_hex(16)
            if await self.redis.set(lock, me, nx=True, px=_ms(LOCK_TTL)):
                try:
                    return await self._refresh(name, refused)
                finally:
                    await self.redis.eval(_UNLOCK, 1, lock, me)
            if time.monotonic() > deadline:
                raise Conflict(f"timed out waiting for the token refresh of @{name}")
            await asyncio.sleep(self.lock_poll.total_seconds())  # another process refreshes

    def _due(self, record: _Record, refused: str | None) -> bool:
        if _refuses(record, refused):
            return True
        lifetime = record.expires_at - (record.issued_at or record.connected_at)
        return record.expires_at - self.clock.now() <= refresh_margin(lifetime)

    async def _refresh(self, handle: str, refused: str | None) -> str:
        """Refresh under the lock (re-reading: another process may just have done it)."""
        record, raw = await self._load(handle)
        if not self._due(record, refused):
            return record.access_token.get_secret_value()  # refreshed while we waited
        # X's 401 is as good as an expired token: only a refresh gives one X accepts
        expired = record.expires_at <= self.clock.now() or _refuses(record, refused)
        if record.refresh_token is None:
            if expired:
                raise _reconnect(record.handle, "its token expired and cannot be refreshed")
            return record.access_token.get_secret_value()
        asked = self.clock.now()
        try:
            tokens = await refresh_user_token(
                self.settings, record.refresh_token.get_secret_value()
            )
        except XAuthError as exc:
            if exc.status not in REFUSED:  # X is down or the app is misconfigured
                return self._still_valid(record, expired, str(exc))
            broken = record.model_copy(update={"needs_reconnect": True})
            await self._cas(record.handle, raw, broken)
            log.warning("refreshing the token of @%s failed: %s", record.handle, exc.error)
            raise _reconnect(
                record.handle, f"X refused to refresh its token ({exc.error})"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self._still_valid(record, expired, str(exc) or type(exc).__name__)
        fresh = record.model_copy(
            update={
                "access_token": SecretStr(tokens.access_token),
                "refresh_token": SecretStr(tokens.refresh_token)
                if tokens.refresh_token
                else record.refresh_token,
                "expires_at": _expiry(asked, tokens),
                "issued_at": asked,
                "scopes": list(tokens.scopes) or record.scopes,
            }
        )
        if not await self._cas(record.handle, raw, fresh):
            raise Conflict(f"host account @{record.handle} changed during its token refresh")
        log.info("refreshed the token of @%s (valid %ss)", record.handle, tokens.expires_in)
        return tokens.access_token

    def _still_valid(self, record: _Record, expired: bool, why: str) -> str:
        """The current token after a failed refresh that may succeed later, while it lasts."""
        if expired:
            raise Conflict(f"cannot refresh the token of @{record.handle} now ({why}); retry")
        log.warning("refreshing the token of @%s failed, will retry: %s", record.handle, why)
        return record.access_token.get_secret_value()

    async def _cas(self, handle: str, old: str, new: _Record) -> str | None:
        """The JSON written, or None when the record is no longer ``old``."""
        raw = new.dumps(self.sealer)
        done: Any = await self.redis.eval(_CAS, 1, keys.x_account(handle), old, raw)
        return raw if done else None


def refresh_margin(lifetime: timedelta) -> timedelta:
    """How long before expiry a token of ``lifetime`` is refreshed: :data:`REFRESH_MARGIN`,
    or :data:`REFRESH_SHARE` of the lifetime when that is less (a 5-second token would
    otherwise always be due), so a token is used for at least three quarters of its life."""
    return min(REFRESH_MARGIN, lifetime * REFRESH_SHARE)


def _refuses(record: _Record, refused: str | None) -> bool:
    """Whether ``refused`` (a token X answered 401 to) is still the stored one."""
    return refused is not None and secrets.compare_digest(
        record.access_token.get_secret_value(), refused
    )


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def _expiry(now: datetime, tokens: OAuth2Tokens) -> datetime:
    """When the access token of ``tokens`` expires, on our clock."""
    return now + timedelta(seconds=max(tokens.expires_in, 0.0))


def _not_connected(handle: str) -> NotFound:
    return NotFound(
        "host account",
        "@" + handle,
        f"host account @{handle} is not connected; an admin connects it on the admin page",
    )


def _reconnect(handle: str, why: str) -> Conflict:
    return Conflict(f"host account @{handle} must be reconnected by an admin: {why}")
