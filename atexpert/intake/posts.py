"""X posts into questions: the pure part of intake (no I/O).

A page of X API v2 JSON (``data`` + ``includes.users``) is read leniently: X may leave
fields out, add new ones, or send odd text. Each post is either accepted (an
:class:`~atexpert.domain.questions.IncomingQuestion`, with whether it can be replied to on X) or
skipped with a reason; nothing here raises on bad input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from atexpert.domain import twittertext
from atexpert.domain.questions import MAX_TEXT, Author, IncomingQuestion

TWEET_FIELDS = (
    "author_id",
    "created_at",
    "referenced_tweets",
    "reply_settings",
    "note_tweet",
    "entities",
    "conversation_id",
    "public_metrics",  # fields are free: X bills the posts read, whatever their fields
)
USER_FIELDS = ("created_at", "verified", "public_metrics")
EXPANSIONS = ("author_id",)

TWEPOCH_MS = 1288834974657  # X's snowflake epoch
_ID = re.compile(r"[0-9]{1,20}")
#: Author handle when X leaves the author out: ``x.com/i/status/<id>`` still opens the post.
UNKNOWN_HANDLE = "i"


@dataclass(frozen=True, slots=True)
class Target:
    """What one session's intake looks for."""

    session_id: str
    hashtags: frozenset[str]  # casefolded, without '#'
    host_id: str
    host_handle: str
    #: A desk takes every post it reads (the host's mentions), with a hashtag or not.
    any_hashtag: bool = False

    @classmethod
    def of(
        cls,
        session_id: str,
        hashtags: Iterable[str],
        host_id: str,
        host_handle: str,
        *,
        any_hashtag: bool = False,
    ) -> Target:
        tags = frozenset(t.lstrip("#＃").casefold() for t in hashtags)
        return cls(session_id, tags, host_id, host_handle.lstrip("@"), any_hashtag)


class Skip(StrEnum):
    RETWEET = "retweet"
    OWN_POST = "own_post"
    NO_HASHTAG = "no_hashtag"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class Accepted:
    incoming: IncomingQuestion
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Skipped:
    tweet_id: str | None
    reason: Skip
    detail: str = ""


Outcome = Accepted | Skipped
Users = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Page:
    """Posts and authors of one X answer (a timeline page or a stream line)."""

    posts: list[Any]
    users: dict[str, Mapping[str, Any]]
    newest_id: str | None
    next_token: str | None
    tags: list[str]  # stream: the tags of the matching rules


def read_page(body: Any) -> Page:
    """The parts of an X JSON answer we use; anything missing reads as empty."""
    if not isinstance(body, Mapping):
        return Page([], {}, None, None, [])
    data = body.get("data")
    posts: list[Any] = data if isinstance(data, list) else [data] if data is not None else []
    includes = body.get("includes")
    raw_users = includes.get("users") if isinstance(includes, Mapping) else None
    users: dict[str, Mapping[str, Any]] = {}
    for user in raw_users if isinstance(raw_users, list) else []:
        if isinstance(user, Mapping) and isinstance(user.get("id"), str):
            users[user["id"]] = user
    meta = body.get("meta")
    meta = meta if isinstance(meta, Mapping) else {}
    newest = meta.get("newest_id")
    token = meta.get("next_token")
    rules = body.get("matching_rules")
    tags = [
        str(r["tag"])
        for r in (rules if isinstance(rules, list) else [])
        if isinstance(r, Mapping) and isinstance(r.get("tag"), str)
    ]
    return Page(
        posts,
        users,
        newest if is_id(newest) else None,
        token if isinstance(token, str) and token else None,
        tags,
    )


def is_id(value: Any) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def id_key(tweet_id: str) -> tuple[int, str]:
    """Sort key of snowflake ids (numeric strings): shorter is older."""
    return len(tweet_id), tweet_id


def newer(a: str | None, b: str | None) -> str | None:
    """The later of two ids (None counts as the oldest)."""
    if a is None or b is None:
        return a or b
    return a if id_key(a) >= id_key(b) else b


def clean_text(text: str) -> str:
    """Valid UTF-8 (lone surrogates replaced), without NULs."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def post_time(post: Mapping[str, Any], tweet_id: str, now: datetime) -> datetime:
    """``created_at``, else the time in the snowflake id, else ``now``."""
    raw = post.get("created_at")
    if isinstance(raw, str):
        try:
            when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if when.tzinfo is not None:
                return when
        except ValueError:
            pass
    ms = (int(tweet_id) >> 22) + TWEPOCH_MS
    if TWEPOCH_MS < ms <= now.timestamp() * 1000 + 86_400_000:
        return datetime.fromtimestamp(ms / 1000, UTC)
    return now


def _note(post: Mapping[str, Any]) -> Mapping[str, Any] | None:
    note = post.get("note_tweet")
    if isinstance(note, Mapping) and isinstance(note.get("text"), str) and note["text"].strip():
        return note
    return None


def full_text(post: Mapping[str, Any]) -> str:
    """The whole text: a long post's ``note_tweet`` text, else ``text``."""
    note = _note(post)
    if note is not None:
        return str(note["text"])
    text = post.get("text")
    return text if isinstance(text, str) else ""


def hashtags(post: Mapping[str, Any], text: str) -> list[str]:
    """The post's hashtags: X's own ``entities`` when well formed, else extracted here.

    X leaves ``hashtags`` out of ``entities`` when there are none.
    """
    note = _note(post)
    entities = (note if note is not None else post).get("entities")
    if isinstance(entities, Mapping):
        found = entities.get("hashtags", [])
        if isinstance(found, list) and all(
            isinstance(h, Mapping) and isinstance(h.get("tag"), str) for h in found
        ):
            return [str(h["tag"]) for h in found]
    return [h.tag for h in twittertext.extract_hashtags(text)]


def reference_types(post: Mapping[str, Any]) -> list[str] | None:
    """The ``type`` of each of the post's ``referenced_tweets``; None when X leaves them out."""
    refs = post.get("referenced_tweets")
    if not isinstance(refs, list):
        return None
    return [str(r.get("type")) for r in refs if isinstance(r, Mapping)]


def author_of(author_id: str, user: Mapping[str, Any] | None) -> Author:
    """The author snapshot; an author missing from ``includes`` keeps only its id."""
    if not isinstance(user, Mapping):
        return Author(id=author_id, handle=UNKNOWN_HANDLE)
    metrics = user.get("public_metrics")
    followers = metrics.get("followers_count") if isinstance(metrics, Mapping) else None
    fields: dict[str, Any] = {
        "id": author_id,
        "handle": user.get("username"),
        "name": str(user.get("name") or "")[:100],
        "followers": followers if isinstance(followers, int) and followers >= 0 else 0,
        "verified": user.get("verified") is True,
        "account_created_at": user.get("created_at"),
    }
    try:
        return Author.model_validate(fields)
    except ValidationError:
        try:
            return Author.model_validate({**fields, "account_created_at": None})
        except ValidationError:
            return Author(id=author_id, handle=UNKNOWN_HANDLE, name=fields["name"])


def like_count(post: Mapping[str, Any]) -> int:
    """``public_metrics.like_count``; 0 when X leaves it out or sends something odd."""
    metrics = post.get("public_metrics")
    likes = metrics.get("like_count") if isinstance(metrics, Mapping) else None
    return likes if isinstance(likes, int) and not isinstance(likes, bool) and likes >= 0 else 0


def classify(post: Any, users: Users, target: Target, now: datetime) -> Outcome:
    """Decide what one post of a page is for ``target``'s session."""
    if not isinstance(post, Mapping):
        return Skipped(None, Skip.MALFORMED, f"a post is a JSON object, got {type(post).__name__}")
    tweet_id = post.get("id")
    if not is_id(tweet_id):
        return Skipped(None, Skip.MALFORMED, f"bad or missing id: {str(tweet_id)[:40]!r}")
    assert isinstance(tweet_id, str)
    author_id = post.get("author_id")
    if not is_id(author_id):
        return Skipped(tweet_id, Skip.MALFORMED, "bad or missing author_id")
    assert isinstance(author_id, str)
    text = clean_text(full_text(post))
    if not text.strip():
        return Skipped(tweet_id, Skip.MALFORMED, "no text")
    if author_id == target.host_id:
        return Skipped(tweet_id, Skip.OWN_POST)
    references = reference_types(post)
    if twittertext.is_retweet(text, references):
        return Skipped(tweet_id, Skip.RETWEET)
    tagged = any(tag.casefold() in target.hashtags for tag in hashtags(post, text))
    if not tagged and not target.any_hashtag:
        return Skipped(tweet_id, Skip.NO_HASHTAG)
    truncated = len(text) > MAX_TEXT
    replyable = twittertext.may_reply(
        text,
        target.host_handle,
        reference_types=references,
        reply_settings=post.get("reply_settings", "everyone"),
    )
    incoming = IncomingQuestion(
        tweet_id=tweet_id,
        author=author_of(author_id, users.get(author_id)),
        text=text[:MAX_TEXT],
        created_at=post_time(post, tweet_id, now),
        replyable=replyable,
        likes=like_count(post),
    )
    return Accepted(incoming, truncated)
