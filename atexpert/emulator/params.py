"""Query-parameter validation with X's 400 messages (unknown params, bad fields, ranges)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from starlette.requests import Request

from atexpert.emulator.problems import invalid_request

POST_FIELDS = frozenset(
    {
        "article",
        "article_title",
        "attachments",
        "author_id",
        "card_uri",
        "community_id",
        "context_annotations",
        "conversation_id",
        "created_at",
        "display_text_range",
        "edit_controls",
        "edit_history_tweet_ids",
        "edit_history_post_ids",
        "entities",
        "geo",
        "id",
        "in_reply_to_user_id",
        "lang",
        "matched_media_notes",
        "media_metadata",
        "non_public_metrics",
        "note_post",
        "note_request_suggestions",
        "note_tweet",
        "organic_metrics",
        "paid_partnership",
        "possibly_sensitive",
        "promoted_metrics",
        "public_metrics",
        "referenced_tweets",
        "referenced_posts",
        "reply_settings",
        "scopes",
        "source",
        "suggested_source_links",
        "suggested_source_links_with_counts",
        "text",
        "withheld",
    }
)
USER_FIELDS = frozenset(
    {
        "affiliation",
        "confirmed_email",
        "connection_status",
        "created_at",
        "description",
        "entities",
        "id",
        "is_identity_verified",
        "location",
        "most_recent_tweet_id",
        "most_recent_post_id",
        "name",
        "parody",
        "pinned_tweet_id",
        "pinned_post_id",
        "profile_banner_url",
        "profile_image_url",
        "protected",
        "public_metrics",
        "receives_your_dm",
        "subscribes_to_you",
        "subscription",
        "subscription_type",
        "url",
        "username",
        "verified",
        "verified_followers_count",
        "verified_type",
        "withheld",
    }
)
POST_EXPANSIONS = frozenset(
    {
        "article.cover_media",
        "article.media_entities",
        "attachments.media_keys",
        "attachments.media_source_tweet",
        "attachments.poll_ids",
        "author_id",
        "edit_history_tweet_ids",
        "edit_history_post_ids",
        "entities.mentions.username",
        "entities.note.mentions.username",
        "geo.place_id",
        "in_reply_to_user_id",
        "referenced_tweets.id",
        "referenced_tweets.id.attachments.media_keys",
        "referenced_tweets.id.author_id",
        "referenced_posts",
        "referenced_posts.id",
        "username",
    }
)
USER_EXPANSIONS = frozenset(
    {
        "pinned_tweet_id",
        "most_recent_tweet_id",
        "affiliation",
        "most_recent_post_id",
        "pinned_post_id",
    }
)
MEDIA_FIELDS = frozenset(
    {
        "alt_text",
        "duration_ms",
        "height",
        "media_key",
        "non_public_metrics",
        "organic_metrics",
        "preview_image_url",
        "promoted_metrics",
        "public_metrics",
        "type",
        "url",
        "variants",
        "width",
    }
)
POLL_FIELDS = frozenset({"duration_minutes", "end_datetime", "id", "options", "voting_status"})
PLACE_FIELDS = frozenset(
    {"contained_within", "country", "country_code", "full_name", "geo", "id", "name", "place_type"}
)
POST_VIEW_PARAMS = (
    "tweet.fields",
    "post.fields",
    "expansions",
    "user.fields",
    "media.fields",
    "poll.fields",
    "place.fields",
)
_ID = re.compile(r"^[0-9]{1,19}$")


@dataclass
class View:
    """Which fields and expansions the caller asked for."""

    post_fields: set[str] = field(default_factory=set)
    user_fields: set[str] = field(default_factory=set)
    expansions: set[str] = field(default_factory=set)


class Params:
    """Collects every problem of a request's query string, then raises them together."""

    def __init__(self, request: Request, allowed: Iterable[str]) -> None:
        self.query = request.query_params
        self.errors: list[tuple[str, list[str], str]] = []
        allowed = tuple(allowed)
        for key in self.query:
            if key not in allowed:
                self.errors.append(
                    (
                        key,
                        self.query.getlist(key),
                        f"The query parameter [{key}] is not one of [{','.join(allowed)}]",
                    )
                )

    def done(self) -> None:
        if self.errors:
            raise invalid_request(self.errors)

    def fail(self, param: str, value: str, message: str) -> None:
        self.errors.append((param, [value], message))

    def csv(self, name: str, allowed: frozenset[str]) -> set[str]:
        raw = self.query.get(name)
        if raw is None:
            return set()
        items = raw.split(",")
        for item in items:
            if item not in allowed:
                self.fail(
                    name,
                    item,
                    f"The `{name}` query parameter value [{item}] is not one "
                    f"of [{','.join(sorted(allowed))}]",
                )
        return set(items)

    def view(self) -> View:
        fields = self.csv("tweet.fields", POST_FIELDS) | self.csv("post.fields", POST_FIELDS)
        self.csv("media.fields", MEDIA_FIELDS)
        self.csv("poll.fields", POLL_FIELDS)
        self.csv("place.fields", PLACE_FIELDS)
        return View(
            fields, self.csv("user.fields", USER_FIELDS), self.csv("expansions", POST_EXPANSIONS)
        )

    def user_view(self) -> View:
        fields = self.csv("tweet.fields", POST_FIELDS) | self.csv("post.fields", POST_FIELDS)
        return View(
            fields, self.csv("user.fields", USER_FIELDS), self.csv("expansions", USER_EXPANSIONS)
        )

    def integer(self, name: str, lo: int, hi: int, default: int) -> int:
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.fail(name, raw, f"The `{name}` query parameter value [{raw}] is not a number")
            return default
        if not lo <= value <= hi:
            self.fail(
                name,
                raw,
                f"The `{name}` query parameter value [{raw}] is not between {lo} and {hi}",
            )
        return value

    def snowflake(self, name: str) -> str | None:
        raw = self.query.get(name)
        if raw is not None and not _ID.match(raw):
            self.fail(
                name,
                raw,
                f"The `{name}` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$",
            )
            return None
        return raw

    def timestamp(self, name: str) -> float | None:
        raw = self.query.get(name)
        if raw is None:
            return None
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        except ValueError:
            self.fail(
                name,
                raw,
                f"Invalid '{name}':'{raw}'. '{name}' must be a valid RFC 3339 "
                "timestamp, for example 2026-11-26T00:00:00Z",
            )
            return None

    def text(self, name: str, *, required: bool = False) -> str | None:
        raw = self.query.get(name)
        if raw is None and required:
            self.errors.append((name, [], f"The `{name}` query parameter can not be empty"))
        return raw


def check_path_id(name: str, value: str, pattern: re.Pattern[str] = _ID) -> None:
    if not pattern.match(value):
        raise invalid_request(
            [
                (
                    name,
                    [value],
                    f"The `{name}` query parameter value [{value}] "
                    f"does not match {pattern.pattern}",
                )
            ]
        )
