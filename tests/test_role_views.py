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
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import product
from typing import Any

import redis
from starlette.routing import Route

from atexpert import views
from atexpert.answers import Answer, AnswerDraft
from atexpert.api_routing import Services
from atexpert.app import create_app
from atexpert.automod_config import AutomodConfig
from atexpert.automod_store import AutomodStore
from atexpert.clock import ManualClock
from atexpert.invitation_store import InvitationStore
from atexpert.live_protocol import BEARER_PREFIX, SUBPROTOCOL
from atexpert.questions import Author, IncomingQuestion, Question, QuestionStatus
from atexpert.sessions import Role, Session, SessionFields
from atexpert.staff import StaffUser
from atexpert.views import Audience, audience_of, project
from atexpert.x_accounts import XAccountStore
from tests.test_api_support import FAST_HASHER, PASSWORD, T0, bearer, session_body, settings

with warnings.catch_warnings():  # starlette nags about httpx; its TestClient still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

ROLES = ("public", "outsider", "expert", "moderator", "admin")
USERNAMES = {"outsider": "outsid", "expert": "expyan", "moderator": "modzed", "admin": "admxu"}
#: Seen by the session's moderators and admins only.
STAFF_ONLY = [
    "PENDINGTEXT1",
    "PENDINGTEXT2",
    "REJECTREASON1",
    "REJECTREASON2",
    "MODNOTE1",
    "MODNOTE2",
    "MODNOTE3",
    "HANDBACK1",
    "AUTOMODWORD1",
    "spending1",
    "srejected1",
    "smerged1",
    "shanded1",
    "cpending1",
    "crejected1",
]
#: Seen by the session's staff (experts included), not by the public.
MEMBERS_ONLY = ["sapproved1", "DRAFTANSWER1"]
#: Some of what each role may see, for the scan to prove it reached it.
VISIBLE_TO = {
    "public": ["sanswered1", "canswered1", "capproved1"],
    "outsider": ["sanswered1", "capproved1"],
    "expert": ["sapproved1", "DRAFTANSWER1", "sanswered1"],
    "moderator": [*STAFF_ONLY, *MEMBERS_ONLY],
    "admin": [*STAFF_ONLY, *MEMBERS_ONLY],
}
#: Live sockets each role may open, of the 8 tried (4 endpoints x 2 sessions).
SOCKETS = {"public": 2, "outsider": 2, "expert": 4, "moderator": 4, "admin": 8}
NEVER = ["$argon2", "XACCESSTOKEN1", "XREFRESHTOKEN1"]
STAFF_FIELDS = {"moderator_note", "reject_reason"}
NEVER_FIELDS = {"password_hash", "access_token", "refresh_token", "code_verifier"}
EXTRA_QUERIES = {
    "/api/sessions/{session_id}/questions": [f"?status={s.value}" for s in QuestionStatus],
    "/api/sessions/{session_id}/export": ["?format=csv", "?format=md"],
}


@dataclass
class World:
    """A live session S and a closed one C, with questions in every status, notes,
    reasons, a merge, a hand-back, a draft and published answers; staff of each role."""

    sessions: list[str] = field(default_factory=list)
    questions: dict[str, list[str]] = field(default_factory=dict)
    answers: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)
    secret: str = ""

    def forbidden(self, role: str) -> list[str]:
        """The values ``role`` must never see."""
        out = [*NEVER, self.secret, *self.tokens.values()]
        if role in ("public", "outsider", "expert"):
            out += STAFF_ONLY
        if role in ("public", "outsider"):
            out += MEMBERS_ONLY
            out += [v for r, v in USERNAMES.items() if r != role]
            out += [v for r, v in self.user_ids.items() if r != role]
        return out


async def _seed(services: Services, clock: ManualClock) -> World:
    w = World()
    staff, store, now = services.staff, services.store, clock.now()
    for role, name in USERNAMES.items():
        user = await staff.create_user(name, PASSWORD, is_admin=role == "admin")
        _, w.tokens[role] = await staff.create_token(user.id, "scan")
        w.user_ids[role] = user.id
    tweet = iter(range(1_000_001, 1_000_100))

    async def ask(sid: str, handle: str, text: str = "How do wings work?") -> str:
        n = str(next(tweet))
        incoming = IncomingQuestion(
            tweet_id=n, author=Author(id=n, handle=handle), text=text, created_at=now
        )
        question, _ = await store.add_question(sid, incoming, at=now)
        w.questions.setdefault(sid, []).append(question.id)
        return question.id

    async def publish(sid: str, qid: str, *, rejected: str | None = None) -> None:
        """Answer ``qid`` (and ``rejected``, rejected before the answer is posted)."""
        qids = [qid] if rejected is None else [qid, rejected]
        for q in qids:
            await store.approve_question(sid, q, actor="modzed", at=now)
        draft = AnswerDraft(question_ids=qids, text="With lift.")
        answer = await store.create_answer(sid, draft, expert_id=w.user_ids["expert"], at=now)
        await store.submit_answer(sid, answer.id, actor="expyan", at=now)
        if rejected is not None:
            await store.reject_question(sid, rejected, "REJECTREASON2", actor="modzed", at=now)
        parts = [p.model_dump(mode="json") for p in answer.parts]
        await store.start_publishing(sid, answer.id, actor="publisher", at=now, parts=parts)
        await store.record_part_posted(sid, answer.id, 0, str(next(tweet)), actor="p")
        await store.mark_published(sid, answer.id, actor="publisher", at=now)
        w.answers.setdefault(sid, []).append(answer.id)

    members = {"moderator_ids": [w.user_ids["moderator"]], "expert_ids": [w.user_ids["expert"]]}
    for _ in range(2):
        s = await store.create_session(
            SessionFields.model_validate(session_body(**members)), actor="admxu", at=now
        )
        await store.schedule_session(s.id, actor="admxu", at=now)
        await store.start_session(s.id, actor="admxu", at=now)
        w.sessions.append(s.id)
    sid, cid = w.sessions

    await ask(sid, "spending1", "PENDINGTEXT1?")
    rejected = await ask(sid, "srejected1")
    await store.reject_question(sid, rejected, "REJECTREASON1", actor="modzed", at=now)
    approved = await ask(sid, "sapproved1")
    await store.approve_question(sid, approved, actor="modzed", at=now)
    await store.set_question_note(sid, approved, "MODNOTE1", actor="modzed", at=now)
    merged = await ask(sid, "smerged1")
    await store.merge_question(sid, merged, approved, actor="modzed", at=now)
    handed = await ask(sid, "shanded1")
    await store.approve_question(sid, handed, actor="modzed", at=now)
    await store.requeue_question(sid, handed, actor="expyan", at=now, reason="HANDBACK1")
    answered = await ask(sid, "sanswered1")
    await store.set_question_note(sid, answered, "MODNOTE2", actor="modzed", at=now)
    await publish(sid, answered)
    draft = AnswerDraft(question_ids=[approved], text="DRAFTANSWER1")
    answer = await store.create_answer(sid, draft, expert_id=w.user_ids["expert"], at=now)
    w.answers[sid].append(answer.id)
    config = AutomodConfig(blocklist=["AUTOMODWORD1"])
    await AutomodStore(services.redis).put(sid, config, actor="modzed", at=now)

    await ask(cid, "cpending1", "PENDINGTEXT2?")
    answered = await ask(cid, "canswered1")
    await store.set_question_note(cid, answered, "MODNOTE3", actor="modzed", at=now)
    await publish(cid, answered, rejected=await ask(cid, "crejected1"))
    await store.merge_question(cid, await ask(cid, "cmerged1"), answered, actor="modzed", at=now)
    await store.approve_question(cid, await ask(cid, "capproved1"), actor="modzed", at=now)
    await store.close_session(cid, actor="admxu", at=now + timedelta(minutes=5))

    accounts = XAccountStore(services.redis, services.settings, clock)
    await accounts.put_tokens("Airbus", "42", "XACCESSTOKEN1", "XREFRESHTOKEN1", actor="admxu")
    invitations = InvitationStore(services.redis, clock=clock)
    _, w.secret = await invitations.create(sid, Role.EXPERT, note=None, hours=24, actor="admxu")
    return w


def _params(template: str, w: World) -> Iterator[dict[str, str]]:
    """Every filling of the path parameters of ``template`` from the world."""
    if "{path:path}" in template:
        yield {"path": "js/live.js"}
        return
    if "{secret}" in template:
        yield {"secret": w.secret}
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


def _bodies(client: TestClient, role: str, w: World) -> Iterator[tuple[str, str]]:
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


def _leaks(role: str, w: World, bodies: Iterator[tuple[str, str]]) -> list[str]:
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
        w = client.portal.call(functools.partial(_seed, app.state.services, clock))
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
