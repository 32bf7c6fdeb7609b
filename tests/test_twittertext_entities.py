"""Hashtags and @mentions of atexpert.domain.twittertext against twitter-text's conformance suite.

Reads ../shared/conformance/twitter-text/extract.yml at test time (beside the repo in CI);
every test skips with the reason when it is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from atexpert.domain import twittertext

CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "twitter-text"
EXTRACT_YML = CONFORMANCE / "extract.yml"
ABSENT = "twitter-text conformance suite absent: ../shared/conformance/twitter-text/extract.yml"


def _cases(*sections: str) -> list[Any]:
    if not EXTRACT_YML.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=ABSENT), id="suite-absent")]
    tests = yaml.safe_load(EXTRACT_YML.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param({**case, "section": section}, id=f"{section}: {case['description'][:60]}")
        for section in sections
        for case in tests[section]
    ]


#: Section of extract.yml -> the extractor it specifies and the name of the entity's text.
EXTRACTORS = {
    "hashtags": (twittertext.extract_hashtags, None),
    "hashtags_from_astral": (twittertext.extract_hashtags, None),
    "hashtags_with_indices": (twittertext.extract_hashtags, "hashtag"),
    "mentions": (twittertext.extract_mentions, None),
    "mentions_with_indices": (twittertext.extract_mentions, "screen_name"),
}


@pytest.mark.parametrize("case", _cases(*EXTRACTORS))
def test_hashtags_and_mentions(case: dict[str, Any]) -> None:
    extract, name = EXTRACTORS[case["section"]]
    found = extract(case["text"])
    if name is None:
        assert [e.tag for e in found] == case["expected"]
    else:
        assert [{name: e.tag, "indices": [e.start, e.end]} for e in found] == case["expected"]


@pytest.mark.parametrize("case", _cases("mentions_or_lists_with_indices"))
def test_a_list_mentions_its_owner(case: dict[str, Any]) -> None:
    # "@user/list" mentions @user: the span stops at the screen name.
    got = [(m.tag, m.start) for m in twittertext.extract_mentions(case["text"])]
    assert got == [(e["screen_name"], e["indices"][0]) for e in case["expected"]]


def test_mentions_is_case_insensitive_and_ignores_the_sign() -> None:
    assert twittertext.mentions("hey @AIRBUS, why?", "Airbus")
    assert twittertext.mentions("＠airbus", "@Airbus")
    assert not twittertext.mentions("mail me at me@airbus.com", "Airbus")


def test_sigil_spans_cover_every_would_be_entity() -> None:
    # Wider than the entity rules: "@aliceìnheiro" is no mention but "@alice" would be.
    text = "x@alice #Tag_1 f!@kn @" + "a" * 25
    spans = [text[s:e] for s, e in twittertext.sigil_spans(text)]
    assert spans == ["@alice", "#Tag_1", "@kn", "@" + "a" * 20]
