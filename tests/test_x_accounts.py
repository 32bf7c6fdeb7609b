"""Host X accounts against real Redis (standalone and cluster) and the X emulator over HTTP."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from atexpert.domain.clock import ManualClock
from atexpert.domain.errors import Conflict, InvalidInput, NotFound
from atexpert.domain.sessions import HostAccount, Session, SessionFields, SessionOptions
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from atexpert.web.publish_service import tweepy_posters
from atexpert.x.accounts import OAuthFailed, XAccountStore
from atexpert.x.client import XAuthError, async_client, refresh_user_token
from tests.support import emulator_fixtures
from tests.support.redis_fixtures import RedisFactory
from tests.support.x_oauth import authorize_in_browser, emulator_settings, query_of
from tests.support.x_oauth import brand as brand

server, control = emulator_fixtures.server, emulator_fixtures.control

CALLBACK = "http://atexpert.test/api/x/callback"


@pytest.fixture
def settings(server: EmulatorServer, control: EmulatorControl) -> Settings:
    return emulator_settings(server, control)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def accounts(redis: RedisClient, settings: Settings, clock: ManualClock) -> XAccountStore:
    return XAccountStore(redis, settings, clock)


async def connect(accounts: XAccountStore, username: str = "Airbus") -> str:
    """The whole PKCE flow; returns the access token then stored."""
    url = await accounts.begin(None, CALLBACK, "root")
    back = query_of(await authorize_in_browser(url, username))
    await accounts.complete(back["state"], back["code"])
    return await accounts.user_token(username)


async def whoami(settings: Settings, token: str) -> str:
    async with async_client(settings, user_access_token=token) as client:
        me = await client.get_me(user_auth=False)
    return str(me.data.username)


async def test_connect_with_pkce_through_the_consent_page(
    accounts: XAccountStore, settings: Settings, brand: AccountTokens, redis: RedisClient
) -> None:
    url = await accounts.begin("@airbus", CALLBACK, "root")
    assert url.startswith(settings.x_api_base_url + "/i/oauth2/authorize?")
    location = await authorize_in_browser(url, "Airbus")
    assert location.startswith(CALLBACK + "?")
    back = query_of(location)
    state_ttl = await redis.pttl("ama:{x}:pkce:" + back["state"])
    assert 0 < state_ttl <= 600_000

    account = await accounts.complete(back["state"], back["code"])
    assert (account.handle, account.user_id, account.connected_by) == ("Airbus", brand.id, "root")
    assert account.name == "Airbus"  # the display name X shows, for the admin page
    assert {"tweet.write", "offline.access"} <= set(account.scopes)
    assert account.expires_at - account.connected_at == pytest.approx(
        timedelta(hours=2), abs=timedelta(seconds=5)
    )
    token = await accounts.user_token("@AIRBUS")
    assert await whoami(settings, token) == "Airbus"
    assert [a.handle for a in await accounts.list_accounts()] == ["Airbus"]
    assert "token" not in str(account.model_dump())

    with pytest.raises(OAuthFailed, match="unknown, expired or already used"):
        await accounts.complete(back["state"], back["code"])  # single use


async def test_unknown_state_and_refused_code(
    accounts: XAccountStore, brand: AccountTokens
) -> None:
    with pytest.raises(OAuthFailed, match="unknown"):
        await accounts.complete("made-up-state", "code")
    url = await accounts.begin(None, CALLBACK, "root")
    back = query_of(await authorize_in_browser(url, "Airbus"))
    with pytest.raises(OAuthFailed, match="X refused the authorization"):
        await accounts.complete(back["state"], "not-the-code")
    assert await accounts.list_accounts() == []


async def test_hint_refuses_another_account(accounts: XAccountStore, brand: AccountTokens) -> None:
    url = await accounts.begin("Airbus", CALLBACK, "root")
    back = query_of(await authorize_in_browser(url, "someone_else"))
    with pytest.raises(OAuthFailed, match="you authorized @someone_else on X, not @Airbus"):
        await accounts.complete(back["state"], back["code"])
    assert await accounts.list_accounts() == []


async def test_not_connected_and_bad_handle(accounts: XAccountStore) -> None:
    with pytest.raises(NotFound, match="host account @nobody is not connected"):
        await accounts.user_token("nobody")
    with pytest.raises(NotFound):
        await accounts.delete("@nobody", "root")
    with pytest.raises(InvalidInput, match="X handle"):
        await accounts.user_token("not a handle!")


async def test_refreshes_near_expiry_and_keeps_fresh_token(
    accounts: XAccountStore,
    settings: Settings,
    control: EmulatorControl,
    clock: ManualClock,
    brand: AccountTokens,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="atexpert")
    await accounts.put_tokens(
        "Airbus", brand.id, brand.oauth2_access_token, brand.oauth2_refresh_token, actor="demo"
    )
    clock.advance(timedelta(minutes=100))
    control.advance_clock(100 * 60)
    assert await accounts.user_token("Airbus") == brand.oauth2_access_token  # 20 min left

    clock.advance(timedelta(minutes=16))  # 4 minutes left: refresh now
    control.advance_clock(16 * 60)
    fresh = await accounts.user_token("Airbus")
    assert fresh != brand.oauth2_access_token
    assert await accounts.user_token("Airbus") == fresh  # refreshed once, then kept
    account = await accounts.get("airbus")
    assert account.expires_at - clock.now() == pytest.approx(
        timedelta(hours=2), abs=timedelta(seconds=5)
    )

    control.advance_clock(5 * 60)  # the old token is dead at X; the fresh one works
    assert await whoami(settings, fresh) == "Airbus"
    with pytest.raises(XAuthError):  # X rotated the refresh token
        await refresh_user_token(settings, brand.oauth2_refresh_token)
    assert "refreshed the token of @Airbus" in caplog.text
    secrets = [fresh, brand.oauth2_access_token, brand.oauth2_refresh_token]
    assert not [s for s in secrets if s in caplog.text], "tokens are never logged"


async def test_concurrent_callers_refresh_once(
    redis: RedisClient,
    redis_factory: RedisFactory,
    settings: Settings,
    control: EmulatorControl,
    clock: ManualClock,
    brand: AccountTokens,
) -> None:
    seed = XAccountStore(redis, settings, clock)
    await seed.put_tokens("Airbus", brand.id, brand.oauth2_access_token, brand.oauth2_refresh_token)
    clock.advance(timedelta(minutes=118))
    # Four "processes", each with its own connection, ask at the same moment.
    stores = [XAccountStore(await redis_factory(), settings, clock) for _ in range(4)]
    tokens = await asyncio.gather(*(s.user_token("Airbus") for s in stores for _ in range(3)))
    assert len(set(tokens)) == 1 and tokens[0] != brand.oauth2_access_token
    # Had two of them refreshed, one would have failed (X rotates refresh tokens) and
    # the stored refresh token would be dead: it still works.
    clock.advance(timedelta(minutes=118))
    again = await seed.user_token("Airbus")
    assert again not in (tokens[0], brand.oauth2_access_token)
    assert await whoami(settings, again) == "Airbus"


async def test_refused_refresh_asks_for_reconnect(
    accounts: XAccountStore, settings: Settings, clock: ManualClock, brand: AccountTokens
) -> None:
    await accounts.put_tokens(
        "Airbus", brand.id, brand.oauth2_access_token, brand.oauth2_refresh_token
    )
    await refresh_user_token(settings, brand.oauth2_refresh_token)  # used elsewhere: now dead
    clock.advance(timedelta(minutes=117))
    with pytest.raises(Conflict, match="@Airbus must be reconnected by an admin"):
        await accounts.user_token("Airbus")
    assert (await accounts.get("Airbus")).needs_reconnect
    with pytest.raises(Conflict, match="must be reconnected"):
        await accounts.user_token("Airbus")
    await connect(accounts)  # reconnecting fixes it
    assert not (await accounts.get("Airbus")).needs_reconnect


async def test_expired_without_refresh_token(
    accounts: XAccountStore, clock: ManualClock, brand: AccountTokens
) -> None:
    await accounts.put_tokens("Airbus", brand.id, brand.oauth2_access_token, None)
    clock.advance(timedelta(minutes=118))
    assert await accounts.user_token("Airbus") == brand.oauth2_access_token  # still valid
    clock.advance(timedelta(minutes=3))
    with pytest.raises(Conflict, match="expired and cannot be refreshed"):
        await accounts.user_token("Airbus")


async def _session(redis: RedisClient, host: HostAccount) -> Session:
    now = datetime.now(UTC)
    fields = SessionFields(
        title="Inside the A350 cabin",
        hashtags=["#AskAirbus"],
        host_account=host,
        scheduled_start=now + timedelta(minutes=1),
        scheduled_end=now + timedelta(hours=1),
        options=SessionOptions(announce=False),
    )
    return await Store(redis).create_session(fields, actor="admin")


async def test_session_token_lets_the_publisher_post(
    accounts: XAccountStore, settings: Settings, redis: RedisClient, brand: AccountTokens
) -> None:
    await connect(accounts)
    session = await _session(redis, HostAccount(handle="@Airbus", user_id=brand.id))
    posters = tweepy_posters(settings, accounts.session_token)
    async with posters(session) as poster:
        posted = await poster.post("Welcome to #AskAirbus!", None)
    assert posted.tweet_id

    other = await _session(redis, HostAccount(handle="Airbus", user_id="12345"))
    with pytest.raises(Conflict, match="user id 12345"):
        await accounts.session_token(other)
    await accounts.delete("Airbus", "root")
    with pytest.raises(NotFound, match="@Airbus is not connected"):
        await accounts.session_token(session)


async def test_transient_refresh_failure_keeps_the_account(
    redis: RedisClient, settings: Settings, clock: ManualClock, brand: AccountTokens
) -> None:
    accounts = XAccountStore(redis, settings, clock)
    await accounts.put_tokens(
        "Airbus", brand.id, brand.oauth2_access_token, brand.oauth2_refresh_token
    )
    clock.advance(timedelta(minutes=117))
    wrong_secret = settings.model_copy(update={"x_client_secret": SecretStr("wrong")})
    down = settings.model_copy(update={"x_api_base_url": "http://127.0.0.1:9"})
    for broken in (wrong_secret, down):  # 401 from X's token endpoint; X unreachable
        assert await XAccountStore(redis, broken, clock).user_token("Airbus") == (
            brand.oauth2_access_token  # 3 minutes left: keep using it
        )
    clock.advance(timedelta(minutes=4))
    with pytest.raises(Conflict, match="cannot refresh the token of @Airbus now"):
        await XAccountStore(redis, down, clock).user_token("Airbus")
    assert not (await accounts.get("Airbus")).needs_reconnect
    assert await whoami(settings, await accounts.user_token("Airbus")) == "Airbus"
