"""Post endpoints: lookup by id(s), create (POST /2/tweets) and delete."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from atexpert.emulator import posting
from atexpert.emulator.auth import require_scope
from atexpert.emulator.core import USER, Call, endpoint, json_body, x_json
from atexpert.emulator.params import POST_VIEW_PARAMS, Params, check_path_id
from atexpert.emulator.problems import XError, about_blank, not_found_error, problem_type
from atexpert.emulator.render import post_json, with_includes

_ID = r"^[0-9]{1,19}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplyIn(_Strict):
    in_reply_to_tweet_id: str = Field(pattern=_ID)
    exclude_reply_user_ids: list[str] | None = None
    auto_populate_reply_metadata: bool | None = None


class CreateIn(_Strict):
    """The body of POST /2/tweets (the spec's CreatePostsRequest, additionalProperties false)."""

    text: str | None = None
    reply: ReplyIn | None = None
    reply_settings: Literal["following", "mentionedUsers", "subscribers", "verified"] | None = None
    quote_tweet_id: str | None = Field(default=None, pattern=_ID)
    media: dict[str, Any] | None = None
    poll: dict[str, Any] | None = None
    community_id: str | None = Field(default=None, pattern=_ID)
    for_super_followers_only: bool | None = None
    nullcast: bool | None = None
    geo: dict[str, Any] | None = None
    card_uri: str | None = None
    direct_message_deep_link: str | None = None
    made_with_ai: bool | None = None
    paid_partnership: bool | None = None
    share_with_followers: bool | None = None
    edit_options: dict[str, Any] | None = None


def schema_errors(exc: ValidationError) -> XError:
    """X's wording for JSON-body schema violations (``$.path: message``)."""
    messages = []
    for err in exc.errors():
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        if err["type"] == "extra_forbidden":
            messages.append(
                f"{path}: is not defined in the schema and the schema does not "
                "allow additional properties"
            )
        else:
            messages.append(f"{path}: {err['msg']}")
    return XError(
        400,
        {
            "errors": [{"message": m} for m in messages],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": problem_type("invalid-request"),
        },
    )


class DroppedResponse(Response):
    """Starts a response, stalls, then ends without a body: the connection is dropped."""

    def __init__(self, stall: float) -> None:
        super().__init__(status_code=201, media_type="application/json")
        self.stall = stall

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(self.stall)
        headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": [*headers, (b"content-length", b"4096")],
            }
        )


@endpoint("create_tweet", USER)
async def create_tweet(call: Call) -> Response:
    raw = await json_body(call.request)
    try:
        body = CreateIn.model_validate(raw)
    except ValidationError as exc:
        raise schema_errors(exc) from None
    require_scope(call.principal, "tweet.write")
    if body.text is None and body.media is None:
        raise schema_errors(
            ValidationError.from_exception_data(
                "CreateIn", [{"type": "missing", "loc": ("text",), "input": raw}]
            )
        )
    author = call.state.accounts[call.user_id]
    draft = posting.Draft(
        text=body.text or "",
        reply_to=body.reply.in_reply_to_tweet_id if body.reply else None,
        quote_of=body.quote_tweet_id,
        reply_settings=body.reply_settings or "everyone",
        community_id=body.community_id,
    )
    post = posting.create(call.state, author, draft)
    call.emu.hub.publish(post)
    if call.emu.faults.take_timeout():
        return DroppedResponse(call.emu.faults.stall_seconds)
    data: dict[str, Any] = {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
    if post.community_id is not None:
        data["community_id"] = post.community_id
    return x_json({"data": data}, status=201, headers={"location": f"/2/tweets/{post.id}"})


@endpoint("delete_tweet", USER)
async def delete_tweet(call: Call) -> Response:
    post_id = call.request.path_params["id"]
    check_path_id("id", post_id)
    require_scope(call.principal, "tweet.write")
    post = call.state.posts.get(post_id)
    if post is None:
        return x_json({"errors": [not_found_error("tweet", "id", post_id)]})
    if post.author_id != call.user_id:
        raise about_blank(403, "Forbidden", "You are not allowed to delete this Tweet.")
    call.state.delete_post(post_id)
    return x_json({"data": {"deleted": True}})


@endpoint("tweet_lookup")
async def get_tweet(call: Call) -> Response:
    post_id = call.request.path_params["id"]
    check_path_id("id", post_id)
    p = Params(call.request, POST_VIEW_PARAMS)
    view = p.view()
    p.done()
    post = call.state.posts.get(post_id)
    if post is None:
        return x_json({"errors": [not_found_error("tweet", "id", post_id)]})
    body: dict[str, Any] = {"data": post_json(call.state, post, view)}
    includes = with_includes(call.state, [post], view)
    if includes:
        body["includes"] = includes
    return x_json(body)


@endpoint("tweet_lookup")
async def get_tweets(call: Call) -> Response:
    p = Params(call.request, ("ids", *POST_VIEW_PARAMS))
    raw = p.text("ids", required=True) or ""
    ids = [i for i in raw.split(",") if i]
    if raw and not 1 <= len(ids) <= 100:
        p.fail("ids", raw, "The `ids` query parameter value must contain between 1 and 100 ids")
    for i in ids:
        if not i.isdigit() or len(i) > 19:
            p.fail("ids", i, f"The `ids` query parameter value [{i}] does not match {_ID}")
    view = p.view()
    p.done()
    found = [call.state.posts[i] for i in ids if i in call.state.posts]
    body: dict[str, Any] = {}
    if found:
        body["data"] = [post_json(call.state, q, view) for q in found]
        includes = with_includes(call.state, found, view)
        if includes:
            body["includes"] = includes
    missing = [not_found_error("tweet", "ids", i) for i in ids if i not in call.state.posts]
    if missing:
        body["errors"] = missing
    return x_json(body)


class HiddenIn(_Strict):
    hidden: bool


@endpoint("hide_reply", USER)
async def hide_reply(call: Call) -> Response:
    """PUT /2/tweets/:id/hidden: hide or unhide a reply in a conversation you started."""
    post_id = call.request.path_params["id"]
    check_path_id("id", post_id)
    raw = await json_body(call.request)
    try:
        body = HiddenIn.model_validate(raw)
    except ValidationError as exc:
        raise schema_errors(exc) from None
    require_scope(call.principal, "tweet.moderate.write")
    post = call.state.posts.get(post_id)
    if post is None:
        raise XError(404, {**not_found_error("tweet", "id", post_id), "status": 404})
    root = call.state.posts.get(post.conversation_id)
    if post.in_reply_to_user_id is None or root is None or root.author_id != call.user_id:
        raise about_blank(
            403, "Forbidden", "You can only hide or unhide replies to conversations you authored."
        )
    post.hidden = body.hidden
    call.state.dirty = True
    return x_json({"data": {"hidden": body.hidden}})


routes = [
    Route("/2/tweets/{id}/hidden", hide_reply, methods=["PUT"]),
    Route("/2/tweets", create_tweet, methods=["POST"]),
    Route("/2/tweets", get_tweets, methods=["GET"]),
    Route("/2/tweets/{id}", get_tweet, methods=["GET"]),
    Route("/2/tweets/{id}", delete_tweet, methods=["DELETE"]),
]
