"""The pure helpers of the consoles run under Node: filters, the sort orders and the
duplicate suggestions the moderators see (``frontend/js/questions.js``), and the mirror of
the session every console folds the live events into (``frontend/js/mirror.js``).
Skipped without node."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from typing import Any

import pytest

from atexpert.domain.clock import shown_time
from atexpert.web.pages import FRONTEND

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run_js(body: str, module: str = "questions.js", name: str = "q") -> Any:
    """Evaluate ``body`` (which must ``print(value)``) with ``module`` imported as ``name``."""
    uri = (FRONTEND / "js" / module).as_uri()
    script = (
        f"import * as {name} from {json.dumps(uri)};\n"
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


MIRROR = """
const state = { session: null, questions: new Map(), answers: new Map(), automod: null };
const dump = () => ({
  session: state.session,
  questions: Object.fromEntries(state.questions),
  answers: Object.fromEntries(state.answers),
  automod: state.automod,
});
const event = (entity, record, id) =>
  ({ type: "event", entity, entity_id: id || (record && record.id), record });
"""


def test_the_mirror_keeps_the_newest_version_of_each_record() -> None:
    body = MIRROR + (
        "m.applySnapshot(state, {session: {id: 's', version: 1}, answers: [],"
        " questions: [{id: 'q_1', status: 'pending', version: 1}]});\n"
        "m.applyEvent(state, event('question', {id: 'q_1', status: 'approved', version: 3}));\n"
        "m.applyEvent(state, event('question', {id: 'q_1', status: 'pending', version: 2}));\n"
        "m.keep(state, 'question', {id: 'q_1', status: 'rejected', version: 2});\n"
        "m.applyEvent(state, event('answer', {id: 'a_1', text: 'Yes', version: 2}));\n"
        "m.keep(state, 'answer', {id: 'a_1', text: 'Yes.', version: 2});\n"
        "m.keep(state, 'automod', {config: {raid_mode: true}, version: 2});\n"
        "m.applyEvent(state, event('automod', {config: {raid_mode: false}, version: 1}, 's'));\n"
        "m.applyEvent(state, event('session', {id: 's', title: 'new', version: 2}));\n"
        "m.applyEvent(state, event('session', {id: 's', title: 'old', version: 1}));\n"
        "print(dump());"
    )
    assert run_js(body, "mirror.js", "m") == {
        "session": {"id": "s", "title": "new", "version": 2},
        "questions": {"q_1": {"id": "q_1", "status": "approved", "version": 3}},
        "answers": {"a_1": {"id": "a_1", "text": "Yes.", "version": 2}},  # same version: the last
        "automod": {"config": {"raid_mode": True}, "version": 2},
    }


def test_the_mirror_drops_what_leaves_the_view_and_a_snapshot_replaces_all() -> None:
    body = MIRROR + (
        "m.applyEvent(state, event('question', {id: 'q_1', version: 4}));\n"
        "m.applyEvent(state, event('question', {id: 'q_2', version: 1}));\n"
        "m.applyEvent(state, event('question', null, 'q_1'));\n"
        "const left = Object.keys(dump().questions);\n"
        "m.applyEvent(state, event('session', null, 's'));\n"
        "const gone = state.session;\n"
        "// The public view's records carry no version: each event replaces the record.\n"
        "m.applyEvent(state, event('answer', {id: 'a_1', parts: ['one', 'two']}));\n"
        "m.applyEvent(state, event('answer', {id: 'a_1', parts: ['one']}));\n"
        "const parts = state.answers.get('a_1').parts;\n"
        "m.applySnapshot(state, {session: {id: 's', version: 1}, answers: [],"
        " questions: [{id: 'q_1', version: 1}]});\n"
        "print({left, gone, parts, after: dump()});"
    )
    assert run_js(body, "mirror.js", "m") == {
        "left": ["q_2"],
        "gone": None,
        "parts": ["one"],
        "after": {
            "session": {"id": "s", "version": 1},
            "questions": {"q_1": {"id": "q_1", "version": 1}},
            "answers": {},
            "automod": None,
        },
    }


def test_reconnections_back_off_with_full_jitter_and_honour_the_retry_hint() -> None:
    """``frontend/js/socket.js``: a random wait under a doubling ceiling (0.5 s to 15 s),
    at least the ``retry_after`` of a refusal."""
    body = (
        "const top = () => 0.999999, bottom = () => 0;\n"
        "print({ceilings: [0, 1, 2, 5, 9].map((n) => Math.round(s.reconnectDelay(n, '', top))),"
        " floor: s.reconnectDelay(3, '', bottom),"
        " hinted: s.reconnectDelay(0, 'the server is full; try again later; retry_after=7',"
        " top), hintBelow: Math.round(s.reconnectDelay(6, 'retry_after=2', top))});"
    )
    assert run_js(body, "socket.js", "s") == {
        "ceilings": [500, 1000, 2000, 15000, 15000],
        "floor": 0,
        "hinted": 7000,
        "hintBelow": 15000,
    }


def test_the_mirror_keeps_a_staff_console_s_announcements_by_id() -> None:
    body = MIRROR + (
        "m.applySnapshot(state, {session: {id: 's', version: 1}, questions: [], answers: [],"
        " announcements: [{id: '1440', status: 'posting', version: 2}]});\n"
        "m.applyEvent(state, event('announcement', {id: '1440', status: 'posted', version: 3}));\n"
        "m.applyEvent(state, event('announcement', {id: '15', status: 'skipped', version: 1}));\n"
        "const held = Object.fromEntries(state.announcements);\n"
        "m.applySnapshot(state, {session: null, questions: [], answers: []});\n"
        "print({held, after: state.announcements.size});"
    )
    assert run_js(body, "mirror.js", "m") == {
        "held": {
            "1440": {"id": "1440", "status": "posted", "version": 3},
            "15": {"id": "15", "status": "skipped", "version": 1},
        },
        "after": 0,
    }


@pytest.mark.parametrize(
    ("instant", "zone"),
    [
        ("2026-01-06T13:04:00+00:00", "Europe/Paris"),
        ("2026-09-06T13:04:00+00:00", "Europe/Paris"),
        ("2026-07-06T13:04:00+00:00", "Europe/London"),
        ("2026-07-06T13:04:00+00:00", "America/New_York"),
        ("2026-01-06T13:04:00+00:00", "America/Los_Angeles"),
        ("2026-03-06T23:59:00+00:00", "UTC"),
        ("2026-07-06T13:04:00+00:00", "Asia/Tokyo"),
        ("2026-01-06T13:04:00+00:00", "Asia/Kolkata"),
        ("2026-01-06T13:04:00+00:00", "America/Sao_Paulo"),
    ],
)
def test_the_consoles_and_the_server_write_a_time_alike(instant: str, zone: str) -> None:
    """The recap (server) and the consoles (formatDateTime) show one form, zone named."""
    shown = run_js(
        f"print(i.formatDateTime({json.dumps(instant)}, {json.dumps(zone)}));", "i18n.js", "i"
    )
    assert shown == shown_time(datetime.fromisoformat(instant), zone, "en")
    assert shown.endswith(
        tuple(
            " " + name
            for name in ("CET", "CEST", "BST", "EDT", "PST", "UTC", "GMT+9", "GMT+5:30", "GMT-3")
        )
    )
