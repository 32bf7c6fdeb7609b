"""The emulator's X endpoints over real HTTP: happy paths, X's rules and error shapes."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, ControlError, EmulatorControl
from tests.support import emulator_fixtures

server, ctl, http = emulator_fixtures.server, emulator_fixtures.ctl, emulator_fixtures.http

INVALID = "https://api.twitter.com/2/problems/invalid-request"


@pytest.fixture
def brand(ctl: EmulatorControl) -> AccountTokens:
    return ctl.create_account("AirbusExpert", "Airbus")


def user(tokens: AccountTokens) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens.oauth2_access_token}"}


def app(ctl: EmulatorControl) -> dict[str, str]:
    return {"authorization": f"Bearer {ctl.app()['bearer_token']}"}


def test_users_me_and_lookup(
    http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens
) -> None:
    r = http.get("/2/users/me", headers=user(brand), params={"user.fields": "created_at"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    data = r.json()["data"]
    assert (data["id"], data["username"], data["name"]) == (brand.id, "AirbusExpert", "Airbus")
    assert data["created_at"].endswith("Z")
    assert int(r.headers["x-rate-limit-remaining"]) == int(r.headers["x-rate-limit-limit"]) - 1
    r = http.get("/2/users/by/username/airbusexpert", headers=app(ctl))
    assert r.json() == {"data": {"id": brand.id, "name": "Airbus", "username": "AirbusExpert"}}
    r = http.get("/2/users", headers=app(ctl), params={"ids": f"{brand.id},42"})
    assert [u["id"] for u in r.json()["data"]] == [brand.id]
    assert r.json()["errors"][0]["resource_id"] == "42"
    r = http.get("/2/users/by", headers=app(ctl), params={"usernames": "AirbusExpert,bad-name"})
    assert r.status_code == 400
    r = http.get("/2/users/by/username/nobody", headers=app(ctl))
    assert r.status_code == 200
    assert r.json()["errors"][0]["resource_type"] == "user"
    assert "data" not in r.json()


def test_users_me_refuses_app_bearer_and_bad_tokens(
    http: httpx.Client, ctl: EmulatorControl
) -> None:
    r = http.get("/2/users/me", headers=app(ctl))
    assert r.status_code == 403
    assert r.json()["title"] == "Unsupported Authentication"
    r = http.get("/2/users/me", headers={"authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.json() == {
        "title": "Unauthorized",
        "detail": "Unauthorized",
        "type": "about:blank",
        "status": 401,
    }
    assert http.get("/2/users/me").status_code == 401


def test_post_reply_thread_and_lookup(
    http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens
) -> None:
    ctl.create_account("alice")
    q = ctl.post("alice", "@AirbusExpert how do wings flex? #AskAirbus")
    r = http.post(
        "/2/tweets",
        headers=user(brand),
        json={"text": "They bend by design (1/2)", "reply": {"in_reply_to_tweet_id": q}},
    )
    assert r.status_code == 201
    first = r.json()["data"]
    assert set(first) == {"id", "text", "edit_history_tweet_ids"}
    assert r.headers["location"].endswith(first["id"])
    assert "x-user-limit-24hour-remaining" in r.headers
    assert "x-app-limit-24hour-reset" in r.headers
    # threading under your own reply is allowed
    r = http.post(
        "/2/tweets",
        headers=user(brand),
        json={"text": "up to several metres (2/2)", "reply": {"in_reply_to_tweet_id": first["id"]}},
    )
    assert r.status_code == 201
    second = r.json()["data"]["id"]
    assert int(second) > int(first["id"]) > int(q)
    fields = "conversation_id,in_reply_to_user_id,referenced_tweets,author_id,created_at"
    r = http.get(
        f"/2/tweets/{second}",
        headers=app(ctl),
        params={"tweet.fields": fields, "expansions": "author_id,referenced_tweets.id"},
    )
    body = r.json()
    assert body["data"]["conversation_id"] == q
    assert body["data"]["in_reply_to_user_id"] == brand.id
    assert body["data"]["referenced_tweets"] == [{"type": "replied_to", "id": first["id"]}]
    assert body["includes"]["users"][0]["username"] == "AirbusExpert"
    assert body["includes"]["tweets"][0]["id"] == first["id"]
    # post.fields is accepted too, answered in the caller's vocabulary
    r = http.get(
        f"/2/tweets/{second}", headers=app(ctl), params={"post.fields": "referenced_posts"}
    )
    assert r.json()["data"]["referenced_posts"] == [{"type": "replied_to", "id": first["id"]}]
    r = http.get("/2/tweets", headers=app(ctl), params={"ids": f"{q},{second},123"})
    assert [t["id"] for t in r.json()["data"]] == [q, second]
    assert r.json()["errors"][0]["resource_id"] == "123"


def test_not_summoned_duplicate_and_too_long(
    http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens
) -> None:
    ctl.create_account("bob")
    q = ctl.post("bob", "Only a hashtag #AskAirbus")
    r = http.post(
        "/2/tweets", headers=user(brand), json={"text": "hi", "reply": {"in_reply_to_tweet_id": q}}
    )
    assert r.status_code == 403
    assert r.json() == {
        "title": "Forbidden",
        "type": "about:blank",
        "status": 403,
        "detail": "You can only reply to or quote posts where you are mentioned or are the author.",
    }
    ctl.policy(summoned_replies_only=False)
    r = http.post(
        "/2/tweets", headers=user(brand), json={"text": "hi", "reply": {"in_reply_to_tweet_id": q}}
    )
    assert r.status_code == 201
    r = http.post("/2/tweets", headers=user(brand), json={"text": "Same words"})
    assert r.status_code == 201
    r = http.post("/2/tweets", headers=user(brand), json={"text": "Same words"})
    assert r.status_code == 403
    assert r.json()["detail"] == "You are not allowed to create a Tweet with duplicate content."
    r = http.post("/2/tweets", headers=user(brand), json={"text": "é" * 281})
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"].startswith("Your Tweet text is too long.")
    # CJK characters weigh 2: 141 of them exceed 280
    r = http.post("/2/tweets", headers=user(brand), json={"text": "漢" * 141})
    assert r.status_code == 400
    r = http.post("/2/tweets", headers=user(brand), json={"text": "漢" * 140})
    assert r.status_code == 201


def test_bad_bodies_get_x_shapes(http: httpx.Client, brand: AccountTokens) -> None:
    for body in (b"{not json", b"[1,2]", b"", b"\xff\xfe{", b"[" * 100_000):
        r = http.post(
            "/2/tweets", headers={**user(brand), "content-type": "application/json"}, content=body
        )
        assert r.status_code == 400, body
        assert r.json()["type"] == INVALID
    r = http.post("/2/tweets", headers=user(brand), json={"text": "x", "colour": "red"})
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {
            "message": "$.colour: is not defined in the schema and the "
            "schema does not allow additional properties"
        }
    ]
    r = http.post("/2/tweets", headers=user(brand), json={"text": "x", "reply": {"id": "1"}})
    assert r.status_code == 400
    r = http.post(
        "/2/tweets",
        headers=user(brand),
        json={"text": "x", "reply": {"in_reply_to_tweet_id": "999"}},
    )
    assert r.status_code == 403
    assert "deleted or not visible" in r.json()["detail"]


def test_delete(http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens) -> None:
    post_id = http.post("/2/tweets", headers=user(brand), json={"text": "oops"}).json()["data"][
        "id"
    ]
    other = ctl.create_account("carol")
    r = http.delete(f"/2/tweets/{post_id}", headers=user(other))
    assert r.status_code == 403
    r = http.delete(f"/2/tweets/{post_id}", headers=user(brand))
    assert r.json() == {"data": {"deleted": True}}
    assert "errors" in http.get(f"/2/tweets/{post_id}", headers=app(ctl)).json()
    # the text may be posted again once deleted
    assert http.post("/2/tweets", headers=user(brand), json={"text": "oops"}).status_code == 201


def _search(http: httpx.Client, ctl: EmulatorControl, **params: str | int) -> httpx.Response:
    return http.get("/2/tweets/search/recent", headers=app(ctl), params=params)


def test_search_operators_and_pagination(http: httpx.Client, ctl: EmulatorControl) -> None:
    ctl.create_account("alice")
    ctl.create_account("bob")
    ids = [ctl.post("alice", f"question {i} #AskAirbus") for i in range(25)]
    reply = ctl.post("bob", "@alice same #AskAirbus", in_reply_to_tweet_id=ids[0])
    rt = ctl.post("bob", "RT @alice: question 1 #AskAirbus", retweet_of_id=ids[1])
    fr = ctl.post("bob", "Pourquoi? #AskAirbus", lang="fr")
    ctl.post("bob", "unrelated")
    r = _search(http, ctl, query="#askairbus", max_results=10)
    page1 = r.json()
    assert [t["id"] for t in page1["data"]] == [fr, reply, *reversed(ids[-8:])]
    assert rt not in [t["id"] for t in page1["data"]]  # search no longer returns retweets
    assert page1["meta"]["result_count"] == 10
    assert page1["meta"]["newest_id"] == fr
    seen = [t["id"] for t in page1["data"]]
    token = page1["meta"]["next_token"]
    while token:
        page = _search(http, ctl, query="#askairbus", max_results=10, next_token=token).json()
        seen += [t["id"] for t in page["data"]]
        token = page["meta"].get("next_token")
    assert len(seen) == len(set(seen)) == 27
    assert [t["id"] for t in _search(http, ctl, query="#AskAirbus is:retweet").json()["data"]] == [
        rt
    ]
    r = _search(http, ctl, query="#AskAirbus -is:reply -is:retweet from:bob")
    assert [t["id"] for t in r.json()["data"]] == [fr]
    assert [t["id"] for t in _search(http, ctl, query="#AskAirbus lang:fr").json()["data"]] == [fr]
    r = _search(http, ctl, query="(@alice OR pourquoi) #AskAirbus")
    assert [t["id"] for t in r.json()["data"]] == [fr, reply]
    # since_id / until_id are exclusive
    r = _search(http, ctl, query="#AskAirbus from:alice", since_id=ids[20], until_id=ids[23])
    assert [t["id"] for t in r.json()["data"]] == [ids[22], ids[21]]
    r = _search(http, ctl, query="#nothing")
    assert r.json() == {"meta": {"result_count": 0}}


def test_search_bad_params(http: httpx.Client, ctl: EmulatorControl) -> None:
    cases = [
        ({"query": "#a", "max_results": 5}, "max_results"),
        ({"query": "#a", "max_results": 101}, "max_results"),
        ({"query": "#a", "max_results": "ten"}, "max_results"),
        ({"query": "x" * 5000}, "query"),
        ({"query": "(#a"}, "query"),
        ({"query": "#a", "tweet.fields": "text,colour"}, "tweet.fields"),
        ({"query": "#a", "expansions": "everything"}, "expansions"),
        ({"query": "#a", "since_id": "abc"}, "since_id"),
        ({"query": "#a", "next_token": "garbage"}, "next_token"),
        ({"query": "#a", "colour": "red"}, "colour"),
        ({}, "query"),
    ]
    for params, name in cases:
        r = _search(http, ctl, **params)
        assert r.status_code == 400, params
        body = r.json()
        assert body["type"] == INVALID
        assert body["title"] == "Invalid Request"
        assert name in body["errors"][0]["parameters"], body


def test_mentions_and_user_tweets(
    http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens
) -> None:
    ctl.create_account("alice")
    m1 = ctl.post("alice", "@AirbusExpert first")
    ctl.post("alice", "no mention")
    m2 = ctl.post("alice", "@airbusexpert second")
    r = http.get(
        f"/2/users/{brand.id}/mentions",
        headers=user(brand),
        params={"max_results": 5, "expansions": "author_id"},
    )
    assert [t["id"] for t in r.json()["data"]] == [m2, m1]
    assert r.json()["includes"]["users"][0]["username"] == "alice"
    r = http.get(f"/2/users/{brand.id}/mentions", headers=user(brand), params={"since_id": m1})
    assert [t["id"] for t in r.json()["data"]] == [m2]
    mine = http.post("/2/tweets", headers=user(brand), json={"text": "hello"}).json()["data"]["id"]
    r = http.get(f"/2/users/{brand.id}/tweets", headers=app(ctl))
    assert [t["id"] for t in r.json()["data"]] == [mine]
    r = http.get(f"/2/users/{brand.id}/mentions", headers=user(brand), params={"max_results": 4})
    assert r.status_code == 400
    old = ctl.post("alice", "@AirbusExpert long ago", created_at="2024-05-01T12:00:00Z")
    r = http.get(
        f"/2/users/{brand.id}/mentions",
        headers=user(brand),
        params={"end_time": "2025-01-01T00:00:00Z"},
    )
    assert [t["id"] for t in r.json()["data"]] == [old]
    r = http.get(f"/2/users/{brand.id}/mentions", headers=user(brand), params={"end_time": "soon"})
    assert r.status_code == 400


def test_unknown_route_is_json_404(http: httpx.Client) -> None:
    r = http.get("/2/nothing/here")
    assert r.status_code == 404
    assert r.json()["type"] == "about:blank"


def test_timeline_page_escapes_text(
    http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens
) -> None:
    ctl.create_account("mallory")
    q = ctl.post("mallory", "<script>alert(1)</script> @AirbusExpert?")
    http.post(
        "/2/tweets",
        headers=user(brand),
        json={"text": "Answer & more", "reply": {"in_reply_to_tweet_id": q}},
    )
    r = http.get("/_emulator/timeline/AirbusExpert")
    assert r.status_code == 200
    assert "<script>" not in r.text
    assert "&lt;script&gt;" in r.text
    assert "Answer &amp; more" in r.text
    assert r.text.index("@mallory") < r.text.index("@AirbusExpert ·")
    assert "<p class='meta'>1 post · 1 conversation</p>" in r.text  # the plural rule
    assert http.get("/_emulator/timeline/nobody").status_code == 404


def test_reply_settings_of_the_target_are_enforced(
    http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens
) -> None:
    ctl.policy(summoned_replies_only=False)
    ctl.create_account("dana")
    closed = ctl.post("dana", "No replies please #AskAirbus", reply_settings="mentionedUsers")
    r = http.post(
        "/2/tweets",
        headers=user(brand),
        json={"text": "hi", "reply": {"in_reply_to_tweet_id": closed}},
    )
    assert r.status_code == 403
    assert r.json()["detail"].startswith("Reply to this conversation is not allowed")
    summoned = ctl.post("dana", "@AirbusExpert only you", reply_settings="mentionedUsers")
    r = http.post(
        "/2/tweets",
        headers=user(brand),
        json={"text": "hi", "reply": {"in_reply_to_tweet_id": summoned}},
    )
    assert r.status_code == 201


def test_long_injected_posts_become_note_posts(http: httpx.Client, ctl: EmulatorControl) -> None:
    ctl.create_account("erin")
    long_text = "A long question about composite wings. " * 12 + "#AskAirbus"
    post_id = ctl.post("erin", long_text)
    r = http.get(
        f"/2/tweets/{post_id}", headers=app(ctl), params={"tweet.fields": "note_tweet,lang"}
    )
    data = r.json()["data"]
    assert data["note_tweet"]["text"] == long_text
    assert data["note_tweet"]["entities"]["hashtags"][0]["tag"] == "AskAirbus"
    assert len(data["text"]) < len(long_text)
    # the hashtag only in the note part still matches search
    found = http.get(
        "/2/tweets/search/recent", headers=app(ctl), params={"query": "#AskAirbus"}
    ).json()
    assert [t["id"] for t in found["data"]] == [post_id]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    query=st.text(max_size=80),
    extra=st.dictionaries(
        st.sampled_from(
            [
                "max_results",
                "since_id",
                "next_token",
                "tweet.fields",
                "expansions",
                "start_time",
                "sort_order",
            ]
        ),
        st.text(max_size=12),
        max_size=3,
    ),
    body=json_values,
)
def test_garbage_never_gets_a_5xx(
    server: EmulatorServer, query: str, extra: dict[str, str], body: object
) -> None:
    ctl = EmulatorControl(server.base_url)
    bearer = {"authorization": f"Bearer {ctl.app()['bearer_token']}"}
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        r = client.get("/2/tweets/search/recent", headers=bearer, params={"query": query, **extra})
        assert r.status_code in (200, 400, 402, 429), r.text
        r = client.post("/2/tweets/search/stream/rules", headers=bearer, json=body)
        assert r.status_code in (200, 400), r.text
        r = client.post(
            "/2/tweets/search/stream/rules",
            headers=bearer,
            json={"add": [{"value": query}]},
            params={"dry_run": "true"},
        )
        assert r.status_code in (200, 400), r.text
        with contextlib.suppress(ControlError):
            ctl.create_account("fuzzer")
        r = client.post("/_emulator/tweets", json={"username": "fuzzer", "text": query or "x"})
        assert r.status_code in (201, 400, 404), r.text


def test_full_archive_search_hidden_replies_and_community(
    http: httpx.Client, ctl: EmulatorControl, brand: AccountTokens
) -> None:
    ctl.create_account("fan")
    old = ctl.post("fan", "an old #AskAirbus question", created_at="2020-01-01T00:00:00Z")
    new = ctl.post("fan", "a new #AskAirbus question")
    recent = http.get("/2/tweets/search/recent", headers=app(ctl), params={"query": "#AskAirbus"})
    assert [t["id"] for t in recent.json()["data"]] == [new]
    archive = http.get(
        "/2/tweets/search/all", headers=app(ctl), params={"query": "#AskAirbus", "max_results": 500}
    )
    assert [t["id"] for t in archive.json()["data"]] == [new, old]
    # hide a reply under the brand's own post
    root = http.post("/2/tweets", headers=user(brand), json={"text": "Ask away"}).json()["data"]
    reply = ctl.post("fan", "@AirbusExpert spam", in_reply_to_tweet_id=root["id"])
    r = http.put(f"/2/tweets/{reply}/hidden", headers=user(brand), json={"hidden": True})
    assert r.json() == {"data": {"hidden": True}}
    assert "hidden reply" in http.get("/_emulator/timeline/AirbusExpert").text
    r = http.put(f"/2/tweets/{new}/hidden", headers=user(brand), json={"hidden": True})
    assert r.status_code == 403
    r = http.put(f"/2/tweets/{reply}/hidden", headers=user(brand), json={"hide": True})
    assert r.status_code == 400
    r = http.post(
        "/2/tweets", headers=user(brand), json={"text": "In the club", "community_id": "123456789"}
    )
    assert r.json()["data"]["community_id"] == "123456789"


def test_emulator_cli_command_parses() -> None:
    import argparse

    from atexpert.emulator import add_emulator_command

    parser = argparse.ArgumentParser(prog="atexpert")
    add_emulator_command(parser.add_subparsers())
    args = parser.parse_args(["emulator", "--host", "0.0.0.0", "--port", "8401"])
    assert (args.host, args.port, args.snapshot) == ("0.0.0.0", 8401, None)
    assert callable(args.func)


def test_index_page_lists_accounts(http: httpx.Client, ctl: EmulatorControl) -> None:
    ctl.create_account("zoe", "Zoë <Z>")
    page = http.get("/_emulator/", params={"refresh": "3"}).text
    assert "/_emulator/timeline/zoe" in page
    assert "Zoë &lt;Z&gt;" in page
    assert "Zoë &lt;Z&gt; · 0 posts</li>" in page
    assert "http-equiv='refresh' content='3'" in page
