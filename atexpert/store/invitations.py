"""Invitations in Redis, all under the ``{invites}`` hash tag (one Cluster slot).

Keys:
    ama:{invites}:link:<sha256>        hash: record (Invitation JSON as created), state,
                                       expires_ms, by, at; expires RETENTION after the link
    ama:{invites}:pending:<session>    hash invitation id -> sha256 of its secret

The secret itself is never stored. Every state change is one Lua script, so two browsers
accepting one link at once get exactly one winner, and a revoke cannot slip in between.
Accepting is two-phase: :meth:`claim` takes the link (atomic, single use), then the caller
either :meth:`finish`\\ es it with the user who joined or :meth:`release`\\ s it when joining
failed (username taken, session closed meanwhile), so a failed attempt does not spend it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal

from atexpert.domain.clock import Clock, SystemClock
from atexpert.domain.errors import Conflict, NotFound
from atexpert.domain.invitations import (
    SECRET_RE,
    Invitation,
    InvitationStatus,
    new_invitation,
)
from atexpert.domain.sessions import Role
from atexpert.store import keys, lua
from atexpert.store.keys import ms
from atexpert.store.staff import RedisClient

#: Used, revoked and expired links are kept this long past their expiry, so opening one
#: says what happened to it rather than "unknown".
RETENTION = timedelta(days=30)

ClaimResult = Literal["claimed", "unknown", "accepted", "revoked", "expired"]

_CREATE = lua.script(__name__, "invitations_create.lua")

_CLAIM = lua.script(__name__, "invitations_claim.lua")

_RELEASE = lua.script(__name__, "invitations_release.lua")

_FINISH = lua.script(__name__, "invitations_finish.lua")

_REVOKE = lua.script(__name__, "invitations_revoke.lua")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _decode(raw: Mapping[bytes | str, bytes | str]) -> Invitation | None:
    """The invitation stored in the hash ``raw`` (empty: none), with its current state."""
    if not raw:
        return None
    fields = {_text(k): _text(v) for k, v in raw.items()}
    invitation = Invitation.model_validate_json(fields["record"])
    state = InvitationStatus(fields.get("state", InvitationStatus.PENDING))
    at = datetime.fromisoformat(fields["at"]) if "at" in fields else None
    by = fields.get("by")
    update: dict[str, object] = {"status": state}
    if state is InvitationStatus.ACCEPTED:
        update |= {"accepted_by": by, "accepted_at": at}
    elif state is InvitationStatus.REVOKED:
        update |= {"revoked_by": by, "revoked_at": at}
    return invitation.model_copy(update=update)


class InvitationStore:
    def __init__(self, redis: RedisClient, *, clock: Clock | None = None) -> None:
        self._redis = redis
        self._clock = clock or SystemClock()
        self._create = redis.register_script(_CREATE)
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._finish = redis.register_script(_FINISH)
        self._revoke = redis.register_script(_REVOKE)

    async def create(
        self, session_id: str, role: Role, *, note: str | None, hours: int, actor: str
    ) -> tuple[Invitation, str]:
        """A new pending invitation and its secret (to put in the link, shown once)."""
        now = self._clock.now()
        invitation = new_invitation(
            "inv_" + secrets.token_hex(6),
            session_id,
            role,
            note=note,
            hours=hours,
            actor=actor,
            now=now,
        )
        secret = secrets.token_urlsafe(32)
        digest = _sha256(secret)
        ttl = invitation.expires_at - now + RETENTION
        await self._create(
            keys=[keys.invitation_link(digest), keys.invitations_pending(session_id)],
            args=[
                invitation.id,
                digest,
                invitation.model_dump_json(),
                ms(invitation.expires_at),
                int(ttl / timedelta(milliseconds=1)),
            ],
        )
        return invitation, secret

    async def find(self, secret: str) -> Invitation | None:
        """The invitation of ``secret`` as of now, or None for an unknown link."""
        if SECRET_RE.fullmatch(secret) is None:
            return None
        found = _decode(await self._redis.hgetall(keys.invitation_link(_sha256(secret))))
        return None if found is None else found.as_of(self._clock.now())

    async def pending(self, session_id: str) -> list[Invitation]:
        """The session's invitations that can still be accepted, oldest first.

        Index entries of links that were used, revoked, expired or dropped are pruned.
        """
        index = keys.invitations_pending(session_id)
        entries = {_text(k): _text(v) for k, v in (await self._redis.hgetall(index)).items()}
        if not entries:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for digest in entries.values():
                pipe.hgetall(keys.invitation_link(digest))
            raws = await pipe.execute()
        now = self._clock.now()
        out: list[Invitation] = []
        stale: list[str] = []
        for invitation_id, raw in zip(entries, raws, strict=True):
            found = _decode(raw)
            if found is not None and found.status_at(now) is InvitationStatus.PENDING:
                out.append(found)
            elif found is None or found.status_at(now) is not InvitationStatus.ACCEPTED:
                stale.append(invitation_id)  # an accepted one leaves in finish()
        if stale:
            await self._redis.hdel(index, *stale)
        return sorted(out, key=lambda i: i.created_at)

    async def revoke(self, session_id: str, invitation_id: str, *, actor: str) -> None:
        """Revoke a pending invitation of the session (expired ones too).

        :class:`NotFound` when the session has no such invitation, :class:`Conflict` when
        it was accepted first.
        """
        index = keys.invitations_pending(session_id)
        digest = await self._redis.hget(index, invitation_id)
        if digest is None:
            raise NotFound("invitation", invitation_id)
        before = _text(
            await self._revoke(
                keys=[keys.invitation_link(_text(digest)), index],
                args=[actor, self._clock.now().isoformat(), invitation_id],
            )
        )
        if before == InvitationStatus.ACCEPTED:
            raise Conflict(f"invitation {invitation_id} was accepted already")
        if before != InvitationStatus.PENDING:
            raise NotFound("invitation", invitation_id)

    async def claim(self, secret: str) -> ClaimResult:
        """Take the link, once: "claimed" for exactly one caller, else why not."""
        if SECRET_RE.fullmatch(secret) is None:
            return "unknown"
        now = self._clock.now()
        result = await self._claim(
            keys=[keys.invitation_link(_sha256(secret))], args=[ms(now), now.isoformat()]
        )
        return _result(result)

    async def release(self, secret: str) -> None:
        """Give back a claimed link whose acceptance failed: it is pending again."""
        await self._release(keys=[keys.invitation_link(_sha256(secret))])

    async def finish(self, secret: str, invitation: Invitation, user_id: str) -> None:
        """Record who joined with the claimed link."""
        await self._finish(
            keys=[
                keys.invitation_link(_sha256(secret)),
                keys.invitations_pending(invitation.session_id),
            ],
            args=[user_id, invitation.id],
        )


_RESULTS: dict[str, ClaimResult] = {
    "claimed": "claimed",
    "unknown": "unknown",
    "accepted": "accepted",
    "revoked": "revoked",
    "expired": "expired",
}


def _result(raw: bytes | str) -> ClaimResult:
    return _RESULTS[_text(raw)]
