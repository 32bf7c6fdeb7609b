"""The control surface under ``/_emulator/``: accounts, injected posts, faults, reset.

Not part of X; tests, the demo and people drive the emulator through it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atexpert.domain import twittertext
from atexpert.emulator import posting
from atexpert.emulator.core import Emulator
from atexpert.emulator.faults import Faults
from atexpert.emulator.meter import usd
from atexpert.emulator.ratelimit import RateLimiter
from atexpert.emulator.render import public_metrics
from atexpert.emulator.state import Account, State

_USERNAME = twittertext.USERNAME_PATTERN
_ID = r"^[0-9]{1,19}$"
M = TypeVar("M", bound=BaseModel)
DEFAULT_SCOPES = (
    "tweet.read",
    "tweet.write",
    "users.read",
    "offline.access",
    "tweet.moderate.write",
    "like.write",
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountIn(_In):
    username: str = Field(pattern=_USERNAME)
    name: str = Field(min_length=1, max_length=50)
    description: str = Field(default="", max_length=160)
    location: str = Field(default="", max_length=30)
    verified: bool = False
    protected: bool = False
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCOPES))


class PostIn(_In):
    username: str | None = Field(default=None, pattern=_USERNAME)
    author_id: str | None = Field(default=None, pattern=_ID)
    text: str = Field(min_length=1, max_length=25_000)
    lang: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    reply_settings: Literal[
        "everyone", "following", "mentionedUsers", "subscribers", "verified"
    ] = "everyone"
    in_reply_to_tweet_id: str | None = Field(default=None, pattern=_ID)
    quote_tweet_id: str | None = Field(default=None, pattern=_ID)
    retweet_of_id: str | None = Field(default=None, pattern=_ID)
    note_tweet: str | None = Field(default=None, max_length=25_000)
    created_at: datetime | None = None


class PostBatchIn(_In):
    posts: list[PostIn] = Field(min_length=1, max_length=1000)


class MetricsIn(_In):
    """Counters of a post set directly (likes, bookmarks and views from the rest of X)."""

    like_count: int | None = Field(default=None, ge=0, le=10**12)
    bookmark_count: int | None = Field(default=None, ge=0, le=10**12)
    impression_count: int | None = Field(default=None, ge=0, le=10**12)


class FaultsIn(Faults):
    stream_drop: Literal["now"] | None = None
    stream_drop_after: int | None = Field(default=None, ge=1)
    stream_drop_notice: bool | None = Field(
        default=None, description="X's operational-disconnect line before a drop (default on)"
    )
    credits_depleted: bool | None = None


class PolicyIn(_In):
    summoned_replies_only: bool | None = None
    duplicate_check: bool | None = None
    metering: bool | None = None
    max_query_length: int | None = Field(default=None, ge=1, le=4096)
    oauth2_token_lifetime: int | None = Field(
        default=None, ge=1, le=7 * 86400, description="seconds an OAuth 2.0 access token lives"
    )


class BalanceIn(_In):
    usd: float = Field(ge=0, le=1_000_000)


class ClockIn(_In):
    advance_seconds: float = Field(ge=0, le=10 * 365 * 86400)


class LimitIn(_In):
    endpoint: str
    user: int | None = Field(default=None, ge=0)
    app: int | None = Field(default=None, ge=0)
    window: int | None = Field(default=None, ge=1)
    user_24h: int | None = Field(default=None, ge=0)
    app_24h: int | None = Field(default=None, ge=0)


def _problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "title": "Invalid Request" if status == 400 else "Error",
        "detail": detail,
        "status": status,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


async def _parse(request: Request, model: type[M]) -> M | JSONResponse:
    raw = await request.body()
    try:
        return model.model_validate(json.loads(raw or b"{}"))
    except RecursionError:
        return _problem(400, "The request body is nested too deeply.")
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ]
            return _problem(400, "The request body is invalid.", errors)
        return _problem(400, "The request body is not valid JSON.")


def _emu(request: Request) -> Emulator:
    emu: Emulator = request.app.state.emulator
    return emu


def _account_json(state: State, user_id: str) -> dict[str, Any]:
    acc = state.accounts[user_id]
    return {"id": acc.id, "username": acc.username, "name": acc.name}


async def create_account(request: Request) -> Response:
    body = await _parse(request, AccountIn)
    if isinstance(body, JSONResponse):
        return body
    state = _emu(request).state
    try:
        acc = state.add_account(
            body.username,
            body.name,
            description=body.description,
            location=body.location,
            verified=body.verified,
            protected=body.protected,
        )
    except ValueError as exc:
        return _problem(409, str(exc))
    tokens = state.issue_user_tokens(acc.id, tuple(body.scopes))
    return JSONResponse({**_account_json(state, acc.id), **tokens}, status_code=201)


async def list_accounts(request: Request) -> Response:
    state = _emu(request).state
    return JSONResponse({"data": [_account_json(state, uid) for uid in state.accounts]})


def _check_post(state: State, body: PostIn) -> tuple[Account, posting.Draft] | str:
    """The author and draft of an injected post, or why it cannot be injected."""
    author = (
        state.account_by_username(body.username)
        if body.username
        else state.accounts.get(body.author_id or "")
    )
    if author is None:
        return "No such account; create it with POST /_emulator/accounts."
    for ref in (body.in_reply_to_tweet_id, body.quote_tweet_id, body.retweet_of_id):
        if ref is not None and ref not in state.posts:
            return f"No post {ref}."
    return author, posting.Draft(
        text=body.text,
        reply_to=body.in_reply_to_tweet_id,
        quote_of=body.quote_tweet_id,
        reply_settings=body.reply_settings,
        lang=body.lang,
        created_at=body.created_at.timestamp() if body.created_at else None,
        note_text=body.note_tweet,
        retweet_of=body.retweet_of_id,
    )


def _inject(emu: Emulator, author: Account, draft: posting.Draft) -> dict[str, Any]:
    post = posting.inject(emu.state, author, draft)
    emu.hub.publish(post)
    return {
        "id": post.id,
        "text": post.text,
        "author_id": post.author_id,
        "conversation_id": post.conversation_id,
    }


async def inject_post(request: Request) -> Response:
    body = await _parse(request, PostIn)
    if isinstance(body, JSONResponse):
        return body
    emu = _emu(request)
    checked = _check_post(emu.state, body)
    if isinstance(checked, str):
        return _problem(404, checked)
    return JSONResponse(_inject(emu, *checked), status_code=201)


async def inject_batch(request: Request) -> Response:
    """Many public posts in one request (load tests); all are checked before any is added."""
    body = await _parse(request, PostBatchIn)
    if isinstance(body, JSONResponse):
        return body
    emu = _emu(request)
    checked = [_check_post(emu.state, item) for item in body.posts]
    problems = [
        {"field": f"posts.{i}", "message": c} for i, c in enumerate(checked) if isinstance(c, str)
    ]
    if problems:
        return _problem(404, "Some posts cannot be injected; none was.", problems)
    data = [_inject(emu, *c) for c in checked if not isinstance(c, str)]
    return JSONResponse({"data": data}, status_code=201)


async def set_metrics(request: Request) -> Response:
    body = await _parse(request, MetricsIn)
    if isinstance(body, JSONResponse):
        return body
    state = _emu(request).state
    post = state.posts.get(request.path_params["id"])
    if post is None:
        return _problem(404, f"No post {request.path_params['id']}.")
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(post, name, value)
    state.dirty = True
    return JSONResponse({"id": post.id, "public_metrics": public_metrics(state, post)})


async def get_app(request: Request) -> Response:
    app = _emu(request).state.app
    return JSONResponse(
        {
            "consumer_key": app.consumer_key,
            "consumer_secret": app.consumer_secret,
            "bearer_token": app.bearer_token,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        }
    )


async def faults(request: Request) -> Response:
    emu = _emu(request)
    if request.method == "DELETE":
        emu.faults = Faults()
        emu.hub.drop_after = None
        emu.hub.drop_notice = True
    elif request.method == "POST":
        body = await _parse(request, FaultsIn)
        if isinstance(body, JSONResponse):
            return body
        for name in body.model_fields_set & set(Faults.model_fields):
            setattr(emu.faults, name, getattr(body, name))
        if body.stream_drop_notice is not None:
            emu.hub.drop_notice = body.stream_drop_notice
        if body.stream_drop == "now":
            emu.hub.drop()
        if "stream_drop_after" in body.model_fields_set:
            emu.hub.drop_after = body.stream_drop_after
        if body.credits_depleted:
            emu.state.balance_micro = 0
    hub = emu.hub
    return JSONResponse(
        {
            **emu.faults.model_dump(),
            "stream_drop_after": hub.drop_after,
            "stream_drop_notice": hub.drop_notice,
        }
    )


async def policy(request: Request) -> Response:
    state = _emu(request).state
    if request.method == "POST":
        body = await _parse(request, PolicyIn)
        if isinstance(body, JSONResponse):
            return body
        for name, value in body.model_dump(exclude_none=True).items():
            setattr(state.policy, name, value)
    return JSONResponse(vars(state.policy))


async def balance(request: Request) -> Response:
    state = _emu(request).state
    if request.method == "POST":
        body = await _parse(request, BalanceIn)
        if isinstance(body, JSONResponse):
            return body
        state.balance_micro = round(body.usd * 1_000_000)
        state.dirty = True
    return JSONResponse(
        {
            "balance_usd": usd(state.balance_micro),
            "spent_usd": {k: usd(v) for k, v in state.spent_micro.items()},
        }
    )


async def clock(request: Request) -> Response:
    body = await _parse(request, ClockIn)
    if isinstance(body, JSONResponse):
        return body
    state = _emu(request).state
    state.clock.advance(body.advance_seconds)
    return JSONResponse({"offset_seconds": state.clock.offset})


async def limits(request: Request) -> Response:
    limiter = _emu(request).limiter
    if request.method == "POST":
        body = await _parse(request, LimitIn)
        if isinstance(body, JSONResponse):
            return body
        if body.endpoint not in limiter.limits:
            return _problem(
                400, f"Unknown endpoint {body.endpoint!r}; one of {sorted(limiter.limits)}."
            )
        for name, value in body.model_dump(exclude_none=True, exclude={"endpoint"}).items():
            setattr(limiter.limits[body.endpoint], name, value)
    return JSONResponse({k: vars(v) for k, v in limiter.limits.items()})


async def stream_status(request: Request) -> Response:
    hub = _emu(request).hub
    conn = hub.active
    return JSONResponse(
        {
            "connected": conn is not None and not conn.closed,
            "connects": hub.connects,
            "delivered": conn.delivered if conn is not None else 0,
        }
    )


async def tokens(request: Request) -> Response:
    """Token tallies since the last reset, with the current OAuth 2.0 access token lifetime."""
    state = _emu(request).state
    return JSONResponse(
        {**state.auth_counts, "lifetime_seconds": state.policy.oauth2_token_lifetime}
    )


async def reset(request: Request) -> Response:
    """Forget accounts, posts, rules, tokens, faults and limits; keep the app credentials."""
    emu = _emu(request)
    emu.hub.drop_notice = False  # a reset closes the stream silently
    emu.hub.drop()
    emu.hub.drop_notice = True
    emu.state.reset()
    emu.state.clock.offset = 0.0
    emu.hub.connects = 0
    emu.hub.drop_after = None
    emu.faults = Faults()
    emu.limiter = RateLimiter()
    return JSONResponse({"reset": True})


routes = [
    Route("/_emulator/accounts", create_account, methods=["POST"]),
    Route("/_emulator/accounts", list_accounts, methods=["GET"]),
    Route("/_emulator/tweets", inject_post, methods=["POST"]),
    Route("/_emulator/tweets/batch", inject_batch, methods=["POST"]),
    Route("/_emulator/tweets/{id}/metrics", set_metrics, methods=["POST"]),
    Route("/_emulator/app", get_app, methods=["GET"]),
    Route("/_emulator/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/_emulator/policy", policy, methods=["GET", "POST"]),
    Route("/_emulator/balance", balance, methods=["GET", "POST"]),
    Route("/_emulator/clock", clock, methods=["POST"]),
    Route("/_emulator/limits", limits, methods=["GET", "POST"]),
    Route("/_emulator/stream", stream_status, methods=["GET"]),
    Route("/_emulator/tokens", tokens, methods=["GET"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
]
