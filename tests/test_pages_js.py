"""The pure helpers of the consoles (``frontend/js/questions.js``) run under Node: filters,
the sort orders and the duplicate suggestions the moderators see. Skipped without node."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from atexpert.pages import FRONTEND

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run_js(body: str) -> Any:
    """Evaluate ``body`` (which must ``print(value)``) with questions.js imported as ``q``."""
    module = (FRONTEND / "js" / "questions.js").as_uri()
    script = (
        f"import * as q from {json.dumps(module)};\n"
        "const print = (v) => console.log(JSON.stringify(v));\n" + body
    )
    assert NODE is not None
    out = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout)


QUESTIONS = [
    {"id": "q_1", "status": "pending", "text": "How long does it take to build an A350?",
     "author": {"handle": "Ann", "name": "Ann Smith", "followers": 10},
     "created_at": "2026-11-26T09:00:00Z", "priority": 0, "starred": False, "tags": ["build"],
     "likes": 3},
    {"id": "q_2", "status": "pending", "text": "What colour are the seats?",
     "display_text": "Which seat colours can airlines choose?",
     "author": {"handle": "bob", "name": "", "followers": 500},
     "created_at": "2026-11-26T09:05:00Z", "priority": 5, "starred": False, "tags": []},
    {"id": "q_3", "status": "approved", "text": "How long to build one A350 aircraft?",
     "author": {"handle": "cid", "name": "Cid", "followers": 0},
     "created_at": "2026-11-26T09:10:00Z", "priority": 0, "starred": True, "tags": ["Build"],
     "likes": 3},
]  # fmt: skip


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["q_1", "q_2", "q_3"]),
        ({"status": "pending"}, ["q_1", "q_2"]),
        ({"text": "SEAT COLOURS"}, ["q_2"]),  # the edited text counts
        ({"text": "what colour"}, ["q_2"]),  # and so does the original
        ({"author": "@ann"}, ["q_1"]),
        ({"author": "smith"}, ["q_1"]),
        ({"tag": "bui"}, ["q_1", "q_3"]),
        ({"status": "approved", "tag": "build"}, ["q_3"]),
        ({"text": "   "}, ["q_1", "q_2", "q_3"]),
    ],
)
def test_filters(filters: dict[str, str], expected: list[str]) -> None:
    kept = f"{json.dumps(QUESTIONS)}.filter((x) => q.matches(x, {json.dumps(filters)}))"
    body = f"print({kept}.map((x) => x.id));"
    assert run_js(body) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["q_3", "q_2", "q_1"]),
        ("oldest", ["q_1", "q_2", "q_3"]),
        ("priority", ["q_2", "q_3", "q_1"]),  # priority, then stars, then oldest
        ("followers", ["q_2", "q_1", "q_3"]),
        ("likes", ["q_3", "q_1", "q_2"]),  # most liked, then newest; no count is 0
    ],
)
def test_sort_orders(sort: str, expected: list[str]) -> None:
    body = f"print([...{json.dumps(QUESTIONS)}].sort(q.SORTS.{sort}).map((x) => x.id));"
    assert run_js(body) == expected


def test_merge_suggestions_put_the_near_duplicate_first_and_skip_itself() -> None:
    body = (
        f"const all = {json.dumps(QUESTIONS)};\n"
        "const found = q.mergeCandidates(all[2], all);\n"
        "print(found.map((c) => [c.question.id, Math.round(c.score * 100)]));"
    )
    ranked = run_js(body)
    assert [qid for qid, _ in ranked] == ["q_1", "q_2"]
    assert ranked[0][1] > 40 and ranked[1][1] == 0


def test_similarity_ignores_links_mentions_hashtags_and_case() -> None:
    a = {"text": "@Airbus How LONG to build an A350? https://t.co/x #AskAirbus"}
    b = {"text": "how long to build an a350"}
    assert run_js(f"print(q.similarity({json.dumps(a)}, {json.dumps(b)}));") == 1
    assert run_js(f"print(q.similarity({json.dumps(a)}, {{text: ''}}));") == 0
