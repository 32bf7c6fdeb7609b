"""Likes: ``POST /2/users/{id}/likes`` and ``DELETE /2/users/{id}/likes/{tweet_id}``.

A like by API is remembered per user (liking twice counts once, as on X) and adds to the
post's ``like_count``, which the control surface may also set directly
(``POST /_emulator/tweets/{id}/metrics``): likes from the rest of the world.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response
from starlette.routing import Route

from atexpert.emulator.auth import require_scope
from atexpert.emulator.core import USER, Call, endpoint, json_body, x_json
from atexpert.emulator.params import check_path_id
from atexpert.emulator.problems import about_blank, not_found_error
from atexpert.emulator.state import Post
from atexpert.emulator.tweets import schema_errors

NOT_PERMITTED = "You are not permitted to perform this action."


class LikeIn(BaseModel):
    """The spec's LikePostRequest (additionalProperties false)."""

    model_config = ConfigDict(extra="forbid")

    tweet_id: str = Field(pattern=r"^[0-9]{1,19}$")


def like(post: Post, user_id: str) -> None:
    if user_id not in post.liked_by:
        post.liked_by.append(user_id)
        post.like_count += 1


def unlike(post: Post, user_id: str) -> None:
    if user_id in post.liked_by:
        post.liked_by.remove(user_id)
        post.like_count = max(post.like_count - 1, 0)


def _as_caller(call: Call) -> None:
    """The path's user id must be the authenticated user's (X: 403 otherwise)."""
    user_id = call.request.path_params["id"]
    check_path_id("id", user_id)
    require_scope(call.principal, "like.write")
    if user_id != call.user_id:
        raise about_blank(403, "Forbidden", NOT_PERMITTED)


@endpoint("like", USER)
async def like_post(call: Call) -> Response:
    _as_caller(call)
    raw = await json_body(call.request)
    try:
        body = LikeIn.model_validate(raw)
    except ValidationError as exc:
        raise schema_errors(exc) from None
    post = call.state.posts.get(body.tweet_id)
    if post is None:
        return x_json({"errors": [not_found_error("tweet", "tweet_id", body.tweet_id)]})
    like(post, call.user_id)
    call.state.dirty = True
    return x_json({"data": {"liked": True}})


@endpoint("unlike", USER)
async def unlike_post(call: Call) -> Response:
    _as_caller(call)
    tweet_id = call.request.path_params["tweet_id"]
    check_path_id("tweet_id", tweet_id)
    post = call.state.posts.get(tweet_id)
    if post is not None:
        unlike(post, call.user_id)
        call.state.dirty = True
    return x_json({"data": {"liked": False}})


routes = [
    Route("/2/users/{id}/likes", like_post, methods=["POST"]),
    Route("/2/users/{id}/likes/{tweet_id}", unlike_post, methods=["DELETE"]),
]
