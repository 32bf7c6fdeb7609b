"""schemathesis against the app in-process: /openapi.json lists every status it answers.

For an admin and for a moderator bearer token, on a seeded world (two live sessions, a
pending and an approved question, a draft answer), every operation of /openapi.json gets
schema-valid and schema-invalid requests. No answer may be a 5xx, have a status the
document doesn't list for that operation, or (for a listed status) another content type
or a body its schema refuses. Runs are derandomized, so a failure reproduces.

The requests go through ``httpx.ASGITransport`` on the test's event loop (the app's Redis
client lives there); Hypothesis drives them from a worker thread. Every operation is
fuzzed: the X OAuth callback too (an unknown ``state`` is refused like a forged one).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.errors import FailureGroup

from tests.support.api_world import ApiWorld, bearer

pytest_plugins = ("tests.support.api_world",)

#: Cases per operation and generation mode: about a minute per token on a slow CI box.
MAX_EXAMPLES = 16
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Report:
    operations: int = 0
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


def known_ids(w: ApiWorld) -> dict[str, list[str]]:
    """Path parameters taken from the world, so that requests reach past the 404."""
    return {
        "session_id": [w.sid, w.sid2],
        "question_id": [w.pending, w.approved],
        "answer_id": [w.answer],
        # Not the admin's own: disabling or deleting it would end the run's access.
        "user_id": [u.id for name, u in w.users.items() if name != "admin"],
        "role": ["moderator", "expert"],
    }


def to_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """schemathesis' requests-style keyword arguments, for ``httpx.AsyncClient.request``."""
    out = {k: kwargs[k] for k in ("method", "url", "headers", "params") if k in kwargs}
    if "json" in kwargs:
        out["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        out["content"] = data.encode() if isinstance(data, str) else data
    return out


@dataclass
class Fuzzer:
    """Sends the cases of each operation with ``token`` and checks the answers."""

    send: Callable[[dict[str, Any]], httpx.Response]
    token: str
    ids: dict[str, list[str]]
    report: Report = field(default_factory=Report)

    def run(self, schema: schemathesis.BaseSchema) -> Report:
        for result in schema.get_all_operations():
            self.fuzz(result.ok())
            self.report.operations += 1
        return self.report

    def fuzz(self, operation: schemathesis.APIOperation) -> None:
        label = f"{operation.method.upper()} {operation.path}"
        params = {p.name: self.ids[p.name] for p in operation.path_parameters if p.name in self.ids}
        modes = (operation.as_strategy(generation_mode=mode) for mode in GenerationMode)

        @SETTINGS
        @given(case=st.one_of(*modes), data=st.data())
        def run(case: schemathesis.Case, data: st.DataObject) -> None:
            for name, choices in params.items():
                if data.draw(st.integers(0, 3)):  # mostly ids that exist
                    case.path_parameters[name] = data.draw(st.sampled_from(choices))
            self.check(label, case)

        run()

    def check(self, label: str, case: schemathesis.Case) -> None:
        report = self.report
        report.cases += 1
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=bearer(self.token))
        response = self.send(to_httpx(kwargs))
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                why = " ".join(failure.message.split())[:300]
                report.failures.append(f"{label} -> {response.status_code}: {failure.title}: {why}")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("role", ["admin", "moderator"])
async def test_openapi_lists_every_status(world: ApiWorld, role: str) -> None:
    api = world.api
    schema = schemathesis.openapi.from_dict((await api.client.get("/openapi.json")).json())
    loop = asyncio.get_running_loop()
    # A bug in the app is a 500 answer here, not an exception in the test.
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)
    client = api.new_client(transport=transport)

    def send(request: dict[str, Any]) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(client.request(**request), loop).result(30)

    started = time.monotonic()
    fuzzer = Fuzzer(send, world.tokens[role], known_ids(world))
    report = await asyncio.to_thread(fuzzer.run, schema)
    elapsed = time.monotonic() - started
    print(
        f"\nschemathesis as {role}: {report.operations} operations, {report.cases} cases, "
        f"{len(report.failures)} failures, {elapsed:.1f} s; "
        f"statuses {sorted(report.statuses.items())}"
    )
    assert report.operations > 50 and report.cases > report.operations
    assert report.statuses[200] + report.statuses[201] > report.operations  # past auth
    assert not report.failures, "\n".join(sorted(set(report.failures)))


async def test_the_statuses_the_review_found_missing_are_listed(world: ApiWorld) -> None:
    paths = (await world.api.client.get("/openapi.json")).json()["paths"]
    export = paths["/api/sessions/{session_id}/export"]["get"]["responses"]
    assert set(export["200"]["content"]) == {"application/json", "text/csv", "text/markdown"}
    assert "303" in paths["/api/x/callback"]["get"]["responses"]
    assert {"401", "429"} <= set(paths["/api/login"]["post"]["responses"])
    assert "429" in paths["/api/me/password"]["post"]["responses"]
    # Only what can happen: a GET without a body is never 415, a list of sessions never 404.
    listing = paths["/api/sessions"]["get"]["responses"]
    assert "415" not in listing and "404" not in listing and "401" in listing


async def test_connecting_x_without_an_x_app_is_a_conflict_not_a_500(world: ApiWorld) -> None:
    """Found by the fuzzer: with no x_client_id configured, connecting answered 500."""
    r = await world.api.client.post(
        "/api/x/connect", json={"handle": "@Airbus"}, headers=bearer(world.tokens["admin"])
    )
    assert r.status_code == 409, r.text
    assert "x_client_id" in r.json()["message"]
