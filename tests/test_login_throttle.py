"""Login throttling: per (account, client) and per client, with Retry-After; never a lock-out."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr

from atexpert.domain.clock import ManualClock
from atexpert.domain.login_throttle import ThrottlePolicy
from atexpert.settings import Settings
from atexpert.store.login_throttle import LoginThrottle
from atexpert.web.client_ip import client_address
from tests.support.api_world import BASE, PASSWORD, T0, Api, bearer
from tests.support.redis_fixtures import RedisClient

pytest_plugins = ("tests.support.api_world",)

POLICY = ThrottlePolicy()
ACCOUNT_FREE = POLICY.account.free
ATTACKER = "203.0.113.66"
USER = "198.51.100.7"
PROXY = "10.0.0.2"


def client_from(api: Api, address: str) -> httpx.AsyncClient:
    """A client of the app whose socket peer is ``address``."""
    transport = httpx.ASGITransport(app=api.app, client=(address, 40000))
    client = httpx.AsyncClient(transport=transport, base_url=BASE)
    api.others.append(client)
    return client


def creds(username: str, password: str = PASSWORD) -> dict[str, str]:
    return {"username": username, "password": password}


async def fail(client: httpx.AsyncClient, username: str, times: int) -> None:
    for _ in range(times):
        r = await client.post("/api/login", json=creds(username, "wrong-password"))
        assert r.status_code == 401, r.text


async def test_the_attacker_is_throttled_while_the_user_logs_in_from_elsewhere(api: Api) -> None:
    await api.user("alice")
    attacker, user = client_from(api, ATTACKER), client_from(api, USER)
    await fail(attacker, "alice", ACCOUNT_FREE)
    r = await attacker.post("/api/login", json=creds("alice"))
    assert r.status_code == 429 and r.json()["error"] == "too_many_attempts"
    assert int(r.headers["Retry-After"]) >= 1 and "retry in" in r.json()["message"]
    # The right password from another client still works, right now.
    assert (await user.post("/api/login", json=creds("alice"))).status_code == 200


async def test_usernames_are_normalised_before_counting(api: Api) -> None:
    await api.user("bfuser")
    attacker = client_from(api, ATTACKER)
    spellings = ["BFUSER", "  bfuser  ", "Bfuser", "bfuser", "bFuSeR"]
    assert len(spellings) == ACCOUNT_FREE
    for name in spellings:
        assert (await attacker.post("/api/login", json=creds(name, "nope"))).status_code == 401
    r = await attacker.post("/api/login", json=creds("bfuser"))
    assert r.status_code == 429


async def test_retry_after_decreases_with_the_clock_and_backoff_doubles(api: Api) -> None:
    await api.user("alice")
    attacker = client_from(api, ATTACKER)

    async def retry_after() -> int:
        r = await attacker.post("/api/login", json=creds("alice"))
        assert r.status_code == 429, r.text
        return int(r.headers["Retry-After"])

    await fail(attacker, "alice", ACCOUNT_FREE)
    assert await retry_after() == 1
    api.clock.advance(timedelta(seconds=1))
    await fail(attacker, "alice", 1)
    assert await retry_after() == 2
    api.clock.advance(timedelta(seconds=2))
    await fail(attacker, "alice", 1)
    assert await retry_after() == 4
    api.clock.advance(timedelta(seconds=1.5))
    assert await retry_after() == 3
    api.clock.advance(timedelta(seconds=2))
    assert await retry_after() == 1
    api.clock.advance(timedelta(seconds=0.5))
    # Waited out: the right password goes through again.
    assert (await attacker.post("/api/login", json=creds("alice"))).status_code == 200


async def test_backoff_is_capped_and_forgotten(api: Api) -> None:
    await api.user("alice")
    attacker = client_from(api, ATTACKER)
    waits: list[int] = []
    while len(waits) < 12:
        r = await attacker.post("/api/login", json=creds("alice", "nope"))
        if r.status_code == 429:
            waits.append(int(r.headers["Retry-After"]))
            api.clock.advance(timedelta(seconds=waits[-1]))
    cap = int(POLICY.account.cap.total_seconds())
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, cap, cap]
    api.clock.advance(POLICY.forget)
    await fail(attacker, "alice", ACCOUNT_FREE - 1)  # a clean slate again


async def test_per_client_limit_across_usernames(api: Api) -> None:
    await api.user("alice")
    sprayer, user = client_from(api, ATTACKER), client_from(api, USER)
    for n in range(POLICY.client.free):
        name = f"user{n}"  # one try per username: no account counter reaches its limit
        assert (
            await sprayer.post("/api/login", json=creds(name, "Summer2026!"))
        ).status_code == 401
    r = await sprayer.post("/api/login", json=creds("alice"))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert (await user.post("/api/login", json=creds("alice"))).status_code == 200


async def test_success_clears_the_pair(api: Api) -> None:
    await api.user("alice")
    client = client_from(api, USER)
    for _ in range(3):
        await fail(client, "alice", ACCOUNT_FREE - 1)
        assert (await client.post("/api/login", json=creds("alice"))).status_code == 200


async def test_admin_sees_and_clears_throttles(api: Api) -> None:
    await api.user("alice")
    _, admin = await api.user("root", admin=True)
    _, mia = await api.user("mia")
    attacker = client_from(api, ATTACKER)
    await fail(attacker, "ALICE", ACCOUNT_FREE)
    assert (await api.client.get("/api/throttles", headers=bearer(mia))).status_code == 403
    r = await api.client.get("/api/throttles", headers=bearer(admin))
    assert r.status_code == 200
    by_kind = {t["kind"]: t for t in r.json()}
    account, client = by_kind["account"], by_kind["client"]
    assert account["username"] == "alice" and account["client"] == ATTACKER
    assert account["failures"] == ACCOUNT_FREE and account["retry_after"] >= 1
    assert client["username"] is None and client["client"] == ATTACKER
    assert client["failures"] == ACCOUNT_FREE and client["retry_after"] == 0
    path = f"/api/throttles/{account['id']}"
    assert (await api.client.delete(path, headers=bearer(mia))).status_code == 403
    assert (await api.client.delete(path, headers=bearer(admin))).status_code == 204
    assert (await api.client.delete(path, headers=bearer(admin))).status_code == 404
    r = await api.client.get("/api/throttles", headers=bearer(admin))
    assert [t["kind"] for t in r.json()] == ["client"]
    assert (await attacker.post("/api/login", json=creds("alice"))).status_code == 200
    bad = await api.client.delete("/api/throttles/..%2Fx", headers=bearer(admin))
    assert bad.status_code == 404


async def test_x_forwarded_for_only_from_trusted_proxies(api: Api) -> None:
    await api.user("alice")
    api.services.settings = api.services.settings.model_copy(
        update={"trusted_proxies": Settings(trusted_proxies=f"{PROXY}/32").trusted_proxies}
    )
    via_proxy = client_from(api, PROXY)
    spoofer = client_from(api, ATTACKER)
    forwarded = {"X-Forwarded-For": f"1.2.3.4, {ATTACKER}"}  # the proxy appended ATTACKER
    for _ in range(ACCOUNT_FREE):
        r = await via_proxy.post("/api/login", json=creds("alice", "nope"), headers=forwarded)
        assert r.status_code == 401
    # Same proxy, another client behind it: not throttled.
    other = {"X-Forwarded-For": USER}
    assert (
        await via_proxy.post("/api/login", json=creds("alice"), headers=other)
    ).status_code == 200
    assert (
        await via_proxy.post("/api/login", json=creds("alice"), headers=forwarded)
    ).status_code == 429
    # A direct client can't pose as another one: its header is ignored.
    assert (await spoofer.post("/api/login", json=creds("alice"), headers=other)).status_code == 429


def test_client_address_rules() -> None:
    from starlette.requests import Request

    trusted = Settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxies

    def address(peer: str, *xff: str, proxies: object = trusted) -> str:
        headers = [(b"x-forwarded-for", v.encode()) for v in xff]
        scope = {"type": "http", "headers": headers, "client": (peer, 1)}
        return client_address(Request(scope), proxies)  # type: ignore[arg-type]

    assert address("203.0.113.9", "1.1.1.1") == "203.0.113.9"  # untrusted peer
    assert address("10.0.0.2") == "10.0.0.2"  # no header
    assert address("10.0.0.2", "1.1.1.1, 2.2.2.2, 10.0.0.5") == "2.2.2.2"  # right-most untrusted
    assert address("10.0.0.2", "1.1.1.1", "2.2.2.2") == "2.2.2.2"  # headers joined in order
    assert address("10.0.0.2", "10.0.0.7, 10.0.0.5") == "10.0.0.7"  # all trusted: left-most
    assert address("10.0.0.2", "2.2.2.2, garbage") == "10.0.0.2"  # garbage: the proxy
    assert address("::1", "2001:db8::1") == "2001:db8::1"
    assert address("10.0.0.2", "1.1.1.1", proxies=[]) == "10.0.0.2"  # default: no proxy
    env = Settings(trusted_proxies='["10.0.0.1", "fd00::/8"]', secret_key=SecretStr("k" * 40))
    assert [str(n) for n in env.trusted_proxies] == ["10.0.0.1/32", "fd00::/8"]
    with pytest.raises(ValueError):
        Settings(trusted_proxies="10.0.0.1/8")


# -- the store, standalone and cluster ---------------------------------------------------


async def test_parallel_guesses_cannot_slip_through(redis: RedisClient) -> None:
    """Attempts are counted when they start, atomically: of 20 at once, only the free ones
    go through, and the rest are told how long to wait."""
    throttle = LoginThrottle(redis, ManualClock(T0))
    waits = await asyncio.gather(*(throttle.attempt("alice", ATTACKER) for _ in range(20)))
    assert sorted(waits) == [0] * ACCOUNT_FREE + [1] * (20 - ACCOUNT_FREE)


async def test_store_lists_refunds_and_clears(redis: RedisClient) -> None:
    clock = ManualClock(T0)
    throttle = LoginThrottle(redis, clock)
    for _ in range(3):
        assert await throttle.attempt(" Alice ", "2001:db8::1") == 0
    await throttle.succeeded("ALICE", "2001:db8::2")  # same /64: the same client
    [client] = await throttle.list()
    assert (client.kind, client.username, client.client) == ("client", None, "2001:db8::/64")
    assert client.failures == 2 and client.retry_after == 0
    assert await throttle.clear(client.id) and await throttle.list() == []
    assert await throttle.attempt("alice", ATTACKER) == 0
    clock.advance(POLICY.forget)
    assert await throttle.list() == []  # forgotten an hour after the last failure
