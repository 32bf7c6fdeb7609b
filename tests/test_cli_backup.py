"""``atexpert backup``: a snapshot of a running installation, taken while questions keep
arriving, restores into a fresh Redis whose sessions equal the replay of their event logs.

The commands run as real processes (real redis-cli, real redis-server) against an
embedded Redis that this test owns, as ``atexpert serve`` would own it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import SessionFields
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisRuntime
from atexpert.store.staff import StaffStore
from atexpert.store.store import Store

REPO = Path(__file__).resolve().parents[1]


def incoming(n: int, at: datetime) -> IncomingQuestion:
    return IncomingQuestion(
        tweet_id=str(1_900_000_000_000_000_000 + n),
        author=Author(id=str(7_000 + n), handle=f"fan{n}", name=f"Fan {n}"),
        text=f"Question {n}: how long is an A350's wing? #AskAirbus",
        created_at=at,
    )


def atexpert(data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ATEXPERT_")}
    environ["ATEXPERT_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "atexpert.cli.main", *argv],
        cwd=REPO, env=environ, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """The embedded Redis' unix socket needs a short path."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="atx-bk-") as d:
        yield Path(d)


async def test_a_backup_taken_during_intake_restores_a_consistent_copy(short_tmp: Path) -> None:
    live_dir, copy_dir = short_tmp / "live", short_tmp / "copy"
    snapshot = short_tmp / "atexpert.rdb"
    now = datetime.now(UTC)
    async with RedisRuntime(Settings(data_dir=live_dir)) as runtime:
        store, staff = Store(runtime.client), StaffStore(runtime.client)
        await staff.create_user("ops", "correct horse battery", is_admin=True)
        session = await store.create_session(
            SessionFields(
                title="Ask Airbus",
                hashtags=["#AskAirbus"],
                host_account={"handle": "Airbus", "user_id": "1234"},  # type: ignore[arg-type]
                scheduled_start=now - timedelta(minutes=1),
                scheduled_end=now + timedelta(hours=1),
            ),
            actor="ops",
            at=now,
        )
        await store.schedule_session(session.id, actor="ops", at=now)
        await store.start_session(session.id, actor="ops", at=now)
        added = 0
        stop = asyncio.Event()

        async def intake() -> None:
            nonlocal added
            while not stop.is_set():
                await store.add_question(session.id, incoming(added, now), at=now)
                added += 1
                await asyncio.sleep(0)

        writer = asyncio.create_task(intake())
        while added < 50:
            await asyncio.sleep(0.01)
        before = added
        taken = await asyncio.to_thread(atexpert, live_dir, "backup", "create", str(snapshot))
        after = added
        stop.set()
        await writer
        assert taken.returncode == 0, taken.stderr
        assert taken.stdout.startswith(f"backup written: {snapshot} (")
        assert after > before  # questions kept arriving while the snapshot was taken
        total = added

    restored = await asyncio.to_thread(
        atexpert, short_tmp, "backup", "restore", str(snapshot), "--into", str(copy_dir / "redis")
    )
    assert restored.returncode == 0, restored.stderr
    async with RedisRuntime(Settings(data_dir=copy_dir)) as runtime:
        store, staff = Store(runtime.client), StaffStore(runtime.client)
        assert await staff.verify_password("ops", "correct horse battery") is not None
        kept = await store.snapshot(session.id)
        assert before <= len(kept.questions) <= total
        assert await store.replay(session.id) == kept  # the records and the log agree
    print(f"backup: {before}..{after} questions at the snapshot, {len(kept.questions)} restored")


def test_backup_mistakes_get_one_line_errors(short_tmp: Path) -> None:
    junk = short_tmp / "junk.rdb"
    junk.write_text("not a snapshot")
    refused = atexpert(short_tmp, "backup", "restore", str(junk), "--into", str(short_tmp / "x"))
    assert refused.returncode == 1
    assert refused.stderr == (
        f"atexpert: error: {junk} is not a Redis snapshot (made by 'atexpert backup')\n"
    )
    busy = short_tmp / "busy"
    busy.mkdir()
    (busy / "appendonly.aof").write_text("")
    snapshot = short_tmp / "ok.rdb"
    snapshot.write_bytes(b"REDIS0009")
    refused = atexpert(short_tmp, "backup", "restore", str(snapshot), "--into", str(busy))
    assert (
        refused.returncode == 1 and "is not empty: restore into a new directory" in refused.stderr
    )
    taken = atexpert(short_tmp, "backup", "create", str(junk))
    assert taken.returncode == 1 and "already exists: choose a new file" in taken.stderr
