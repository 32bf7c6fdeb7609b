"""Likes and the other public metrics of posts in the emulator, over real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, ControlError, EmulatorControl
from tests.support import emulator_fixtures

server, control, http = emulator_fixtures.server, emulator_fixtures.control, emulator_fixtures.http


def _auth(account: AccountTokens) -> dict[str, str]:
    return {"authorization": f"Bearer {account.oauth2_access_token}"}


def _metrics(http: httpx.Client, bearer: str, tweet_id: str) -> dict[str, Any]:
    r = http.get(
        f"/2/tweets/{tweet_id}",
        params={"tweet.fields": "public_metrics"},
        headers={"authorization": f"Bearer {bearer}"},
    )
    assert r.status_code == 200, r.text
    metrics: dict[str, Any] = r.json()["data"]["public_metrics"]
    return metrics


def test_likes_by_api_count_once_per_user_and_can_be_taken_back(
    control: EmulatorControl, http: httpx.Client
) -> None:
    ana = control.create_account("ana", "Ana")
    bob = control.create_account("bob", "Bob")
    control.create_account("fan", "Fan")
    post = control.post("fan", "@Airbus is the A350 quiet? #AskAirbus")
    bearer = control.app()["bearer_token"]
    for account in (ana, ana, bob):  # liking twice counts once, as on X
        r = http.post(
            f"/2/users/{account.id}/likes", json={"tweet_id": post}, headers=_auth(account)
        )
        assert r.status_code == 200 and r.json() == {"data": {"liked": True}}
        assert int(r.headers["x-rate-limit-limit"]) == 50
    assert _metrics(http, bearer, post)["like_count"] == 2
    r = http.delete(f"/2/users/{ana.id}/likes/{post}", headers=_auth(ana))
    assert r.status_code == 200 and r.json() == {"data": {"liked": False}}
    r = http.delete(f"/2/users/{ana.id}/likes/{post}", headers=_auth(ana))  # not liked: no-op
    assert r.json() == {"data": {"liked": False}}
    assert _metrics(http, bearer, post)["like_count"] == 1


def test_likes_refused_where_x_refuses_them(control: EmulatorControl, http: httpx.Client) -> None:
    ana = control.create_account("ana", "Ana")
    bob = control.create_account("bob", "Bob")
    post = control.post("bob", "hello #AskAirbus")
    as_bob = http.post(f"/2/users/{bob.id}/likes", json={"tweet_id": post}, headers=_auth(ana))
    assert as_bob.status_code == 403
    assert as_bob.json()["detail"] == "You are not permitted to perform this action."
    bad = http.post(f"/2/users/{ana.id}/likes", json={"tweet_id": "x1"}, headers=_auth(ana))
    assert bad.status_code == 400 and "$.tweet_id" in bad.json()["errors"][0]["message"]
    extra = http.post(
        f"/2/users/{ana.id}/likes", json={"tweet_id": post, "colour": "red"}, headers=_auth(ana)
    )
    assert extra.status_code == 400
    missing = http.post(f"/2/users/{ana.id}/likes", json={"tweet_id": "123"}, headers=_auth(ana))
    assert missing.status_code == 200
    assert missing.json()["errors"][0]["title"] == "Not Found Error"
    bearer = {"authorization": f"Bearer {control.app()['bearer_token']}"}
    app_only = http.post(f"/2/users/{ana.id}/likes", json={"tweet_id": post}, headers=bearer)
    assert app_only.status_code == 403  # liking needs a user
    narrow = control.create_account("narrow", "Narrow", scopes=["tweet.read", "users.read"])
    r = http.post(f"/2/users/{narrow.id}/likes", json={"tweet_id": post}, headers=_auth(narrow))
    assert r.status_code == 403 and "like.write" in r.json()["detail"]


def test_metrics_count_replies_quotes_reposts_and_set_counters(
    control: EmulatorControl, http: httpx.Client
) -> None:
    control.create_account("fan", "Fan")
    control.create_account("other", "Other")
    post = control.post("fan", "@Airbus will the A321XLR cross the Atlantic? #AskAirbus")
    control.post("other", "@fan good question", in_reply_to_tweet_id=post)
    control.post("other", "same here", quote_tweet_id=post)
    control.post("other", "RT @fan: will the A321XLR...", retweet_of_id=post)
    set_to = control.set_metrics(post, like_count=42, impression_count=1000, bookmark_count=3)
    shown = _metrics(http, control.app()["bearer_token"], post)
    assert (
        shown
        == set_to
        == {
            "retweet_count": 1,
            "repost_count": 1,
            "reply_count": 1,
            "quote_count": 1,
            "like_count": 42,
            "bookmark_count": 3,
            "impression_count": 1000,
        }
    )
    control.set_likes(post, 7)
    assert _metrics(http, control.app()["bearer_token"], post)["like_count"] == 7
    with pytest.raises(ControlError) as missing:
        control.set_likes("123", 1)
    assert missing.value.status == 404
    with pytest.raises(ControlError) as negative:
        control.set_likes(post, -1)
    assert negative.value.status == 400


def test_likes_survive_a_restart_with_a_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    with EmulatorServer(snapshot_path=path) as first:
        ctl = EmulatorControl(first.base_url)
        fan = ctl.create_account("fan", "Fan")
        post = ctl.post("fan", "liked #AskAirbus")
        ctl.set_likes(post, 5)
        r = httpx.post(
            f"{first.base_url}/2/users/{fan.id}/likes", json={"tweet_id": post}, headers=_auth(fan)
        )
        assert r.status_code == 200
    with EmulatorServer(snapshot_path=path) as second:
        bearer = EmulatorControl(second.base_url).app()["bearer_token"]
        with httpx.Client(base_url=second.base_url) as client:
            assert _metrics(client, bearer, post)["like_count"] == 6
            again = client.delete(f"/2/users/{fan.id}/likes/{post}", headers=_auth(fan))
            assert again.json() == {"data": {"liked": False}}
            assert _metrics(client, bearer, post)["like_count"] == 5
