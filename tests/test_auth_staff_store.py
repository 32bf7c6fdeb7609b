"""Staff accounts, API tokens and login sessions on a real Redis (standalone and cluster)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from atexpert.domain.clock import ManualClock
from atexpert.store.staff import StaffStore, UsernameTaken
from tests.support.redis_fixtures import RedisClient

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))


@pytest.fixture
def store(redis: RedisClient, clock: ManualClock) -> StaffStore:
    return StaffStore(redis, clock=clock, hasher=FAST)


async def test_create_and_verify(store: StaffStore) -> None:
    user = await store.create_user("Alice", "correct horse", is_admin=True)
    assert user.username == "alice" and user.is_admin
    assert "correct horse" not in user.password_hash
    assert await store.verify_password("ALICE", "correct horse") == user
    assert await store.verify_password("alice", "wrong password") is None
    assert await store.verify_password("nobody", "correct horse") is None
    assert [u.username for u in await store.list_users()] == ["alice"]


async def test_duplicate_username_is_a_conflict(store: StaffStore) -> None:
    await store.create_user("bob", "password1")
    with pytest.raises(UsernameTaken):
        await store.create_user(" BOB ", "password2")
    assert len(await store.list_users()) == 1


async def test_invalid_username_rejected(store: StaffStore) -> None:
    with pytest.raises(ValueError, match="invalid username"):
        await store.create_user("no spaces allowed", "password1")


async def test_outdated_hash_is_upgraded(redis: RedisClient, clock: ManualClock) -> None:
    old = StaffStore(redis, clock=clock, hasher=FAST)
    user = await old.create_user("carol", "password1")
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    new = StaffStore(redis, clock=clock, hasher=stronger)
    verified = await new.verify_password("carol", "password1")
    assert verified is not None and verified.password_hash != user.password_hash
    assert not stronger.check_needs_rehash((await new.require_user(user.id)).password_hash)


async def test_tokens_roundtrip_and_revoke(store: StaffStore) -> None:
    user = await store.create_user("bot", "password1")
    token, secret = await store.create_token(user.id, "ci")
    assert (await store.user_for_token(secret)) == user
    assert [t.name for t in await store.list_tokens(user.id)] == ["ci"]
    assert await store.user_for_token(secret + "x") is None
    assert await store.user_for_token("not-a-token") is None
    assert await store.revoke_token(user.id, token.id)
    assert await store.user_for_token(secret) is None
    assert not await store.revoke_token(user.id, token.id)
    assert await store.list_tokens(user.id) == []


async def test_login_sessions_expire(store: StaffStore, clock: ManualClock) -> None:
    user = await store.create_user("dave", "password1")
    sid, login = await store.create_login(user.id, timedelta(hours=1))
    assert (await store.get_login(sid)) == login
    clock.advance(timedelta(hours=2))
    assert await store.get_login(sid) is None
    sid2, _ = await store.create_login(user.id, timedelta(hours=1))
    await store.delete_login(sid2)
    assert await store.get_login(sid2) is None
