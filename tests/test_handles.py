"""X's handle rule wherever a handle enters (manual add over HTTP, import, intake), and a
Markdown export in which no user-controlled string forms a link."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from pydantic import ValidationError

from atexpert.cli import main as cli
from atexpert.domain import twittertext
from atexpert.domain.answers import Answer, AnswerPart, AnswerStatus
from atexpert.domain.costs import Spend
from atexpert.domain.errors import InvalidInput
from atexpert.domain.questions import STORED, Author, Question, QuestionStatus
from atexpert.domain.sessions import SessionFields, new_session
from atexpert.intake.posts import UNKNOWN_HANDLE, author_of
from atexpert.recap import exports
from atexpert.store import keys
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import SessionSnapshot, Store
from tests.support.api_world import ApiWorld, bearer, session_body
from tests.support.seeded_session import seed_session

pytest_plugins = ("tests.support.api_world",)

PAYLOAD = "a)|[pwn](javascript:alert(1)"
#: Handles X would refuse; each was accepted (up to 50 characters) before the rule.
BAD_HANDLES = [
    PAYLOAD,
    "",
    "sixteen_chars_xx",
    "a b",
    "a\nb",
    "[x](y)",
    "`code`",
    "<script>",
    "javascript:alert(1)",
    "é",
    "@",
    "@@bob",
    "bob)",
]
#: Texts a question, a name or a reason may hold: nothing in them may format or link.
NASTY = [
    PAYLOAD,
    "[pwn](javascript:alert(1))",
    "[x]: javascript:alert(1)\n\n[x]",
    "<javascript:alert(1)>",
    "<script>alert(1)</script>",
    "<a href='javascript:alert(1)'>x</a>",
    "![img](javascript:alert(1))",
    "`code` ``x``",
    "line\n\n[a](b)\n# heading\n> quote\n- item",
    "\\[escaped\\](javascript:x)",
    "a|b|c",
    "](javascript:alert(1))",
    "%5D(javascript:alert(1))",
]
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SPEC = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "x-api" / "openapi.json"


def test_the_handle_rule_is_the_x_api_username_pattern() -> None:
    if not SPEC.is_file():
        pytest.skip("the X API specification (../shared/conformance) is not present")
    paths = json.loads(SPEC.read_text(encoding="utf-8"))["paths"]
    param = next(
        p for p in paths["/2/users/by/username/{username}"]["get"]["parameters"] if "name" in p
    )
    assert param["schema"]["pattern"] == twittertext.USERNAME_PATTERN


@pytest.mark.parametrize("handle", BAD_HANDLES)
def test_an_author_handle_follows_x_rule(handle: str) -> None:
    with pytest.raises(ValidationError) as info:
        Author(id="1", handle=handle)
    assert info.value.errors()[0]["loc"] == ("handle",)


def test_good_handles_lose_their_at_sign() -> None:
    assert [Author(id="1", handle=h).handle for h in ("a", "@Bob_1", " x ", "A" * 15)] == [
        "a",
        "Bob_1",
        "x",
        "A" * 15,
    ]
    assert twittertext.username("A" * 16) is None


def test_intake_keeps_the_post_of_an_author_with_a_bad_username() -> None:
    assert author_of("7", {"username": PAYLOAD, "name": "Mallory"}).handle == UNKNOWN_HANDLE


@pytest.mark.parametrize("handle", BAD_HANDLES)
async def test_manual_add_refuses_a_bad_handle_with_field_details(
    world: ApiWorld, handle: str
) -> None:
    path = f"/api/sessions/{world.sid}/questions"
    headers = bearer(world.tokens["admin"])
    before = (await world.api.client.get(path, headers=headers)).json()
    body = {
        "tweet_id": "4242",
        "author": {"id": "9", "handle": handle},
        "text": "Why?",
        "created_at": T0.isoformat(),
    }
    r = await world.api.client.post(path, json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_input"
    detail = r.json()["detail"]
    assert ["body", "author", "handle"] in [d["loc"] for d in detail]
    assert (await world.api.client.get(path, headers=headers)).json() == before


async def test_import_refuses_a_bad_handle(
    redis_standalone: RedisClient,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seeded = await seed_session(redis_standalone)
    doc = await exports.export_session(Store(redis_standalone), redis_standalone, seeded.session_id)
    raw = exports.to_json(doc).replace('"handle": "ana"', f'"handle": {json.dumps(PAYLOAD)}')
    assert PAYLOAD in raw
    path = tmp_path / "export.json"
    path.write_text(raw, encoding="utf-8")
    await redis_standalone.flushall()
    monkeypatch.setenv("ATEXPERT_REDIS_URL", redis_url)
    monkeypatch.delenv("ATEXPERT_REDIS_CLUSTER", raising=False)
    assert await asyncio.to_thread(cli.main, ["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("atexpert: error: not an atexpert session export: questions.")
    assert f"author.handle: Value error, {twittertext.HANDLE_RULE}" in err
    assert err.count("\n") == 1 and not await redis_standalone.keys("*")
    with pytest.raises(InvalidInput) as info:  # over HTTP: the same check, as a 422
        exports.parse_export(raw)
    assert any(
        e.loc[-1] == "handle" and e.msg.endswith(twittertext.HANDLE_RULE) for e in info.value.errors
    )


async def test_a_question_stored_before_the_rule_still_loads_and_exports_safely(
    redis_standalone: RedisClient,
) -> None:
    seeded = await seed_session(redis_standalone)
    sid, key = seeded.session_id, keys.question(seeded.session_id, "q_101")
    record = json.loads(await redis_standalone.get(key))
    record["author"]["handle"] = PAYLOAD
    await redis_standalone.set(key, json.dumps(record))  # as the old rule let it be written
    store = Store(redis_standalone)
    question = await store.get_question(sid, "q_101")
    assert question.author.handle == PAYLOAD
    assert question.url == "https://x.com/a%29%7C%5Bpwn%5D%28javascript%3Aalert%281%29/status/101"
    md = exports.to_markdown(await exports.export_session(store, redis_standalone, sid))
    assert_only_x_links(md)
    html = MarkdownIt("commonmark").render(md)
    assert f'<a href="{question.url}">@{PAYLOAD}</a>' in html  # shown as text, linked to X


def assert_only_x_links(md: str, count: int | None = None) -> None:
    """Every link CommonMark reads in ``md`` goes to a post on X; no HTML at all."""
    tokens = MarkdownIt("commonmark").parse(md)
    links: list[Token] = []
    for token in tokens:
        assert token.type not in ("html_block", "html_inline")
        for child in token.children or []:
            assert child.type not in ("html_inline", "image"), child
            if child.type == "link_open":
                links.append(child)
    hrefs = [str(link.attrGet("href")) for link in links]
    assert all(h.startswith("https://x.com/") for h in hrefs), hrefs
    if count is not None:
        assert len(hrefs) == count, hrefs


SESSION = new_session(
    SessionFields.model_validate(session_body()), session_id="s_md", actor="root", at=T0
)
NASTY_TEXT = st.sampled_from(NASTY) | st.text(
    st.sampled_from("[]()<>`!*_\\|:#\n -ajvscript%"), min_size=1, max_size=40
)


def _question(i: int, handle: str, text: str, reason: str) -> Question:
    record: dict[str, Any] = {
        "id": f"q_{i}{reason}",
        "session_id": SESSION.id,
        "author": {"id": str(i), "handle": handle, "name": text[:100]},
        "text": text,
        "received_at": T0 + timedelta(seconds=i),
        "created_at": T0,
        "status": QuestionStatus.ANSWERED if i == 1 else QuestionStatus.REJECTED,
        "reject_reason": None if i == 1 else reason,
        "decided_by": reason[:50],
    }
    return Question.model_validate(record, context={STORED: True})


@settings(max_examples=150, deadline=None)
@given(
    handles=st.lists(st.sampled_from(BAD_HANDLES[:1] + BAD_HANDLES[2:]), min_size=2, max_size=2),
    text=NASTY_TEXT,
    reason=NASTY_TEXT,
    post=NASTY_TEXT,
)
def test_no_user_string_forms_a_link_in_the_markdown_export(
    handles: list[str], text: str, reason: str, post: str
) -> None:
    """Handles, texts, names, reasons, ids and post ids, as a stored record or an old
    export may hold them."""
    questions = {q.id: q for q in (_question(i, h, text, reason) for i, h in enumerate(handles, 1))}
    answer = Answer(
        id="a_1",
        session_id=SESSION.id,
        question_ids=[f"q_1{reason}"],
        expert_id=reason,
        text=text,
        parts=[AnswerPart(text=text, status="posted", tweet_id=post)],
        status=AnswerStatus.PUBLISHED,
        created_at=T0,
        updated_by="erin",
        updated_at=T0,
    )
    snapshot = SessionSnapshot(session=SESSION, questions=questions, answers={"a_1": answer})
    md = exports.to_markdown(exports.build_export(snapshot, [], Spend()))
    # The answer's question, its post, and each question in the table: nothing else.
    assert_only_x_links(md, count=1 + 1 + len(questions))
