"""GET /2/tweets/search/recent: the last 7 days, X's operators, exclusive ids, tokens."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from atexpert.emulator import meter
from atexpert.emulator.core import Call, endpoint, x_json
from atexpert.emulator.paging import page
from atexpert.emulator.params import POST_VIEW_PARAMS, Params
from atexpert.emulator.query import (
    QueryError,
    matches,
    mentions_positive,
    parse,
    required_keys,
)
from atexpert.emulator.render import posts_body

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


async def _search(call: Call, archive: bool) -> Response:
    p = Params(call.request, _PARAMS)
    query = p.text("query", required=True)
    max_results = p.integer("max_results", 10, 500 if archive else 100, 10)
    since_id = p.snowflake("since_id")
    until_id = p.snowflake("until_id")
    token = p.text("next_token") or p.text("pagination_token")
    token_param = "next_token" if p.text("next_token") else "pagination_token"
    start, end = p.timestamp("start_time"), p.timestamp("end_time")
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
    if not archive and start is not None and start < now - _WEEK:
        p.fail(
            "start_time",
            p.text("start_time") or "",
            "Invalid 'start_time'. 'start_time' must be within the last 7 days",
        )
    p.done()
    assert node is not None
    meter.require_credit(call.state)
    want_retweets = mentions_positive(node, "is", "retweet")
    floor = max(0.0 if archive else now - _WEEK, start or 0.0)
    candidates = (
        q
        for q in call.state.newest_first(required_keys(node))
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
    return x_json(posts_body(call.state, posts, view, meta))


@endpoint("search_recent")
async def search_recent(call: Call) -> Response:
    return await _search(call, archive=False)


@endpoint("search_all")
async def search_all(call: Call) -> Response:
    """Full-archive search: the same language, no 7-day window, up to 500 per page."""
    return await _search(call, archive=True)


routes = [
    Route("/2/tweets/search/recent", search_recent),
    Route("/2/tweets/search/all", search_all),
]
