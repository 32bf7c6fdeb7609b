"""Bad input gets a clear 4xx with field details: never a 500, a hang or lost data."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atexpert.web.api_routing import MAX_BODY_BYTES
from tests.support.api_world import ApiWorld, bearer, session_body

pytest_plugins = ("tests.support.api_world",)


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [d["loc"] for d in body["detail"]]


async def post(w: ApiWorld, path: str, payload: Any = None) -> Any:
    """POST ``payload`` as JSON (``None`` is sent as ``null``) as the admin."""
    headers = {**bearer(w.tokens["admin"]), "content-type": "application/json"}
    return await w.api.client.post(path, content=json.dumps(payload), headers=headers)


@pytest.mark.parametrize(
    ("over", "loc"),
    [
        ({"title": 123}, ["body", "title"]),
        ({"title": "x" * 201}, ["body", "title"]),
        ({"hashtags": []}, ["body", "hashtags"]),
        ({"hashtags": ["not a tag"]}, ["body", "hashtags"]),
        ({"time_zone": "Mars/Olympus"}, ["body", "time_zone"]),
        ({"scheduled_start": "tomorrow"}, ["body", "scheduled_start"]),
        ({"scheduled_start": "2026-11-26T10:00:00"}, ["body", "scheduled_start"]),
        ({"host_account": {"handle": "way too long a handle"}}, ["body", "host_account", "handle"]),
        ({"language": "de"}, ["body", "language"]),
        ({"surprise": True}, ["body", "surprise"]),
        ({"expert_ids": ["no-such-user"]}, ["body", "expert_ids", 0]),
    ],
)
async def test_bad_session_fields(world: ApiWorld, over: dict[str, Any], loc: list[Any]) -> None:
    r = await post(world, "/api/sessions", session_body(**over))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_input" and loc in locs(body)
    assert all({"loc", "msg", "type"} <= set(d) for d in body["detail"])
    listed = await world.api.client.get("/api/sessions", headers=bearer(world.tokens["admin"]))
    assert len(listed.json()) == 2  # nothing was created


async def test_end_before_start_is_refused(world: ApiWorld) -> None:
    body = session_body(scheduled_end="2026-11-26T08:00:00+00:00")
    r = await post(world, "/api/sessions", body)
    assert r.status_code == 422 and "scheduled_end" in r.text


async def test_malformed_json_is_400_with_detail(world: ApiWorld) -> None:
    headers = {**bearer(world.tokens["admin"]), "content-type": "application/json"}
    for raw in (b"{", b"", b"[1,", b'{"title": }', b"\xff\xfe"):
        r = await world.api.client.post("/api/sessions", content=raw, headers=headers)
        assert r.status_code == 400, raw
        assert r.json()["error"] == "malformed_json" and r.json()["detail"]


async def test_wrong_json_shape_is_422(world: ApiWorld) -> None:
    for payload in ([], "text", 3, None):
        raw = json.dumps(payload).encode()
        r = await world.api.client.post(
            "/api/sessions",
            content=raw,
            headers={**bearer(world.tokens["admin"]), "content-type": "application/json"},
        )
        assert r.status_code == 422, payload
        assert r.json()["detail"][0]["loc"] == ["body"]


async def test_non_json_content_type_is_415(world: ApiWorld) -> None:
    headers = {**bearer(world.tokens["admin"]), "content-type": "application/x-www-form-urlencoded"}
    r = await world.api.client.post("/api/sessions", content=b"title=x", headers=headers)
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"


async def test_oversized_body_is_413(world: ApiWorld) -> None:
    huge = session_body(description="x" * (MAX_BODY_BYTES + 1))
    r = await post(world, "/api/sessions", huge)
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"


async def test_oversized_body_without_length_is_413(world: ApiWorld) -> None:
    async def chunks() -> Any:
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024

    headers = {**bearer(world.tokens["admin"]), "content-type": "application/json"}
    r = await world.api.client.post("/api/sessions", content=chunks(), headers=headers)
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("action", "payload", "loc"),
    [
        ("reject", {"reason": ""}, ["body", "reason"]),
        ("reject", {"reason": "x" * 501}, ["body", "reason"]),
        ("reject", {}, ["body", "reason"]),
        ("merge", {"into": 42}, ["body", "into"]),
        ("priority", {"priority": "high"}, ["body", "priority"]),
        ("priority", {"priority": 10**9}, ["body", "priority"]),
        ("tags", {"tags": ["x" * 51]}, ["body", "tags", 0]),
        ("tags", {"tags": "tech"}, ["body", "tags"]),
        ("star", {"starred": "maybe"}, ["body", "starred"]),
        ("note", {"note": "x" * 2001}, ["body", "note"]),
        ("edit", {"display_text": ""}, ["body", "display_text"]),
        ("edit", {"display_text": "ok", "extra": 1}, ["body", "extra"]),
    ],
)
async def test_bad_question_actions(
    world: ApiWorld, action: str, payload: dict[str, Any], loc: list[Any]
) -> None:
    path = f"/api/sessions/{world.sid}/questions/{world.pending}/{action}"
    r = await post(world, path, payload)
    assert r.status_code == 422, r.text
    assert loc in locs(r.json())
    q = await world.api.client.get(
        f"/api/sessions/{world.sid}/questions/{world.pending}",
        headers=bearer(world.tokens["admin"]),
    )
    assert q.json()["status"] == "pending" and q.json()["version"] == 1


async def test_merge_into_itself_or_missing_question(world: ApiWorld) -> None:
    base = f"/api/sessions/{world.sid}/questions/{world.pending}/merge"
    r = await post(world, base, {"into": world.pending})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "into"]
    r = await post(world, base, {"into": "q_404"})
    assert r.status_code in (404, 409) and r.json()["message"]


async def test_bad_query_parameters(world: ApiWorld) -> None:
    headers = bearer(world.tokens["admin"])
    base = f"/api/sessions/{world.sid}/questions"
    for query, loc in (
        ("?status=bogus", ["query", "status"]),
        ("?limit=0", ["query", "limit"]),
        ("?limit=abc", ["query", "limit"]),
        ("?offset=-1", ["query", "offset"]),
        ("?colour=red", ["query", "colour"]),
    ):
        r = await world.api.client.get(base + query, headers=headers)
        assert r.status_code == 422, query
        assert loc in locs(r.json())


async def test_weird_ids_are_404(world: ApiWorld) -> None:
    headers = bearer(world.tokens["admin"])
    for path in (
        "/api/sessions/s_nope",
        "/api/sessions/%7Bx%7D",
        f"/api/sessions/{world.sid}/questions/q_..%2F..",
        f"/api/sessions/{world.sid}/answers/" + "a" * 300,
    ):
        r = await world.api.client.get(path, headers=headers)
        assert r.status_code == 404, path
        assert r.json()["error"] == "not_found"


async def test_illegal_transition_is_409_with_the_reason(world: ApiWorld) -> None:
    path = f"/api/sessions/{world.sid}/questions/{world.approved}/approve"
    r = await post(world, path)
    assert r.status_code == 409
    assert r.json()["error"] == "illegal_transition" and "already approved" in r.json()["message"]


async def test_answer_to_a_pending_question_is_refused(world: ApiWorld) -> None:
    path = f"/api/sessions/{world.sid}/answers"
    r = await world.api.client.post(
        path,
        json={"question_ids": [world.pending], "text": "Early."},
        headers=bearer(world.tokens["expert"]),
    )
    assert r.status_code == 409 and r.json()["message"]
    r = await world.api.client.post(
        path, json={"question_ids": [], "text": "x"}, headers=bearer(world.tokens["expert"])
    )
    assert r.status_code == 422


# -- fuzz: arbitrary JSON never causes a 5xx ------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
SESSION_KEYS = list(session_body())


@st.composite
def session_like(draw: st.DrawFn) -> Any:
    """Mostly-valid session bodies with a few fields replaced by arbitrary JSON."""
    body: dict[str, Any] = session_body()
    for key in draw(st.lists(st.sampled_from([*SESSION_KEYS, "extra"]), max_size=3)):
        body[key] = draw(JSON)
    return body


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(JSON, session_like()))
async def test_fuzz_create_session(world: ApiWorld, body: Any) -> None:
    r = await post(world, "/api/sessions", body)
    assert r.status_code in (201, 400, 409, 422), r.text
    assert r.headers["content-type"] == "application/json"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    action=st.sampled_from(["reject", "merge", "edit", "star", "priority", "tags", "note"]),
    body=JSON,
    path_id=st.text(min_size=1, max_size=20).filter(lambda t: "/" not in t and t not in ".."),
    real=st.booleans(),
)
async def test_fuzz_question_actions(
    world: ApiWorld, action: str, body: Any, path_id: str, real: bool
) -> None:
    sid, qid = (world.sid, world.pending) if real else (quote(path_id, safe=""), path_id)
    r = await post(world, f"/api/sessions/{sid}/questions/{quote(qid, safe='')}/{action}", body)
    assert r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/json" or r.status_code < 300


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(["status", "offset", "limit", "other"]), st.text(max_size=12), max_size=3
    ),
    role=st.sampled_from(["moderator", "expert", "outsider"]),
)
async def test_fuzz_list_queries(world: ApiWorld, params: dict[str, str], role: str) -> None:
    for path in (f"/api/sessions/{world.sid}/questions", f"/api/sessions/{world.sid}/answers"):
        r = await world.api.client.get(path, params=params, headers=bearer(world.tokens[role]))
        assert r.status_code in (200, 403, 422), r.text
        if r.status_code == 422:
            assert all(d["loc"][0] == "query" for d in r.json()["detail"])
