"""No password, token or secret ever reaches a log line, whatever the log format.

The app runs under uvicorn (its request lines and websocket handshakes logged too) with
every logger at DEBUG, captured in the text and the JSON format at once, while a staff
user logs in (right and wrong passwords), changes their password, makes an API token,
opens a websocket with it, connects the host X account through the emulator's OAuth pages
and has its token refreshed, and invites someone who accepts with a new account.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr
from websockets.asyncio.client import connect

from atexpert.domain.clock import ManualClock
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from atexpert.settings import Settings
from atexpert.store.staff import StaffStore
from atexpert.web.app import create_app
from atexpert.web.auth import CSRF_HEADER
from atexpert.web.logs import configure_logging, log_handler
from atexpert.x.accounts import XAccountStore
from tests.support.api_world import FAST_HASHER, PASSWORD, bearer
from tests.support.app_server import AppServer
from tests.support.emulator_fixtures import control, server
from tests.support.x_oauth import authorize_in_browser, brand, emulator_settings, query_of

__all__ = ["brand", "control", "server"]  # fixtures the tests here use

WRONG_PASSWORD = "Wrong-Guess-Tangerine-77"
NEW_PASSWORD = "Vivid-Quokka-Harbor-9931"
INVITEE_PASSWORD = "Quiet-Lantern-Orchard-5120"
SECRET_KEY = "log-secrets-key-" + "s" * 32


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """Every logger at DEBUG, into a text and a JSON stream; the logging setup restored."""
    loggers = [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    for logger in loggers:  # uvicorn's (set by other servers of the test process) too
        logger.setLevel(logging.NOTSET)
    text, as_json = io.StringIO(), io.StringIO()
    configure_logging("text", level=logging.DEBUG, stream=text)
    logging.getLogger().addHandler(log_handler("json", as_json))
    try:
        yield text, as_json
    finally:
        for logger, handlers, level, propagate in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


async def test_no_secret_reaches_a_log_line(
    captured: tuple[io.StringIO, io.StringIO],
    server: EmulatorServer,
    control: EmulatorControl,
    brand: AccountTokens,
    redis_url: str,
    redis_standalone: aioredis.Redis,
) -> None:
    settings = emulator_settings(
        server, control, redis_url=redis_url, secret_key=SECRET_KEY, public_base_url="http://t"
    )
    clock = ManualClock(datetime.now(UTC))
    staff = StaffStore(redis_standalone, hasher=FAST_HASHER)
    await staff.create_user("root", PASSWORD, is_admin=True)
    app = create_app(settings, clock=clock, password_hasher=FAST_HASHER, run_scheduler=False)
    secrets = [
        PASSWORD,
        WRONG_PASSWORD,
        NEW_PASSWORD,
        INVITEE_PASSWORD,
        SECRET_KEY,
        *(s.get_secret_value() for s in (settings.x_client_secret, settings.x_bearer_token) if s),
        brand.oauth2_access_token,
        brand.oauth2_refresh_token,
    ]
    with AppServer(app) as running:
        base = f"http://127.0.0.1:{running.port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            wrong = {"username": "root", "password": WRONG_PASSWORD}
            assert (await client.post("/api/login", json=wrong)).status_code == 401
            r = await client.post("/api/login", json={"username": "root", "password": PASSWORD})
            assert r.status_code == 200, r.text
            csrf = r.json()["csrf_token"]
            secrets += [csrf, *client.cookies.values()]
            r = await client.post(
                "/api/me/tokens", json={"name": "ops"}, headers={CSRF_HEADER: csrf}
            )
            assert r.status_code == 201, r.text
            token = r.json()["secret"]
            secrets.append(token)
            auth = bearer(token)
            change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
            r = await client.post("/api/me/password", json=change, headers=auth)
            assert r.status_code == 204, r.text
            bad = {"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD + "x"}
            assert (
                await client.post("/api/me/password", json=bad, headers=auth)
            ).status_code == 422

            session = await client.post("/api/sessions", json=session_body(brand), headers=auth)
            assert session.status_code == 201, session.text
            sid = session.json()["id"]
            ws = await connect(
                running.url(f"/ws/sessions/{sid}/admin"),
                subprotocols=["atexpert.v1", f"bearer.{token}"],  # type: ignore[list-item]
            )
            await ws.recv()
            await ws.close()

            r = await client.post("/api/x/connect", json={"handle": "@Airbus"}, headers=auth)
            assert r.status_code == 200, r.text
            location = await authorize_in_browser(r.json()["authorize_url"], "Airbus")
            back = query_of(location)
            secrets += [back["code"], back["state"]]
            parts = urlsplit(location)
            r = await client.get(f"{parts.path}?{parts.query}")
            assert r.status_code == 303 and "x_connected" in r.headers["location"], r.text
            accounts = XAccountStore(redis_standalone, settings, clock)
            secrets.append(await accounts.user_token("Airbus"))
            await accounts.put_tokens(
                "Airbus", brand.id, brand.oauth2_access_token, brand.oauth2_refresh_token
            )
            clock.advance(timedelta(minutes=116))  # near expiry: the next use refreshes
            control.advance_clock(116 * 60)
            fresh = await accounts.user_token("Airbus")
            assert fresh != brand.oauth2_access_token
            secrets.append(fresh)

            r = await client.post(
                f"/api/sessions/{sid}/invitations", json={"role": "moderator"}, headers=auth
            )
            assert r.status_code == 201, r.text
            link = urlsplit(r.json()["url"]).path
            invitation = link.rsplit("/", 1)[1]
            secrets.append(invitation)
            async with httpx.AsyncClient(base_url=base, timeout=10) as invitee:
                assert (await invitee.get(link)).status_code == 200
                assert (await invitee.get(f"/api/invitations/{invitation}")).status_code == 200
                account = {"username": "mia", "password": INVITEE_PASSWORD}
                r = await invitee.post(f"/api/invitations/{invitation}/accept", json=account)
                assert r.status_code == 200, r.text
                secrets += [r.json()["csrf_token"], *invitee.cookies.values()]

    text, as_json = (stream.getvalue() for stream in captured)
    assert "POST /api/login" in text and '"level": "DEBUG"' in as_json  # it did capture
    assert "/invite/[redacted]" in text and "code=[redacted]" in text
    secrets = [s for s in secrets if s]
    assert len(secrets) >= 15
    for name, lines in (("text", text.splitlines()), ("json", as_json.splitlines())):
        leaks = [(s, line) for s in secrets for line in lines if s in line]
        assert not leaks, f"secrets in the {name} log: {leaks[:3]}"


def session_body(brand: AccountTokens) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "title": "Ask Airbus",
        "hashtags": ["#AskAirbus"],
        "host_account": {"handle": "@Airbus", "user_id": brand.id},
        "scheduled_start": (now + timedelta(hours=1)).isoformat(),
        "scheduled_end": (now + timedelta(hours=2)).isoformat(),
    }


def test_settings_hide_their_secrets_when_printed() -> None:
    """The settings as a whole, shown in an error or a debug line, hide every secret."""
    hidden = {"secret_key": SECRET_KEY, "x_client_secret": "client-7f3a", "metrics_token": "m-9c2e"}
    settings = Settings(**{name: SecretStr(value) for name, value in hidden.items()})
    shown = f"{settings} {settings!r} {settings.model_dump()}"
    assert not [value for value in hidden.values() if value in shown]
