"""A session's settings, each written together with its event in one Lua call.

A setting (the auto-moderation config, the intake mode) is a hash under the session's hash
tag: its own fields plus ``version``, ``updated_by`` and ``updated_at``. One script checks
that the session exists and that the setting is still at the expected version, then writes
the hash and appends the setting's event (``automod.changed``, ``intake.mode_changed``,
see :data:`atexpert.domain.events.SETTING_KINDS`) to the session's stream, or does nothing at
all. All keys share the session's hash tag, so it runs on Redis Cluster as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from atexpert.domain.errors import Conflict, NotFound
from atexpert.domain.events import EventKind, Record, event_fields
from atexpert.store import keys, lua
from atexpert.store.redis_conn import RedisClient

# KEYS: the setting's hash, the session record, the session's event stream.
# ARGV: the expected version ('' = any), n, n field/value pairs for the hash, then the
# event's stream fields ('v', the new version, is added here).
# Returns the new version, -1 if the version was not the expected one, -2 if no session.
_SET_LUA = lua.script(__name__, "session_settings_set.lua")


class SettingWriter:
    """Writes one session setting and its event atomically."""

    def __init__(self, redis: RedisClient, name: str) -> None:
        self.name = name  # for messages: "the automod config"
        self._set = redis.register_script(_SET_LUA)

    async def write(
        self,
        session_id: str,
        key: str,
        kind: EventKind,
        data: Record,
        stored: Mapping[str, str],
        *,
        actor: str,
        at: datetime,
        expected_version: int | None = None,
    ) -> int:
        """Store ``stored`` (the hash fields besides version and who/when) in ``key`` and
        append ``kind`` with ``data`` (the setting's new value); the new version.

        Conflict when the setting is no longer at ``expected_version``, NotFound when the
        session does not exist: then nothing is written."""
        fields = {**stored, "updated_by": actor, "updated_at": at.isoformat()}
        args = ["" if expected_version is None else str(expected_version), str(len(fields))]
        args += [x for pair in fields.items() for x in pair]
        args += event_fields(kind, session_id, actor, at, data)
        step_keys = [key, keys.session(session_id), keys.events(session_id)]
        version = int(await self._set(keys=step_keys, args=args))
        if version == -2:
            raise NotFound("session", session_id)
        if version < 0:
            raise Conflict(
                f"{self.name} of {session_id} changed since version {expected_version}; "
                "reload it and try again"
            )
        return version
