"""X's text rules in one place: weighted length and validity of a post, its URLs, hashtags
and @mentions, and the reply rule (may the host account reply to a post?).

Intake, the publisher, the splitter, auto-moderation and the X emulator all use this module;
it wraps ``twitter-text-parser`` (lengths, URLs, emoji) and replays twitter-text's hashtag and
mention rules, which that library lacks (checked against twitter-text's conformance suite).

X counts a post with the twitter-text rules: most Latin, Greek, Cyrillic... code points weigh 1,
CJK and other code points 2, every URL 23 whatever its length, and (config v3, the current one)
an emoji sequence weighs 2 however many code points it has. A post is valid when its weighted
length is 1..280 and it holds no invalid character (U+FFFE, U+FEFF, U+FFFF).

Two library bugs are worked around here: its ``parse_tweet`` fails on the v1 and v2
configurations it ships (``KeyError: 'emoji_parsing_enabled'``): ``_CONFIGS`` completes them;
its URL regex takes quadratic time on long runs of dot-separated labels that are not URLs
("a.a.a..." or "1.2.3...": 3 s for 1,400 characters), so :func:`url_spans` only runs it on the
whitespace-free runs that hold a possible top-level domain, and :func:`parse` uses it (and a
faster :func:`emoji_spans`). The official conformance suite and property tests against the
library (tests/test_twittertext.py) check that the results are the same.

Limits of the library: it imports ``pkg_resources`` (gone from setuptools 81 on), and knows
the emoji of Emoji 12 (2019): a newer ZWJ sequence counts as its parts (more than X counts:
a post we call valid is valid on X too).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from twitter_text import extract_urls_with_indices
from twitter_text.config import config as _library_configs
from twitter_text.get_character_weight import get_character_weight
from twitter_text.regexp.emoji import emoji as _EMOJI
from twitter_text.regexp.emoji import emoji_list as _EMOJI_LIST
from twitter_text.regexp.latin_accent_chars import latin_accent_chars
from twitter_text.regexp.valid_cctld import valid_cctld
from twitter_text.regexp.valid_gtld import valid_gtld
from twitter_text.regexp.valid_punycode import valid_punycode

MAX_WEIGHTED_LENGTH: Final = 280
URL_WEIGHT: Final = 23
INVALID_CHARACTERS: Final = frozenset("\ufffe\ufeff\uffff")
_LINE_ENDINGS = re.compile(r"\r\n|\r|\n")


class Config(Enum):
    """A twitter-text configuration; ``DEFAULT`` is v3, the one X uses today."""

    V1 = "version1"
    V2 = "version2"
    V3 = "version3"
    DEFAULT = "defaults"


_CONFIGS: Final[dict[Config, dict[str, Any]]] = {
    version: {"emoji_parsing_enabled": False, **_library_configs[version.value]}
    for version in Config
}


@dataclass(frozen=True, slots=True)
class ParsedText:
    """What twitter-text says of a text; ranges are UTF-16 code unit indices (inclusive)."""

    valid: bool
    weighted_length: int
    permillage: int
    valid_range_start: int
    valid_range_end: int
    display_range_start: int
    display_range_end: int


def parse(text: str, config: Config = Config.DEFAULT) -> ParsedText:
    """Parse ``text`` as X would count it under ``config``.

    The library's ``parse_tweet``, step for step, except that URLs come from
    :func:`url_spans` (same spans, without the quadratic time on dotted runs).
    """
    options = _CONFIGS[config]
    scale: int = options["scale"]
    max_length: int = options["max_weighted_tweet_length"]
    normalized = _LINE_ENDINGS.sub("\n", unicodedata.normalize("NFC", text))
    urls = dict(url_spans(normalized))
    emojis = dict(emoji_spans(normalized)) if options["emoji_parsing_enabled"] else {}
    weight = 0
    valid = True
    valid_index = 0
    index = 0
    while index < len(normalized):
        if index in urls:
            weight += options["transformed_url_length"] * scale
            index = urls[index] - 1
        elif index in emojis:
            weight += options["default_weight"]
            index = emojis[index] - 1
        else:
            weight += get_character_weight(normalized[index], options)
        valid = valid and normalized[index] not in INVALID_CHARACTERS
        if valid and weight <= max_length * scale:
            valid_index = index
        index += 1
    length = weight // scale
    normalization_offset = _utf16_length(text) - _utf16_length(normalized)
    return ParsedText(
        valid=valid and 0 < length <= max_length,
        weighted_length=length,
        permillage=length * 1000 // max_length,
        valid_range_start=0,
        valid_range_end=_utf16_length(normalized[: valid_index + 1]) - 1 + normalization_offset,
        display_range_start=0,
        display_range_end=max(_utf16_length(text) - 1, 0),
    )


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def weighted_length(text: str, config: Config = Config.DEFAULT) -> int:
    return parse(text, config).weighted_length


def is_valid(text: str, config: Config = Config.DEFAULT) -> bool:
    return parse(text, config).valid


def invalid_character_positions(text: str) -> list[int]:
    """Code point indices of the characters that make a post invalid whatever its length."""
    return [i for i, char in enumerate(text) if char in INVALID_CHARACTERS]


_RUN = re.compile(r"\S+")
_POSSIBLE_TLD = re.compile(
    rf"\.(?:{valid_gtld.pattern}|{valid_cctld.pattern}|{valid_punycode.pattern})", re.IGNORECASE
)


def url_spans(text: str) -> list[tuple[int, int]]:
    """Code point ``[start, end)`` spans of the URLs twitter-text finds (each weighs 23).

    A URL never holds whitespace and always ends with a top-level domain after a dot (then
    maybe a port, path and query), so runs without one are skipped: same result, linear time.
    """
    spans: list[tuple[int, int]] = []
    for run in _RUN.finditer(text):
        if _POSSIBLE_TLD.search(run.group()) is None:
            continue
        for url in extract_urls_with_indices(run.group()):
            start, end = url["indices"]
            spans.append((run.start() + start, run.start() + end))
    return spans


_EMOJI_CODE_POINTS = sorted({int(cp, 16) for e in _EMOJI_LIST for cp in e.codepoint.split()})
_EMOJI_RUN = re.compile("[" + "".join(re.escape(chr(cp)) for cp in _EMOJI_CODE_POINTS) + "]+")


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """Code point ``[start, end)`` spans of the emoji sequences twitter-text knows (Emoji 12).

    The library's emoji regex (a long alternation) only runs on the runs of code points that
    occur in emoji: same spans, many times faster on text.
    """
    return [
        (run.start() + match.start(), run.start() + match.end())
        for run in _EMOJI_RUN.finditer(text)
        for match in _EMOJI.finditer(run.group())
    ]


@dataclass(frozen=True, slots=True)
class Entity:
    """A hashtag or @mention: its text without the sign and its code point ``[start, end)``."""

    tag: str
    start: int
    end: int


# Hashtags: twitter-text defines them with Unicode property classes (\p{L}, \p{M}, \p{Nd})
# that Python's ``re`` lacks (and the library has no hashtag extractor), so its regex is
# replayed as a small scanner over ``unicodedata`` categories, with the same boundary, the
# same "must contain a letter" rule, the same rejection of a tag followed by ``#`` or
# ``://``, and the same removal of tags that sit inside a URL.
HASH_SIGNS: Final = frozenset("#＃")
AT_SIGNS: Final = frozenset("@＠")
_HASHTAG_SPECIALS: Final = frozenset(
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"
)


def _is_alpha(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


def _is_hashtag_char(char: str) -> bool:
    return _is_alpha(char) or unicodedata.category(char) == "Nd" or char in _HASHTAG_SPECIALS


def _hashtag_boundary(text: str, i: int, floor: int) -> bool:
    """True when a hash sign at ``i`` may start a hashtag (the regex's boundary group)."""
    if i == 0:
        return True
    prev = i - 1
    if prev < floor:  # the previous match consumed that character
        return False
    char = text[prev]
    return char in "\ufe0e\ufe0f" or not (_is_hashtag_char(char) or char == "&")


def _raw_hashtags(text: str) -> list[Entity]:
    found: list[Entity] = []
    floor = 0
    i = 0
    n = len(text)
    while i < n:
        if text[i] not in HASH_SIGNS or not _hashtag_boundary(text, i, floor):
            i += 1
            continue
        j = i + 1
        if j < n and text[j] in "\ufe0f\u20e3":
            i += 1
            continue
        while j < n and _is_hashtag_char(text[j]):
            j += 1
        body = text[i + 1 : j]
        if not body or not any(_is_alpha(c) for c in body):
            i += 1
            continue
        floor = j
        rest = text[j:]
        if not (rest[:1] in HASH_SIGNS or rest.startswith("://")):
            found.append(Entity(body, i, j))
        i = j
    return found


def extract_hashtags(text: str, urls: list[tuple[int, int]] | None = None) -> list[Entity]:
    """Hashtags of ``text`` as twitter-text extracts them (URL overlaps removed);
    ``urls`` are the text's :func:`url_spans` when the caller has them already."""
    tags = _raw_hashtags(text)
    if not tags or "." not in text:
        return tags
    spans = url_spans(text) if urls is None else urls
    return [t for t in tags if not any(s < t.end and t.start < e for s, e in spans)]


# X's username ("handle") rule, as X's API checks a username (its OpenAPI document,
# getUsersByUsername): 1-15 ASCII letters, digits or underscores. Every handle that enters
# (a host account, a question's author, an auto-moderation entry) is checked with it. The
# mention rule below is twitter-text's, wider on purpose: "@" and 16-20 word characters is
# still one mention (of nobody), so that no shorter handle is read inside it.
USERNAME_PATTERN: Final = r"^[A-Za-z0-9_]{1,15}$"
HANDLE_RULE: Final = "an X handle is 1-15 letters, digits or underscores"
_HANDLE = re.compile(r"@?([A-Za-z0-9_]{1,15})")


def username(raw: str) -> str | None:
    """``@Airbus`` (or `` Airbus ``) -> ``Airbus``; None when ``raw`` is no X handle."""
    m = _HANDLE.fullmatch(raw.strip())
    return None if m is None else m.group(1)


# twitter-text's valid mention: after a start, "RT:" or a character that is not a word
# character nor one of !#$%&*@; 1-20 word characters; not followed by @, an accented Latin
# letter or "://" (e.g. not "@http://", "@user@example.com" or "@aliceìnheiro").
_MENTION = re.compile(
    r"(?:^|(?<=[^a-zA-Z0-9_!#$%&*@＠])|(?:(?<=^)|(?<=[^a-zA-Z0-9_+~.-]))[rR][tT]:?)"
    r"[@＠]([a-zA-Z0-9_]{1,20})"
    rf"(?![@＠a-zA-Z0-9_{latin_accent_chars.pattern}]|://)"
)


def extract_mentions(text: str) -> list[Entity]:
    """@mentions of ``text`` as twitter-text extracts them (the span includes the sign)."""
    return [Entity(m.group(1), m.start(1) - 1, m.end()) for m in _MENTION.finditer(text)]


def mentions(text: str, handle: str) -> bool:
    """Whether ``text`` mentions @handle (case-insensitive, as X matches handles)."""
    wanted = handle.lstrip("@＠").casefold()
    return any(m.tag.casefold() == wanted for m in extract_mentions(text))


def sigil_spans(text: str) -> list[tuple[int, int]]:
    """Every ``[start, end)`` run a hash or at sign starts, whatever precedes it.

    Wider than the entity rules on purpose: cutting a post inside "@aliceìnheiro" (no
    mention) would leave "@alice" (a mention); a splitter keeps these runs whole.
    """
    spans = []
    for start, char in enumerate(text):
        if char in HASH_SIGNS:
            end = start + 1
            while end < len(text) and (text[end].isalnum() or _is_hashtag_char(text[end])):
                end += 1
            spans.append((start, end))
        elif char in AT_SIGNS:
            end = start + 1
            while end < len(text) and end - start <= 20 and _is_handle_char(text[end]):
                end += 1
            spans.append((start, end))
    return spans


def _is_handle_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


# The reply rule. Since 2026 X lets an API client reply to a post only when the post
# summons the replying account (mentions it; a retweet summons nobody), and the post's
# reply settings must let a mentioned account reply ("verified"/"subscribers" are not
# counted on: the host may be neither).
REPLY_SETTINGS_OPEN_TO_MENTIONED: Final = frozenset({"everyone", "mentionedUsers", "following"})


def is_retweet(text: str, reference_types: Collection[str] | None = None) -> bool:
    """A retweet: X says so in ``referenced_tweets`` (their ``type``), or, when those are
    unknown (None), the text starts "RT @" as an old-style retweet does."""
    if reference_types is not None:
        return "retweeted" in reference_types
    return text.startswith("RT @")


def summons(text: str, handle: str, reference_types: Collection[str] | None = None) -> bool:
    """Whether the post (``text``, the whole text of a long post) summons @handle."""
    return not is_retweet(text, reference_types) and mentions(text, handle)


def may_reply(
    text: str,
    handle: str,
    *,
    reference_types: Collection[str] | None = None,
    reply_settings: object = "everyone",
) -> bool:
    """Whether @handle may reply to the post through X's API (``reply_settings`` as X sends
    it; X leaves it out for "everyone")."""
    return reply_settings in REPLY_SETTINGS_OPEN_TO_MENTIONED and summons(
        text, handle, reference_types
    )
