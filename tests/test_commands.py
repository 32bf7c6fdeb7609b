"""Adapter equivalence: every command offered by more than one adapter (HTTP, the live
websocket, the CLI), run by every role through each adapter against a fresh world, has the
same outcome: success or the same error code, the same events written, the same record.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from atexpert.cli.main import main
from atexpert.domain.questions import MAX_NOTE, MAX_TAGS
from atexpert.domain.sessions import Role
from atexpert.domain.staff import can
from atexpert.live.protocol import BEARER_PREFIX, SUBPROTOCOL
from atexpert.store.login_throttle import LoginThrottle
from atexpert.store.series import SeriesStore
from atexpert.web.commands import (
    ADD_QUESTION,
    INVITATION_COMMANDS,
    QUESTION_COMMANDS,
    SESSION_COMMANDS,
    Command,
)
from atexpert.web.desk_commands import DESK_COMMANDS
from atexpert.web.series_commands import SERIES_COMMANDS
from atexpert.web.setting_commands import SETTING_COMMANDS
from atexpert.web.staff_commands import USER_COMMANDS
from tests.support.api_world import bearer, incoming
from tests.support.command_world import NOW, CommandWorld, command_app, fresh_world

with warnings.catch_warnings():  # starlette nags about httpx; its TestClient still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

ROLES = ("anonymous", "outsider", "expert", "moderator", "admin")
#: The live console each role opens (an outsider tries the expert one).
CONSOLE = {"outsider": "expert", "expert": "expert", "moderator": "moderator", "admin": "admin"}
#: A refused websocket handshake, as the HTTP API's error codes.
CLOSE_CODES = {4401: "not_authenticated", 4403: "forbidden"}


@pytest.fixture(scope="module")
def app_client(redis_url: str) -> Iterator[TestClient]:
    with command_app(redis_url) as client:
        yield client


WORLD_IDS = frozenset({"id", "session_id", "moderator_ids", "expert_ids", "on_duty", "assignee"})


@dataclass(frozen=True)
class Outcome:
    error: str | None
    events: tuple[str, ...]
    record: dict[str, Any] | None


def event_kinds(w: CommandWorld, sid: str, after: str) -> tuple[str, ...]:
    return tuple(e.kind.value for e in w.call(w.store.read_events, sid, after))


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what differs between two fresh worlds (ids, times of the CLI)."""
    return {k: v for k, v in record.items() if k not in WORLD_IDS and "_at" not in k}


# -- question commands: HTTP and the websocket --------------------------------------------


@dataclass(frozen=True)
class QuestionCase:
    action: str
    target: str
    payload: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    label: str = ""

    def __str__(self) -> str:
        extra = f"-v{self.version}" if self.version else ""
        return f"{self.action}-{self.target}{extra}" + (f"-{self.label}" if self.label else "")


QUESTION_CASES = [
    QuestionCase("approve", "pending"),
    QuestionCase("approve", "pending", version=1),
    QuestionCase("approve", "pending", version=9),  # stale: conflict
    QuestionCase("approve", "rejected"),  # illegal transition
    QuestionCase("approve", "pending", label="closed"),  # the session is closed
    QuestionCase("reject", "pending", {"reason": "off topic"}),
    QuestionCase("reject", "pending", {}, label="no-reason"),
    QuestionCase("reject", "approved", {"reason": "off topic"}, version=9),
    QuestionCase("merge", "pending", {"into": "approved"}),
    QuestionCase("requeue", "approved", {"reason": "needs context"}),
    QuestionCase("requeue", "pending"),
    QuestionCase("restore", "rejected"),
    QuestionCase("edit", "pending", {"display_text": "How do wings lift?"}),
    QuestionCase("edit", "pending", {"display_text": "How do wings lift?"}, version=9),
    QuestionCase("star", "pending", {"starred": True}),
    QuestionCase("priority", "pending", {"priority": 5}),
    QuestionCase("tags", "pending", {"tags": ["wings"]}),
    QuestionCase("tags", "pending", {"tags": ["x"] * (MAX_TAGS + 1)}, label="too-many"),
    QuestionCase("note", "pending", {"note": "ask about flaps"}),
    QuestionCase("note", "pending", {"note": "x" * (MAX_NOTE + 1)}, label="too-long"),
    QuestionCase("note", "pending", {"note": "hi", "colour": "red"}, label="unknown-field"),
    QuestionCase("assign", "approved", {"assignee": "expert", "note": "yours"}),
    QuestionCase("assign", "pending", {"assignee": None}),
    QuestionCase("assign", "pending", {"assignee": "moderator"}, label="off-duty"),
    QuestionCase("assign", "rejected", {"assignee": "expert"}),  # illegal transition
]


def _payload(w: CommandWorld, case: QuestionCase) -> dict[str, Any]:
    """The case's input, with a target status named by ``into`` and a username named by
    ``assignee`` resolved to their ids."""
    into, assignee = case.payload.get("into"), case.payload.get("assignee")
    if assignee:
        return {**case.payload, "assignee": w.call(w.staff.get_by_username, assignee).id}
    return {**case.payload, "into": w.qids[into]} if into else case.payload


def _prepare(w: CommandWorld, case: QuestionCase) -> None:
    if case.label == "closed":
        w.call(w.store.close_session, w.sid, actor="seed", at=NOW)


def via_http(w: CommandWorld, case: QuestionCase, role: str) -> Outcome:
    _prepare(w, case)
    qid = w.qids[case.target]
    after = w.call(w.store.last_event_id, w.sid)
    headers = bearer(w.tokens[role]) if role != "anonymous" else {}
    params = {"version": case.version} if case.version else None
    path = f"/api/sessions/{w.sid}/questions/{qid}/{case.action}"
    command = QUESTION_COMMANDS[case.action]
    body = _payload(w, case) if command.input.model_fields or case.payload else None
    r = w.client.post(path, json=body, params=params, headers=headers)
    error = None if r.status_code == 200 else r.json()["error"]
    return _outcome(w, qid, after, error)


def via_websocket(w: CommandWorld, case: QuestionCase, role: str) -> Outcome:
    _prepare(w, case)
    qid = w.qids[case.target]
    after = w.call(w.store.last_event_id, w.sid)
    protocols = [SUBPROTOCOL] + ([BEARER_PREFIX + w.tokens[role]] if role != "anonymous" else [])
    message = {"type": "question", "request_id": "r1", "action": case.action, "question_id": qid}
    message |= _payload(w, case) | ({"version": case.version} if case.version else {})
    path = f"/ws/sessions/{w.sid}/{CONSOLE.get(role, 'moderator')}"
    try:
        with w.client.websocket_connect(path, subprotocols=protocols) as ws:
            ws.send_json(message)
            reply = ws.receive_json()
            while reply.get("request_id") != "r1":
                reply = ws.receive_json()
    except WebSocketDisconnect as closed:
        return _outcome(w, qid, after, CLOSE_CODES[closed.code])
    error = None if reply["type"] == "ack" else reply["code"]
    return _outcome(w, qid, after, error)


def _outcome(w: CommandWorld, qid: str, after: str, error: str | None) -> Outcome:
    record = w.call(w.store.get_question, w.sid, qid).model_dump(mode="json")
    return Outcome(error, event_kinds(w, w.sid, after), comparable(record))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", QUESTION_CASES, ids=str)
def test_question_commands_have_one_outcome_over_http_and_the_websocket(
    app_client: TestClient, redis_url: str, case: QuestionCase, role: str
) -> None:
    http = via_http(fresh_world(app_client, redis_url), case, role)
    live = via_websocket(fresh_world(app_client, redis_url), case, role)
    assert live == http


def test_the_outcomes_are_the_product_rules(app_client: TestClient, redis_url: str) -> None:
    """A few rows of the table spelled out, so an adapter-wide regression shows too."""
    expected = {
        ("requeue-approved", "expert"): None,  # experts hand back: QUESTION_HAND_BACK
        ("requeue-approved", "moderator"): None,
        ("approve-pending", "expert"): "forbidden",
        ("approve-pending", "anonymous"): "not_authenticated",
        ("approve-pending", "outsider"): "forbidden",
        ("approve-pending-v9", "moderator"): "conflict",
        ("edit-pending-v9", "admin"): "conflict",  # edit honours version everywhere
        ("approve-rejected", "moderator"): "illegal_transition",
        ("approve-pending-closed", "moderator"): "session_closed",
        ("reject-pending-no-reason", "moderator"): "invalid_input",
        ("reject-pending-no-reason", "outsider"): "forbidden",  # authorized before validated
        ("note-pending-too-long", "admin"): "invalid_input",
        ("tags-pending", "moderator"): None,
        ("note-pending", "admin"): None,
        ("assign-approved", "expert"): None,  # agents hand over: QUESTION_ASSIGN
        ("assign-pending", "moderator"): None,
        ("assign-pending-off-duty", "moderator"): "invalid_input",
        ("assign-approved", "outsider"): "forbidden",
    }
    by_name = {str(c): c for c in QUESTION_CASES}
    for (name, role), error in expected.items():
        for adapter in (via_http, via_websocket):
            outcome = adapter(fresh_world(app_client, redis_url), by_name[name], role)
            assert outcome.error == error, (name, role, adapter.__name__)
            assert bool(outcome.events) is (error is None), (name, role, adapter.__name__)


# -- session lifecycle: HTTP (as an admin) and the CLI (as the operator) --------------------

SESSION_CASES = [
    ("schedule", "draft", ()),
    ("archive", "draft", ()),
    ("close", "live", ()),
    ("close", "draft", ()),  # illegal transition
    ("schedule", "live", ()),  # illegal transition
    ("start", "scheduled", ("schedule",)),
]


def _session_target(w: CommandWorld, state: str, before: tuple[str, ...]) -> str:
    sid = w.sid if state == "live" else w.draft
    for name in before:
        w.call(getattr(w.store, f"{name}_session"), sid, actor="seed", at=NOW)
    return sid


Cli = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Runs ``atexpert ARGS...`` in-process on the test Redis: exit code and stderr."""
    monkeypatch.setenv("ATEXPERT_REDIS_URL", redis_url)
    monkeypatch.delenv("ATEXPERT_REDIS_CLUSTER", raising=False)

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(argv))
        return code, capsys.readouterr().err

    return run


@pytest.mark.parametrize(("action", "state", "before"), SESSION_CASES)
def test_session_commands_have_one_outcome_over_http_and_the_cli(
    app_client: TestClient,
    redis_url: str,
    cli: Cli,
    action: str,
    state: str,
    before: tuple[str, ...],
) -> None:
    assert action in SESSION_COMMANDS
    w = fresh_world(app_client, redis_url)
    sid = _session_target(w, state, before)
    after = w.call(w.store.last_event_id, sid)
    r = w.client.post(f"/api/sessions/{sid}/{action}", headers=bearer(w.tokens["admin"]))
    http_error = r.json().get("message", "").replace(sid, "SID")
    http_events = event_kinds(w, sid, after)
    http_record = w.call(w.store.get_session, sid).model_dump(mode="json")

    w = fresh_world(app_client, redis_url)
    sid = _session_target(w, state, before)
    after = w.call(w.store.last_event_id, sid)
    code, err = cli("session", action, sid)
    assert (code == 0) is (r.status_code == 200), err
    assert (code == 0) is (r.status_code == 200)
    if code:
        assert http_error in err.replace(sid, "SID")
    assert event_kinds(w, sid, after) == http_events
    record = w.call(w.store.get_session, sid).model_dump(mode="json")
    assert (record["updated_by"], http_record["updated_by"]) == (
        ("cli", "admin") if code == 0 else ("seed", "seed")
    )
    assert comparable(record) | {"updated_by": ""} == comparable(http_record) | {"updated_by": ""}


# -- invitations: HTTP (as an admin) and the CLI (as the operator) --------------------------

INVITATION_CASES = [
    ("invite", "live"),
    ("invite", "closed"),  # a closed session takes no new staff
    ("uninvite", "pending"),
    ("uninvite", "unknown"),
]


def _invitation_world(
    app_client: TestClient, redis_url: str, state: str
) -> tuple[CommandWorld, str]:
    """A fresh world and the invitation id the case acts on (or a session's)."""
    w = fresh_world(app_client, redis_url)
    if state == "closed":
        w.call(w.store.close_session, w.sid, actor="seed", at=NOW)
    if state == "pending":
        made, _ = w.call(w.invitations.create, w.sid, Role.EXPERT, note=None, hours=24, actor="x")
        return w, made.id
    return w, "inv_0123456789ab"


def _invitations(w: CommandWorld) -> list[tuple[str, str | None, str]]:
    return [(i.role.value, i.note, i.status.value) for i in w.call(w.invitations.pending, w.sid)]


@pytest.mark.parametrize(("action", "state"), INVITATION_CASES)
def test_invitation_commands_have_one_outcome_over_http_and_the_cli(
    app_client: TestClient, redis_url: str, cli: Cli, action: str, state: str
) -> None:
    assert action in INVITATION_COMMANDS
    w, iid = _invitation_world(app_client, redis_url, state)
    headers = bearer(w.tokens["admin"])
    base = f"/api/sessions/{w.sid}/invitations"
    if action == "invite":
        r = w.client.post(base, json={"role": "moderator", "note": "Dr. Ada"}, headers=headers)
    else:
        r = w.client.delete(f"{base}/{iid}", headers=headers)
    http_ok = r.status_code in (201, 204)
    http_error = "" if http_ok else r.json()["message"].replace(w.sid, "SID")
    http_left = _invitations(w)
    if state == "closed":
        assert (r.status_code, r.json()["error"]) == (409, "session_closed")

    w, iid = _invitation_world(app_client, redis_url, state)
    if action == "invite":
        code, err = cli("session", "invite", w.sid, "--role", "moderator", "--note", "Dr. Ada")
    else:
        code, err = cli("session", "uninvite", w.sid, iid)
    assert (code == 0) is http_ok, err
    assert http_error in err.replace(w.sid, "SID")
    assert _invitations(w) == http_left


@pytest.mark.parametrize("state", ["live", "closed"])
def test_role_assignment_has_one_outcome_over_http_and_the_cli(
    app_client: TestClient, redis_url: str, cli: Cli, state: str
) -> None:
    outcomes = []
    for adapter in ("http", "cli"):
        w = fresh_world(app_client, redis_url)
        if state == "closed":
            w.call(w.store.close_session, w.sid, actor="seed", at=NOW)
        after = w.call(w.store.last_event_id, w.sid)
        outsider = w.call(w.staff.get_by_username, "outsider")
        if adapter == "http":
            body = {"user_id": outsider.id, "role": "moderator"}
            r = w.client.post(
                f"/api/sessions/{w.sid}/roles", json=body, headers=bearer(w.tokens["admin"])
            )
            error = None if r.status_code == 200 else r.json()["message"]
        else:
            code, err = cli("session", "assign", w.sid, "--moderator", "outsider")
            error = None if code == 0 else err
        session = w.call(w.store.get_session, w.sid)
        message = None if error is None else error.replace(w.sid, "SID").replace(outsider.id, "U")
        outcomes.append(
            (message, event_kinds(w, w.sid, after), outsider.id in session.moderator_ids)
        )
    (http_error, *http_rest), (cli_error, *cli_rest) = outcomes
    assert http_rest == cli_rest
    if state == "live":
        assert http_error is None and cli_error is None
    else:  # a closed session takes no new staff
        assert http_error is not None and cli_error is not None and http_error in cli_error


def test_a_role_goes_only_to_an_existing_account_and_only_an_admin_learns_why(
    app_client: TestClient, redis_url: str
) -> None:
    w = fresh_world(app_client, redis_url)
    path, body = f"/api/sessions/{w.sid}/roles", {"user_id": "nope", "role": "expert"}
    r = w.client.post(path, json=body, headers=bearer(w.tokens["admin"]))
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")
    assert r.json()["detail"][0]["loc"] == ["body", "user_id"]
    r = w.client.post(path, json={"role": "pilot"}, headers=bearer(w.tokens["expert"]))
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")


# -- commands offered by HTTP alone: the outcome is the declaration's, for every role -------


@dataclass(frozen=True)
class HttpCase:
    """A command's HTTP request (``{sid}``, ``{expert}``: the session's and the expert's
    ids); ``session``: the command acts on the live session (else it is global)."""

    command: Command[Any, Any]
    method: str
    path: str
    body: dict[str, Any] | None
    bad_body: dict[str, Any] | None = None
    session: bool = True

    def __str__(self) -> str:
        return self.command.name


HTTP_CASES = [
    HttpCase(SETTING_COMMANDS["automod"], "PUT", "/api/sessions/{sid}/automod", {}, {"x": 1}),
    HttpCase(
        SETTING_COMMANDS["raid"], "PUT", "/api/sessions/{sid}/automod/raid", {"raid_mode": True}, {}
    ),
    HttpCase(
        SETTING_COMMANDS["intake_mode"],
        "PUT",
        "/api/sessions/{sid}/intake/mode",
        {"mode": "search"},
        {"mode": "carrier pigeon"},
    ),
    HttpCase(
        SETTING_COMMANDS["budget"],
        "PUT",
        "/api/sessions/{sid}/budget",
        {"budget_usd": "5"},
        {"budget_usd": "-1"},
    ),
    HttpCase(
        SETTING_COMMANDS["monthly_budget"],
        "PUT",
        "/api/sessions/{sid}/monthly-budget",
        {"monthly_budget_usd": "50"},
        {"monthly_budget_usd": "lots"},
    ),
    HttpCase(
        SESSION_COMMANDS["revoke"], "DELETE", "/api/sessions/{sid}/roles/expert/{expert}", None
    ),
    HttpCase(
        DESK_COMMANDS["reply_add"],
        "POST",
        "/api/sessions/{sid}/saved-replies",
        {"title": "Hi", "text": "Hello {asker}, {agent} here"},
        {"title": "Hi", "text": "Hello {name}"},  # an unknown variable
    ),
    HttpCase(
        DESK_COMMANDS["shift"],
        "POST",
        "/api/sessions/{sid}/shift",
        {"on_duty": False},  # the expert ends their shift; anyone else was off already
        {"on_duty": "maybe"},
    ),
    HttpCase(
        DESK_COMMANDS["first_response"],
        "PUT",
        "/api/sessions/{sid}/desk/target",
        {"first_response_minutes": 30},
        {"first_response_minutes": 0},
    ),
    HttpCase(
        ADD_QUESTION,
        "POST",
        "/api/sessions/{sid}/questions",
        incoming(9).model_dump(mode="json"),
        {"tweet_id": "1"},
    ),
    HttpCase(
        USER_COMMANDS["add"],
        "POST",
        "/api/users",
        {"username": "ada", "password": "long enough passphrase"},
        {"username": "ada"},
        session=False,
    ),
    HttpCase(
        USER_COMMANDS["password"],
        "POST",
        "/api/users/{expert}/password",
        {"new_password": "another long passphrase", "revoke_tokens": True},
        {"new_password": "expert-expert-2024"},  # contains the username: the policy
        session=False,
    ),
    HttpCase(USER_COMMANDS["disable"], "POST", "/api/users/{expert}/disable", None, session=False),
    HttpCase(USER_COMMANDS["delete"], "DELETE", "/api/users/{expert}", None, session=False),
    HttpCase(
        SERIES_COMMANDS["series_create"],
        "POST",
        "/api/series",
        {
            "slug": "ask-airbus",
            "title": "Ask Airbus",
            "hashtags": ["#AskAirbus"],
            "host_account": {"handle": "Airbus"},
            "time_zone": "Europe/Paris",
            "rrule": "FREQ=MONTHLY;BYDAY=1TU",
            "start_time": "15:00",
        },
        {"slug": "Ask Airbus"},
        session=False,
    ),
]


def _http_case(w: CommandWorld, case: HttpCase, role: str, body: Any) -> tuple[str | None, bool]:
    """The error code (None on success) and whether the call changed anything (an event,
    a user, the expert's account or tokens, the budget, a series)."""
    expert = w.call(w.staff.get_by_username, "expert")
    path = case.path.format(sid=w.sid, expert=expert.id)
    headers = bearer(w.tokens[role]) if role != "anonymous" else {}
    after = w.call(w.store.last_event_id, w.sid)
    users = len(w.call(w.staff.list_users))
    tokens = w.call(w.staff.list_tokens, expert.id)
    series = SeriesStore(w.client.app.state.services.redis)  # type: ignore[attr-defined]
    r = w.client.request(case.method, path, json=body, headers=headers)
    error = None if r.status_code < 300 else r.json()["error"]
    spend = w.client.get(f"/api/sessions/{w.sid}/spend", headers=bearer(w.tokens["admin"]))
    changed = (
        bool(event_kinds(w, w.sid, after))
        or len(w.call(w.staff.list_users)) != users
        or w.call(w.staff.get_user, expert.id) != expert
        or w.call(w.staff.list_tokens, expert.id) != tokens
        or spend.json()["budget_usd"] is not None
        or bool(w.call(series.list))
        or spend.json()["monthly_budget_usd"] is not None
    )
    return error, changed


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", HTTP_CASES, ids=str)
def test_http_commands_follow_their_declaration(
    app_client: TestClient, redis_url: str, case: HttpCase, role: str
) -> None:
    """Allowed exactly when the declared permission is held (on the session, or globally);
    an invalid input is refused only once the caller is allowed."""
    w = fresh_world(app_client, redis_url)
    user = w.call(w.staff.get_by_username, role) if role != "anonymous" else None
    session = w.call(w.store.get_session, w.sid) if case.session else None
    allowed = user is not None and can(user, case.command.permission, session)
    refused = "not_authenticated" if user is None else "forbidden"
    error, changed = _http_case(w, case, role, case.body)
    assert error == (None if allowed else refused)
    assert changed is allowed
    if case.bad_body is not None:
        error, changed = _http_case(fresh_world(app_client, redis_url), case, role, case.bad_body)
        assert (error, changed) == ("invalid_input" if allowed else refused, False)


# -- staff users: HTTP (as an admin) and the CLI (as the operator) --------------------------


@pytest.mark.parametrize("username", ["ada", "expert"])  # "expert" is taken
def test_user_add_has_one_outcome_over_http_and_the_cli(
    app_client: TestClient,
    redis_url: str,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    username: str,
) -> None:
    outcomes = []
    for adapter in ("http", "cli"):
        w = fresh_world(app_client, redis_url)
        if adapter == "http":
            body = {
                "username": username,
                "password": "long enough passphrase",
                "display_name": "Ada L.",
            }
            r = w.client.post("/api/users", json=body, headers=bearer(w.tokens["admin"]))
            error = None if r.status_code == 201 else r.json()["message"]
        else:
            monkeypatch.setattr("sys.stdin", io.StringIO("long enough passphrase\n"))
            code, err = cli("user", "add", username, "--display-name", "Ada L.", "--password-stdin")
            error = None if code == 0 else err
        user = w.call(w.staff.get_by_username, username)
        outcomes.append(
            (error, (user.display_name, user.is_admin), len(w.call(w.staff.list_users)))
        )
    (http_error, *http_rest), (cli_error, *cli_rest) = outcomes
    assert http_rest == cli_rest
    if username == "ada":
        assert http_error is None and cli_error is None
    else:
        assert http_error is not None and cli_error is not None and http_error in cli_error


USER_STATE_CASES = [
    ("disable", "expert"),
    ("enable", "expert"),  # disabled first
    ("delete", "expert"),
    ("disable", "admin"),  # the last active admin: conflict
    ("delete", "admin"),
    ("enable", "ghost"),  # no such user
]


def _user_state(w: CommandWorld, username: str) -> tuple[bool, bool] | None:
    """Whether the user is disabled and deleted (None: no such user)."""
    user = w.call(w.staff.get_by_username, username)
    return None if user is None else (user.disabled, user.deleted_at is not None)


@pytest.mark.parametrize(("action", "username"), USER_STATE_CASES)
def test_user_state_has_one_outcome_over_http_and_the_cli(
    app_client: TestClient, redis_url: str, cli: Cli, action: str, username: str
) -> None:
    assert action in USER_COMMANDS
    outcomes = []
    for adapter in ("http", "cli"):
        w = fresh_world(app_client, redis_url)
        user = w.call(w.staff.get_by_username, username)
        user_id = user.id if user is not None else "ghost"
        if action == "enable" and user is not None:
            w.call(w.staff.set_disabled, user_id, True)
        if adapter == "http":
            headers = bearer(w.tokens["admin"])
            if action == "delete":
                r = w.client.delete(f"/api/users/{user_id}", headers=headers)
            else:
                r = w.client.post(f"/api/users/{user_id}/{action}", headers=headers)
            error = None if r.status_code < 300 else r.json()["message"]
            if user is None:
                assert (r.status_code, r.json()["error"]) == (404, "not_found")
            if username == "admin":
                assert (r.status_code, r.json()["error"]) == (409, "conflict")
        else:
            code, err = cli("user", action, username)
            error = None if code == 0 else err
        outcomes.append((error, _user_state(w, username), len(w.call(w.staff.list_users))))
    (http_error, *http_rest), (cli_error, *cli_rest) = outcomes
    assert http_rest == cli_rest
    assert (http_error is None) is (cli_error is None)
    if username == "admin":
        assert http_error is not None and cli_error is not None and http_error in cli_error
    if username == "expert":
        assert http_error is None


@pytest.mark.parametrize("known", [True, False])
def test_throttle_clear_has_one_outcome_over_http_and_the_cli(
    app_client: TestClient, redis_url: str, cli: Cli, known: bool
) -> None:
    outcomes = []
    for adapter in ("http", "cli"):
        w = fresh_world(app_client, redis_url)
        services = app_client.app.state.services  # type: ignore[attr-defined]
        throttle = LoginThrottle(services.redis, services.clock)
        assert w.call(throttle.attempt, "expert", "203.0.113.9") == 0
        account = next(t for t in w.call(throttle.list) if t.username is not None)
        throttle_id = account.id if known else "thr_unknown"
        if adapter == "http":
            r = w.client.delete(f"/api/throttles/{throttle_id}", headers=bearer(w.tokens["admin"]))
            error = None if r.status_code == 204 else r.json()["message"]
        else:
            code, err = cli("user", "throttles", "--clear", throttle_id)
            error = None if code == 0 else err
        left = sorted((t.kind.value, t.username, t.client) for t in w.call(throttle.list))
        outcomes.append((error, left))
    (http_error, http_left), (cli_error, cli_left) = outcomes
    assert http_left == cli_left and len(http_left) == (1 if known else 2)
    if known:
        assert http_error is None and cli_error is None
    else:
        assert http_error is not None and cli_error is not None and http_error in cli_error
