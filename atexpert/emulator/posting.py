"""Creating posts: X's rules for API posts and the plain path for injected public posts."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from atexpert.domain.twittertext import parse as parse_text
from atexpert.domain.twittertext import summons, url_spans, weighted_length
from atexpert.emulator import meter
from atexpert.emulator.problems import body_problem, forbidden
from atexpert.emulator.state import Account, Post, State

NOT_SUMMONED = "You can only reply to or quote posts where you are mentioned or are the author."
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines text "
    "length see https://github.com/twitter/twitter-text."
)
REPLY_RESTRICTED = (
    "Reply to this conversation is not allowed because you have not been mentioned or "
    "otherwise given permission by the author of the post you are replying to."
)
REPLY_MISSING = "You attempted to reply to a Tweet that is deleted or not visible to you."
NOTE_PREVIEW = 275
_KANA = re.compile("[\u3040-\u30ff]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")


@dataclass(frozen=True, slots=True)
class Draft:
    text: str
    reply_to: str | None = None
    quote_of: str | None = None
    reply_settings: str = "everyone"
    lang: str | None = None
    created_at: float | None = None
    note_text: str | None = None
    retweet_of: str | None = None
    community_id: str | None = None


def fits_280(text: str) -> bool:
    """Whether ``text`` weighs at most 280; typical texts skip the (slow) parser: a code
    point weighs at most 2 and a URL 23, and every URL contains a dot."""
    if 2 * len(text) + 23 * text.count(".") <= 280:
        return True
    return weighted_length(text) <= 280


def guess_lang(text: str) -> str:
    """A crude language tag, enough for ``lang:`` in a demo (posts may set it explicitly)."""
    if _KANA.search(text):
        return "ja"
    return "ru" if _CYRILLIC.search(text) else "en"


def _build(
    state: State,
    author: Account,
    draft: Draft,
    referenced: list[tuple[str, str]],
    parent: Post | None,
) -> Post:
    ts = draft.created_at
    post_id = state.new_id(ts, monotonic=ts is None)
    text = draft.text
    note: str | None = draft.note_text
    if note is None and not fits_280(text):
        note, text = text, text[:NOTE_PREVIEW] + "…"
    return Post(
        id=post_id,
        author_id=author.id,
        author_username=author.username.casefold(),
        text=text,
        created_at=state.clock.now() if ts is None else ts,
        lang=draft.lang or guess_lang(note or text),
        conversation_id=parent.conversation_id if parent else post_id,
        reply_settings=draft.reply_settings,
        in_reply_to_user_id=parent.author_id if parent else None,
        reply_to_username=parent.author_username if parent else "",
        referenced=referenced,
        note_text=note,
        community_id=draft.community_id,
    )


def inject(state: State, author: Account, draft: Draft) -> Post:
    """A public post (not subject to the API rules), e.g. a question from the audience."""
    refs: list[tuple[str, str]] = []
    parent = None
    if draft.reply_to:
        parent = state.posts.get(draft.reply_to)
        if parent is None:
            raise forbidden(REPLY_MISSING)
        refs.append(("replied_to", parent.id))
    if draft.quote_of:
        refs.append(("quoted", draft.quote_of))
    if draft.retweet_of:
        refs.append(("retweeted", draft.retweet_of))
    return state.add_post(_build(state, author, draft, refs, parent))


def price_kind(state: State, author: Account, text: str, parent: Post | None) -> str:
    if url_spans(text):
        return "post_with_url"
    if parent is not None and parent.author_id != author.id:
        return "summoned_reply"
    return "post"


def create(state: State, author: Account, draft: Draft) -> Post:
    """POST /2/tweets semantics; raises :class:`XError` exactly where X refuses."""
    text = draft.text
    if not text.strip():
        raise body_problem("$.text: Post text must not be empty")
    parsed = parse_text(text)
    if parsed.weighted_length > 280 or not parsed.valid:
        raise body_problem(TOO_LONG)
    policy = state.policy
    parent: Post | None = None
    if draft.reply_to is not None:
        parent = state.posts.get(draft.reply_to)
        if parent is None:
            raise forbidden(REPLY_MISSING)
        summoned = parent.author_id == author.id or summons(
            parent.note_text or parent.text,
            author.username,
            [kind for kind, _ in parent.referenced],
        )
        if policy.summoned_replies_only and not summoned:
            raise forbidden(NOT_SUMMONED)
        if parent.reply_settings != "everyone" and not summoned:
            raise forbidden(REPLY_RESTRICTED)
    if draft.quote_of is not None and policy.summoned_replies_only:
        raise forbidden(NOT_SUMMONED)
    if policy.duplicate_check and (author.id, text) in state.texts:
        raise forbidden(DUPLICATE)
    kind = price_kind(state, author, text, parent)
    meter.require_credit(state, kind)
    refs = [("replied_to", parent.id)] if parent else []
    if draft.quote_of is not None:
        if draft.quote_of not in state.posts:
            raise body_problem("$.quote_tweet_id: the quoted post does not exist")
        refs.append(("quoted", draft.quote_of))
    post = state.add_post(
        _build(state, author, replace(draft, reply_to=None, quote_of=None), refs, parent)
    )
    meter.charge(state, kind)
    return post
