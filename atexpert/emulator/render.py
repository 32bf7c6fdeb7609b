"""Posts and users as X API v2 JSON, honouring fields and expansions."""

from __future__ import annotations

from typing import Any

from atexpert.domain.twittertext import extract_hashtags, extract_mentions, url_spans
from atexpert.emulator.params import View
from atexpert.emulator.state import Account, Post, State, iso

_ALIASES = {  # the 2025 spec renamed tweet -> post; answer in the caller's vocabulary
    "referenced_posts": "referenced_tweets",
    "note_post": "note_tweet",
    "edit_history_post_ids": "edit_history_tweet_ids",
}


def entities(state: State, text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tags = extract_hashtags(text)
    if tags:
        out["hashtags"] = [{"start": t.start, "end": t.end, "tag": t.tag} for t in tags]
    mentions = []
    for m in extract_mentions(text):
        entry: dict[str, Any] = {"start": m.start, "end": m.end, "username": m.tag}
        acc = state.account_by_username(m.tag)
        if acc is not None:
            entry["id"] = acc.id
        mentions.append(entry)
    if mentions:
        out["mentions"] = mentions
    urls = [
        {
            "start": s,
            "end": e,
            "url": text[s:e],
            "expanded_url": text[s:e],
            "display_url": text[s:e].split("://", 1)[-1][:26],
        }
        for s, e in url_spans(text)
    ]
    if urls:
        out["urls"] = urls
    return out


#: The field of a post that links it to what an expansion puts in ``includes``: X sends
#: it with the expansion even when ``tweet.fields`` does not ask for it (docs.x.com,
#: "Expansions"), so a client can join ``data`` to ``includes``.
_LINKS = {
    "author_id": "author_id",
    "in_reply_to_user_id": "in_reply_to_user_id",
    "referenced_tweets.id": "referenced_tweets",
    "referenced_tweets.id.author_id": "referenced_tweets",
    "referenced_posts": "referenced_posts",
    "referenced_posts.id": "referenced_posts",
    "entities.mentions.username": "entities",
    "entities.note.mentions.username": "note_tweet",
    "attachments.media_keys": "attachments",
    "attachments.poll_ids": "attachments",
    "geo.place_id": "geo",
}


def linked_fields(view: View, *, included: bool = False) -> set[str]:
    """The fields a post carries under ``view``: those asked, and those its expansions
    link by; a post in ``includes.tweets`` carries its ``author_id`` when
    ``referenced_tweets.id.author_id`` put its author in ``includes.users``."""
    fields = view.post_fields | {_LINKS[e] for e in view.expansions if e in _LINKS}
    if included and "referenced_tweets.id.author_id" in view.expansions:
        fields.add("author_id")
    return fields


def post_json(state: State, post: Post, view: View, *, included: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
    for name in sorted(linked_fields(view, included=included)):
        canonical = _ALIASES.get(name, name)
        value: Any = None
        if canonical == "author_id":
            value = post.author_id
        elif canonical == "created_at":
            value = iso(post.created_at)
        elif canonical == "conversation_id":
            value = post.conversation_id
        elif canonical == "in_reply_to_user_id":
            value = post.in_reply_to_user_id
        elif canonical == "referenced_tweets":
            value = [{"type": k, "id": i} for k, i in post.referenced] or None
        elif canonical == "reply_settings":
            value = post.reply_settings
        elif canonical == "lang":
            value = post.lang
        elif canonical == "note_tweet" and post.note_text is not None:
            value = {"text": post.note_text}
            ents = entities(state, post.note_text)
            if ents:
                value["entities"] = ents
        elif canonical == "entities":
            value = entities(state, post.text) or None
        elif canonical == "public_metrics":
            value = public_metrics(state, post)
        elif canonical == "community_id":
            value = post.community_id
        elif canonical == "source":
            value = post.source
        elif canonical == "possibly_sensitive":
            value = False
        elif canonical == "edit_controls":
            value = {
                "edits_remaining": 5,
                "is_edit_eligible": False,
                "editable_until": iso(post.created_at + 3600),
            }
        if value is not None:
            data[name] = value
    return data


def public_metrics(state: State, post: Post) -> dict[str, int]:
    """X's counters of a post (``retweet_count`` as X sends it, ``repost_count`` as the
    2025 spec names it)."""
    reposts = state.ref_count("retweeted", post.id)
    return {
        "retweet_count": reposts,
        "reply_count": state.ref_count("replied_to", post.id),
        "like_count": post.like_count,
        "quote_count": state.ref_count("quoted", post.id),
        "bookmark_count": post.bookmark_count,
        "impression_count": post.impression_count,
        "repost_count": reposts,
    }


def user_json(account: Account, fields: set[str], state: State) -> dict[str, Any]:
    data: dict[str, Any] = {"id": account.id, "name": account.name, "username": account.username}
    values: dict[str, Any] = {
        "created_at": iso(account.created_at),
        "description": account.description,
        "verified": account.verified,
        "protected": account.protected,
        "location": account.location or None,
        "profile_image_url": "https://abs.twimg.com/sticky/default_profile_images/"
        "default_profile_normal.png",
        "public_metrics": {
            "followers_count": 0,
            "following_count": 0,
            "tweet_count": state.post_count(account.id),
            "post_count": state.post_count(account.id),
            "listed_count": 0,
            "like_count": 0,
            "media_count": 0,
        },
        "verified_type": "none",
    }
    for name in fields:
        if values.get(name) is not None:
            data[name] = values[name]
    return data


def with_includes(state: State, posts: list[Post], view: View) -> dict[str, Any]:
    """The ``includes`` object for ``posts`` (empty dict when nothing is expanded)."""
    users: dict[str, Account] = {}
    tweets: dict[str, Post] = {}
    exp = view.expansions
    for post in posts:
        if "author_id" in exp:
            _add_user(state, users, post.author_id)
        if "in_reply_to_user_id" in exp and post.in_reply_to_user_id:
            _add_user(state, users, post.in_reply_to_user_id)
        if "entities.mentions.username" in exp:
            for m in extract_mentions(post.text):
                acc = state.account_by_username(m.tag)
                if acc is not None:
                    users.setdefault(acc.id, acc)
        if exp & {
            "referenced_tweets.id",
            "referenced_posts",
            "referenced_posts.id",
            "referenced_tweets.id.author_id",
        }:
            for _, ref_id in post.referenced:
                ref = state.posts.get(ref_id)
                if ref is not None:
                    tweets.setdefault(ref.id, ref)
                    if "referenced_tweets.id.author_id" in exp:
                        _add_user(state, users, ref.author_id)
    includes: dict[str, Any] = {}
    if users:
        includes["users"] = [user_json(u, view.user_fields, state) for u in users.values()]
    if tweets:
        includes["tweets"] = [post_json(state, t, view, included=True) for t in tweets.values()]
    return includes


def _add_user(state: State, users: dict[str, Account], user_id: str) -> None:
    acc = state.accounts.get(user_id)
    if acc is not None:
        users.setdefault(acc.id, acc)


def posts_body(state: State, posts: list[Post], view: View, meta: dict[str, Any]) -> dict[str, Any]:
    """A page of posts: ``data`` (omitted when empty), ``includes``, ``meta``."""
    body: dict[str, Any] = {}
    if posts:
        body["data"] = [post_json(state, q, view) for q in posts]
        includes = with_includes(state, posts, view)
        if includes:
            body["includes"] = includes
    body["meta"] = meta
    return body
