"""After the close, over HTTP and the live websocket: approvals and answers are refused with
409 ``session_closed`` and a message that says why; the close's choice for queued answers
is a query parameter."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from atexpert.cli.main import main
from atexpert.domain.answers import AnswerDraft
from atexpert.live.protocol import BEARER_PREFIX, SUBPROTOCOL
from tests.support.api_world import bearer
from tests.support.command_world import NOW, CommandWorld, command_app, fresh_world

with warnings.catch_warnings():  # starlette nags about httpx; its TestClient still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def app_client(redis_url: str) -> Iterator[TestClient]:
    with command_app(redis_url) as client:
        yield client


@pytest.fixture
def world(app_client: TestClient, redis_url: str) -> CommandWorld:
    return fresh_world(app_client, redis_url)


def _answers(w: CommandWorld) -> str:
    return f"/api/sessions/{w.sid}/answers"


def test_answers_and_approvals_after_the_close_are_409(world: CommandWorld) -> None:
    w = world
    expert, moderator = bearer(w.tokens["expert"]), bearer(w.tokens["moderator"])
    body = {"question_ids": [w.qids["approved"]], "text": "Lift comes from the wing."}
    draft = w.client.post(_answers(w), json=body, headers=expert).json()
    queued = w.client.post(_answers(w), json=body, headers=expert).json()
    w.client.post(f"{_answers(w)}/{queued['id']}/submit", headers=expert).raise_for_status()

    r = w.client.post(
        f"/api/sessions/{w.sid}/close?queued=cancel", headers=bearer(w.tokens["admin"])
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["close_queued"]) == ("closed", "cancel")
    left = w.client.get(f"{_answers(w)}/{queued['id']}", headers=expert).json()
    assert left["status"] == "draft"  # cancelled: back to the expert's drafts

    refused = [
        w.client.post(_answers(w), json=body, headers=expert),
        w.client.post(f"{_answers(w)}/{draft['id']}/submit", headers=expert),
        w.client.post(f"{_answers(w)}/{queued['id']}/submit", headers=expert),
        w.client.post(
            f"/api/sessions/{w.sid}/questions/{w.qids['pending']}/approve", headers=moderator
        ),
    ]
    for r in refused:
        assert (r.status_code, r.json()["error"]) == (409, "session_closed"), r.text
    messages = [r.json()["message"] for r in refused]
    assert messages[0] == f"session {w.sid} is closed: it takes no new answers"
    assert messages[-1] == f"session {w.sid} is closed: it takes no new approvals"


def test_the_websocket_refuses_an_approval_after_the_close(world: CommandWorld) -> None:
    w = world
    w.call(w.store.close_session, w.sid, actor="admin", at=NOW)
    protocols = [SUBPROTOCOL, BEARER_PREFIX + w.tokens["moderator"]]
    message = {
        "type": "question",
        "request_id": "r1",
        "action": "approve",
        "question_id": w.qids["pending"],
    }
    with w.client.websocket_connect(
        f"/ws/sessions/{w.sid}/moderator", subprotocols=protocols
    ) as ws:
        ws.send_json(message)
        reply = ws.receive_json()
        while reply.get("request_id") != "r1":
            reply = ws.receive_json()
    assert (reply["type"], reply["code"]) == ("error", "session_closed")
    assert reply["detail"] == f"session {w.sid} is closed: it takes no new approvals"
    question = w.call(w.store.get_question, w.sid, w.qids["pending"])
    assert question.status.value == "pending"


def test_an_unknown_close_choice_is_refused(world: CommandWorld) -> None:
    r = world.client.post(
        f"/api/sessions/{world.sid}/close?queued=later", headers=bearer(world.tokens["admin"])
    )
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")
    assert world.call(world.store.get_session, world.sid).status.value == "live"


def test_the_cli_closes_cancelling_the_queue(
    world: CommandWorld,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w = world
    monkeypatch.setenv("ATEXPERT_REDIS_URL", redis_url)
    monkeypatch.delenv("ATEXPERT_REDIS_CLUSTER", raising=False)
    draft = AnswerDraft(question_ids=[w.qids["approved"]], text="Lift comes from the wing.")
    answer = w.call(w.store.create_answer, w.sid, draft, expert_id="expert", at=NOW)
    w.call(w.store.submit_answer, w.sid, answer.id, actor="expert", at=NOW)
    with pytest.raises(SystemExit):  # argparse: only post or cancel
        main(["session", "close", w.sid, "--queued", "later"])
    assert "invalid choice" in capsys.readouterr().err
    assert main(["session", "close", w.sid, "--queued", "cancel"]) == 0
    assert w.call(w.store.get_answer, w.sid, answer.id).status.value == "draft"
    assert main(["session", "close", w.sid]) == 1  # already closed
    assert "closed" in capsys.readouterr().err
