"""twitter-text conformance (validate.yml, read at test time) and our wrapper's extras."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from twitter_text import extract_emojis_with_indices, extract_urls_with_indices, parse_tweet
from twitter_text.config import config as library_configs

from atexpert.domain import twittertext
from atexpert.domain.twittertext import Config

CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "twitter-text"
VALIDATE_YML = CONFORMANCE / "validate.yml"

# Section of validate.yml -> configuration it is specified for. The `tweets` section is the
# old 140-character rule and does not apply to 280-character posts.
SECTIONS = {
    "WeightedTweetsCounterTest": Config.V2,
    "WeightedTweetsWithDiscountedEmojiCounterTest": Config.V3,
    "UnicodeDirectionalMarkerCounterTest": Config.DEFAULT,
}
FIELDS = {
    "weightedLength": "weighted_length",
    "valid": "valid",
    "permillage": "permillage",
    "displayRangeStart": "display_range_start",
    "displayRangeEnd": "display_range_end",
    "validRangeStart": "valid_range_start",
    "validRangeEnd": "valid_range_end",
}


def _cases() -> list[Any]:
    if not VALIDATE_YML.is_file():
        return [
            pytest.param(
                None,
                None,
                marks=pytest.mark.skip(
                    reason="twitter-text conformance suite not found: ../shared/conformance/"
                    "twitter-text/validate.yml is absent (it is beside the repo in CI only)"
                ),
                id="conformance-suite-absent",
            )
        ]
    tests = yaml.safe_load(VALIDATE_YML.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param(config, case, id=f"{section}: {case['description']}")
        for section, config in SECTIONS.items()
        for case in tests[section]
    ]


@pytest.mark.parametrize(("config", "case"), _cases())
def test_conformance(config: Config, case: dict[str, Any]) -> None:
    expected = {FIELDS[key]: value for key, value in case["expected"].items()}
    got = asdict(twittertext.parse(case["text"], config))
    assert {key: got[key] for key in expected} == expected


def test_conformance_suite_covers_every_section() -> None:
    if not VALIDATE_YML.is_file():
        pytest.skip("twitter-text conformance suite absent (../shared/ is beside the repo in CI)")
    tests = yaml.safe_load(VALIDATE_YML.read_text(encoding="utf-8"))["tests"]
    assert all(len(tests[section]) > 0 for section in SECTIONS)


def test_v2_config_works_although_the_library_ships_it_incomplete() -> None:
    # The library's own config["version2"] has no "emoji_parsing_enabled": parse_tweet raises.
    assert twittertext.parse("😷", Config.V2).weighted_length == 2  # one astral code point
    assert twittertext.parse("👨‍👩‍👧", Config.V2).weighted_length == 8  # 3 x 2 + 2 ZWJ x 1
    assert twittertext.parse("👨‍👩‍👧", Config.V3).weighted_length == 2  # one emoji


def test_default_is_v3_280() -> None:
    assert twittertext.weighted_length("a" * 280) == 280
    assert twittertext.is_valid("a" * 280)
    assert not twittertext.is_valid("a" * 281)
    assert not twittertext.is_valid("")
    assert twittertext.weighted_length("日本") == 4
    assert twittertext.weighted_length("see https://example.com/" + "x" * 500) == 4 + 23
    assert twittertext.weighted_length("Pourquoi\u00a0?") == 10


def test_invalid_characters() -> None:
    assert twittertext.invalid_character_positions("ab\ufffec\uffff") == [2, 4]
    assert not twittertext.is_valid("ab\ufffe")


def test_url_spans_and_emoji_spans() -> None:
    text = "Lire https://airbus.com/a?b=1 et airbus.com. Pas a.b.c ni 1.2.3 🎉"
    spans = twittertext.url_spans(text)
    assert [text[s:e] for s, e in spans] == ["https://airbus.com/a?b=1", "airbus.com"]
    assert [text[s:e] for s, e in twittertext.emoji_spans(text)] == ["🎉"]


def test_url_spans_is_fast_on_dotted_runs() -> None:
    # The library's URL regex takes seconds on this (quadratic); url_spans skips such runs.
    text = "a." * 3000 + " 1." * 1000 + " voir airbus.com"
    assert [text[s:e] for s, e in twittertext.url_spans(text)] == ["airbus.com"]
    assert twittertext.weighted_length(text) == len(text) - len("airbus.com") + 23


_PIECES = st.sampled_from(
    [
        *("https://airbus.com/x", "airbus.com", "t.co/abc", "foo.bar", "a.b", "x.fr/", "(see", ")"),
        *(".", "👨\u200d👩\u200d👧", "🇫🇷", "日本", "e\u0301", "\u00a0", "\r\n", "\u202a", "\ufffe"),
        *("👍🏽", "#️⃣", "1️⃣", "#\u20e3", "©", "™️", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "❤️\u200d🔥", "🫠", "2026"),
    ]
)
_TEXTS = st.lists(
    st.one_of(_PIECES, st.text(st.characters(codec="utf-8"), max_size=8)), max_size=12
).map(" ".join)


@given(_TEXTS)
def test_emoji_spans_match_the_library(text: str) -> None:
    expected = [tuple(e["indices"]) for e in extract_emojis_with_indices(text)]
    assert twittertext.emoji_spans(text) == expected


@given(_TEXTS)
def test_url_spans_match_the_library_on_the_whole_text(text: str) -> None:
    expected = [tuple(url["indices"]) for url in extract_urls_with_indices(text)]
    assert twittertext.url_spans(text) == expected


@given(_TEXTS, st.sampled_from([Config.V2, Config.V3]))
def test_parse_matches_the_library_parse_tweet(text: str, config: Config) -> None:
    options = {"emoji_parsing_enabled": False, **library_configs[config.value]}
    expected = parse_tweet(text, options).asdict()
    assert asdict(twittertext.parse(text, config)) == {
        snake: expected[camel] for camel, snake in FIELDS.items()
    }
