"""GET /2/tweets/search/recent: the last 7 days, X's operators, exclusive ids, tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from atexpert.emulator import meter
from atexpert.emulator.core import Call, endpoint, x_json
from atexpert.emulator.paging import page
from atexpert.emulator.params import POST_VIEW_PARAMS, Params
from atexpert.emulator.query import QueryError, matches, mentions_positive, parse
from atexpert.emulator.render import post_json, with_includes

_PARAMS = (
    "query",
    "max_results",
    "next_token",
    "pagination_token",
    "since_id",
    "until_id",
    "start_time",
    "end_time",
    "sort_order",
    *POST_VIEW_PARAMS,
)
_WEEK = 7 * 86400


def _time(p: Params, name: str) -> float | None:
    raw = p.text(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        p.fail(
            name,
            raw,
            f"Invalid '{name}':'{raw}'. '{name}' must be a valid RFC 3339 "
            "timestamp, for example 2026-11-26T00:00:00Z",
        )
        return None


@endpoint("search_recent")
async def search_recent(call: Call) -> Response:
    p = Params(call.request, _PARAMS)
    query = p.text("query", required=True)
    max_results = p.integer("max_results", 10, 100, 10)
    since_id = p.snowflake("since_id")
    until_id = p.snowflake("until_id")
    token = p.text("next_token") or p.text("pagination_token")
    token_param = "next_token" if p.text("next_token") else "pagination_token"
    start, end = _time(p, "start_time"), _time(p, "end_time")
    sort = p.text("sort_order")
    if sort is not None and sort not in ("recency", "relevancy"):
        p.fail(
            "sort_order",
            sort,
            f"The `sort_order` query parameter value [{sort}] is not one of [recency,relevancy]",
        )
    view = p.view()
    node = None
    if query is not None:
        try:
            node = parse(query, call.state.policy.max_query_length)
        except QueryError as exc:
            p.fail("query", query, str(exc))
    now = call.state.clock.now()
    if start is not None and start < now - _WEEK:
        p.fail(
            "start_time",
            p.text("start_time") or "",
            "Invalid 'start_time'. 'start_time' must be within the last 7 days",
        )
    p.done()
    assert node is not None
    meter.require_credit(call.state)
    want_retweets = mentions_positive(node, "is", "retweet")
    floor = max(now - _WEEK, start or 0.0)
    candidates = (
        q
        for q in call.state.live_posts()
        if q.created_at >= floor
        and (end is None or q.created_at < end)
        and (want_retweets or "is:retweet" not in q.flags)
        and matches(node, q)
    )
    posts, meta = page(
        candidates,
        since_id=since_id,
        until_id=until_id,
        max_results=max_results,
        token=token,
        token_param=token_param,
    )
    meter.charge(call.state, "search_read", len(posts))
    body: dict[str, Any] = {}
    if posts:
        body["data"] = [post_json(call.state, q, view) for q in posts]
        includes = with_includes(call.state, posts, view)
        if includes:
            body["includes"] = includes
    body["meta"] = meta
    return x_json(body)


routes = [Route("/2/tweets/search/recent", search_recent)]
