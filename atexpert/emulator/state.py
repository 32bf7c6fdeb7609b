"""The emulator's world: accounts, posts, stream rules, credentials, balance.

Everything lives in memory and is touched only from the server's event loop, so
no locks are needed. ``to_json``/``from_json`` give an optional snapshot file,
"durable enough for a demo".
"""

from __future__ import annotations

import bisect
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from atexpert.domain.twittertext import extract_hashtags, extract_mentions, url_spans
from atexpert.emulator.ids import Snowflake
from atexpert.emulator.query import Node, words


class Clock:
    """Wall-clock time plus an offset that tests may advance (token expiry, windows)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def iso(ts: float) -> str:
    """X's timestamp format: ``2026-11-26T09:00:00.000Z``."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


@dataclass(slots=True)
class Account:
    id: str
    username: str
    name: str
    created_at: float
    description: str = ""
    verified: bool = False
    protected: bool = False
    location: str = ""


@dataclass(slots=True)
class Post:
    id: str
    author_id: str
    author_username: str
    text: str
    created_at: float
    lang: str
    conversation_id: str
    reply_settings: str = "everyone"
    in_reply_to_user_id: str | None = None
    reply_to_username: str = ""
    referenced: list[tuple[str, str]] = field(default_factory=list)
    note_text: str | None = None
    source: str = "atexpert emulator"
    community_id: str | None = None
    hidden: bool = False
    like_count: int = 0
    liked_by: list[str] = field(default_factory=list)  # user ids who liked it by API
    bookmark_count: int = 0
    impression_count: int = 0
    words: tuple[str, ...] = ()
    hashtags: frozenset[str] = frozenset()
    mentions: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()

    def index_keys(self) -> list[str]:
        tags = [f"#{h}" for h in self.hashtags]
        return [*tags, *(f"@{m}" for m in self.mentions), f"from:{self.author_username}"]

    def analyze(self) -> None:
        """Compute the search-side views of the post (words, tags, flags)."""
        full = self.note_text or self.text
        self.words = tuple(words(full))
        urls = url_spans(full) if "." in full else []
        self.hashtags = frozenset(h.tag.casefold() for h in extract_hashtags(full, urls))
        self.mentions = frozenset(m.tag.casefold() for m in extract_mentions(full))
        names = {"retweeted": "retweet", "replied_to": "reply", "quoted": "quote"}
        flags = {f"is:{names[kind]}" for kind, _ in self.referenced if kind in names}
        if urls:
            flags.add("has:links")
        if self.mentions:
            flags.add("has:mentions")
        if self.hashtags:
            flags.add("has:hashtags")
        self.flags = frozenset(flags)


@dataclass(slots=True)
class Rule:
    id: str
    value: str
    tag: str
    node: Node


@dataclass(slots=True)
class OAuth2Token:
    user_id: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass(slots=True)
class AuthCode:
    user_id: str
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass(slots=True)
class AppCredentials:
    consumer_key: str
    consumer_secret: str
    bearer_token: str
    client_id: str
    client_secret: str

    @classmethod
    def generate(cls) -> AppCredentials:
        return cls(
            consumer_key=secrets.token_urlsafe(18),
            consumer_secret=secrets.token_urlsafe(36),
            bearer_token="AAAAAAAAAAAAAAAAAAAAA" + secrets.token_urlsafe(60),
            client_id=secrets.token_urlsafe(24),
            client_secret=secrets.token_urlsafe(36),
        )


@dataclass
class Policy:
    """Switchable X rules (on by default, as X enforces them for self-serve apps)."""

    summoned_replies_only: bool = True
    duplicate_check: bool = True
    metering: bool = True
    max_query_length: int = 512
    max_rules: int = 1000
    max_rule_length: int = 1024
    #: Seconds an OAuth 2.0 user access token lives (X: two hours); tests shorten it.
    oauth2_token_lifetime: int = 7200


class State:
    """All mutable emulator data plus the clock and id generator."""

    def __init__(self, clock: Clock | None = None, app: AppCredentials | None = None) -> None:
        self.clock = clock or Clock()
        self.app = app or AppCredentials.generate()
        self.reset()

    def reset(self) -> None:
        """Forget everything but the app credentials and the clock."""
        self.snowflake = Snowflake()
        self.policy = Policy()
        self.accounts: dict[str, Account] = {}
        self.by_username: dict[str, str] = {}
        self.posts: dict[str, Post] = {}
        self.rules: dict[str, Rule] = {}
        self.oauth1: dict[str, tuple[str, str]] = {}  # access token -> (user id, secret)
        self.oauth2: dict[str, OAuth2Token] = {}
        self.refresh: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.codes: dict[str, AuthCode] = {}
        #: Token tallies: OAuth 2.0 tokens ``issued``, ``refreshed``, ``refresh_refused``;
        #: requests answered 401 (``unauthorized``), ``expired_refused`` of them for an
        #: expired OAuth 2.0 token.
        self.auth_counts = dict.fromkeys(
            ("issued", "refreshed", "refresh_refused", "unauthorized", "expired_refused"), 0
        )
        self.balance_micro = 100_000_000  # USD 100.00
        self.spent_micro: dict[str, int] = {}
        self.referrers: dict[tuple[str, str], int] = {}  # (kind, post id) -> posts referring
        self.authored: dict[str, int] = {}  # user id -> number of posts
        self.texts: dict[tuple[str, str], str] = {}  # (author id, text) -> post id
        self.order: list[int] = []  # post ids, ascending
        self.index: dict[str, list[int]] = {}  # "#tag", "@name", "from:name" -> ids, ascending
        self.dirty = True

    def new_id(self, ts: float | None = None, *, monotonic: bool = True) -> str:
        t = self.clock.now() if ts is None else ts
        return self.snowflake.make(int(t * 1000), monotonic=monotonic)

    def account_by_username(self, username: str) -> Account | None:
        uid = self.by_username.get(username.casefold())
        return self.accounts.get(uid) if uid else None

    def add_account(self, username: str, name: str, **extra: Any) -> Account:
        if username.casefold() in self.by_username:
            raise ValueError(f"username {username!r} is taken")
        acc = Account(
            id=self.new_id(), username=username, name=name, created_at=self.clock.now(), **extra
        )
        self.accounts[acc.id] = acc
        self.by_username[username.casefold()] = acc.id
        self.dirty = True
        return acc

    def issue_user_tokens(self, user_id: str, scopes: tuple[str, ...]) -> dict[str, str]:
        """OAuth 1.0a access token/secret and an OAuth 2.0 access/refresh token."""
        token1 = f"{user_id}-{secrets.token_urlsafe(30)}"
        secret1 = secrets.token_urlsafe(33)
        self.oauth1[token1] = (user_id, secret1)
        access, refresh = self.issue_oauth2(user_id, scopes)
        return {
            "access_token": token1,
            "access_token_secret": secret1,
            "oauth2_access_token": access,
            "oauth2_refresh_token": refresh,
        }

    def issue_oauth2(self, user_id: str, scopes: tuple[str, ...]) -> tuple[str, str]:
        access = secrets.token_urlsafe(64)
        refresh = secrets.token_urlsafe(64)
        lifetime = self.policy.oauth2_token_lifetime
        self.oauth2[access] = OAuth2Token(user_id, scopes, self.clock.now() + lifetime)
        self.refresh[refresh] = (user_id, scopes)
        self.auth_counts["issued"] += 1
        self.dirty = True
        return access, refresh

    def add_post(self, post: Post) -> Post:
        post.analyze()
        self.posts[post.id] = post
        n = int(post.id)
        bisect.insort(self.order, n)
        for key in post.index_keys():
            bisect.insort(self.index.setdefault(key, []), n)
        self.authored[post.author_id] = self.authored.get(post.author_id, 0) + 1
        self.texts[(post.author_id, post.note_text or post.text)] = post.id
        for ref in post.referenced:
            self.referrers[ref] = self.referrers.get(ref, 0) + 1
        self.dirty = True
        return post

    def delete_post(self, post_id: str) -> Post | None:
        post = self.posts.pop(post_id, None)
        if post is not None:
            n = int(post_id)
            for ids in (self.order, *(self.index[k] for k in post.index_keys())):
                ids.pop(bisect.bisect_left(ids, n))
            self.authored[post.author_id] -= 1
            self.texts.pop((post.author_id, post.note_text or post.text), None)
            for ref in post.referenced:
                self.referrers[ref] -= 1
            self.dirty = True
        return post

    def ref_count(self, kind: str, post_id: str) -> int:
        """Posts referring to ``post_id`` as ``kind`` (``replied_to``, ``quoted``,
        ``retweeted``)."""
        return self.referrers.get((kind, post_id), 0)

    def post_count(self, user_id: str) -> int:
        return self.authored.get(user_id, 0)

    def newest_first(self, keys: set[str] | None = None) -> Iterator[Post]:
        """Posts from the newest id down (lazily, so a page stops early); with ``keys``
        (``"#tag"``, ``"@name"``, ``"from:name"``) only posts carrying at least one of them."""
        if keys is None:
            ids: Iterable[int] = reversed(self.order)
        elif len(keys) == 1:
            ids = reversed(self.index.get(next(iter(keys)), []))
        else:
            ids = sorted({n for k in keys for n in self.index.get(k, [])}, reverse=True)
        for n in ids:
            yield self.posts[str(n)]

    # -- snapshot ---------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "app": asdict(self.app),
            "accounts": [asdict(a) for a in self.accounts.values()],
            "posts": [
                {
                    k: v
                    for k, v in asdict(p).items()
                    if k not in {"words", "hashtags", "mentions", "flags"}
                }
                for p in self.posts.values()
            ],
            "rules": [{"id": r.id, "value": r.value, "tag": r.tag} for r in self.rules.values()],
            "oauth1": {k: list(v) for k, v in self.oauth1.items()},
            "oauth2": {k: asdict(v) for k, v in self.oauth2.items()},
            "refresh": {k: [u, list(s)] for k, (u, s) in self.refresh.items()},
            "balance_micro": self.balance_micro,
            "spent_micro": self.spent_micro,
            "policy": asdict(self.policy),
        }
