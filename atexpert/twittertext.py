"""Typed wrapper over ``twitter-text-parser``: weighted length and validity of a post.

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
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from twitter_text import extract_urls_with_indices
from twitter_text.config import config as _library_configs
from twitter_text.get_character_weight import get_character_weight
from twitter_text.regexp.emoji import emoji as _EMOJI
from twitter_text.regexp.emoji import emoji_list as _EMOJI_LIST
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
