"""The real tweepy clients (async, as the app uses them; sync where noted) against the
emulator over real HTTP, through atexpert.x.client: every endpoint atexpert uses and its
error paths, as a user of the X API would see them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import tweepy
from tweepy.asynchronous import AsyncClient, AsyncPaginator

from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from atexpert.settings import Settings
from atexpert.x.client import (
    AuthorizationRequest,
    OAuth1Token,
    StreamingClient,
    XAuthError,
    async_client,
    authorization_request,
    exchange_code,
    make_client,
    make_streaming_client,
    make_sync_streaming_client,
    refresh_user_token,
    uses_oauth1,
)
from tests.support import emulator_fixtures
from tests.support.waiting import wait_for as wait_until

server, control = emulator_fixtures.server, emulator_fixtures.control

NOT_SUMMONED = "You can only reply to or quote posts where you are mentioned or are the author."
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."


@pytest.fixture
def settings(server: EmulatorServer, control: EmulatorControl) -> Settings:
    app = control.app()
    return Settings(
        x_api_base_url=server.base_url,
        x_consumer_key=app["consumer_key"],
        x_consumer_secret=app["consumer_secret"],
        x_bearer_token=app["bearer_token"],
        x_client_id=app["client_id"],
        x_client_secret=app["client_secret"],
    )


@pytest.fixture
def brand(control: EmulatorControl) -> AccountTokens:
    return control.create_account("Airbus", "Airbus")


@pytest.fixture
def fan(control: EmulatorControl) -> AccountTokens:
    return control.create_account("fan_1", "A Fan")


@pytest.fixture
async def brand_client(settings: Settings, brand: AccountTokens) -> AsyncIterator[AsyncClient]:
    """The brand's account through an OAuth 2.0 user token (how atexpert publishes)."""
    async with async_client(settings, user_access_token=brand.oauth2_access_token) as client:
        yield client


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[AsyncClient]:
    async with async_client(settings) as client:
        yield client


def ids(items: list[Any] | None) -> list[str]:
    """tweepy parses ids as int; the emulator and X send strings."""
    return [str(item.id) for item in items or []]


def oauth1(account: AccountTokens) -> OAuth1Token:
    return OAuth1Token(account.access_token, account.access_token_secret)


# -- users -------------------------------------------------------------------------


async def test_users_me_with_oauth2_user_token_and_oauth1(
    settings: Settings, brand: AccountTokens, brand_client: AsyncClient
) -> None:
    me = (await brand_client.get_me(user_auth=uses_oauth1(brand_client))).data
    assert (str(me.id), me.username, me.name) == (brand.id, "Airbus", "Airbus")
    async with async_client(settings, oauth1=oauth1(brand)) as client:
        me = (await client.get_me(user_fields=["created_at", "description"])).data
    assert str(me.id) == brand.id and me.created_at is not None
    sync = make_client(settings, oauth1=oauth1(brand))
    assert sync.get_me().data.username == "Airbus"


async def test_users_by_username_found_and_missing(
    app_client: AsyncClient, fan: AccountTokens
) -> None:
    user = (await app_client.get_user(username="FAN_1", user_fields=["created_at"])).data
    assert (str(user.id), user.username) == (fan.id, "fan_1")
    missing = await app_client.get_user(username="nobody_here")
    assert missing.data is None
    assert missing.errors[0]["title"] == "Not Found Error"
    with pytest.raises(tweepy.BadRequest):
        await app_client.get_user(username="not a valid name")


async def test_users_tweets_pages_newest_first(
    control: EmulatorControl, app_client: AsyncClient, fan: AccountTokens
) -> None:
    posted = [control.post("fan_1", f"post number {i}") for i in range(23)]
    seen: list[str] = []
    pages = 0
    async for page in AsyncPaginator(app_client.get_users_tweets, fan.id, max_results=10):
        pages += 1
        seen.extend(str(tweet.id) for tweet in page.data or [])
    assert pages == 3
    assert seen == list(reversed(posted))
    newer = await app_client.get_users_tweets(fan.id, since_id=posted[20])
    assert ids(newer.data) == [posted[22], posted[21]]


async def test_users_mentions_sees_questions_to_the_brand(
    control: EmulatorControl, brand: AccountTokens, brand_client: AsyncClient
) -> None:
    control.create_account("fan_2")
    first = control.post("fan_2", "@Airbus how do winglets work? #AskAirbus")
    control.post("fan_2", "no mention here #AskAirbus")
    second = control.post("fan_2", "@airbus and the A350? #AskAirbus")
    mentions = await brand_client.get_users_mentions(
        brand.id, tweet_fields=["author_id"], user_auth=uses_oauth1(brand_client)
    )
    assert ids(mentions.data) == [second, first]
    later = await brand_client.get_users_mentions(brand.id, since_id=first)
    assert ids(later.data) == [second]


# -- tweets lookup -----------------------------------------------------------------


async def test_tweet_lookup_with_fields_and_author_expansion(
    control: EmulatorControl, app_client: AsyncClient, fan: AccountTokens
) -> None:
    root = control.post("fan_1", "Question one #AskAirbus", lang="en")
    reply = control.post("fan_1", "@fan_1 follow-up", in_reply_to_tweet_id=root)
    response = await app_client.get_tweet(
        reply,
        expansions=["author_id"],
        tweet_fields=["author_id", "conversation_id", "referenced_tweets", "reply_settings"],
        user_fields=["username"],
    )
    tweet = response.data
    assert str(tweet.conversation_id) == root and str(tweet.author_id) == fan.id
    assert [(r.type, str(r.id)) for r in tweet.referenced_tweets] == [("replied_to", root)]
    assert tweet.reply_settings == "everyone"
    assert [u.username for u in response.includes["users"]] == ["fan_1"]


async def test_long_post_carries_note_tweet(
    control: EmulatorControl, app_client: AsyncClient, fan: AccountTokens
) -> None:
    long_text = "A very long question about aircraft. " * 12
    post = control.post("fan_1", long_text.strip())
    tweet = (await app_client.get_tweet(post, tweet_fields=["note_tweet"])).data
    assert tweet.note_tweet["text"] == long_text.strip()
    assert len(tweet.text) <= 280


async def test_tweets_by_ids_reports_missing_ones(
    control: EmulatorControl, app_client: AsyncClient, fan: AccountTokens
) -> None:
    a = control.post("fan_1", "first")
    b = control.post("fan_1", "second")
    response = await app_client.get_tweets([a, "1", b])
    assert ids(response.data) == [a, b]
    assert [e["resource_id"] for e in response.errors] == ["1"]


# -- search ------------------------------------------------------------------------


async def test_search_operators(
    control: EmulatorControl, app_client: AsyncClient, brand: AccountTokens
) -> None:
    for name in ("bob", "carol", "dave"):
        control.create_account(name)
    q1 = control.post("bob", "How are wings made? #AskAirbus", lang="en")
    q2 = control.post("carol", "Comment sont faits les moteurs ? #AskAirbus", lang="fr")
    q3 = control.post("dave", "@Airbus what about fuel? #askairbus", lang="en")
    control.post("bob", "RT @carol: Comment sont faits les moteurs ? #AskAirbus", retweet_of_id=q2)
    reply = control.post("dave", "@bob good one #AskAirbus", in_reply_to_tweet_id=q1)
    control.post("bob", "unrelated chatter")

    async def search(query: str) -> list[str]:
        return ids((await app_client.search_recent_tweets(query, max_results=10)).data)

    assert await search("#AskAirbus") == [reply, q3, q2, q1]
    assert await search("#AskAirbus -is:retweet -is:reply") == [q3, q2, q1]
    assert await search("#AskAirbus lang:fr") == [q2]
    assert await search("(from:bob OR from:carol) #AskAirbus -is:reply") == [q2, q1]
    assert await search("@Airbus") == [q3]
    assert await search("#AskAirbus is:retweet") != []


async def test_search_since_until_are_exclusive_and_pagination(
    control: EmulatorControl, app_client: AsyncClient
) -> None:
    control.create_account("bob")
    posted = [control.post("bob", f"question {i} #AskAirbus") for i in range(25)]
    window = await app_client.search_recent_tweets(
        "#AskAirbus", since_id=posted[3], until_id=posted[7], max_results=10
    )
    assert ids(window.data) == [posted[6], posted[5], posted[4]]
    seen: list[str] = []
    async for page in AsyncPaginator(app_client.search_recent_tweets, "#AskAirbus", max_results=10):
        assert page.meta["result_count"] == len(page.data)
        seen.extend(ids(page.data))
    assert seen == list(reversed(posted))


async def test_empty_search_and_bad_parameters(app_client: AsyncClient) -> None:
    empty = await app_client.search_recent_tweets("#NothingHere")
    assert empty.data is None and empty.meta == {"result_count": 0}
    with pytest.raises(tweepy.BadRequest) as bad:
        await app_client.search_recent_tweets("#AskAirbus", max_results=5)
    assert "max_results" in str(bad.value)
    with pytest.raises(tweepy.BadRequest):
        await app_client.search_recent_tweets("x" * 5000)


# -- posting -----------------------------------------------------------------------


async def test_reply_chain_and_the_summoned_reply_rule(
    control: EmulatorControl, brand: AccountTokens, brand_client: AsyncClient
) -> None:
    auth = uses_oauth1(brand_client)
    control.create_account("bob")
    question = control.post("bob", "@Airbus when is the next A380? #AskAirbus")
    unsummoned = control.post("bob", "Anyone knows when the next A380 is? #AskAirbus")

    answer = (
        await brand_client.create_tweet(
            text="Great question! A thread:", in_reply_to_tweet_id=question, user_auth=auth
        )
    ).data
    part2 = (
        await brand_client.create_tweet(
            text="2/ Production details follow.", in_reply_to_tweet_id=answer["id"], user_auth=auth
        )
    ).data
    thread = await brand_client.get_tweets(
        [answer["id"], part2["id"]], tweet_fields=["conversation_id", "in_reply_to_user_id"]
    )
    assert {str(t.conversation_id) for t in thread.data} == {question}
    assert str(thread.data[1].in_reply_to_user_id) == brand.id

    with pytest.raises(tweepy.Forbidden) as refused:
        await brand_client.create_tweet(
            text="Answer", in_reply_to_tweet_id=unsummoned, user_auth=auth
        )
    assert refused.value.response.status == 403
    assert NOT_SUMMONED in str(refused.value)


async def test_duplicate_post_is_refused(brand_client: AsyncClient) -> None:
    auth = uses_oauth1(brand_client)
    await brand_client.create_tweet(text="Welcome to #AskAirbus!", user_auth=auth)
    with pytest.raises(tweepy.Forbidden) as refused:
        await brand_client.create_tweet(text="Welcome to #AskAirbus!", user_auth=auth)
    assert DUPLICATE in str(refused.value)


def test_sync_client_posts_and_deletes_with_oauth1(
    settings: Settings, brand: AccountTokens
) -> None:
    client = make_client(settings, oauth1=oauth1(brand))
    posted = client.create_tweet(text="Posting with OAuth 1.0a").data
    assert client.delete_tweet(posted["id"]).data == {"deleted": True}
    gone = client.get_tweet(posted["id"])
    assert gone.data is None and gone.errors


async def test_delete_only_own_posts(control: EmulatorControl, brand_client: AsyncClient) -> None:
    auth = uses_oauth1(brand_client)
    control.create_account("bob")
    other = control.post("bob", "my own post")
    with pytest.raises(tweepy.HTTPException) as refused:
        await brand_client.delete_tweet(other, user_auth=auth)
    assert refused.value.response.status in (401, 403)
    mine = (await brand_client.create_tweet(text="oops", user_auth=auth)).data
    assert (await brand_client.delete_tweet(mine["id"], user_auth=auth)).data["deleted"]


async def test_timeout_after_the_post_was_applied(
    settings: Settings, control: EmulatorControl, brand: AccountTokens
) -> None:
    """The answer never comes, yet the post exists: the caller must look before retrying."""
    control.faults(timeout_after_apply=1, stall_seconds=2)
    token = brand.oauth2_access_token
    async with async_client(settings, user_access_token=token, request_timeout=0.5) as client:
        with pytest.raises(TimeoutError):
            await client.create_tweet(text="Did this go out?", user_auth=False)
        posted = await client.get_users_tweets(brand.id, user_auth=False)
    assert [t.text for t in posted.data] == ["Did this go out?"]


# -- errors: 429, 401, 402 ---------------------------------------------------------


async def test_429_waits_for_reset_with_wait_on_rate_limit(
    settings: Settings, control: EmulatorControl
) -> None:
    control.faults(force_429=1, reset_in=0, endpoints=["search_recent"])
    async with async_client(settings) as client:
        with pytest.raises(tweepy.TooManyRequests) as limited:
            await client.search_recent_tweets("#AskAirbus")
    assert limited.value.reset_time is not None
    assert abs(limited.value.reset_time - time.time()) < 5

    control.faults(force_429=1, reset_in=0, endpoints=["search_recent"])
    started = time.monotonic()
    async with async_client(settings, wait_on_rate_limit=True) as client:
        response = await client.search_recent_tweets("#AskAirbus")
    assert response.meta == {"result_count": 0}
    assert time.monotonic() - started >= 0.5, "tweepy slept until x-rate-limit-reset"


def test_sync_429_waits_for_reset(settings: Settings, control: EmulatorControl) -> None:
    control.faults(force_429=1, reset_in=0, endpoints=["users_me"])
    brand = control.create_account("Airbus")
    client = make_client(settings, oauth1=oauth1(brand), wait_on_rate_limit=True)
    assert str(client.get_me().data.id) == brand.id


async def test_401_bad_signature_and_bad_tokens(settings: Settings, brand: AccountTokens) -> None:
    tampered = OAuth1Token(brand.access_token, brand.access_token_secret + "x")
    async with async_client(settings, oauth1=tampered) as client:
        with pytest.raises(tweepy.Unauthorized):
            await client.create_tweet(text="should not post")
    async with async_client(settings, user_access_token="not-a-token") as client:
        with pytest.raises(tweepy.Unauthorized):
            await client.get_me(user_auth=False)
    bad_app = settings.model_copy(update={"x_consumer_secret": None})
    with pytest.raises(TypeError):
        make_client(bad_app, oauth1=oauth1(brand)).get_me()


async def test_402_when_credits_are_depleted(
    control: EmulatorControl, brand_client: AsyncClient, app_client: AsyncClient
) -> None:
    control.faults(credits_depleted=True)
    with pytest.raises(tweepy.HTTPException) as depleted:
        await brand_client.create_tweet(text="no money", user_auth=uses_oauth1(brand_client))
    assert depleted.value.response.status == 402
    assert "CreditsDepleted" in str(depleted.value) or depleted.value.api_messages
    with pytest.raises(tweepy.HTTPException) as search:
        await app_client.search_recent_tweets("#AskAirbus")
    assert search.value.response.status == 402


# -- the filtered stream -----------------------------------------------------------


class Collector(StreamingClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tweets: list[tuple[str, list[str]]] = []
        self.errors: list[str] = []
        self.heartbeats = 0
        self.connects = 0

    async def on_connect(self) -> None:
        self.connects += 1

    async def on_keep_alive(self) -> None:
        self.heartbeats += 1

    async def on_response(self, response: tweepy.StreamResponse) -> None:
        self.errors.extend(error["title"] for error in response.errors)
        if response.data is not None:
            tags = [rule.tag for rule in response.matching_rules]
            self.tweets.append((str(response.data.id), tags))

    def ids(self) -> list[str]:
        return [tweet_id for tweet_id, _ in self.tweets]


@pytest.fixture
async def stream(settings: Settings) -> AsyncIterator[Collector]:
    client = make_streaming_client(settings, cls=Collector, stall_timeout=2)
    assert isinstance(client, Collector)
    try:
        yield client
    finally:
        await client.close()


async def test_stream_delivers_with_tags_heartbeats_and_live_rules(
    control: EmulatorControl, stream: Collector
) -> None:
    control.create_account("bob")
    added = await stream.add_rules(tweepy.StreamRule("#AskAirbus -is:retweet", tag="ama-1"))
    assert added.data[0].tag == "ama-1"
    stream.filter(tweet_fields=["author_id"])
    await wait_until(lambda: stream.connects == 1 and stream.heartbeats >= 2)

    first = control.post("bob", "Hello #AskAirbus")
    control.post("bob", "not for the stream")
    await wait_until(lambda: len(stream.tweets) == 1)
    assert stream.tweets == [(first, ["ama-1"])]

    await stream.add_rules(tweepy.StreamRule("#AskBoeing", tag="ama-2"))
    second = control.post("bob", "#AskBoeing and #AskAirbus")
    await wait_until(lambda: len(stream.tweets) == 2)
    assert stream.tweets[1][0] == second
    assert sorted(stream.tweets[1][1]) == ["ama-1", "ama-2"]

    rules = await stream.get_rules()
    assert sorted(r.tag for r in rules.data) == ["ama-1", "ama-2"]


@pytest.mark.parametrize("notice", [False, True], ids=["silent", "operational-disconnect"])
async def test_dropped_stream_is_reconnected_by_tweepy(
    control: EmulatorControl, stream: Collector, notice: bool
) -> None:
    control.create_account("bob")
    await stream.add_rules(tweepy.StreamRule("#AskAirbus", tag="ama"))
    stream.filter()
    await wait_until(lambda: stream.connects == 1)
    before = control.post("bob", "before the drop #AskAirbus")
    await wait_until(lambda: len(stream.tweets) == 1)

    control.faults(stream_drop="now", stream_drop_notice=notice)
    await wait_until(lambda: stream.connects == 2)
    after = control.post("bob", "after the drop #AskAirbus")
    await wait_until(lambda: len(stream.tweets) == 2)
    assert stream.ids() == [before, after]
    assert stream.errors == (["operational-disconnect"] if notice else [])
    assert control.stream_status()["connects"] >= 2


def test_sync_streaming_client_receives_a_tagged_post(
    settings: Settings, control: EmulatorControl
) -> None:
    control.create_account("bob")

    class First(tweepy.StreamingClient):  # type: ignore[misc]
        got: tweepy.StreamResponse | None = None

        def on_connect(self) -> None:
            control.post("bob", "sync #AskAirbus")

        def on_response(self, response: tweepy.StreamResponse) -> None:
            First.got = response
            self.disconnect()

    client = make_sync_streaming_client(settings, cls=First)
    client.add_rules(tweepy.StreamRule("#AskAirbus", tag="sync"))
    client.filter()
    assert First.got is not None
    assert [r.tag for r in First.got.matching_rules] == ["sync"]


# -- OAuth 2.0 authorization code flow with PKCE -----------------------------------

CALLBACK = "http://127.0.0.1:8000/x/callback"


def consent(start: AuthorizationRequest, username: str) -> str:
    """Approve on the authorize page as ``username``; the ``code`` X sends back."""
    page = httpx.get(start.url)
    assert page.status_code == 200 and "Authorize app" in page.text
    form = {k: v[0] for k, v in parse_qs(urlsplit(start.url).query).items()}
    answer = httpx.post(
        start.url.split("?")[0], data={**form, "username": username, "decision": "allow"}
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(CALLBACK)
    back = parse_qs(urlsplit(location).query)
    assert back["state"] == [start.state]
    return back["code"][0]


async def test_pkce_flow_then_refresh_rotates(settings: Settings, brand: AccountTokens) -> None:
    start = authorization_request(settings, redirect_uri=CALLBACK)
    assert start.url.startswith(settings.x_api_base_url + "/i/oauth2/authorize?")
    code = consent(start, "Airbus")
    tokens = await exchange_code(
        settings, code=code, code_verifier=start.code_verifier, redirect_uri=CALLBACK
    )
    assert "tweet.write" in tokens.scopes and tokens.refresh_token
    assert tokens.expires_in == 7200
    async with async_client(settings, user_access_token=tokens.access_token) as client:
        assert str((await client.get_me(user_auth=False)).data.id) == brand.id

    fresh = await refresh_user_token(settings, tokens.refresh_token)
    assert fresh.access_token != tokens.access_token
    with pytest.raises(XAuthError) as reused:
        await refresh_user_token(settings, tokens.refresh_token)
    assert reused.value.status == 400, "refresh tokens rotate"


async def test_pkce_wrong_verifier_and_public_client(
    settings: Settings, brand: AccountTokens
) -> None:
    public = settings.model_copy(update={"x_client_secret": None})
    start = authorization_request(public, redirect_uri=CALLBACK)
    code = consent(start, "Airbus")
    with pytest.raises(XAuthError) as refused:
        await exchange_code(public, code=code, code_verifier="x" * 64, redirect_uri=CALLBACK)
    assert (refused.value.status, refused.value.error) == (400, "invalid_request")
    start = authorization_request(public, redirect_uri=CALLBACK)
    code = consent(start, "Airbus")
    tokens = await exchange_code(
        public, code=code, code_verifier=start.code_verifier, redirect_uri=CALLBACK
    )
    assert tokens.access_token


async def test_expired_user_token_refused_until_refreshed(
    settings: Settings, control: EmulatorControl, brand: AccountTokens
) -> None:
    control.advance_clock(7201)
    async with async_client(settings, user_access_token=brand.oauth2_access_token) as client:
        with pytest.raises(tweepy.Unauthorized):
            await client.create_tweet(text="too late", user_auth=False)
    fresh = await refresh_user_token(settings, brand.oauth2_refresh_token)
    async with async_client(settings, user_access_token=fresh.access_token) as client:
        posted = await client.create_tweet(text="fresh token", user_auth=False)
    assert posted.data["text"] == "fresh token"


def test_authorization_request_needs_a_client_id() -> None:
    with pytest.raises(XAuthError, match="x_client_id"):
        authorization_request(Settings(x_client_id=None), redirect_uri=CALLBACK)


def test_real_x_authorize_page_is_on_x_com() -> None:
    start = authorization_request(Settings(x_client_id="abc"), redirect_uri=CALLBACK)
    query = parse_qs(urlsplit(start.url).query)
    assert start.url.startswith("https://x.com/i/oauth2/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["state"] == [start.state]
    assert 43 <= len(start.code_verifier) <= 128
