"""Fault injection, rate limits, metering and the snapshot of the emulator."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, ControlError, EmulatorControl
from tests.support import emulator_fixtures

server, ctl, http = emulator_fixtures.default_server, emulator_fixtures.ctl, emulator_fixtures.http


@pytest.fixture
def brand(ctl: EmulatorControl) -> AccountTokens:
    return ctl.create_account("brand")


def auth(tokens: AccountTokens) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens.oauth2_access_token}"}


def test_forced_429_carries_reset_and_clears(
    http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens
) -> None:
    ctl.faults(force_429=2, reset_in=1, endpoints=["users_me"])
    for _ in range(2):
        r = http.get("/2/users/me", headers=auth(brand))
        assert r.status_code == 429
        assert r.json()["title"] == "Too Many Requests"
        assert r.headers["x-rate-limit-remaining"] == "0"
        assert 0 <= int(r.headers["x-rate-limit-reset"]) - time.time() <= 2
    assert http.get("/2/users/me", headers=auth(brand)).status_code == 200
    ctl.faults(force_429=1, endpoints=["users_me"])
    # other endpoints are not affected
    assert http.get("/2/users/by/username/brand", headers=auth(brand)).status_code == 200


def test_real_window_limit_and_24_hour_cap(
    http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens
) -> None:
    ctl.set_limit("users_me", user=3)
    codes = [http.get("/2/users/me", headers=auth(brand)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    ctl.set_limit("create_tweet", user_24h=2)
    posts = [http.post("/2/tweets", headers=auth(brand), json={"text": f"p{i}"}) for i in range(3)]
    assert [p.status_code for p in posts] == [201, 201, 429]
    assert posts[1].headers["x-user-limit-24hour-remaining"] == "0"
    assert posts[2].headers["x-rate-limit-reset"] == posts[2].headers["x-user-limit-24hour-reset"]


def test_5xx_and_latency(http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens) -> None:
    ctl.faults(fail_next=1)
    r = http.get("/2/users/me", headers=auth(brand))
    assert r.status_code == 503
    assert http.get("/2/users/me", headers=auth(brand)).status_code == 200
    ctl.faults(error_rate=1.0)
    assert http.get("/2/users/me", headers=auth(brand)).status_code == 503
    ctl.faults(error_rate=0.0, latency_ms=300)
    started = time.monotonic()
    assert http.get("/2/users/me", headers=auth(brand)).status_code == 200
    assert time.monotonic() - started >= 0.3
    ctl.clear_faults()
    with pytest.raises(ControlError) as err:
        ctl.faults(error_rate=2)
    assert err.value.status == 400


def test_timeout_after_the_post_was_applied(
    http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens
) -> None:
    ctl.faults(timeout_after_apply=1)
    with pytest.raises(httpx.HTTPError):
        http.post("/2/tweets", headers=auth(brand), json={"text": "did it land?"})
    # the post exists although the client never got an answer; retrying is a duplicate
    r = http.get(f"/2/users/{brand.id}/tweets", headers=auth(brand))
    assert [t["text"] for t in r.json()["data"]] == ["did it land?"]
    r = http.post("/2/tweets", headers=auth(brand), json={"text": "did it land?"})
    assert r.status_code == 403
    ctl.faults(timeout_after_apply=1, stall_seconds=5)
    with pytest.raises(httpx.ReadTimeout):
        http.post("/2/tweets", headers=auth(brand), json={"text": "slow"}, timeout=0.5)


def test_metering_and_credits_depleted(
    http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens
) -> None:
    ctl.create_account("fan")
    q = ctl.post("fan", "@brand question with #tag")
    bearer = {"authorization": f"Bearer {ctl.app()['bearer_token']}"}
    ctl.set_balance(1)
    http.get("/2/tweets/search/recent", headers=bearer, params={"query": "#tag"})
    http.get(f"/2/users/{brand.id}/mentions", headers=auth(brand))
    http.post("/2/tweets", headers=auth(brand), json={"text": "hello"})
    http.post(
        "/2/tweets",
        headers=auth(brand),
        json={"text": "thanks", "reply": {"in_reply_to_tweet_id": q}},
    )
    http.post("/2/tweets", headers=auth(brand), json={"text": "see https://example.com"})
    spent = ctl.balance()["spent_usd"]
    assert spent == {
        "search_read": "0.005",
        "mentions_read": "0.001",
        "post": "0.015",
        "summoned_reply": "0.01",
        "post_with_url": "0.20",
    }
    assert ctl.balance()["balance_usd"] == "0.769"
    ctl.faults(credits_depleted=True)
    r = http.post("/2/tweets", headers=auth(brand), json={"text": "broke"})
    assert r.status_code == 402
    assert r.json()["type"].endswith("/2/problems/credits-depleted")
    r = http.get("/2/tweets/search/recent", headers=bearer, params={"query": "#tag"})
    assert r.status_code == 402
    # lookups are not metered
    assert http.get("/2/users/me", headers=auth(brand)).status_code == 200


def test_batch_injection_is_all_or_nothing(http: httpx.Client, ctl: EmulatorControl) -> None:
    ctl.create_account("fan")
    ids = ctl.post_many([{"username": "fan", "text": f"#load {i}"} for i in range(300)])
    assert len(ids) == 300 and ids == sorted(ids, key=int)
    with pytest.raises(ControlError) as err:
        ctl.post_many([{"username": "fan", "text": "fine"}, {"username": "ghost", "text": "no"}])
    assert err.value.status == 404
    assert err.value.body["errors"][0]["field"] == "posts.1"
    bearer = {"authorization": f"Bearer {ctl.app()['bearer_token']}"}
    r = http.get("/2/tweets/search/recent", headers=bearer, params={"query": "fine"})
    assert r.json() == {"meta": {"result_count": 0}}


def test_control_validation(ctl: EmulatorControl) -> None:
    ctl.create_account("dup")
    for call in (
        lambda: ctl.create_account("dup"),
        lambda: ctl.create_account("bad name!"),
        lambda: ctl.post("ghost", "hello"),
        lambda: ctl.call("POST", "/_emulator/tweets", {"username": "dup"}),
        lambda: ctl.call("POST", "/_emulator/limits", {"endpoint": "nope", "user": 1}),
    ):
        with pytest.raises(ControlError) as err:
            call()
        assert 400 <= err.value.status < 500


def test_snapshot_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    with EmulatorServer(snapshot_path=path) as srv:
        ctl = EmulatorControl(srv.base_url)
        acc = ctl.create_account("keeper")
        post_id = ctl.post("keeper", "remember me #kept")
        app = ctl.app()
        bearer = {"authorization": f"Bearer {app['bearer_token']}"}
        httpx.post(
            srv.base_url + "/2/tweets/search/stream/rules",
            headers=bearer,
            json={"add": [{"value": "#kept", "tag": "k"}]},
        )
    with EmulatorServer(snapshot_path=path) as srv:
        ctl = EmulatorControl(srv.base_url)
        assert ctl.app() == app
        r = httpx.get(
            srv.base_url + "/2/tweets/search/recent", headers=bearer, params={"query": "#kept"}
        )
        assert [t["id"] for t in r.json()["data"]] == [post_id]
        r = httpx.get(
            srv.base_url + "/2/users/me",
            headers={"authorization": f"Bearer {acc.oauth2_access_token}"},
        )
        assert r.json()["data"]["username"] == "keeper"
        rules = httpx.get(srv.base_url + "/2/tweets/search/stream/rules", headers=bearer).json()
        assert rules["data"][0]["tag"] == "k"
        new_id = ctl.post("keeper", "after restart")
        assert int(new_id) > int(post_id)


async def test_demo_hook_points_settings_at_a_running_emulator(tmp_path: Path) -> None:
    from atexpert.emulator.demo import demo_emulator
    from atexpert.settings import Settings

    async with demo_emulator(Settings(data_dir=tmp_path)) as settings:
        assert settings.x_api_base_url.startswith("http://127.0.0.1:")
        assert settings.x_bearer_token is not None
        bearer = settings.x_bearer_token.get_secret_value()
        async with httpx.AsyncClient(base_url=settings.x_api_base_url) as client:
            r = await client.get(
                "/2/tweets/search/stream/rules", headers={"authorization": f"Bearer {bearer}"}
            )
            assert r.status_code == 200
    assert (tmp_path / "x-emulator.json").exists()
