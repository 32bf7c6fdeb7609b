"""User endpoints: users/me, lookups, a user's posts and mentions."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from atexpert.domain import twittertext
from atexpert.emulator import meter
from atexpert.emulator.core import ANY, USER, Call, endpoint, x_json
from atexpert.emulator.paging import page
from atexpert.emulator.params import POST_VIEW_PARAMS, Params, check_path_id
from atexpert.emulator.problems import not_found_error
from atexpert.emulator.render import posts_body, user_json
from atexpert.emulator.state import Account

_USERNAME = re.compile(twittertext.USERNAME_PATTERN)
_ID = re.compile(r"^[0-9]{1,19}$")
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


async def _many_users(call: Call, param: str, pattern: re.Pattern[str]) -> Response:
    p = Params(call.request, (param, *_USER_VIEW))
    raw = p.text(param, required=True) or ""
    view = p.user_view()
    keys = [n for n in raw.split(",") if n]
    if raw and not 1 <= len(keys) <= 100:
        p.fail(param, raw, f"The `{param}` query parameter must list between 1 and 100 values")
    for n in keys:
        if not pattern.match(n):
            p.fail(
                param,
                n,
                f"The `{param}` query parameter value [{n}] does not match {pattern.pattern}",
            )
    p.done()
    data: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for n in keys:
        acc = (
            call.state.account_by_username(n)
            if param == "usernames"
            else call.state.accounts.get(n)
        )
        if acc is None:
            errors.append(not_found_error("user", param, n))
        else:
            data.append(user_json(acc, view.user_fields, call.state))
    body: dict[str, Any] = {}
    if data:
        body["data"] = data
    if errors:
        body["errors"] = errors
    return x_json(body)


@endpoint("user_lookup")
async def users_by_usernames(call: Call) -> Response:
    return await _many_users(call, "usernames", _USERNAME)


@endpoint("user_lookup")
async def users_by_ids(call: Call) -> Response:
    return await _many_users(call, "ids", _ID)


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
    start, end = p.timestamp("start_time"), p.timestamp("end_time")
    view = p.view()
    p.done()
    account = call.state.accounts.get(uid)
    if account is None:
        return x_json({"errors": [not_found_error("user", "id", uid)]})
    name = account.username.casefold()
    if select == "mentions":
        meter.require_credit(call.state)
    key = f"@{name}" if select == "mentions" else f"from:{name}"
    source = (
        q
        for q in call.state.newest_first({key})
        if not ("retweets" in excluded and "is:retweet" in q.flags)
        and not ("replies" in excluded and "is:reply" in q.flags)
        and (start is None or q.created_at >= start)
        and (end is None or q.created_at < end)
    )
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
    return x_json(posts_body(call.state, posts, view, meta))


@endpoint("user_tweets")
async def user_tweets(call: Call) -> Response:
    return await _timeline(call, "tweets")


@endpoint("user_mentions", ANY)
async def user_mentions(call: Call) -> Response:
    return await _timeline(call, "mentions")


routes = [
    Route("/2/users", users_by_ids),
    Route("/2/users/me", users_me),
    Route("/2/users/by/username/{username}", user_by_username),
    Route("/2/users/by", users_by_usernames),
    Route("/2/users/{id}/tweets", user_tweets),
    Route("/2/users/{id}/mentions", user_mentions),
    Route("/2/users/{id}", user_by_id),
]
