"""The ``atexpert`` command line, in-process (``main([...])``) and once as a subprocess."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
import redis.asyncio as aioredis
from pydantic import SecretStr

from atexpert.cli.demo import with_secret_key
from atexpert.cli.main import main
from atexpert.domain.clock import SystemClock
from atexpert.settings import Settings
from atexpert.store.invitations import InvitationStore
from atexpert.store.login_throttle import LoginThrottle
from tests.support.processes import free_port, wait_ready

REPO = Path(__file__).resolve().parents[1]
SECRET_KEY = "cli-test-secret-" + "k" * 32
#: 1 May of next year: always ahead of the wall clock, always summer time (CEST) in Paris.
YEAR = datetime.now(UTC).year + 1
DAY = f"{YEAR}-05-01"


@pytest.fixture
def env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``ATEXPERT_REDIS_URL`` pointing at the (flushed) test Redis."""
    with redis.Redis.from_url(redis_url) as client:
        client.flushall()
    monkeypatch.setenv("ATEXPERT_REDIS_URL", redis_url)
    monkeypatch.delenv("ATEXPERT_REDIS_CLUSTER", raising=False)
    monkeypatch.setenv("ATEXPERT_SECRET_KEY", SECRET_KEY)
    yield redis_url


def run(
    capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None
) -> tuple[int, str, str]:
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = main(list(argv))
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 1
    assert err.startswith("atexpert: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


def test_user_add_token_and_list(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "user", "add", "Root", "--admin", "--password-stdin", stdin="long-pw-123456\n"
    )
    assert code == 0 and "created admin user root" in out
    code, out, _ = run(capsys, "user", "add", "mia", "--password-stdin", stdin="long-pw-123456\n")
    assert code == 0 and "created staff user mia" in out
    code, out, _ = run(capsys, "user", "token", "root", "--name", "deploy")
    assert code == 0 and out.strip().startswith("atx_")
    code, out, _ = run(capsys, "user", "list")
    assert code == 0 and [line.split()[1] for line in out.splitlines()] == ["mia", "root"]


def test_user_errors(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "user", "add", "mia", "--password-stdin", stdin="long-pw-123456\n")[0] == 0
    code, _, err = run(capsys, "user", "add", "MIA", "--password-stdin", stdin="other-pw-123456\n")
    assert_one_line_error(code, err, "already taken")
    code, _, err = run(capsys, "user", "add", "bob", "--password-stdin", stdin="short\n")
    assert_one_line_error(code, err, "at least 12 characters")
    code, _, err = run(capsys, "user", "add", "bob", "--password-stdin", stdin="bob-the-builder\n")
    assert_one_line_error(code, err, "must not contain the username")
    code, _, err = run(
        capsys, "user", "add", "bad name", "--password-stdin", stdin="long-pw-123456\n"
    )
    assert_one_line_error(code, err, "invalid username")
    code, _, err = run(capsys, "user", "token", "ghost")
    assert_one_line_error(code, err, "no staff user named 'ghost'")


def test_user_throttles_lists_and_clears(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    async def fail_logins() -> None:
        client = aioredis.Redis.from_url(env)
        try:
            throttle = LoginThrottle(client, SystemClock())
            for _ in range(3):
                assert await throttle.attempt(" Alice ", "203.0.113.66") == 0
        finally:
            await client.aclose()

    asyncio.run(fail_logins())
    code, out, _ = run(capsys, "user", "throttles")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2, out
    account = next(line for line in lines if "alice from 203.0.113.66" in line)
    assert "3 failures, not blocking" in account
    throttle_id = account.split()[0]
    code, out, _ = run(capsys, "user", "throttles", "--clear", throttle_id)
    assert code == 0 and out == f"cleared {throttle_id}\n"
    code, _, err = run(capsys, "user", "throttles", "--clear", throttle_id)
    assert_one_line_error(code, err, f"throttle {throttle_id} not found")
    assert len(run(capsys, "user", "throttles")[1].splitlines()) == 1


def test_password_prompt_needs_a_terminal(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "user", "add", "mia", stdin="")
    assert_one_line_error(code, err, "--password-stdin")


def test_session_lifecycle(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "session", "create",
        "--title", "Ask Airbus",
        "--hashtag", "AskAirbus",
        "--host", "@Airbus",
        "--start", f"{DAY}T14:00",
        "--end", f"{DAY}T15:00",
        "--tz", "Europe/Paris",
        "--lang", "fr",
        "--guest", "Cdt Jeanne Dupont, pilote",
    )  # fmt: skip
    assert code == 0, out
    sid, status = out.split()[:2]
    assert status == "draft" and f"{DAY} 14:00 CEST" in out and "#AskAirbus" in out
    code, out, _ = run(capsys, "session", "show", sid)
    shown = json.loads(out)
    assert datetime.fromisoformat(shown["scheduled_start"]) == datetime(YEAR, 5, 1, 12, tzinfo=UTC)
    assert code == 0 and shown["language"] == "fr" and shown["time_zone"] == "Europe/Paris"
    assert shown["guest"] == "Cdt Jeanne Dupont, pilote"
    assert run(capsys, "user", "add", "mia", "--password-stdin", stdin="long-pw-123456\n")[0] == 0
    code, out, _ = run(capsys, "session", "assign", sid, "--moderator", "mia", "--expert", "MIA")
    assert code == 0 and out.splitlines() == [
        f"mia is now moderator of {sid}",
        f"mia is now expert of {sid}",
    ]
    code, _, err = run(capsys, "session", "assign", sid, "--expert", "ghost")
    assert_one_line_error(code, err, "no staff user named 'ghost'")
    code, _, err = run(capsys, "session", "assign", sid)
    assert_one_line_error(code, err, "--moderator or --expert")
    code, out, _ = run(capsys, "session", "start", sid)
    assert code == 0 and out.split()[1] == "live"
    code, out, _ = run(capsys, "session", "list", "--status", "live")
    assert code == 0 and out.split()[0] == sid
    code, _, err = run(capsys, "session", "start", sid)
    assert_one_line_error(code, err, "cannot start")
    code, out, _ = run(capsys, "session", "close", sid)
    assert code == 0 and out.split()[1] == "closed"
    assert run(capsys, "session", "archive", sid)[0] == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--tz", "Mars/Olympus"], "unknown time zone"),
        (["--hashtag", "not a tag"], "hashtags"),
        (["--end", f"{DAY}T13:00"], "scheduled_end must be after scheduled_start"),
        (["--start", "next tuesday"], "ISO 8601"),
        (["--host", "@this_handle_is_too_long"], "handle"),
    ],
)
def test_session_create_errors(
    env: str, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    base = {
        "--title": "T",
        "--hashtag": "#Ok",
        "--host": "Airbus",
        "--start": f"{DAY}T14:00",
        "--end": f"{DAY}T15:00",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["session", "create", *(x for pair in base.items() for x in pair)]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, fragment)
    assert run(capsys, "session", "list")[1] == ""


SERIES_CREATE = [
    "series",
    "create",
    "--slug",
    "ask-airbus",
    "--title",
    "Ask Airbus",
    "--hashtag",
    "#AskAirbus",
    "--host",
    "@Airbus",
    "--tz",
    "Europe/Paris",
    "--start",
    "15:00",
]


def test_series_create_list_show(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SERIES_CREATE, "--rule", "FREQ=MONTHLY;BYDAY=1TU"]) == 0
    created = capsys.readouterr().out
    assert "ask-airbus  FREQ=MONTHLY;BYDAY=1TU 15:00  next: " in created
    assert created.rstrip().endswith("#AskAirbus  Ask Airbus")
    assert ", 15:00 CE" in created  # CET or CEST: 15:00 in Paris
    assert main(["series", "list"]) == 0
    assert capsys.readouterr().out == created
    assert main(["series", "show", "ask-airbus"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["series"]["announce_before_minutes"] == [10080, 1440, 15]
    assert shown["occurrences"] == []  # the scheduler creates them


def test_series_create_errors(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SERIES_CREATE, "--rule", "FREQ=HOURLY"]) == 1
    assert "rrule: Value error, FREQ is one of DAILY" in capsys.readouterr().err
    assert main([*SERIES_CREATE, "--rule", "FREQ=WEEKLY", "--start", "3pm"]) == 1
    assert "start_time" in capsys.readouterr().err
    assert main(["series", "show", "nope"]) == 1
    assert "series nope not found" in capsys.readouterr().err


def test_unknown_session(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "session", "show", "s_nope")
    assert_one_line_error(code, err, "session s_nope not found")
    code, _, err = run(capsys, "session", "close", "../etc")
    assert_one_line_error(code, err, "not found")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["bogus"], ["session", "show"], ["serve", "--port", "http"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    assert "usage: atexpert" in capsys.readouterr().err


def test_unreachable_redis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATEXPERT_REDIS_URL", "redis://127.0.0.1:1/0")
    code, _, err = run(capsys, "session", "list")
    assert_one_line_error(code, err, "cannot reach Redis at redis://127.0.0.1:1/0")


def test_demo_seeds_a_live_session(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--no-serve", "--port", "8765")
    assert code == 0
    assert "#AskAirbus is live" in out and "http://127.0.0.1:8765/login" in out
    logins = [line.split() for line in out.splitlines() if line.startswith("    ")]
    assert [name for name, _ in logins] == ["admin", "moderator", "expert"]
    code, out, _ = run(capsys, "session", "list", "--status", "live")
    assert code == 0 and "#AskAirbus" in out
    code, _, err = run(capsys, "demo", "--no-serve")
    assert_one_line_error(code, err, "already exist")


def test_subprocess_round_trip(env: str) -> None:
    environ = {**os.environ, "ATEXPERT_REDIS_URL": env}
    ok = subprocess.run(
        [sys.executable, "-m", "atexpert.cli.main", "user", "add", "ops", "--password-stdin"],
        input="long-pw-123456\n", capture_output=True, text=True, cwd=REPO, env=environ, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0 and "created staff user ops" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "atexpert.cli.main", "session", "show", "s_missing"],
        capture_output=True, text=True, cwd=REPO, env=environ, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr == "atexpert: error: session s_missing not found\n"


def test_serve_answers_http_and_stops_on_sigterm(env: str) -> None:
    port = free_port()
    environ = {**os.environ, "ATEXPERT_REDIS_URL": env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "atexpert.cli.main", "serve", "--port", str(port)],
        cwd=REPO, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}", timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()


def test_serve_refuses_an_unreachable_redis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATEXPERT_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("ATEXPERT_SECRET_KEY", SECRET_KEY)
    code, _, err = run(capsys, "serve", "--port", "0")
    assert_one_line_error(code, err, "cannot reach Redis")


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (None, "is the default 'change-me'"),
        ("change-me", "is the default 'change-me'"),
        ("", "is too short (0 characters)"),
        ("x" * 31, "is too short (31 characters)"),
    ],
)
def test_serve_refuses_the_default_or_a_short_secret_key(
    env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    key: str | None,
    says: str,
) -> None:
    if key is None:
        monkeypatch.delenv("ATEXPERT_SECRET_KEY")
    else:
        monkeypatch.setenv("ATEXPERT_SECRET_KEY", key)
    code, out, err = run(capsys, "serve", "--port", "0")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"atexpert: error: ATEXPERT_SECRET_KEY {says}: set 32 or more")
    assert "secrets.token_urlsafe(32)" in err


def test_the_demo_makes_its_own_secret_key() -> None:
    made = [with_secret_key(Settings(secret_key=SecretStr(k))) for k in ("change-me", "short")]
    assert all(s.secret_key_problem() is None for s in made)
    assert len({s.secret_key.get_secret_value() for s in made}) == 2  # random
    fit = Settings(secret_key=SecretStr(SECRET_KEY))
    assert with_secret_key(fit) is fit


def test_internal_errors_are_one_line_unless_debug(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="atexpert")
    parser.add_argument("--debug", action="store_true")
    parser.add_subparsers().add_parser("boom").set_defaults(func=lambda args: 1 / 0)
    code = main(["boom"], parser=parser)
    _, err = capsys.readouterr()
    assert_one_line_error(code, err, "unexpected ZeroDivisionError", "--debug")
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "boom"], parser=parser)


def _session(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run(
        capsys,
        "session", "create", "--title", "Ask Airbus", "--hashtag", "AskAirbus",
        "--host", "@Airbus", "--start", f"{DAY}T14:00", "--end", f"{DAY}T15:00",
        "--tz", "Europe/Paris",
    )  # fmt: skip
    assert code == 0, err
    return out.split()[0]


def test_session_invite_list_and_uninvite(
    env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATEXPERT_PUBLIC_BASE_URL", "https://ama.example/")
    sid = _session(capsys)
    code, out, err = run(
        capsys, "session", "invite", sid, "--role", "expert", "--note", " Dr. Ada ", "--hours", "48"
    )
    assert code == 0, err
    url, line = out.splitlines()
    match = re.fullmatch(r"https://ama\.example/invite/([A-Za-z0-9_-]{43})", url)
    assert match is not None, url
    inv_id, role, *rest = line.split()
    assert inv_id.startswith("inv_") and role == "expert" and rest[-2:] == ["Dr.", "Ada"]
    # Valid 48 hours, shown in the session's time zone.
    until = datetime.strptime(" ".join(rest[2:4]), "%Y-%m-%d %H:%M")
    # 48 real hours, then read on Paris clocks (which may change hour in between).
    paris = ZoneInfo("Europe/Paris")
    expected = (datetime.now(UTC) + timedelta(hours=48)).astimezone(paris)
    assert abs(until - expected.replace(tzinfo=None)) < timedelta(minutes=2)
    assert rest[4] == expected.tzname()
    # Redis holds the link's sha256, never the secret itself.
    digest = hashlib.sha256(match[1].encode()).hexdigest()
    with redis.Redis.from_url(env) as client:
        assert client.hget(f"ama:{{invites}}:link:{digest}", "state") == b"pending"
        assert not any(match[1].encode() in key for key in client.keys("*"))

    assert run(capsys, "session", "invite", sid, "--role", "moderator")[0] == 0
    code, listed, _ = run(capsys, "session", "invitations", sid)
    assert code == 0 and match[1] not in listed
    assert listed.splitlines()[0] == line  # as the invite printed it
    assert [row.split()[1] for row in listed.splitlines()] == ["expert", "moderator"]

    code, out, _ = run(capsys, "session", "uninvite", sid, inv_id)
    assert code == 0 and out == f"revoked invitation {inv_id} of {sid}\n"
    with redis.Redis.from_url(env) as client:
        assert client.hget(f"ama:{{invites}}:link:{digest}", "state") == b"revoked"
    code, listed, _ = run(capsys, "session", "invitations", sid)
    assert code == 0 and [row.split()[1] for row in listed.splitlines()] == ["moderator"]
    code, _, err = run(capsys, "session", "uninvite", sid, inv_id)
    assert_one_line_error(code, err, f"invitation {inv_id} not found")


def test_session_invite_errors(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    sid = _session(capsys)
    for argv in (
        ["invite", "s_nope", "--role", "expert"],
        ["invitations", "s_nope"],
        ["uninvite", "s_nope", "inv_0123456789ab"],
    ):
        code, _, err = run(capsys, "session", *argv)
        assert_one_line_error(code, err, "session s_nope not found")
    for hours in ("0", "721"):
        code, _, err = run(capsys, "session", "invite", sid, "--role", "expert", "--hours", hours)
        assert_one_line_error(code, err, "--hours is 1 to 720")
    code, _, err = run(capsys, "session", "invite", sid, "--role", "expert", "--note", "x" * 201)
    assert_one_line_error(code, err, "--note", "200 characters")
    with pytest.raises(SystemExit) as usage:
        main(["session", "invite", sid, "--role", "admin"])
    assert usage.value.code == 2
    assert "invalid choice: 'admin'" in capsys.readouterr().err
    assert run(capsys, "session", "invitations", sid)[1] == ""  # none was created

    assert run(capsys, "session", "start", sid)[0] == 0
    assert run(capsys, "session", "close", sid)[0] == 0
    code, _, err = run(capsys, "session", "invite", sid, "--role", "moderator")
    assert_one_line_error(code, err, f"session {sid} is closed: it takes no new staff")


def test_uninvite_refuses_an_accepted_invitation(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = _session(capsys)
    code, out, _ = run(capsys, "session", "invite", sid, "--role", "moderator")
    url, line = out.splitlines()
    secret, inv_id = url.rsplit("/", 1)[1], line.split()[0]

    async def accept() -> None:
        client = aioredis.Redis.from_url(env)
        try:
            assert await InvitationStore(client).claim(secret) == "claimed"
        finally:
            await client.aclose()

    asyncio.run(accept())
    code, _, err = run(capsys, "session", "uninvite", sid, inv_id)
    assert_one_line_error(code, err, f"invitation {inv_id} was accepted already")


def test_user_disable_enable_delete(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("root", "mia"):
        flags = ["--admin"] if name == "root" else []
        assert (
            run(
                capsys,
                "user",
                "add",
                name,
                *flags,
                "--password-stdin",
                stdin="a long enough passphrase\n",
            )[0]
            == 0
        )
    code, out, _ = run(capsys, "user", "disable", "MIA")
    assert code == 0 and "disabled staff user mia" in out
    assert "mia  mia (disabled)" in run(capsys, "user", "list")[1]
    code, out, _ = run(capsys, "user", "enable", "mia")
    assert code == 0 and "(disabled)" not in run(capsys, "user", "list")[1]
    code, _, err = run(capsys, "user", "disable", "root")
    assert_one_line_error(code, err, "at least one active admin")
    code, out, _ = run(capsys, "user", "delete", "mia")
    assert code == 0 and "mia" not in run(capsys, "user", "list")[1]
    code, _, err = run(capsys, "user", "enable", "mia")
    assert_one_line_error(code, err, "no staff user named 'mia'")
