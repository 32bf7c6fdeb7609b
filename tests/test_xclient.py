"""atexpert.x.client routes tweepy's hardcoded X origin to a configurable base URL.

These tests use a tiny local echo server (real HTTP via uvicorn), so they hold without
the emulator: every request must reach it, with tweepy's path, query, auth header and
body intact, and OAuth 1.0a signatures must verify against ``https://api.twitter.com``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote

import pytest
import tweepy
import uvicorn
from oauthlib.oauth1.rfc5849 import signature
from oauthlib.oauth1.rfc5849.utils import escape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from yarl import URL

from atexpert.settings import Settings
from atexpert.x.client import (
    X_ORIGIN,
    OAuth1Token,
    RoutingAdapter,
    StreamingClient,
    async_client,
    make_client,
    make_streaming_client,
    make_sync_streaming_client,
    normalize_base_url,
    route_url,
    uses_oauth1,
)
from tests.support.waiting import wait_for as wait_until

CONSUMER = ("ck-123", "cs-456")
USER_OAUTH1 = OAuth1Token("42-usertoken", "user-secret")


def oauth1_signature_ok(method: str, url: str, authorization: str, query: str) -> bool:
    """Verify an HMAC-SHA1 OAuth 1.0a signature computed over ``url``."""
    params = signature.collect_parameters(
        uri_query=query, headers={"Authorization": authorization}, exclude_oauth_signature=True
    )
    oauth = dict(
        signature.collect_parameters(
            headers={"Authorization": authorization}, exclude_oauth_signature=False
        )
    )
    base = signature.signature_base_string(
        method, signature.base_string_uri(url), signature.normalize_parameters(params)
    )
    key = f"{escape(CONSUMER[1])}&{escape(USER_OAUTH1.secret)}".encode()
    expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha1).digest()).decode()
    return hmac.compare_digest(unquote(oauth["oauth_signature"]), expected)


@dataclass
class Echo:
    """What the echo server saw, request by request."""

    base_url: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    stream_connects: int = 0


def _echo_app(echo: Echo) -> Starlette:
    async def record(request: Request) -> dict[str, Any]:
        auth = request.headers.get("authorization", "")
        query = request.url.query
        seen = {
            "method": request.method,
            "path": request.url.path,
            "query": query,
            "host": request.headers.get("host"),
            "authorization": auth,
            "body": (await request.body()).decode(),
            "oauth1_canonical": auth.startswith("OAuth ")
            and oauth1_signature_ok(request.method, X_ORIGIN + request.url.path, auth, query),
            "oauth1_actual": auth.startswith("OAuth ")
            and oauth1_signature_ok(
                request.method,
                str(request.url.remove_query_params(list(request.query_params.keys()))),
                auth,
                query,
            ),
        }
        echo.seen.append(seen)
        return seen

    async def anything(request: Request) -> Response:
        seen = await record(request)
        user = {"id": "42", "name": "Echo", "username": "echo"}
        status = 201 if request.method == "POST" else 200
        return JSONResponse({"data": {**user, "text": "echo", "echo": seen}}, status_code=status)

    async def stream(request: Request) -> Response:
        await record(request)
        echo.stream_connects += 1
        line = {
            "data": {
                "id": str(echo.stream_connects),
                "text": "hi",
                "edit_history_tweet_ids": [str(echo.stream_connects)],
            },
            "matching_rules": [{"id": "1", "tag": "t"}],
        }

        async def body() -> AsyncIterator[bytes]:
            yield b"\r\n"
            yield json.dumps(line).encode() + b"\r\n"

        return StreamingResponse(body(), media_type="application/json")

    return Starlette(
        routes=[
            Route("/2/tweets/search/stream", stream),
            Route("/{path:path}", anything, methods=["GET", "POST", "DELETE", "PUT"]),
        ]
    )


@pytest.fixture(scope="module")
def echo() -> Iterator[Echo]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    result = Echo(base_url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn.Config(_echo_app(result), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    # Poll with sleep, not thread.join(timeout): under libfaketime a timed lock wait
    # (CPython's sem_clockwait, which libfaketime 0.9.10 does not wrap) never returns.
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "echo server did not start"
        time.sleep(0.01)
    yield result
    server.should_exit = True
    thread.join(10)
    sock.close()


def _settings(base_url: str) -> Settings:
    return Settings(
        x_api_base_url=base_url,
        x_consumer_key=CONSUMER[0],
        x_consumer_secret=CONSUMER[1],
        x_bearer_token="app-bearer",
    )


# -- pure URL routing ----------------------------------------------------------------


def test_route_url_maps_x_origin_onto_base_with_port_and_prefix() -> None:
    base = normalize_base_url("http://127.0.0.1:8080/x/")
    url = URL("https://api.twitter.com/2/tweets/search/recent?query=%23a%3Ab", encoded=True)
    routed = route_url(url, base)
    assert str(routed) == "http://127.0.0.1:8080/x/2/tweets/search/recent?query=%23a%3Ab"


def test_route_url_keeps_other_urls() -> None:
    base = normalize_base_url("http://127.0.0.1:8080")
    for url in ("https://example.com/2/tweets", "http://api.twitter.com/2/tweets"):
        assert route_url(URL(url), base) == URL(url)


@pytest.mark.parametrize("bad", ["127.0.0.1:8080", "ftp://x", "http://h/?q=1", "/2/tweets"])
def test_bad_base_url_is_refused_clearly(bad: str) -> None:
    with pytest.raises(ValueError, match="X API base URL"):
        normalize_base_url(bad)


@pytest.mark.parametrize("base", [X_ORIGIN, X_ORIGIN + "/", "https://api.twitter.com:443"])
def test_real_x_base_url_mounts_no_routing(base: str) -> None:
    client = make_client(_settings(base))
    assert not isinstance(client.session.get_adapter(X_ORIGIN + "/2/tweets"), RoutingAdapter)


# -- sync tweepy.Client --------------------------------------------------------------


def test_sync_app_bearer_request_reaches_base_url(echo: Echo) -> None:
    client = make_client(_settings(echo.base_url))
    client.return_type = dict
    seen = client.get_user(username="alice", user_fields=["created_at"])["data"]["echo"]
    assert seen["path"] == "/2/users/by/username/alice"
    assert seen["query"] == "user.fields=created_at"
    assert seen["host"] == echo.base_url.removeprefix("http://")
    assert seen["authorization"] == "Bearer app-bearer"


def test_sync_oauth1_signature_verifies_against_x_origin(echo: Echo) -> None:
    client = make_client(_settings(echo.base_url), oauth1=USER_OAUTH1)
    client.return_type = dict
    assert uses_oauth1(client)
    seen = client.create_tweet(text="hello", user_auth=uses_oauth1(client))["data"]["echo"]
    assert (seen["method"], seen["path"]) == ("POST", "/2/tweets")
    assert json.loads(seen["body"]) == {"text": "hello"}
    assert seen["oauth1_canonical"] and not seen["oauth1_actual"]
    seen = client.get_me(user_fields=["id", "username"])["data"]["echo"]
    assert seen["oauth1_canonical"], "query parameters are part of the signed base string"


def test_sync_oauth2_user_token_replaces_bearer(echo: Echo) -> None:
    client = make_client(_settings(echo.base_url), user_access_token="user-oauth2")
    client.return_type = dict
    assert not uses_oauth1(client)
    seen = client.delete_tweet("7", user_auth=uses_oauth1(client))["data"]["echo"]
    assert (seen["method"], seen["path"]) == ("DELETE", "/2/tweets/7")
    assert seen["authorization"] == "Bearer user-oauth2"


def test_both_user_credentials_is_an_error() -> None:
    with pytest.raises(ValueError, match="either"):
        make_client(_settings(X_ORIGIN), user_access_token="a", oauth1=USER_OAUTH1)


def test_sync_streaming_client_reaches_base_url(echo: Echo) -> None:
    class OneTweet(tweepy.StreamingClient):  # type: ignore[misc]
        tweets: ClassVar[list[str]] = []

        def on_tweet(self, tweet: tweepy.Tweet) -> None:
            self.tweets.append(tweet.id)
            self.disconnect()

    stream = make_sync_streaming_client(_settings(echo.base_url), cls=OneTweet)
    stream.filter()
    assert OneTweet.tweets
    assert echo.seen[-1]["path"] == "/2/tweets/search/stream"
    assert echo.seen[-1]["authorization"] == "Bearer app-bearer"


# -- async tweepy.asynchronous.AsyncClient / AsyncStreamingClient -------------------


async def test_async_oauth2_user_token_and_oauth1_signature(echo: Echo) -> None:
    async with async_client(_settings(echo.base_url), user_access_token="user-oauth2") as client:
        client.return_type = dict
        seen = (await client.get_me(user_auth=uses_oauth1(client)))["data"]["echo"]
        assert seen["authorization"] == "Bearer user-oauth2"
        assert seen["host"] == echo.base_url.removeprefix("http://")
    async with async_client(_settings(echo.base_url), oauth1=USER_OAUTH1) as client:
        client.return_type = dict
        seen = (await client.get_me(user_fields=["created_at", "id"]))["data"]["echo"]
        assert seen["path"] == "/2/users/me"
        assert seen["oauth1_canonical"] and not seen["oauth1_actual"]
        seen = (await client.create_tweet(text="hi", in_reply_to_tweet_id="5"))["data"]["echo"]
        assert json.loads(seen["body"]) == {"text": "hi", "reply": {"in_reply_to_tweet_id": "5"}}
        assert seen["oauth1_canonical"]
    assert client.session.closed


async def test_async_search_query_survives_routing(echo: Echo) -> None:
    async with async_client(_settings(echo.base_url)) as client:
        client.return_type = dict
        response = await client.search_recent_tweets("#AskAirbus -is:retweet", max_results=10)
        seen = response["data"]["echo"]
    assert seen["path"] == "/2/tweets/search/recent"
    assert parse_qs(seen["query"]) == {
        "query": ["#AskAirbus -is:retweet"],
        "max_results": ["10"],
    }


class _Collect(StreamingClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tweets: list[str] = []
        self.tags: list[str] = []
        self.got = asyncio.Event()

    async def on_tweet(self, tweet: tweepy.Tweet) -> None:
        self.tweets.append(tweet.id)

    async def on_matching_rules(self, matching_rules: list[tweepy.StreamRule]) -> None:
        self.tags.extend(rule.tag for rule in matching_rules)
        self.got.set()


async def _filter_until_reconnected(stream: StreamingClient, echo: Echo) -> None:
    target = echo.stream_connects + 2
    stream.filter()
    await wait_until(lambda: echo.stream_connects >= target)


async def test_async_stream_stays_routed_after_tweepy_closes_its_session(echo: Echo) -> None:
    """tweepy closes the session when a stream ends; the next filter() must not go to X.

    The echo ends every stream after one tweet, so tweepy also reconnects by itself.
    """
    stream = make_streaming_client(_settings(echo.base_url), cls=_Collect)
    assert isinstance(stream, _Collect)
    stream.return_type = dict
    try:
        rules = await stream.get_rules()
        assert rules["data"]["echo"]["path"] == "/2/tweets/search/stream/rules"
        for _ in range(2):
            await _filter_until_reconnected(stream, echo)
            stream.disconnect()
            assert stream.task is not None
            await asyncio.gather(stream.task, return_exceptions=True)
            assert stream.session is not None and stream.session.closed
        assert set(stream.tags) == {"t"}
    finally:
        await stream.close()


async def test_async_stream_close_cancels_a_running_stream(echo: Echo) -> None:
    stream = make_streaming_client(_settings(echo.base_url), cls=_Collect)
    assert isinstance(stream, _Collect)
    try:
        stream.filter()
        await asyncio.wait_for(stream.got.wait(), 10)
    finally:
        await stream.close()
    assert stream.task is not None and stream.task.done()
    assert stream.session is not None and stream.session.closed


def test_streaming_client_needs_a_bearer() -> None:
    with pytest.raises(ValueError, match="bearer"):
        make_streaming_client(Settings(x_bearer_token=None))
    with pytest.raises(ValueError, match="bearer"):
        make_sync_streaming_client(Settings(x_bearer_token=None))
