"""The role-leak scan: every GET route the app mounts, and every live websocket, called as
each role on a world full of private things; no response may show a role what it must not see.

The world plants sentinel strings (a moderator's note, reject reasons, the text and askers
of pending, rejected and merged questions, a draft answer, an auto-moderation word, X
tokens, API tokens, an invitation secret) and the scan looks for their values in every body
(JSON, HTML, CSV, Markdown) and for forbidden field names in every JSON object.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Iterator
from itertools import product
from typing import Any

import redis
from starlette.routing import Route

from atexpert.domain import views
from atexpert.domain.answers import Answer
from atexpert.domain.clock import ManualClock
from atexpert.domain.questions import Question
from atexpert.domain.sessions import Session, SessionFields
from atexpert.domain.staff import StaffUser
from atexpert.domain.views import Audience, audience_of, project
from atexpert.live.protocol import BEARER_PREFIX, SUBPROTOCOL
from atexpert.web.app import create_app
from tests.support.api_world import FAST_HASHER, T0, bearer, session_body, settings
from tests.support.planted_world import (
    EXTRA_QUERIES,
    NEVER_FIELDS,
    ROLES,
    SOCKETS,
    STAFF_FIELDS,
    VISIBLE_TO,
    PlantedWorld,
    seed_planted_world,
)

with warnings.catch_warnings():  # starlette nags about httpx; its TestClient still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect


def _params(template: str, w: PlantedWorld) -> Iterator[dict[str, str]]:
    """Every filling of the path parameters of ``template`` from the world."""
    if "{path:path}" in template:
        yield {"path": "js/live.js"}
        return
    if "{secret}" in template:
        yield {"secret": w.secret}
        return
    if "{slug}" in template:
        yield {"slug": w.series_slug}
        return
    if "{series_id}" in template:
        yield from ({"series_id": s} for s in w.series)
        return
    if "{session_id}" not in template:
        assert "{" not in template, f"the scan cannot fill the parameters of {template}"
        yield {}
        return
    for sid in w.sessions:
        if "{question_id}" in template:
            yield from ({"session_id": sid, "question_id": q} for q in w.questions[sid])
        elif "{answer_id}" in template:
            yield from ({"session_id": sid, "answer_id": a} for a in w.answers[sid])
        else:
            assert template.count("{") == 1, f"the scan cannot fill the parameters of {template}"
            yield {"session_id": sid}


def _get_routes(app: Any) -> list[str]:
    return sorted(r.path for r in app.routes if isinstance(r, Route) and "GET" in (r.methods or ()))


def _bodies(client: TestClient, role: str, w: PlantedWorld) -> Iterator[tuple[str, str]]:
    """(what was called, what came back) for every GET route and live socket, as ``role``."""
    headers = bearer(w.tokens[role]) if role in w.tokens else {}
    for template in _get_routes(client.app):
        for params in _params(template, w):
            path = template.replace("{path:path}", "{path}").format(**params)
            for query in ["", *EXTRA_QUERIES.get(template, [])]:
                r = client.get(path + query, headers=headers, follow_redirects=False)
                assert r.status_code < 500, (path, r.status_code)
                yield f"GET {path}{query} -> {r.status_code}", r.text
    protocols = [SUBPROTOCOL] + ([BEARER_PREFIX + w.tokens[role]] if role in w.tokens else [])
    for sid, live in product(w.sessions, ("public", "expert", "moderator", "admin")):
        path = f"/ws/sessions/{sid}/{live}"
        try:
            with client.websocket_connect(path, subprotocols=protocols) as ws:
                yield f"WS {path}", json.dumps(ws.receive_json())
        except WebSocketDisconnect as closed:
            yield f"WS {path} closed", closed.reason


def _fields(text: str) -> set[str]:
    """Every key of every JSON object in ``text`` (none when it is not JSON)."""
    try:
        data = json.loads(text)
    except ValueError:
        return set()
    keys: set[str] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            keys |= set(item)
            stack += item.values()
        elif isinstance(item, list):
            stack += item
    return keys


def _leaks(role: str, w: PlantedWorld, bodies: Iterator[tuple[str, str]]) -> list[str]:
    values = w.forbidden(role)
    names = NEVER_FIELDS | (STAFF_FIELDS if role in ("public", "outsider", "expert") else set())
    found: list[str] = []
    for called, text in bodies:
        found += [f"{role}: {called}: value {v!r}" for v in values if v and v in text]
        if "/openapi.json" not in called:  # the schema names fields, it holds no data
            found += [f"{role}: {called}: field {k!r}" for k in sorted(_fields(text) & names)]
    return found


def test_no_role_sees_what_it_must_not(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as sync:
        sync.flushall()
    clock = ManualClock(T0)
    app = create_app(
        settings().model_copy(update={"redis_url": redis_url}),
        clock=clock,
        password_hasher=FAST_HASHER,
        run_scheduler=False,
    )
    with TestClient(app) as client:
        assert client.portal is not None
        w = client.portal.call(functools.partial(seed_planted_world, app.state.services, clock))
        calls: dict[str, int] = {}
        leaks: list[str] = []
        for role in ROLES:
            seen = list(_bodies(client, role, w))
            calls[role] = len(seen)
            leaks += _leaks(role, w, iter(seen))
            # Not a vacuous scan: each role does reach what it may see.
            text = "".join(body for _, body in seen)
            assert all(v in text for v in VISIBLE_TO[role]), role
            opened = sum(called.startswith("WS") and "closed" not in called for called, _ in seen)
            assert opened == SOCKETS[role], (role, opened)
    assert leaks == [], "\n".join(leaks)
    assert len(set(calls.values())) == 1 and calls["public"] > len(_get_routes(app))


def test_views_are_whitelists_that_name_every_field() -> None:
    """Every field of the models is listed for the expert, or deliberately left out; a new
    field stays hidden from experts and the public until views.py lists it."""
    question = {*Question.model_fields, *Question.model_computed_fields}
    assert question - set(views.EXPERT_QUESTION_FIELDS) == {"moderator_note", "reject_reason"}
    assert set(Session.model_fields) == set(views.SESSION_FIELDS)
    assert set(Answer.model_fields) == set(views.ANSWER_FIELDS)
    record = {"id": "q_1", "status": "answered", "author": {"id": "7", "handle": "ann"}}
    new = {**record, "brand_new": "x"}
    assert project(Audience.MODERATOR, "question", new) == new
    assert project(Audience.EXPERT, "question", new) == record
    assert project(Audience.PUBLIC, "question", new) == {**record, "author": {"handle": "ann"}}
    announcement = {"id": "1440", "status": "posted", "text": "Tomorrow!", "tweet_id": "9"}
    assert project(Audience.MODERATOR, "announcement", announcement) == announcement
    assert project(Audience.EXPERT, "announcement", announcement) is None
    assert project(Audience.PUBLIC, "announcement", announcement) is None


def test_audience_of_a_caller() -> None:
    def user(uid: str, admin: bool = False) -> StaffUser:
        return StaffUser(
            id=uid, username=uid, display_name=uid, password_hash="-", is_admin=admin, created_at=T0
        )

    session = SessionFields.model_validate(
        session_body(moderator_ids=["u_m", "u_both"], expert_ids=["u_e", "u_both"])
    )
    assert audience_of(None, session) is Audience.PUBLIC
    assert audience_of(user("u_root", admin=True), session) is Audience.ADMIN
    assert audience_of(user("u_m"), session) is Audience.MODERATOR
    assert audience_of(user("u_both"), session) is Audience.MODERATOR
    assert audience_of(user("u_e"), session) is Audience.EXPERT
    assert audience_of(user("u_other"), session) is None
