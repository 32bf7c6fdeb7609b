"""Desk mode: saved replies with variables, written by moderators (validated: an unknown
variable is a clear 422 naming the field) and filled in for one question by its agent."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from atexpert.domain import saved_replies
from atexpert.domain.errors import InvalidInput
from atexpert.domain.events import EventKind
from atexpert.domain.saved_replies import SavedReply, SavedReplyIn
from tests.support.api_world import bearer
from tests.support.desk_world import DeskWorld

pytest_plugins = ("tests.support.api_world", "tests.support.desk_world")

FLIGHT = {
    "title": "Delayed flight",
    "variables": ["flight", "time"],
    "text": "Hello {asker}, flight {flight} now leaves at {time}. Sorry! {agent}",
}


def test_a_reply_names_its_free_variables() -> None:
    assert SavedReplyIn.model_validate(FLIGHT).variables == ["flight", "time"]
    for text, why in (
        ("Your flight {flihgt}", "unknown variable {flihgt}"),
        ("Hello {asker", "a brace that is no {variable}"),
        ("Hello {Asker}", "a brace that is no {variable}"),
    ):
        with pytest.raises(ValidationError, match=why) as info:
            SavedReplyIn.model_validate({"title": "t", "text": text})
        assert info.value.errors()[0]["loc"] == ("text",)
    with pytest.raises(ValidationError, match="declared but the text never uses it"):
        SavedReplyIn.model_validate({"title": "t", "text": "Hi", "variables": ["gate"]})
    with pytest.raises(ValidationError, match="built in"):
        SavedReplyIn.model_validate({"title": "t", "text": "{asker}", "variables": ["asker"]})


def test_filling_a_reply() -> None:
    reply = SavedReply(id="r_1", **FLIGHT)  # type: ignore[arg-type]
    filled = saved_replies.fill(
        reply, asker="flyer0", agent="Ada L.", values={"flight": "AF1234", "time": "17:05"}
    )
    assert filled.text == "Hello @flyer0, flight AF1234 now leaves at 17:05. Sorry! Ada L."
    assert filled.weighted_length == len(filled.text)
    with pytest.raises(InvalidInput) as info:
        saved_replies.fill(reply, asker="x", agent="y", values={"flight": " ", "gate": "B"})
    locs = [e.loc for e in info.value.errors]
    assert locs == [("values", "flight"), ("values", "time"), ("values", "gate")]


async def _call(w: DeskWorld, who: str, method: str, path: str, body: Any = None) -> Any:
    url = f"/api/sessions/{w.sid}/saved-replies{path}"
    return await w.api.client.request(method, url, json=body, headers=bearer(w.tokens[who]))


async def test_moderators_keep_the_replies_and_agents_fill_them(desk_world: DeskWorld) -> None:
    w = desk_world
    r = await _call(w, "moderator", "POST", "", FLIGHT)
    assert r.status_code == 201, r.text
    reply = r.json()
    assert reply["id"].startswith("r_") and reply["variables"] == ["flight", "time"]
    # An unknown variable: a 422 naming the field and the variable.
    bad = {**FLIGHT, "text": "Hello {asker}, flight {flihgt} at {time}"}
    r = await _call(w, "moderator", "PUT", f"/{reply['id']}", bad)
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")
    assert r.json()["detail"][0]["loc"] == ["body", "text"]
    assert "{flihgt}" in r.json()["detail"][0]["msg"]
    # Agents use replies; they do not write them.
    r = await _call(w, "ada", "POST", "", FLIGHT)
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")

    await w.api.services.store.approve_question(w.sid, w.qids["late"], actor="moderator")
    values = {"flight": "AF1234", "time": "17:05"}
    fill = {"question_id": w.qids["late"], "values": values}
    r = await _call(w, "ada", "POST", f"/{reply['id']}/fill", fill)
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "Hello @flyer1, flight AF1234 now leaves at 17:05. Sorry! ada"
    r = await _call(w, "ada", "POST", f"/{reply['id']}/fill", {**fill, "values": {}})
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["detail"]] == [
        ["body", "values", "flight"],
        ["body", "values", "time"],
    ]
    # An agent may not fill one in for a question it may not see (still pending).
    r = await _call(
        w, "ada", "POST", f"/{reply['id']}/fill", {**fill, "question_id": w.qids["old"]}
    )
    assert r.status_code == 403

    renamed = {**FLIGHT, "title": "Late flight"}
    r = await _call(w, "moderator", "PUT", f"/{reply['id']}", renamed)
    assert r.status_code == 200 and r.json()["title"] == "Late flight"
    r = await _call(w, "moderator", "DELETE", f"/{reply['id']}")
    assert r.status_code == 204
    r = await _call(w, "moderator", "DELETE", f"/{reply['id']}")
    assert r.status_code == 404
    session = await w.api.services.store.get_session(w.sid)
    assert session.saved_replies == []
    kinds = [e.kind for e in await w.api.services.store.read_events(w.sid, count=1000)]
    assert kinds.count(EventKind.SESSION_REPLIES_CHANGED) == 3
