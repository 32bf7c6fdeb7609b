"""User endpoints: users/me, lookups, a user's posts and mentions."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from atexpert.emulator import meter
from atexpert.emulator.core import ANY, USER, Call, endpoint, x_json
from atexpert.emulator.paging import page
from atexpert.emulator.params import POST_VIEW_PARAMS, Params, check_path_id
from atexpert.emulator.problems import not_found_error
from atexpert.emulator.render import post_json, user_json, with_includes
from atexpert.emulator.state import Account, Post

_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_USER_VIEW = ("user.fields", "expansions", "tweet.fields", "post.fields")


def _one_user(
    call: Call, account: Account | None, param: str, value: str, fields: set[str]
) -> Response:
    if account is None:
        return x_json({"errors": [not_found_error("user", param, value)]})
    return x_json({"data": user_json(account, fields, call.state)})


@endpoint("users_me", USER)
async def users_me(call: Call) -> Response:
    p = Params(call.request, _USER_VIEW)
    view = p.user_view()
    p.done()
    return x_json(
        {"data": user_json(call.state.accounts[call.user_id], view.user_fields, call.state)}
    )


@endpoint("user_lookup")
async def user_by_username(call: Call) -> Response:
    username = call.request.path_params["username"]
    check_path_id("username", username, _USERNAME)
    p = Params(call.request, _USER_VIEW)
    view = p.user_view()
    p.done()
    acc = call.state.account_by_username(username)
    return _one_user(call, acc, "username", username, view.user_fields)


@endpoint("user_lookup")
async def user_by_id(call: Call) -> Response:
    uid = call.request.path_params["id"]
    check_path_id("id", uid)
    p = Params(call.request, _USER_VIEW)
    view = p.user_view()
    p.done()
    return _one_user(call, call.state.accounts.get(uid), "id", uid, view.user_fields)


@endpoint("user_lookup")
async def users_by_usernames(call: Call) -> Response:
    p = Params(call.request, ("usernames", *_USER_VIEW))
    raw = p.text("usernames", required=True) or ""
    view = p.user_view()
    names = [n for n in raw.split(",") if n]
    for n in names:
        if not _USERNAME.match(n):
            p.fail(
                "usernames",
                n,
                f"The `usernames` query parameter value [{n}] does not match {_USERNAME.pattern}",
            )
    p.done()
    data: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for n in names:
        acc = call.state.account_by_username(n)
        if acc is None:
            errors.append(not_found_error("user", "usernames", n))
        else:
            data.append(user_json(acc, view.user_fields, call.state))
    body: dict[str, Any] = {}
    if data:
        body["data"] = data
    if errors:
        body["errors"] = errors
    return x_json(body)


_TIMELINE = (
    "max_results",
    "pagination_token",
    "since_id",
    "until_id",
    "start_time",
    "end_time",
    "exclude",
    *POST_VIEW_PARAMS,
)


async def _timeline(call: Call, select: str) -> Response:
    uid = call.request.path_params["id"]
    check_path_id("id", uid)
    p = Params(call.request, _TIMELINE)
    max_results = p.integer("max_results", 5, 100, 10)
    since_id = p.snowflake("since_id")
    until_id = p.snowflake("until_id")
    token = p.text("pagination_token")
    excluded = p.csv("exclude", frozenset({"retweets", "replies"}))
    view = p.view()
    p.done()
    account = call.state.accounts.get(uid)
    if account is None:
        return x_json({"errors": [not_found_error("user", "id", uid)]})
    if select == "mentions":
        meter.require_credit(call.state)
        name = account.username.casefold()
        source: list[Post] = [q for q in call.state.live_posts() if name in q.mentions]
    else:
        source = [
            q
            for q in call.state.live_posts()
            if q.author_id == uid
            and not ("retweets" in excluded and "is:retweet" in q.flags)
            and not ("replies" in excluded and "is:reply" in q.flags)
        ]
    posts, meta = page(
        source,
        since_id=since_id,
        until_id=until_id,
        max_results=max_results,
        token=token,
        token_param="pagination_token",
    )
    if select == "mentions":
        meter.charge(call.state, "mentions_read", len(posts))
    body: dict[str, Any] = {}
    if posts:
        body["data"] = [post_json(call.state, q, view) for q in posts]
        includes = with_includes(call.state, posts, view)
        if includes:
            body["includes"] = includes
    body["meta"] = meta
    return x_json(body)


@endpoint("user_tweets")
async def user_tweets(call: Call) -> Response:
    return await _timeline(call, "tweets")


@endpoint("user_mentions", ANY)
async def user_mentions(call: Call) -> Response:
    return await _timeline(call, "mentions")


routes = [
    Route("/2/users/me", users_me),
    Route("/2/users/by/username/{username}", user_by_username),
    Route("/2/users/by", users_by_usernames),
    Route("/2/users/{id}/tweets", user_tweets),
    Route("/2/users/{id}/mentions", user_mentions),
    Route("/2/users/{id}", user_by_id),
]
