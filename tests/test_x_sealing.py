"""The brand's X tokens at rest: encrypted in Redis, clear-text records of older versions
migrated, the secret key rotated (real Redis; no X call: the tokens are fresh)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from atexpert.domain.clock import ManualClock
from atexpert.domain.errors import Conflict
from atexpert.settings import Settings
from atexpert.web.app import create_app
from atexpert.web.workers import sealed_x_tokens
from atexpert.x.accounts import XAccountStore
from atexpert.x.sealing import MARKER, Sealer

ACCESS, REFRESH = "access-TOKEN-0123456789", "refresh-TOKEN-9876543210"
KEY_A, KEY_B = "key-a", "the new, longer secret key B"
NOW = datetime.now(UTC)


def store(redis: aioredis.Redis, key: str, previous: str | None = None) -> XAccountStore:
    settings = Settings(
        secret_key=SecretStr(key),
        secret_key_previous=SecretStr(previous) if previous is not None else None,
        x_client_id="client-id",
    )
    return XAccountStore(redis, settings, ManualClock(NOW))


async def raw_values(redis: aioredis.Redis) -> str:
    """Every string value stored under the X hash tag, as one text."""
    out = []
    for key in await redis.keys("ama:{x}:*"):
        if await redis.type(key) == "string":
            out.append(str(await redis.get(key)))
    return "\n".join(out)


async def stored(redis: aioredis.Redis) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(await redis.get("ama:{x}:account:airbus"))
    return loaded


async def test_no_token_is_stored_in_clear(redis_standalone: aioredis.Redis) -> None:
    accounts = store(redis_standalone, KEY_A)
    await accounts.put_tokens("Airbus", "42", ACCESS, REFRESH)
    raw = await raw_values(redis_standalone)
    assert ACCESS not in raw and REFRESH not in raw
    record = await stored(redis_standalone)
    assert str(record["access_token"]).startswith(MARKER)
    assert str(record["refresh_token"]).startswith(MARKER)
    assert await accounts.user_token("airbus") == ACCESS
    # A pending authorization keeps its PKCE verifier encrypted too.
    await accounts.begin(None, "http://atexpert.test/api/x/callback", "root")
    (pkce,) = await redis_standalone.keys("ama:{x}:pkce:*")
    verifier = json.loads(await redis_standalone.get(pkce))["code_verifier"]
    assert verifier.startswith(MARKER)
    assert 43 <= len(Sealer(KEY_A).open(verifier, "it").value) <= 128


async def test_a_clear_text_record_is_read_and_encrypted(redis_standalone: aioredis.Redis) -> None:
    old = {  # as the version before encryption wrote it
        "handle": "Airbus",
        "user_id": "42",
        "name": None,
        "scopes": ["tweet.write"],
        "expires_at": (NOW + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
        "connected_by": "root",
        "connected_at": NOW.isoformat().replace("+00:00", "Z"),
        "needs_reconnect": False,
        "access_token": ACCESS,
        "refresh_token": REFRESH,
    }
    await redis_standalone.set("ama:{x}:account:airbus", json.dumps(old, sort_keys=True))
    await redis_standalone.sadd("ama:{x}:accounts", "airbus")
    accounts = store(redis_standalone, KEY_A)
    assert [a.handle for a in await accounts.list_accounts()] == ["Airbus"]
    assert await accounts.user_token("Airbus") == ACCESS
    raw = await raw_values(redis_standalone)
    assert ACCESS not in raw and REFRESH not in raw
    record = await stored(redis_standalone)
    assert {k: v for k, v in record.items() if not k.endswith("_token")} == {
        **{k: v for k, v in old.items() if not k.endswith("_token")},
        "issued_at": None,  # an old record does not know when X issued its token
    }
    assert Sealer(KEY_A).open(str(record["refresh_token"]), "it").value == REFRESH


async def test_startup_encrypts_every_clear_text_record(redis_standalone: aioredis.Redis) -> None:
    accounts = store(redis_standalone, KEY_A)
    for handle in ("Airbus", "AirbusPress"):
        await accounts.put_tokens(handle, "42", ACCESS + handle, None)
    record = await stored(redis_standalone)
    record["access_token"] = ACCESS + "Airbus"  # one of them in clear, as an old version wrote
    await redis_standalone.set("ama:{x}:account:airbus", json.dumps(record))
    app = create_app(
        accounts.settings,
        redis=redis_standalone,
        run_scheduler=False,
        lifespan_hooks=[sealed_x_tokens],
    )
    async with app.router.lifespan_context(app):
        assert ACCESS not in await raw_values(redis_standalone)
    assert await accounts.reseal_all() == 0


async def test_rotating_the_secret_key(redis_standalone: aioredis.Redis) -> None:
    await store(redis_standalone, KEY_A).put_tokens("Airbus", "42", ACCESS, REFRESH)
    sealed_a = await stored(redis_standalone)
    rotated = store(redis_standalone, KEY_B, previous=f"older-key, {KEY_A}")
    assert await rotated.user_token("Airbus") == ACCESS  # opened with the previous key...
    sealed_b = await stored(redis_standalone)
    assert sealed_b["access_token"] != sealed_a["access_token"]  # ...and sealed with B
    assert Sealer(KEY_B).open(str(sealed_b["refresh_token"]), "it").stale is False
    # B alone now opens it; A no longer does.
    assert await store(redis_standalone, KEY_B).user_token("Airbus") == ACCESS
    with pytest.raises(Conflict, match="ATEXPERT_SECRET_KEY_PREVIOUS"):
        await store(redis_standalone, KEY_A).user_token("Airbus")


async def test_a_wrong_key_is_a_clear_conflict(redis_standalone: aioredis.Redis) -> None:
    await store(redis_standalone, KEY_A).put_tokens("Airbus", "42", ACCESS, REFRESH)
    wrong = store(redis_standalone, KEY_B)
    with pytest.raises(Conflict) as info:
        await wrong.user_token("Airbus")
    assert info.value.message.startswith("the X token of @Airbus cannot be decrypted")
    assert info.value.code == "undecryptable"
    # The account is still listed (no token needed), left as it was, and not rewritten.
    before = await stored(redis_standalone)
    assert [a.handle for a in await wrong.list_accounts()] == ["Airbus"]
    assert await wrong.reseal_all() == 0
    assert await stored(redis_standalone) == before
    assert await store(redis_standalone, KEY_A).user_token("Airbus") == ACCESS
