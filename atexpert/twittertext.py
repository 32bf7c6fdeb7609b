"""Typed wrapper over ``twitter-text-parser``: weighted length and validity of a post.

X counts a post with the twitter-text rules: most Latin, Greek, Cyrillic... code points weigh 1,
CJK and other code points 2, every URL 23 whatever its length, and (config v3, the current one)
an emoji sequence weighs 2 however many code points it has. A post is valid when its weighted
length is 1..280 and it holds no invalid character (U+FFFE, U+FEFF, U+FFFF).

The library fails on the v1 and v2 configurations it ships (``KeyError:
'emoji_parsing_enabled'``): ``_CONFIGS`` completes them. Its URL regex takes quadratic time
on long runs of dot-separated labels that are not URLs ("a.a.a.a..."), so :func:`url_spans`
only runs it on the whitespace-free runs that hold a possible top-level domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from twitter_text import extract_emojis_with_indices, extract_urls_with_indices, parse_tweet
from twitter_text.config import config as _library_configs
from twitter_text.regexp.valid_cctld import valid_cctld
from twitter_text.regexp.valid_gtld import valid_gtld
from twitter_text.regexp.valid_punycode import valid_punycode

MAX_WEIGHTED_LENGTH: Final = 280
URL_WEIGHT: Final = 23
INVALID_CHARACTERS: Final = frozenset("\ufffe\ufeff\uffff")


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
    """Parse ``text`` as X would count it under ``config``."""
    result = parse_tweet(text, _CONFIGS[config])
    return ParsedText(
        valid=result.valid,
        weighted_length=result.weightedLength,
        permillage=result.permillage,
        valid_range_start=result.validRangeStart,
        valid_range_end=result.validRangeEnd,
        display_range_start=result.displayRangeStart,
        display_range_end=result.displayRangeEnd,
    )


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


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """Code point ``[start, end)`` spans of the emoji sequences twitter-text knows (Emoji 12)."""
    return [(e["indices"][0], e["indices"][1]) for e in extract_emojis_with_indices(text)]
