"""Every endpoint x every role: anonymous, an expert of ANOTHER session ("outsider"), the
session's moderator, its expert, and an admin. Not allowed: 401 anonymous, 403 otherwise.

Allowed callers get the endpoint's success status, or 409 where the world's state makes the
action illegal (e.g. starting a session that is already live): authorization passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from atexpert.web import api_answers, api_invitations, api_questions, api_sessions, api_staff
from tests.support.api_world import ROLES, ApiWorld, bearer, incoming, session_body

pytest_plugins = ("tests.support.api_world",)

S = "/api/sessions/{sid}"
Q = S + "/questions"
A = S + "/answers"
EVERYONE = frozenset(ROLES) - {"anonymous"}
MEMBERS = frozenset({"moderator", "expert", "admin"})
MODS = frozenset({"moderator", "admin"})
WRITERS = frozenset({"expert", "admin"})
ADMIN = frozenset({"admin"})
PASSWORDS = {"current_password": "not-the-password", "new_password": "new-password-1"}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    allowed: frozenset[str]
    ok: int = 200
    body: Callable[[ApiWorld], Any] | None = None
    #: Per-role success status where it differs from ``ok``.
    ok_for: tuple[tuple[str, int], ...] = ()

    def expected(self, role: str) -> int:
        if role not in self.allowed:
            return 401 if role == "anonymous" else 403
        return dict(self.ok_for).get(role, self.ok)


CASES = [
    Case("GET", "/api/me", EVERYONE),
    Case("POST", "/api/logout", EVERYONE, 204),
    Case("POST", "/api/me/password", EVERYONE, 422, lambda w: PASSWORDS),
    Case("GET", "/api/me/tokens", EVERYONE),
    Case("POST", "/api/me/tokens", EVERYONE, 201, lambda w: {"name": "ci"}),
    Case("DELETE", "/api/me/tokens/nope", EVERYONE, 404),
    Case("GET", "/api/users", ADMIN),
    Case(
        "POST",
        "/api/users",
        ADMIN,
        201,
        lambda w: {"username": "newbie", "password": "a-good-passphrase"},
    ),
    Case(
        "POST",
        "/api/users/{expert}/password",
        ADMIN,
        204,
        lambda w: {"new_password": "another-good-passphrase"},
    ),
    Case("POST", "/api/users/{expert}/disable", ADMIN),
    Case("POST", "/api/users/{expert}/enable", ADMIN),
    Case("DELETE", "/api/users/{expert}", ADMIN, 204),
    Case("GET", "/api/throttles", ADMIN),
    Case("DELETE", "/api/throttles/a-nope", ADMIN, 404),
    Case("GET", "/api/sessions", EVERYONE),
    Case("POST", "/api/sessions", ADMIN, 201, lambda w: session_body()),
    Case("GET", S, MEMBERS),
    Case("GET", S + "/grants", MEMBERS),
    Case("GET", S + "/staff", MEMBERS),
    Case("PATCH", S, ADMIN, 409, lambda w: {"title": "New title"}),
    Case("POST", S + "/schedule", ADMIN, 409),
    Case("POST", S + "/unschedule", ADMIN, 409),
    Case("POST", S + "/start", ADMIN, 409),
    Case("POST", S + "/close", ADMIN),
    Case("POST", S + "/archive", ADMIN, 409),
    Case(
        "POST",
        S + "/roles",
        ADMIN,
        200,
        lambda w: {"user_id": w.users["outsider"].id, "role": "moderator"},
    ),
    Case("DELETE", S + "/roles/expert/{expert}", ADMIN),
    Case("POST", S + "/invitations", ADMIN, 201, lambda w: {"role": "expert"}),
    Case("GET", S + "/invitations", ADMIN),
    Case("DELETE", S + "/invitations/inv_nope", ADMIN, 404),
    # Invitation links are public: an unknown one is a 404 for everyone.
    Case("GET", "/api/invitations/" + "x" * 43, frozenset(ROLES), 404),
    Case("POST", "/api/invitations/" + "x" * 43 + "/accept", frozenset(ROLES), 404, lambda w: {}),
    Case("GET", Q, MEMBERS),
    Case("POST", Q, ADMIN, 201, lambda w: incoming(9).model_dump(mode="json")),
    Case("GET", Q + "/{pending}", MODS),
    Case("GET", Q + "/{approved}", MEMBERS),
    Case("POST", Q + "/{pending}/approve", MODS),
    Case("POST", Q + "/{pending}/reject", MODS, 200, lambda w: {"reason": "off topic"}),
    Case("POST", Q + "/{pending}/merge", MODS, 200, lambda w: {"into": w.approved}),
    Case("POST", Q + "/{approved}/requeue", MEMBERS, 200, lambda w: {"reason": "unclear"}),
    Case("POST", Q + "/{pending}/restore", MODS, 409),
    Case("POST", Q + "/{pending}/edit", MODS, 200, lambda w: {"display_text": "Wings?"}),
    Case("POST", Q + "/{pending}/star", MODS, 200, lambda w: {"starred": True}),
    Case("POST", Q + "/{pending}/priority", MODS, 200, lambda w: {"priority": 5}),
    Case("POST", Q + "/{pending}/tags", MODS, 200, lambda w: {"tags": ["tech"]}),
    Case("POST", Q + "/{pending}/note", MODS, 200, lambda w: {"note": "good one"}),
    Case("POST", Q + "/{approved}/assign", MEMBERS, 200, lambda w: {"assignee": None}),
    Case("GET", A, MEMBERS),
    Case(
        "POST",
        A,
        WRITERS,
        201,
        lambda w: {"question_ids": [w.approved], "text": "Another answer."},
    ),
    Case("GET", A + "/{answer}", MEMBERS),
    Case("POST", A + "/{answer}/edit", WRITERS, 200, lambda w: {"text": "Lift, mostly."}),
    Case("POST", A + "/{answer}/submit", WRITERS),
    Case("POST", A + "/{answer}/withdraw", WRITERS, 409),
    Case("POST", A + "/{answer}/approve", MODS, 409),
    Case("POST", A + "/{answer}/return", MODS, 409),
    Case("POST", A + "/{answer}/retry", MODS, 409),
]


def _path(case: Case, w: ApiWorld) -> str:
    return case.path.format(
        sid=w.sid,
        pending=w.pending,
        approved=w.approved,
        answer=w.answer,
        expert=w.users["expert"].id,
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_matrix(world: ApiWorld, case: Case, role: str) -> None:
    headers = {} if role == "anonymous" else bearer(world.tokens[role])
    body = case.body(world) if case.body is not None else None
    r = await world.api.client.request(case.method, _path(case, world), json=body, headers=headers)
    assert r.status_code == case.expected(role), r.text
    if r.status_code >= 400:
        assert r.json()["error"]


def test_matrix_covers_every_api_route() -> None:
    """Every endpoint of the core API modules (the others test their own)."""
    modules = (api_staff, api_sessions, api_questions, api_answers, api_invitations)
    endpoints = [ep for module in modules for ep in module.ENDPOINTS]
    declared = {(ep.method, ep.path) for ep in endpoints} - {("POST", "/api/login")}
    covered: set[tuple[str, str]] = set()
    for case in CASES:
        hits = {(ep.method, ep.path) for ep in endpoints if _matches(case, ep.method, ep.path)}
        assert hits, case
        covered |= hits
    assert declared == covered


def _matches(case: Case, method: str, template: str) -> bool:
    if method != case.method:
        return False
    pattern = re.sub(r"\{[^}]+\}", "[^/]+", template)
    concrete = re.sub(r"\{[^}]+\}", "x", case.path)
    return re.fullmatch(pattern, concrete) is not None
