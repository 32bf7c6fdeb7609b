"""Hashtag and mention extraction faithful to twitter-text (the rules X itself applies).

twitter-text defines hashtags with Unicode property classes (``\\p{L}``, ``\\p{M}``,
``\\p{Nd}``) that Python's ``re`` lacks, so the hashtag regex is replayed here as a
small scanner over ``unicodedata`` categories, with the same boundary, the same
"must contain a letter" rule, the same rejection of a tag followed by ``#`` or
``://``, and the same removal of tags that sit inside a URL.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import twitter_text

_HASH_SIGNS = frozenset("#＃")
_SPECIAL = frozenset(
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"
)


@dataclass(frozen=True, slots=True)
class Entity:
    """A hashtag or mention: its text without the sign and its code-point span."""

    tag: str
    start: int
    end: int


def _is_alpha(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM"


def _is_alnum(ch: str) -> bool:
    return _is_alpha(ch) or unicodedata.category(ch) == "Nd" or ch in _SPECIAL


def _boundary_ok(text: str, i: int, floor: int) -> bool:
    """True when a hash sign at ``i`` may start a hashtag (the regex's boundary group)."""
    if i == 0:
        return True
    prev = i - 1
    if prev < floor:  # the previous match consumed that character
        return False
    ch = text[prev]
    return ch in "\ufe0e\ufe0f" or not (_is_alnum(ch) or ch == "&")


def _raw_hashtags(text: str) -> list[Entity]:
    found: list[Entity] = []
    floor = 0
    i = 0
    n = len(text)
    while i < n:
        if text[i] not in _HASH_SIGNS or not _boundary_ok(text, i, floor):
            i += 1
            continue
        j = i + 1
        if j < n and text[j] in "\ufe0f\u20e3":
            i += 1
            continue
        while j < n and _is_alnum(text[j]):
            j += 1
        body = text[i + 1 : j]
        if not body or not any(_is_alpha(c) for c in body):
            i += 1
            continue
        floor = j
        rest = text[j:]
        if not (rest[:1] in _HASH_SIGNS or rest.startswith("://")):
            found.append(Entity(body, i, j))
        i = j
    return found


def url_spans(text: str) -> list[tuple[int, int]]:
    """Code-point spans of the URLs twitter-text finds in ``text``."""
    return [
        (u["indices"][0], u["indices"][1]) for u in twitter_text.extract_urls_with_indices(text)
    ]


def extract_hashtags(text: str, urls: list[tuple[int, int]] | None = None) -> list[Entity]:
    """Hashtags of ``text`` as twitter-text extracts them (URL overlaps removed);
    ``urls`` are the text's :func:`url_spans` when the caller has them already."""
    tags = _raw_hashtags(text)
    if not tags or "." not in text:
        return tags
    spans = url_spans(text) if urls is None else urls
    return [t for t in tags if not any(s < t.end and t.start < e for s, e in spans)]


_LATIN_ACCENTS = (
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257"
    "\u0259\u025b\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_MENTION = re.compile(
    r"(?:^|(?<=[^a-zA-Z0-9_!#$%&*@＠])|(?:(?<=^)|(?<=[^a-zA-Z0-9_+~.-]))[rR][tT]:?)"
    r"[@＠]([a-zA-Z0-9_]{1,20})"
    rf"(?![@＠a-zA-Z0-9_{_LATIN_ACCENTS}]|://)"
)


def extract_mentions(text: str) -> list[Entity]:
    """@mentions of ``text`` (screen names of 1-20 word characters, as twitter-text)."""
    return [Entity(m.group(1), m.start(1) - 1, m.end()) for m in _MENTION.finditer(text)]
