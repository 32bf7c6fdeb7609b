"""Cuts never fall inside the hashtags and mentions of twitter-text's conformance suite.

Reads ../shared/conformance/twitter-text/extract.yml at test time; each expected entity is
looked up in its text and every position strictly inside it must be closed to cuts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from atexpert.domain.splitter import _entities

CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "twitter-text"
EXTRACT_YML = CONFORMANCE / "extract.yml"
SECTIONS = {"hashtags": "#＃", "hashtags_from_astral": "#＃", "mentions": "@＠"}


def _cases() -> list[Any]:
    if not EXTRACT_YML.is_file():
        reason = "twitter-text conformance suite absent: ../shared/conformance/twitter-text/"
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=reason + "extract.yml"))]
    tests = yaml.safe_load(EXTRACT_YML.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param(SECTIONS[section], case, id=f"{section}: {case['description']}")
        for section in SECTIONS
        for case in tests[section]
        if case["expected"]
    ]


@pytest.mark.parametrize(("sigils", "case"), _cases())
def test_no_cut_inside_an_extracted_entity(sigils: str, case: dict[str, Any]) -> None:
    text: str = case["text"]
    closed = _entities(text)
    for name in case["expected"]:
        found = [text.find(sigil + name) for sigil in sigils if sigil + name in text]
        assert found, (name, text)
        start = found[0]
        open_inside = [p for p in range(start + 1, start + 1 + len(name)) if not closed[p]]
        assert not open_inside, (name, text, open_inside)
