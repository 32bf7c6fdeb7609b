"""A whole session through the API, as the consoles drive it (cookies + CSRF for people)."""

from __future__ import annotations

from typing import Any

import httpx

from atexpert.web.auth import CSRF_HEADER
from tests.support.api_world import PASSWORD, Api, ApiWorld, bearer, incoming, session_body

pytest_plugins = ("tests.support.api_world",)


class Browser:
    """A logged-in console: cookie auth, CSRF header on every state change."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client, self.csrf = client, csrf

    async def get(self, path: str) -> Any:
        r = await self.client.get(path)
        assert r.status_code == 200, r.text
        return r.json()

    async def post(self, path: str, body: Any = None, status: int = 200) -> Any:
        r = await self.client.post(path, json=body, headers={CSRF_HEADER: self.csrf})
        assert r.status_code == status, r.text
        return r.json()


async def browser(api: Api, username: str) -> Browser:
    return Browser(*await api.login(username))


async def test_full_session_with_answer_approval(api: Api) -> None:
    _, root = await api.user("root", admin=True)
    admin = bearer(root)
    ids = {}
    for name in ("mia", "eva"):
        r = await api.client.post(
            "/api/users", json={"username": name, "password": PASSWORD}, headers=admin
        )
        ids[name] = r.json()["id"]
    body = session_body(options={"require_answer_approval": True}, moderator_ids=[ids["mia"]])
    r = await api.client.post("/api/sessions", json=body, headers=admin)
    assert r.status_code == 201
    sid = r.json()["id"]
    r = await api.client.post(
        f"/api/sessions/{sid}/roles", json={"user_id": ids["eva"], "role": "expert"}, headers=admin
    )
    assert r.json()["expert_ids"] == [ids["eva"]]
    for step in ("schedule", "start"):
        r = await api.client.post(f"/api/sessions/{sid}/{step}", headers=admin)
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "live"
    qids = []
    for n in range(3):
        r = await api.client.post(
            f"/api/sessions/{sid}/questions",
            json=incoming(n).model_dump(mode="json"),
            headers=admin,
        )
        assert r.status_code == 201 and r.json()["created"]
        qids.append(r.json()["question"]["id"])
    again = await api.client.post(
        f"/api/sessions/{sid}/questions", json=incoming(0).model_dump(mode="json"), headers=admin
    )
    assert again.json()["created"] is False  # the same tweet twice is one question

    mia = await browser(api, "mia")
    queue = await mia.get(f"/api/sessions/{sid}/questions?status=pending")
    assert [q["id"] for q in queue] == qids
    grants = await mia.get(f"/api/sessions/{sid}/grants")
    assert grants["roles"] == ["moderator"] and "question.moderate" in grants["actions"]
    q = f"/api/sessions/{sid}/questions"
    await mia.post(f"{q}/{qids[0]}/approve")
    await mia.post(f"{q}/{qids[1]}/reject", {"reason": "Off topic"})
    await mia.post(f"{q}/{qids[2]}/merge", {"into": qids[0]})
    starred = await mia.post(f"{q}/{qids[0]}/star", {"starred": True})
    assert starred["starred"] is True and starred["decided_by"] == "mia"

    eva = await browser(api, "eva")
    visible = await eva.get(q)  # the approved question, and the one merged into it (its
    assert [x["id"] for x in visible] == [qids[0], qids[2]]  # asker gets the answer too)
    r = await eva.client.get(f"{q}/{qids[1]}")
    assert r.status_code == 403
    r = await eva.client.get(f"{q}?status=pending")
    assert r.status_code == 403
    draft = await eva.post(
        f"/api/sessions/{sid}/answers", {"question_ids": [qids[0]], "text": "Yes."}, status=201
    )
    a = f"/api/sessions/{sid}/answers/{draft['id']}"
    edited = await eva.post(f"{a}/edit", {"text": "Yes, in 2035.", "parts": ["Yes,", "in 2035."]})
    assert [p["text"] for p in edited["parts"]] == ["Yes,", "in 2035."]
    submitted = await eva.post(f"{a}/submit")
    assert submitted["status"] == "awaiting_approval"
    r = await eva.client.post(f"{a}/approve", headers={CSRF_HEADER: eva.csrf})
    assert r.status_code == 403  # experts do not approve their own answers
    approved = await mia.post(f"{a}/approve")
    assert approved["status"] == "queued"
    listed = await mia.get(f"/api/sessions/{sid}/answers?status=queued")
    assert [x["id"] for x in listed] == [draft["id"]]

    events = await api.services.store.read_events(sid, count=1000)
    actors = {e.kind.value: e.actor for e in events}
    assert actors["question.approved"] == "mia" and actors["answer.approved"] == "mia"
    assert actors["answer.submitted"] == "eva" and actors["session.started"] == "root"

    closed = await api.client.post(f"/api/sessions/{sid}/close", headers=admin)
    assert closed.json()["status"] == "closed"


async def test_session_list_shows_only_the_callers_sessions(world: ApiWorld) -> None:
    async def titles(role: str) -> list[str]:
        r = await world.api.client.get("/api/sessions", headers=bearer(world.tokens[role]))
        return sorted(s["title"] for s in r.json())

    assert await titles("admin") == ["Ask Airbus", "Other"]
    assert await titles("moderator") == ["Ask Airbus"]
    assert await titles("outsider") == ["Other"]
    r = await world.api.client.get(
        "/api/sessions?status=draft", headers=bearer(world.tokens["admin"])
    )
    assert r.json() == []


async def test_role_assignment_opens_and_revocation_closes_access(world: ApiWorld) -> None:
    admin, outsider = bearer(world.tokens["admin"]), bearer(world.tokens["outsider"])
    path = f"/api/sessions/{world.sid}"
    assert (await world.api.client.get(path, headers=outsider)).status_code == 403
    uid = world.users["outsider"].id
    r = await world.api.client.post(
        path + "/roles", json={"user_id": uid, "role": "moderator"}, headers=admin
    )
    assert uid in r.json()["moderator_ids"]
    assert (await world.api.client.get(path, headers=outsider)).status_code == 200
    r = await world.api.client.delete(f"{path}/roles/moderator/{uid}", headers=admin)
    assert uid not in r.json()["moderator_ids"]
    assert (await world.api.client.get(path, headers=outsider)).status_code == 403
    r = await world.api.client.delete(f"{path}/roles/boss/{uid}", headers=admin)
    assert r.status_code == 422


async def test_update_a_draft_session_and_conflicting_actions(api: Api) -> None:
    _, root = await api.user("root", admin=True)
    admin = bearer(root)
    r = await api.client.post("/api/sessions", json=session_body(), headers=admin)
    sid = r.json()["id"]
    r = await api.client.patch(
        f"/api/sessions/{sid}", json={"title": "Ask Airbus Live", "language": "fr"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["title"] == "Ask Airbus Live"
    r = await api.client.patch(f"/api/sessions/{sid}", json={"time_zone": "Nowhere"}, headers=admin)
    assert r.status_code == 422
    r = await api.client.post(f"/api/sessions/{sid}/close", headers=admin)
    assert r.status_code == 409 and r.json()["error"] == "illegal_transition"
    r = await api.client.post(f"/api/sessions/{sid}/archive", headers=admin)
    assert r.json()["status"] == "archived"


async def test_stale_version_is_a_conflict(world: ApiWorld) -> None:
    """Two moderators on one question: the one acting on an old version gets a 409."""
    headers = bearer(world.tokens["moderator"])
    q = f"/api/sessions/{world.sid}/questions/{world.pending}"
    r = await world.api.client.post(
        f"{q}/edit?version=1", json={"display_text": "Wings?"}, headers=headers
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    r = await world.api.client.post(f"{q}/approve?version=1", headers=headers)
    assert r.status_code == 409 and "changed meanwhile" in r.json()["message"]
    r = await world.api.client.post(f"{q}/approve?version=2", headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    a = f"/api/sessions/{world.sid}/answers/{world.answer}/edit?version=7"
    r = await world.api.client.post(a, json={"text": "x"}, headers=bearer(world.tokens["expert"]))
    assert r.status_code == 409
    r = await world.api.client.post(f"{q}/approve?version=zero", headers=headers)
    assert r.status_code == 422
