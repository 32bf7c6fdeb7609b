"""X search-query language: a parser to a small AST and a matcher over posts.

Supported: keywords, "exact phrases", #hashtag, @mention, from:, to:, lang:,
conversation_id:, is:retweet / is:reply / is:quote, has:links / has:mentions /
has:hashtags, negation with ``-``, ``OR`` and parentheses. Juxtaposition is AND and
binds tighter than OR, as X documents. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol


class QueryError(ValueError):
    """The query is not valid X query syntax; ``str(err)`` is X's message."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"There were errors processing your request: {reason}")


@dataclass(frozen=True, slots=True)
class Term:
    kind: str  # keyword, phrase, hashtag, mention, from, to, lang, conversation_id, is, has
    value: str
    standalone: bool


@dataclass(frozen=True, slots=True)
class Not:
    node: Node


@dataclass(frozen=True, slots=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    nodes: tuple[Node, ...]


Node = Term | Not | And | Or

_OPERATORS = {"from", "to", "lang", "conversation_id", "is", "has", "url", "retweets_of"}
_IS_VALUES = {"retweet", "reply", "quote", "verified"}
_HAS_VALUES = {"links", "mentions", "hashtags", "media", "images", "videos"}
_TOKEN = re.compile(r'\s*(?:(\()|(\))|(-?"(?:[^"\\]|\\.)*")|([^\s()"]+))')
_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """The tokenized, lower-cased words X matches keywords against."""
    return _WORD.findall(text.casefold())


def _lex(query: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    stripped = query.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if m is None or m.end() == pos:
            raise QueryError(
                f"no viable alternative at character '{stripped[pos]}' (at position {pos + 1})"
            )
        tokens.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return tokens


def _term(token: str, position: int) -> Term:
    if token.startswith('"'):
        phrase = token[1:-1].replace('\\"', '"')
        if not words(phrase):
            raise QueryError(f"empty phrase (at position {position})")
        return Term("phrase", phrase, True)
    if token[0] in "#＃" and len(token) > 1:
        return Term("hashtag", token[1:].casefold(), True)
    if token[0] in "@＠" and len(token) > 1:
        return Term("mention", token[1:].casefold(), True)
    op, sep, value = token.partition(":")
    if sep and op.isidentifier() and not value.startswith("//"):
        if op not in _OPERATORS:
            raise QueryError(
                f"Reference to invalid operator '{op}'. Operator is not available in current "
                "product or product packaging. Please refer to complete available operator list "
                "at https://developer.twitter.com/en/docs/twitter-api/tweets/search/integrate/"
                f"build-a-query. (at position {position})"
            )
        if not value:
            raise QueryError(f"Missing value for operator '{op}' (at position {position})")
        if (op == "is" and value not in _IS_VALUES) or (op == "has" and value not in _HAS_VALUES):
            raise QueryError(f"Reference to invalid field '{value}' (at position {position})")
        value = (
            value.lstrip("@").casefold()
            if op in {"from", "to", "retweets_of"}
            else value.casefold()
        )
        return Term(op, value, op in {"from", "to", "conversation_id", "url", "retweets_of"})
    return Term("keyword", token.casefold(), True)


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse_or(self) -> Node:
        branches = [self.parse_and()]
        while self.peek() == "OR":
            self.pos += 1
            if self.peek() in (None, ")", "OR"):
                raise QueryError(
                    "Ambiguous use of or as a keyword. Use a space between words or quote the "
                    "phrase."
                )
            branches.append(self.parse_and())
        return branches[0] if len(branches) == 1 else Or(tuple(branches))

    def parse_and(self) -> Node:
        nodes: list[Node] = []
        while self.peek() not in (None, ")", "OR"):
            nodes.append(self.parse_unary())
        if not nodes:
            raise QueryError(
                f"no viable alternative at input '{self.peek() or ''}' (at position {self.pos + 1})"
            )
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def parse_unary(self) -> Node:
        tok = self.tokens[self.pos]
        self.pos += 1
        if tok == "(":
            inner = self.parse_or()
            if self.peek() != ")":
                raise QueryError(f"missing ')' (at position {self.pos + 1})")
            self.pos += 1
            return inner
        if tok == "-":
            if self.peek() != "(":
                raise QueryError("Negation must be followed by a term")
            return Not(self.parse_unary())
        if tok.startswith("-"):
            return Not(_term(tok[1:], self.pos))
        return _term(tok, self.pos)


def _has_positive(node: Node) -> bool:
    if isinstance(node, Term):
        return node.standalone
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_has_positive(n) for n in node.nodes)
    return all(_has_positive(n) for n in node.nodes)


def parse(query: str, max_length: int = 512) -> Node:
    """Parse ``query``; raise :class:`QueryError` with X's wording when it is invalid."""
    if not query.strip():
        raise QueryError("Rules must contain at least one positive, non-stopword clause")
    if len(query) > max_length:
        raise QueryError(f"Query length exceeds {max_length} characters")
    parser = _Parser(_lex(query))
    node = parser.parse_or()
    if parser.peek() is not None:
        raise QueryError(f"extraneous input '{parser.peek()}' (at position {parser.pos + 1})")
    if not _has_positive(node):
        raise QueryError(
            "Rules must contain a non-negation term and at least one standalone operator"
        )
    return node


class Matchable(Protocol):
    """What the matcher needs to know about a post (see ``state.Post``)."""

    @property
    def words(self) -> tuple[str, ...]: ...
    @property
    def hashtags(self) -> frozenset[str]: ...
    @property
    def mentions(self) -> frozenset[str]: ...
    @property
    def author_username(self) -> str: ...
    @property
    def reply_to_username(self) -> str: ...
    @property
    def lang(self) -> str: ...
    @property
    def conversation_id(self) -> str: ...
    @property
    def flags(self) -> frozenset[str]: ...


def _phrase_in(phrase: list[str], text: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(list(text[i : i + n]) == phrase for i in range(len(text) - n + 1))


def _match_term(t: Term, post: Matchable) -> bool:
    kind, value = t.kind, t.value
    if kind == "keyword":
        kw = words(value)
        return bool(kw) and _phrase_in(kw, post.words)
    if kind == "phrase":
        return _phrase_in(words(value), post.words)
    if kind == "hashtag":
        return value in post.hashtags
    if kind == "mention":
        return value in post.mentions
    if kind == "from":
        return post.author_username == value
    if kind == "to":
        return post.reply_to_username == value
    if kind == "lang":
        return post.lang.casefold() == value
    if kind == "conversation_id":
        return post.conversation_id == value
    return f"{kind}:{value}" in post.flags


def matches(node: Node, post: Matchable) -> bool:
    """Whether ``post`` satisfies the parsed query ``node``."""
    if isinstance(node, Term):
        return _match_term(node, post)
    if isinstance(node, Not):
        return not matches(node.node, post)
    if isinstance(node, And):
        return all(matches(n, post) for n in node.nodes)
    return any(matches(n, post) for n in node.nodes)


def mentions_positive(node: Node, kind: str, value: str) -> bool:
    """Whether ``node`` asks positively for ``kind:value`` (e.g. ``is:retweet``)."""
    if isinstance(node, Term):
        return node.kind == kind and node.value == value
    if isinstance(node, Not):
        return False
    return any(mentions_positive(n, kind, value) for n in node.nodes)


def required_keys(node: Node) -> set[str] | None:
    """Index keys (``#tag``, ``@name``, ``from:name``): every match carries one of them."""
    if isinstance(node, Term):
        if node.kind == "hashtag":
            return {f"#{node.value}"}
        if node.kind == "mention":
            return {f"@{node.value}"}
        return {f"from:{node.value}"} if node.kind == "from" else None
    if isinstance(node, And):
        return next((k for n in node.nodes if (k := required_keys(n)) is not None), None)
    if isinstance(node, Or):
        keys: set[str] = set()
        for n in node.nodes:
            part = required_keys(n)
            if part is None:
                return None
            keys |= part
        return keys
    return None
