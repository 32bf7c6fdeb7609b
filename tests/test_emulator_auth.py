"""OAuth 1.0a signature verification and the OAuth 2.0 PKCE flow of the emulator."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from oauthlib.oauth1 import Client as OAuth1Client

from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from tests.support import emulator_fixtures

server, ctl, http = emulator_fixtures.default_server, emulator_fixtures.ctl, emulator_fixtures.http


@pytest.fixture
def alice(ctl: EmulatorControl) -> AccountTokens:
    return ctl.create_account("alice", "Alice")


def signed(
    ctl: EmulatorControl, who: AccountTokens, method: str, url: str, body: str | None = None
) -> dict[str, str]:
    app = ctl.app()
    client = OAuth1Client(
        app["consumer_key"],
        client_secret=app["consumer_secret"],
        resource_owner_key=who.access_token,
        resource_owner_secret=who.access_token_secret,
    )
    headers = {"content-type": "application/x-www-form-urlencoded"} if body else {}
    _, out, _ = client.sign(url, method, body=body, headers=headers)
    return dict(out)


def test_oauth1_signature_against_x_url_and_received_url(
    http: httpx.Client, ctl: EmulatorControl, server: EmulatorServer, alice: AccountTokens
) -> None:
    assert alice.access_token.startswith(f"{alice.id}-")
    path = "/2/users/me?user.fields=created_at"
    for signed_base in ("https://api.twitter.com", server.base_url):
        headers = signed(ctl, alice, "GET", signed_base + path)
        r = http.get(path, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["id"] == alice.id


def test_oauth1_tampered_requests_are_refused(
    http: httpx.Client, ctl: EmulatorControl, alice: AccountTokens
) -> None:
    url = "https://api.twitter.com/2/users/me"
    good = signed(ctl, alice, "GET", url + "?user.fields=created_at")
    # a query parameter the signature does not cover
    assert http.get("/2/users/me?user.fields=location", headers=good).status_code == 401
    # a forged signature
    forged = dict(good)
    forged["Authorization"] = good["Authorization"].replace(
        'oauth_signature="', 'oauth_signature="A'
    )
    assert http.get("/2/users/me?user.fields=created_at", headers=forged).status_code == 401
    # the wrong token secret
    wrong = dataclasses.replace(alice, access_token_secret="not-the-secret")
    r = http.get("/2/users/me", headers=signed(ctl, wrong, "GET", url))
    assert r.status_code == 401
    assert r.json()["title"] == "Unauthorized"
    # a replayed request (same nonce and timestamp)
    once = signed(ctl, alice, "GET", url)
    assert http.get("/2/users/me", headers=once).status_code == 200
    assert http.get("/2/users/me", headers=once).status_code == 401


def test_oauth1_post_tweet(http: httpx.Client, ctl: EmulatorControl, alice: AccountTokens) -> None:
    headers = signed(ctl, alice, "POST", "https://api.twitter.com/2/tweets")
    r = http.post("/2/tweets", headers=headers, json={"text": "signed hello"})
    assert r.status_code == 201
    # the stream is app-only
    r = http.get(
        "/2/tweets/search/stream/rules",
        headers=signed(ctl, alice, "GET", "https://api.twitter.com/2/tweets/search/stream/rules"),
    )
    assert r.status_code == 403
    assert "OAuth 1.0a User Context is forbidden" in r.json()["detail"]


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def _authorize(
    http: httpx.Client, ctl: EmulatorControl, challenge: str, username: str = "alice"
) -> str:
    app = ctl.app()
    params = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": "http://localhost:9/cb",
        "scope": "tweet.read tweet.write users.read offline.access",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = http.get("/i/oauth2/authorize", params=params)
    assert page.status_code == 200
    assert "Authorize app" in page.text and "@alice" in page.text
    r = http.post("/i/oauth2/authorize", data={**params, "username": username, "decision": "allow"})
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def _token(http: httpx.Client, ctl: EmulatorControl, **form: str) -> httpx.Response:
    app = ctl.app()
    return http.post("/2/oauth2/token", data=form, auth=(app["client_id"], app["client_secret"]))


def test_pkce_flow_expiry_and_refresh(
    http: httpx.Client, ctl: EmulatorControl, alice: AccountTokens
) -> None:
    verifier, challenge = _pkce()
    code = _authorize(http, ctl, challenge)
    r = _token(
        http,
        ctl,
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://localhost:9/cb",
        code_verifier=verifier,
    )
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 7200
    me = http.get("/2/users/me", headers={"authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["data"]["username"] == "alice"
    # a code is single-use
    r = _token(
        http,
        ctl,
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://localhost:9/cb",
        code_verifier=verifier,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    # two hours later the access token is refused, the refresh token still works
    ctl.advance_clock(7201)
    expired = http.get("/2/users/me", headers={"authorization": f"Bearer {tokens['access_token']}"})
    assert expired.status_code == 401
    r = _token(http, ctl, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert r.status_code == 200
    fresh = r.json()
    me = http.get("/2/users/me", headers={"authorization": f"Bearer {fresh['access_token']}"})
    assert me.status_code == 200
    # refresh tokens rotate
    r = _token(http, ctl, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert r.status_code == 400


def test_pkce_wrong_verifier_and_bad_requests(
    http: httpx.Client, ctl: EmulatorControl, alice: AccountTokens
) -> None:
    verifier, challenge = _pkce()
    code = _authorize(http, ctl, challenge)
    r = _token(
        http,
        ctl,
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://localhost:9/cb",
        code_verifier=verifier + "x",
    )
    assert r.status_code == 400
    assert r.json()["error_description"] == "Value passed for the authorization code was invalid."
    r = http.post(
        "/2/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=("wrong", "client"),
    )
    assert r.status_code == 401
    r = http.get("/i/oauth2/authorize", params={"response_type": "code", "client_id": "nope"})
    assert r.status_code == 400
    assert "Unknown client_id" in r.text
