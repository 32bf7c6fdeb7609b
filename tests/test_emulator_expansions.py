"""The emulator's expansions as X documents them (docs.x.com, "Expansions"): a post
fetched with an id expansion carries the field that links it to ``includes`` even when
``tweet.fields`` does not ask for it, on every endpoint that returns posts; bodies
validate against X's OpenAPI spec in ``../shared`` (skipped with the reason when absent).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.emulator.params import POST_EXPANSIONS, USER_EXPANSIONS
from atexpert.settings import Settings
from atexpert.x.client import make_client
from tests.support import emulator_fixtures, xspec
from tests.support.conformance_world import ConformanceWorld, seed_conformance_world

server, control = emulator_fixtures.server, emulator_fixtures.control

#: expansion -> the field of ``data`` it links by (X sends it with the expansion alone).
LINKS = {
    "author_id": "author_id",
    "in_reply_to_user_id": "in_reply_to_user_id",
    "referenced_tweets.id": "referenced_tweets",
    "referenced_tweets.id.author_id": "referenced_tweets",
    "referenced_posts": "referenced_posts",
    "entities.mentions.username": "entities",
}
BASE_KEYS = {"id", "text", "edit_history_tweet_ids"}


def _endpoints(w: ConformanceWorld) -> dict[str, tuple[str, dict[str, str]]]:
    """Every endpoint that returns posts, each asked so that ``w.reply`` is among them."""
    return {
        "tweet": (f"/2/tweets/{w.reply}", {}),
        "tweets": ("/2/tweets", {"ids": f"{w.reply},{w.question}"}),
        "search": ("/2/tweets/search/recent", {"query": "follow-up"}),
        "user_tweets": (f"/2/users/{w.fan.id}/tweets", {}),
        "mentions": (f"/2/users/{w.fan.id}/mentions", {}),
    }


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    data = body["data"]
    return data if isinstance(data, list) else [data]


def _check_link(expansion: str, w: ConformanceWorld, body: dict[str, Any], asked: set[str]) -> None:
    """The linking field is in ``data`` and joins to what ``includes`` holds; ``data``
    carries no field beyond those the ``asked`` expansions link by."""
    users = {u["id"]: u for u in body.get("includes", {}).get("users", [])}
    tweets = {t["id"]: t for t in body.get("includes", {}).get("tweets", [])}
    [reply] = [p for p in _items(body) if p["id"] == w.reply]
    field = LINKS[expansion]
    assert field in reply, f"{expansion}: {field} missing from data: {reply}"
    if expansion == "author_id":
        for post in _items(body):
            assert users[post["author_id"]]["username"] in ("fan_1", "Airbus")
    elif expansion == "in_reply_to_user_id":
        assert users[reply["in_reply_to_user_id"]]["username"] == "fan_1"
    elif expansion == "entities.mentions.username":
        [mention] = reply["entities"]["mentions"]
        assert mention["username"] in {u["username"] for u in users.values()}
    else:
        [ref] = reply[field]
        assert ref == {"type": "replied_to", "id": w.question}
        assert ref["id"] in tweets
        if expansion == "referenced_tweets.id.author_id":
            assert users[tweets[ref["id"]]["author_id"]]["username"] == "fan_1"
    extra = set(reply) - BASE_KEYS - {LINKS[e] for e in asked}
    assert not extra, f"fields nobody asked for: {extra}"


@pytest.mark.parametrize("expansion", sorted(LINKS))
@pytest.mark.parametrize("endpoint", ["tweet", "tweets", "search", "user_tweets", "mentions"])
def test_an_expansion_carries_its_linking_field(
    endpoint: str, expansion: str, server: EmulatorServer, control: EmulatorControl
) -> None:
    world = seed_conformance_world(control)
    path, params = _endpoints(world)[endpoint]
    params = {**params, "expansions": expansion}  # and no tweet.fields at all
    auth = {"authorization": f"Bearer {world.bearer}"}
    r = httpx.get(server.base_url + path, params=params, headers=auth, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    _check_link(expansion, world, body, {expansion})
    if xspec.SPEC_PATH.is_file():
        xspec.validate("GET", path, 200, body, content_type=r.headers["content-type"])


async def test_the_stream_carries_linking_fields(
    server: EmulatorServer, control: EmulatorControl
) -> None:
    world = seed_conformance_world(control)
    auth = {"authorization": f"Bearer {world.bearer}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=auth, timeout=10) as client:
        rule = {"add": [{"value": "follow-up", "tag": "ama"}]}
        assert (await client.post("/2/tweets/search/stream/rules", json=rule)).status_code == 200
        asked = set(LINKS) - {"referenced_posts"}
        params = {"expansions": ",".join(sorted(asked))}
        async with client.stream("GET", "/2/tweets/search/stream", params=params) as stream:
            assert stream.status_code == 200
            world.reply = control.post(
                "fan_1", "@fan_1 one more follow-up", in_reply_to_tweet_id=world.question
            )
            lines = stream.aiter_lines()
            line = ""
            while not line.strip():
                line = await anext(lines)
    body = json.loads(line)
    for expansion in asked:
        _check_link(expansion, world, body, asked)
    if xspec.SPEC_PATH.is_file():
        xspec.validate_stream_line(body)


def test_the_spec_expansions_are_all_accepted() -> None:
    xspec.require_spec()
    spec = json.loads(xspec.SPEC_PATH.read_text(encoding="utf-8"))
    parameters = spec["components"]["parameters"]

    def enum(name: str) -> set[str]:
        return set(parameters[name]["schema"]["items"]["enum"])

    assert enum("PostExpansionsParameter") <= POST_EXPANSIONS
    assert enum("UserExpansionsParameter") <= USER_EXPANSIONS


@pytest.mark.parametrize("call", ["get_tweet", "search_recent_tweets", "get_users_mentions"])
def test_tweepy_joins_posts_to_their_authors_without_asking_for_author_id(
    call: str, server: EmulatorServer, control: EmulatorControl
) -> None:
    """What intake and any client do: ``expansions=author_id`` and no ``tweet.fields``,
    then look each post's author up in ``includes.users`` by ``author_id``."""
    world = seed_conformance_world(control)
    client = make_client(Settings(x_api_base_url=server.base_url, x_bearer_token=world.bearer))
    requests = {
        "get_tweet": lambda: client.get_tweet(world.reply, expansions=["author_id"]),
        "search_recent_tweets": lambda: client.search_recent_tweets(
            "#AskAirbus -from:Airbus", expansions=["author_id"]
        ),
        "get_users_mentions": lambda: client.get_users_mentions(
            world.brand.id, expansions=["author_id"]
        ),
    }
    response = requests[call]()
    posts = response.data if isinstance(response.data, list) else [response.data]
    authors = {user.id: user for user in response.includes["users"]}
    assert posts
    for post in posts:
        assert post.author_id is not None, f"{post.id}: no author_id to join by"
        assert authors[post.author_id].username == "fan_1"
