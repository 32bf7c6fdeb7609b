"""Staff accounts, API tokens and login sessions on a real Redis (standalone and cluster)."""

from __future__ import annotations

import asyncio
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
    assert (await store.token_owner(secret)) == (token, user)
    assert [t.name for t in await store.list_tokens(user.id)] == ["ci"]
    assert await store.token_owner(secret + "x") is None
    assert await store.token_owner("not-a-token") is None
    assert await store.revoke_token(user.id, token.id)
    assert await store.token_owner(secret) is None
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


async def test_ending_logins_keeps_the_one_asked_and_the_other_users(store: StaffStore) -> None:
    erin = await store.create_user("erin", "password1")
    frank = await store.create_user("frank", "password1")
    here, _ = await store.create_login(erin.id, timedelta(hours=1))
    there, _ = await store.create_login(erin.id, timedelta(hours=1))
    his, _ = await store.create_login(frank.id, timedelta(hours=1))
    await store.end_logins(erin.id, keep=here)
    assert await store.get_login(here) is not None and await store.get_login(his) is not None
    assert await store.get_login(there) is None
    await store.end_logins(erin.id)
    assert await store.get_login(here) is None


async def test_two_admins_disabling_each_other_at_once_leave_one_active(
    store: StaffStore,
) -> None:
    ids = [(await store.create_user(n, "password1", is_admin=True)).id for n in ("gil", "hal")]
    outcomes = await asyncio.gather(
        *(store.set_disabled(i, True) for i in ids), return_exceptions=True
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "StaffUser"]
    assert len([u for u in await store.list_users() if u.active]) == 1
