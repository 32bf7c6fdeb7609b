"""Desk mode: the queue of waiting questions (waiting time on the server's clock, the
first-response target), shifts and assignment over HTTP and the live socket."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from atexpert.domain.events import EventKind
from atexpert.store import keys
from tests.support.api_world import bearer
from tests.support.desk_world import DeskWorld, ask_again, publish

pytest_plugins = ("tests.support.api_world", "tests.support.desk_world")


async def _queue(w: DeskWorld, who: str) -> dict[str, Any]:
    r = await w.api.client.get(f"/api/sessions/{w.sid}/desk/queue", headers=bearer(w.tokens[who]))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _post(w: DeskWorld, who: str, path: str, body: Any) -> Any:
    url = f"/api/sessions/{w.sid}{path}"
    return await w.api.client.post(url, json=body, headers=bearer(w.tokens[who]))


async def test_the_queue_is_oldest_first_with_waiting_times_and_the_target(
    desk_world: DeskWorld,
) -> None:
    w = desk_world
    queue = await _queue(w, "moderator")
    assert queue["first_response_minutes"] == 60
    rows = [(q["question_id"], q["waiting_seconds"], q["past_target"]) for q in queue["waiting"]]
    assert rows == [
        (w.qids["old"], 95 * 60, True),
        (w.qids["late"], 61 * 60, True),
        (w.qids["fresh"], 5 * 60, False),
    ]
    # The server's clock moves: waiting times grow, the fresh one passes its target.
    w.api.clock.advance(timedelta(minutes=55))
    fresh = (await _queue(w, "moderator"))["waiting"][-1]
    assert (fresh["waiting_seconds"], fresh["past_target"]) == (60 * 60, True)


async def test_an_answered_or_rejected_question_leaves_the_queue_and_experts_see_approved_only(
    desk_world: DeskWorld,
) -> None:
    w = desk_world
    store, now = w.api.services.store, w.api.clock.now()
    await store.reject_question(w.sid, w.qids["old"], "spam", actor="moderator", at=now)
    await store.approve_question(w.sid, w.qids["fresh"], actor="moderator", at=now)
    ids = [q["question_id"] for q in (await _queue(w, "moderator"))["waiting"]]
    assert ids == [w.qids["late"], w.qids["fresh"]]
    ids = [q["question_id"] for q in (await _queue(w, "ada"))["waiting"]]
    assert ids == [w.qids["fresh"]]
    r = await w.api.client.get(
        f"/api/sessions/{w.sid}/desk/queue", headers=bearer(w.tokens["outsider"])
    )
    assert r.status_code == 403


async def test_shifts_assignment_and_hand_over(desk_world: DeskWorld) -> None:
    w = desk_world
    ada, bob = w.users["ada"].id, w.users["bob"].id
    # Nobody is on duty yet: a question cannot be assigned.
    r = await _post(w, "moderator", f"/questions/{w.qids['late']}/assign", {"assignee": ada})
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")
    assert r.json()["detail"][0]["loc"][-1] == "assignee"

    for agent in ("ada", "bob"):
        r = await _post(w, agent, "/shift", {"on_duty": True})
        assert r.status_code == 200, r.text
    assert r.json()["on_duty"] == [ada, bob]
    # A moderator is no agent: no shift for them.
    r = await _post(w, "moderator", "/shift", {"on_duty": True})
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")

    r = await _post(w, "moderator", f"/questions/{w.qids['late']}/assign", {"assignee": ada})
    assert r.status_code == 200, r.text
    assert (r.json()["assignee"], r.json()["handover_note"]) == (ada, None)
    # Ada sees it first ("assigned to me"), before the older one.
    await w.api.services.store.approve_question(w.sid, w.qids["late"], actor="moderator")
    await w.api.services.store.approve_question(w.sid, w.qids["old"], actor="moderator")
    queue = (await _queue(w, "ada"))["waiting"]
    assert [(q["question_id"], q["assigned_to_me"]) for q in queue] == [
        (w.qids["late"], True),
        (w.qids["old"], False),
    ]

    # Ada hands it over to Bob with a note, then ends her shift.
    note = {"assignee": bob, "note": "Customer flies AF1234 tomorrow"}
    r = await _post(w, "ada", f"/questions/{w.qids['late']}/assign", note)
    assert r.status_code == 200, r.text
    assert (r.json()["assignee"], r.json()["handover_note"]) == (bob, note["note"])
    r = await _post(w, "ada", "/shift", {"on_duty": False})
    assert r.json()["on_duty"] == [bob]
    r = await _post(w, "bob", f"/questions/{w.qids['late']}/assign", {"assignee": ada})
    assert r.status_code == 422  # Ada is off duty
    r = await _post(w, "bob", f"/questions/{w.qids['late']}/assign", {"assignee": None})
    assert r.json()["assignee"] is None

    events = await w.api.services.store.read_events(w.sid, count=1000)
    kinds = [e.kind for e in events]
    assert kinds.count(EventKind.SESSION_SHIFT_CHANGED) == 3
    assert kinds.count(EventKind.QUESTION_ASSIGNED) == 3


async def test_an_answered_question_is_not_assigned(desk_world: DeskWorld) -> None:
    w = desk_world
    await _post(w, "ada", "/shift", {"on_duty": True})
    store = w.api.services.store
    await store.reject_question(w.sid, w.qids["old"], "spam", actor="moderator")
    r = await _post(
        w, "moderator", f"/questions/{w.qids['old']}/assign", {"assignee": w.users["ada"].id}
    )
    assert (r.status_code, r.json()["error"]) == (409, "illegal_transition")


async def test_the_askers_history_beside_a_question(desk_world: DeskWorld) -> None:
    w = desk_world
    answer = await publish(w, w.qids["old"], "Your bag is on its way to your hotel.")
    second = await ask_again(w, 0, "Still no bag? #AFhelp", minutes_ago=30)
    third = await ask_again(w, 0, "Bag arrived, thanks #AFhelp", minutes_ago=1)
    r = await w.api.client.get(
        f"/api/sessions/{w.sid}/questions/{third}/history", headers=bearer(w.tokens["moderator"])
    )
    assert r.status_code == 200, r.text
    items = r.json()
    assert [i["question"]["id"] for i in items] == [second, w.qids["old"]]  # newest first
    assert items[0]["answer"] is None
    assert items[1]["answer"]["id"] == answer
    assert items[1]["answer"]["text"] == "Your bag is on its way to your hotel."
    # An agent sees the history of a question it sees, without what it may not see (the
    # pending question) nor the moderators' note.
    await w.api.services.store.approve_question(w.sid, third, actor="moderator")
    r = await w.api.client.get(
        f"/api/sessions/{w.sid}/questions/{third}/history", headers=bearer(w.tokens["ada"])
    )
    assert [i["question"]["id"] for i in r.json()] == [w.qids["old"]]
    assert "moderator_note" not in r.json()[0]["question"]
    r = await w.api.client.get(
        f"/api/sessions/{w.sid}/questions/{second}/history", headers=bearer(w.tokens["ada"])
    )
    assert r.status_code == 403  # still pending: not the agent's to see


async def test_the_history_reads_the_askers_index_built_at_the_first_read_if_missing(
    desk_world: DeskWorld,
) -> None:
    w = desk_world
    second = await ask_again(w, 0, "Still no bag? #AFhelp", minutes_ago=30)
    third = await ask_again(w, 0, "Bag arrived, thanks #AFhelp", minutes_ago=1)
    redis, store = w.api.services.redis, w.api.services.store
    mine = [q.id for q in await store.list_questions_by(w.sid, "800")]
    assert mine == [w.qids["old"], second, third]  # the asker's only, in arrival order
    # A desk stored before the index existed (or imported) has none: its first history
    # read builds it from the question records.
    await redis.delete(*await redis.keys(keys.session_key(w.sid, "qby*")))
    r = await w.api.client.get(
        f"/api/sessions/{w.sid}/questions/{third}/history", headers=bearer(w.tokens["moderator"])
    )
    assert [i["question"]["id"] for i in r.json()] == [second, w.qids["old"]]
    assert await redis.exists(keys.askers_indexed(w.sid))
    assert await redis.zrange(keys.asker_questions(w.sid, "801"), 0, -1) == [w.qids["late"]]


async def test_a_live_desk_changes_its_first_response_target(desk_world: DeskWorld) -> None:
    w = desk_world
    after = await w.api.services.store.last_event_id(w.sid)
    path = f"/api/sessions/{w.sid}/desk/target"

    async def put(who: str, body: Any) -> Any:
        return await w.api.client.put(path, json=body, headers=bearer(w.tokens[who]))

    assert (await put("moderator", {"first_response_minutes": 90})).status_code == 403
    r = await put("admin", {"first_response_minutes": 0})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "first_response_minutes"]
    r = await put("admin", {"first_response_minutes": 90})
    assert (r.status_code, r.json()["first_response_minutes"]) == (200, 90)
    queue = await _queue(w, "moderator")
    assert queue["first_response_minutes"] == 90
    assert [q["past_target"] for q in queue["waiting"]] == [True, False, False]  # 95, 61, 5 min
    events = await w.api.services.store.read_events(w.sid, after)
    assert [(e.kind, e.data["first_response_minutes"]) for e in events] == [
        (EventKind.SESSION_TARGET_CHANGED, 90)
    ]
    await w.api.services.store.close_session(w.sid, actor="admin")
    r = await put("admin", {"first_response_minutes": 30})
    assert (r.status_code, r.json()["error"]) == (409, "session_closed")
