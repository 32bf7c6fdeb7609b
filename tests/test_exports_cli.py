"""``atexpert export`` and ``atexpert import`` in-process, against the test Redis."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
import redis.asyncio as aioredis

from atexpert.cli import main as cli
from atexpert.store.staff import StaffStore
from tests.support.seeded_session import T0, TEXT_101, seed_session


@pytest.fixture
def env(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI on the flushed test Redis, with the export commands wired in."""
    with redis.Redis.from_url(redis_url) as client:
        client.flushall()
    monkeypatch.setenv("ATEXPERT_REDIS_URL", redis_url)
    monkeypatch.delenv("ATEXPERT_REDIS_CLUSTER", raising=False)
    yield redis_url


def seeded(redis_url: str) -> str:
    async def run() -> str:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            return (await seed_session(client)).session_id
        finally:
            await client.aclose()

    return asyncio.run(run())


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_import_round_trip(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = seeded(env)
    code, out, _ = run(capsys, "export", sid)
    assert code == 0 and json.loads(out)["session"]["id"] == sid
    target = tmp_path / "export.json"
    code, _, err = run(capsys, "export", sid, "--format", "json", "-o", str(target))
    assert code == 0 and "exported" in err
    assert target.read_text(encoding="utf-8") == out

    code, _, err = run(capsys, "import", str(target))
    assert code == 1 and err.startswith("atexpert: error: ") and "already exists" in err
    with redis.Redis.from_url(env) as client:
        client.flushall()
    code, out2, _ = run(capsys, "import", str(target))
    assert code == 0 and out2.startswith(f"imported {sid} (")
    code, again, _ = run(capsys, "export", sid)
    assert code == 0 and again == out


def test_csv_and_markdown_to_files(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = seeded(env)
    target = tmp_path / "questions.csv"
    assert run(capsys, "export", sid, "--format", "csv", "-o", str(target))[0] == 0
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0]["text"] == TEXT_101
    code, out, _ = run(capsys, "export", sid, "--format", "md")
    assert code == 0 and out.startswith("# ")


def test_an_export_into_a_folder_is_named_after_the_session_and_names_people(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = seeded(env)

    async def add_erin() -> None:
        client = aioredis.Redis.from_url(env, decode_responses=True)
        try:
            await StaffStore(client).create_user("erin", "erin-password-1", display_name="Erin Jet")
        finally:
            await client.aclose()

    asyncio.run(add_erin())
    code, _, err = run(capsys, "export", sid, "--format", "csv", "-o", str(tmp_path))
    day = T0.astimezone(ZoneInfo("Europe/Paris")).date().isoformat()
    target = tmp_path / f"askairbus-{day}.csv"
    assert code == 0 and str(target) in err
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"), newline="")))
    experts = {r["expert"] for r in rows if r["expert"]}
    assert experts == {"Erin Jet", "yann"}  # by display name; yann has no account here


def test_errors_are_one_line(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "export", "s_missing")
    assert code == 1 and "not found" in err and err.count("\n") == 1
    code, _, err = run(capsys, "import", str(tmp_path / "nope.json"))
    assert code == 1 and "cannot read" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "atexpert.session-export"}', encoding="utf-8")
    code, _, err = run(capsys, "import", str(bad))
    assert code == 1 and "not an atexpert session export" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as usage:
        cli.main(["export", "s_x", "--format", "xml"])
    assert usage.value.code == 2


def test_a_csv_over_a_range_of_days_and_a_bad_range(
    capsys: pytest.CaptureFixture[str], env: str
) -> None:
    sid = seeded(env)
    day = T0.astimezone(ZoneInfo("Europe/Paris")).date()
    after = (day + timedelta(days=1)).isoformat()
    code, out, _ = run(capsys, "export", sid, "--format", "csv", "--from", str(day), "--to", after)
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out.removeprefix("\ufeff"))))) == 9
    code, out, _ = run(capsys, "export", sid, "--format", "csv", "--from", after, "--to", after)
    assert code == 1
    code, out, _ = run(capsys, "export", sid, "--format", "md", "--from", after)
    assert code == 1
    code, _, err = run(capsys, "export", sid, "--from", str(day), "--to", after)
    assert code == 1 and "JSON export is the whole session" in err
