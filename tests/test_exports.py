"""Exports of a seeded session (JSON, CSV, Markdown) and the JSON import, on real Redis."""

from __future__ import annotations

import csv
import io
import json

import pytest

from atexpert.domain.automod_config import AutomodConfig
from atexpert.domain.errors import Conflict, InvalidInput
from atexpert.recap import exports
from atexpert.store.automod import AutomodStore
from atexpert.store.intake_state import IntakeMode, IntakeStore
from atexpert.store.redis_conn import RedisClient
from atexpert.store.series_announcements import AnnouncementStore
from atexpert.store.store import Store
from tests.support.seeded_session import PROFANITY, TEXT_101, TEXT_102, at, seed_session


async def _flush(redis: RedisClient) -> None:
    from redis.asyncio.cluster import RedisCluster

    if isinstance(redis, RedisCluster):
        await redis.flushall(target_nodes=RedisCluster.PRIMARIES)
    else:
        await redis.flushall()


async def test_export_import_export_is_identical(redis: RedisClient) -> None:
    seeded = await seed_session(redis)
    store = Store(redis)
    first = exports.to_json(await exports.export_session(store, redis, seeded.session_id))
    before = await store.snapshot(seeded.session_id)
    await _flush(redis)  # another atexpert: nothing of the session is left

    doc = exports.parse_export(first)
    session = await exports.import_session(redis, doc)
    assert session.id == seeded.session_id
    second = exports.to_json(await exports.export_session(store, redis, seeded.session_id))
    assert second == first
    # the imported session works like any other: records, indexes, log and the session list
    assert await store.snapshot(session.id) == before
    assert await store.replay(session.id) == before
    assert [s.id for s in await store.list_sessions()] == [session.id]
    rejected = await store.list_questions(session.id, before.questions["q_103"].status)
    assert [q.id for q in rejected] == ["q_103", "q_104", "q_105"]
    assert json.loads(first)["events"][0]["kind"] == "session.created"


async def test_the_settings_travel_with_the_log(redis: RedisClient) -> None:
    """Auto-moderation and intake mode changes are events, like a series occurrence's
    announcements: the export carries them and the import restores the settings and the
    announcements, and exporting again gives the same bytes."""
    seeded = await seed_session(redis, close=False)
    sid, store = seeded.session_id, Store(redis)
    automod, intake = AutomodStore(redis), IntakeStore(redis)
    config = AutomodConfig(raid_mode=True, blocklist=["vol « gratuit »"], banned=["@troll"])
    await automod.put(sid, config, actor="alice", at=at(20))
    await intake.set_mode(sid, IntakeMode.SEARCH, actor="root", at=at(21))
    announcements = AnnouncementStore(redis)  # as for an occurrence of a series
    await announcements.edit(sid, 15, {"status": "skipped", "text": None}, actor="root", at=at(22))
    claim = {"status": "posting", "text": "Tomorrow!"}
    await announcements.step(sid, 1440, "claim", claim, fence=1, actor="scheduler", at=at(23))
    posted = {"status": "posted", "tweet_id": "9100"}
    await announcements.step(sid, 1440, "posted", posted, fence=1, actor="scheduler", at=at(24))
    await store.close_session(sid, actor="scheduler", at=at(60))
    doc = await exports.export_session(store, redis, sid)
    assert "| announcement.posted |" in exports.to_markdown(doc)
    first = exports.to_json(doc)
    before = await store.snapshot(sid)
    await _flush(redis)

    await exports.import_session(redis, exports.parse_export(first))
    assert exports.to_json(await exports.export_session(store, redis, sid)) == first
    assert await store.snapshot(sid) == before == await store.replay(sid)
    restored = await automod.get(sid)
    assert restored.config == config and (restored.version, restored.updated_by) == (1, "alice")
    assert await intake.mode(sid) is IntakeMode.SEARCH
    restored_announcements = await announcements.states(sid)
    assert restored_announcements == before.announcements
    assert restored_announcements[1440].tweet_id == "9100"
    kinds = [e["kind"] for e in json.loads(first)["events"]]
    assert "automod.changed" in kinds and "intake.mode_changed" in kinds
    # The log must rebuild the settings carried, like the records.
    tampered = json.loads(first)
    tampered["automod"]["config"]["raid_mode"] = False
    with pytest.raises(InvalidInput, match="does not rebuild"):
        exports.parse_export(json.dumps(tampered))
    tampered = json.loads(first)
    tampered["announcements"][0]["status"] = "scheduled"
    with pytest.raises(InvalidInput, match="does not rebuild"):
        exports.parse_export(json.dumps(tampered))
    tampered["announcements"][0]["id"] = "tomorrow"
    with pytest.raises(InvalidInput, match="announcements"):
        exports.parse_export(json.dumps(tampered))


async def test_import_refuses_an_existing_session_and_writes_nothing(
    redis_standalone: RedisClient,
) -> None:
    seeded = await seed_session(redis_standalone)
    store = Store(redis_standalone)
    doc = await exports.export_session(store, redis_standalone, seeded.session_id)
    count = len(await exports.read_all_events(store, seeded.session_id))
    with pytest.raises(Conflict, match="already exists"):
        await exports.import_session(redis_standalone, doc)
    assert len(await exports.read_all_events(store, seeded.session_id)) == count


async def test_import_refuses_a_tampered_export(redis_standalone: RedisClient) -> None:
    seeded = await seed_session(redis_standalone)
    store = Store(redis_standalone)
    raw = json.loads(
        exports.to_json(await exports.export_session(store, redis_standalone, seeded.session_id))
    )
    raw["questions"][0]["status"] = "pending"  # not what the log says
    with pytest.raises(InvalidInput, match="does not rebuild"):
        exports.parse_export(json.dumps(raw))
    raw = {"format": "atexpert.session-export", "version": 1, "session": {}}
    with pytest.raises(InvalidInput) as err:
        exports.parse_export(json.dumps(raw))
    assert {e.loc[0] for e in err.value.errors} >= {"session", "questions", "events"}
    with pytest.raises(InvalidInput):
        exports.parse_export(b"not json")


async def test_only_closed_sessions_are_imported(redis_standalone: RedisClient) -> None:
    seeded = await seed_session(redis_standalone, close=False)
    store = Store(redis_standalone)
    doc = await exports.export_session(store, redis_standalone, seeded.session_id)
    assert doc.session.status == "live"
    with pytest.raises(InvalidInput, match="closed or archived") as err:
        exports.parse_export(exports.to_json(doc))
    assert err.value.errors[0].loc == ("session", "status")


async def test_csv_opens_with_accents_commas_quotes_and_newlines(
    redis_standalone: RedisClient,
) -> None:
    seeded = await seed_session(redis_standalone)
    store = Store(redis_standalone)
    doc = await exports.export_session(store, redis_standalone, seeded.session_id)
    data = exports.to_csv(doc).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM spreadsheet apps need for UTF-8
    assert b"\r\n" in data
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert len(rows) == 9
    by_id = {r["question_id"]: r for r in rows}
    first = by_id["q_101"]
    assert first["text"] == TEXT_101  # accents, « », comma, "quotes" and a newline
    assert first["author_handle"] == "ana"
    assert first["status"] == "answered"
    assert first["decided_by"] == "alice"
    assert first["answer_tweet_ids"] == "9001"
    assert first["answer_text"] == "Réponse à q_101, merci !"
    assert first["question_url"] == "https://x.com/ana/status/101"
    # a cell a spreadsheet would run as a formula is defused with a leading quote
    assert by_id["q_102"]["text"] == "'" + TEXT_102
    assert by_id["q_104"]["reason"] == PROFANITY
    assert by_id["q_106"]["merged_into"] == "q_101"


async def test_markdown_lists_answers_questions_and_the_audit_trail(
    redis_standalone: RedisClient,
) -> None:
    seeded = await seed_session(redis_standalone)
    store = Store(redis_standalone)
    doc = await exports.export_session(store, redis_standalone, seeded.session_id)
    md = exports.to_markdown(doc)
    assert md.startswith("# L'A350 « Airspace », vos questions\n")
    assert "Questions: 9 received, 4 approved, 3 answered, 3 rejected, 1 merged." in md
    assert "- [post 1](https://x.com/Airbus/status/9001)" in md
    assert "[@ana](https://x.com/ana/status/101):" in md
    assert "| hors sujet |" in md
    assert "## Audit trail" in md
    assert md.count("| question.received |") == 9
    assert "> @Airbus what about =SUM(A1), the galley; and the crew rest?" in md


def test_markdown_escapes_what_would_format_or_link() -> None:
    md = exports._md
    assert md("*bold* [x](http://e) <b>|") == "\\*bold\\* \\[x\\](http://e) \\<b\\>\\|"
    assert md("# title") == "\\# title"
    assert md("- item") == "\\- item"
    assert md("12. item") == "12\\. item"
    assert md("a\nb") == "a b"
    assert md("l'été, 3.5 - ok") == "l'été, 3.5 - ok"
