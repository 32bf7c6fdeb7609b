"""The publishing endpoints through the app (mounted as app.py is asked to mount them)."""

from __future__ import annotations

import pytest

from atexpert import api_publish
from atexpert.answers import AnswerDraft
from atexpert.api_routing import to_route
from tests.test_api_support import World, bearer

pytest_plugins = ("tests.test_api_support",)


@pytest.fixture
def mounted(world: World) -> World:
    routes = world.api.app.router.routes
    if not any(getattr(r, "name", "") == "publishing_status" for r in routes):
        routes.extend(to_route(ep) for ep in api_publish.ENDPOINTS)
    return world


async def test_thread_preview_announcements_and_status(mounted: World) -> None:
    w, client = mounted, mounted.api.client
    expert = bearer(w.tokens["expert"])
    r = await client.get(f"/api/sessions/{w.sid}/answers/{w.answer}/thread", headers=expert)
    assert r.status_code == 200, r.text
    thread = r.json()
    # the question does not mention @Airbus and no announcement is posted yet
    assert (thread["route"], thread["reply_to"]) == ("standalone", None)
    assert thread["parts"][0]["text"].startswith("«Q @fan2: How do wings work? #AskAirbus»")

    r = await client.get(f"/api/sessions/{w.sid}/announcements", headers=expert)
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is True and "Ask Airbus" in r.json()["start"]["text"]

    await w.api.services.store.submit_answer(w.sid, w.answer, actor="expert")
    r = await client.get(f"/api/sessions/{w.sid}/publishing", headers=expert)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status"]["state"] == "idle" and view["eta"] is None
    assert view["queue"] == [
        {"answer_id": w.answer, "status": "queued", "parts_total": 1, "parts_posted": 0}
    ]


async def test_access_and_bad_input(mounted: World) -> None:
    w, client = mounted, mounted.api.client
    outsider, expert = bearer(w.tokens["outsider"]), bearer(w.tokens["expert"])
    r = await client.get(f"/api/sessions/{w.sid}/publishing", headers=outsider)
    assert r.status_code == 403
    r = await client.get("/api/sessions/s_nope/publishing", headers=expert)
    assert r.status_code == 404
    r = await client.get(f"/api/sessions/{w.sid}/answers/a_nope/thread", headers=expert)
    assert r.status_code == 404
    huge = await w.api.services.store.create_answer(
        w.sid, AnswerDraft(question_ids=[w.approved], text="word " * 2_500), expert_id="x"
    )
    r = await client.get(f"/api/sessions/{w.sid}/answers/{huge.id}/thread", headers=expert)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["text"]
