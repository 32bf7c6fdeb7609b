"""Analytics across a series' sessions: the pure aggregation on hand-made sessions, then on
two seeded sessions in real Redis (numbers worked out from tests/support/seeded_session.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from atexpert.domain.costs import CallKind, Spend
from atexpert.domain.events import Event, EventKind
from atexpert.domain.questions import Author, Question, QuestionStatus
from atexpert.domain.sessions import SessionStatus
from atexpert.recap.exports import read_all_events
from atexpert.recap.series_analytics import SessionInput, compute, to_csv
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import SessionSnapshot, Store
from atexpert.x.meter import Meter
from tests.support.api_world import Api, bearer
from tests.support.public_series import WAITS, plant_series, session_record
from tests.support.seeded_session import seed_session

pytest_plugins = ("tests.support.api_world",)

START = datetime(2026, 3, 3, 14, 0, tzinfo=UTC)


def _input(
    sid: str, start: datetime, statuses: list[QuestionStatus], waits: list[int], spend: Spend
) -> SessionInput:
    """A session with a question per status; the first ``len(waits)`` answered after
    ``waits`` seconds."""
    questions: dict[str, Question] = {}
    events: list[Event] = []
    for n, status in enumerate(statuses):
        qid = f"q_{sid}{n}"
        arrived = start + timedelta(minutes=n)
        questions[qid] = Question(
            id=qid,
            session_id=sid,
            author=Author(id=str(n + 1), handle=f"fan{n}"),
            text="?",
            received_at=arrived,
            created_at=arrived,
            status=status,
        )
        common = {"session_id": sid, "entity": "question", "entity_id": qid, "data": {}}
        events.append(
            Event(kind=EventKind.QUESTION_RECEIVED, actor="intake", at=arrived, version=1, **common)
        )
        if n < len(waits):
            answered = arrived + timedelta(seconds=waits[n])
            events.append(
                Event(kind=EventKind.QUESTION_ANSWERED, actor="x", at=answered, version=3, **common)
            )
    events.sort(key=lambda e: e.at)
    snapshot = SessionSnapshot(
        session=session_record(sid, start, SessionStatus.CLOSED, title=f"Session {sid}"),
        questions=questions,
        answers={},
    )
    return SessionInput(snapshot, events, spend)


A, R, P = QuestionStatus.ANSWERED, QuestionStatus.REJECTED, QuestionStatus.APPROVED


def test_rows_and_totals_of_two_sessions() -> None:
    first = _input("s1", START, [A, A, P, R], [60, 180], Spend().add(CallKind.POST, 2))
    second = _input("s2", START + timedelta(days=28), [A, A, A, R, R, R], [30, 120, 600], Spend())
    figures = compute("ser_1", [first, second])

    one, two = figures.sessions
    assert (one.session_id, one.received, one.approved_total, one.answered) == ("s1", 4, 3, 2)
    assert one.answered_share == 0.5
    assert one.approved_answered_share == 2 / 3
    assert (one.response_times.median_seconds, one.response_times.p90_seconds) == (120.0, 180.0)
    assert one.spend_usd == Decimal("0.03")  # 2 posts at $0.015
    assert (two.received, two.answered, two.answered_share) == (6, 3, 0.5)
    assert (two.response_times.median_seconds, two.response_times.p90_seconds) == (120.0, 600.0)
    assert two.spend_usd == Decimal(0)
    assert (two.title, two.time_zone, two.status) == ("Session s2", "Europe/Paris", "closed")

    total = figures.totals
    assert (total.received, total.approved_total, total.answered) == (10, 6, 5)
    assert total.answered_share == 0.5
    # pooled waits 30, 60, 120, 180, 600: median 120, p90 the ceil(4.5) = 5th smallest
    t = total.response_times
    assert (t.answered, t.median_seconds, t.p90_seconds) == (5, 120.0, 600.0)
    assert total.spend_usd == Decimal("0.03")


def test_a_session_without_questions_has_no_shares_or_times() -> None:
    figures = compute("ser_1", [_input("s1", START, [], [], Spend())])
    row = figures.sessions[0]
    assert (row.received, row.answered_share, row.approved_answered_share) == (0, None, None)
    assert (row.response_times.median_seconds, row.response_times.p90_seconds) == (None, None)
    assert figures.totals.answered_share is None
    assert compute("ser_1", []).sessions == []


def test_csv_has_a_row_per_session_and_a_total() -> None:
    first = _input("s1", START, [A, R], [90], Spend().add(CallKind.POST))
    first.snapshot.session.title = "=HYPERLINK(evil)"  # a spreadsheet formula stays text
    text = to_csv(compute("ser_1", [first]))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0][:4] == ["session_id", "title", "status", "scheduled_start"]
    assert rows[1] == [
        "s1",
        "'=HYPERLINK(evil)",
        "closed",
        START.isoformat(),
        "2",
        "1",
        "1",
        "0.5000",
        "90",
        "90",
        "0.015",
    ]
    assert rows[2][0] == "total" and rows[2][4:] == rows[1][4:]


async def test_two_seeded_sessions_in_redis(redis_standalone: RedisClient) -> None:
    store = Store(redis_standalone)
    meter = Meter(redis_standalone)
    inputs = []
    for _ in range(2):
        sid = (await seed_session(redis_standalone)).session_id
        inputs.append(
            SessionInput(
                await store.snapshot(sid),
                await read_all_events(store, sid),
                await meter.spend(sid),
            )
        )
    figures = compute("ser_1", inputs)
    # each: 9 received, 4 approved or answered, 3 answered after 360, 240 and 600 s,
    # 9 search reads and 4 posts ($0.105)
    for row in figures.sessions:
        assert (row.received, row.approved_total, row.answered) == (9, 4, 3)
        assert (row.response_times.median_seconds, row.response_times.p90_seconds) == (
            360.0,
            600.0,
        )
        assert row.spend_usd == Decimal("0.105")
    t = figures.totals
    assert (t.received, t.answered, t.approved_answered_share) == (18, 6, 0.75)
    # pooled 240, 240, 360, 360, 600, 600: median 360, p90 the 6th smallest
    assert (t.response_times.median_seconds, t.response_times.p90_seconds) == (360.0, 600.0)
    assert t.spend_usd == Decimal("0.210")


async def test_the_http_endpoint_over_real_sessions(api: Api) -> None:
    _, admin = await api.user("root", admin=True)
    alice, moderator = await api.user("alice")
    erin, expert = await api.user("erin")
    _, outsider = await api.user("olga")
    planted = await plant_series(
        api.services.redis,
        api.clock.now(),
        moderator_ids=(alice.id,),
        expert_ids=(erin.id,),
    )
    path = f"/api/series/{planted.series.id}/analytics"
    r = await api.client.get(path, headers=bearer(admin))
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {row["session_id"]: row for row in body["sessions"]}
    assert list(rows) == [*planted.past, *planted.upcoming, planted.draft]
    first, second = (rows[sid] for sid in planted.past)
    # each past session: 3 received, 2 approved, 1 answered (after WAITS[n] s), 2 posts
    assert (first["received"], first["approved_total"], first["answered"]) == (3, 2, 1)
    assert first["answered_share"] == 1 / 3
    assert first["response_times"]["median_seconds"] == WAITS[0]
    assert second["response_times"]["p90_seconds"] == WAITS[1]
    assert Decimal(first["spend_usd"]) == Decimal("0.03")
    assert rows[planted.upcoming[0]]["received"] == 0
    totals = body["totals"]
    assert (totals["received"], totals["answered"]) == (6, 2)
    assert Decimal(totals["spend_usd"]) == Decimal("0.06")
    # pooled 240 and 600 s: median 420, p90 the 2nd smallest
    assert totals["response_times"] == {
        "answered": 2,
        "median_seconds": 420.0,
        "p90_seconds": 600.0,
    }
    # the series' moderators read them too; its experts and other staff do not
    assert (await api.client.get(path, headers=bearer(moderator))).status_code == 200
    assert (await api.client.get(path, headers=bearer(expert))).status_code == 403
    assert (await api.client.get(path, headers=bearer(outsider))).status_code == 403
    assert (await api.client.get(path)).status_code == 401
    missing = await api.client.get("/api/series/sr_nope/analytics", headers=bearer(admin))
    assert missing.status_code == 404
    csv_text = await api.client.get(path + ".csv", headers=bearer(admin))
    assert csv_text.headers["content-type"] == "text/csv; charset=utf-8"
    lines = csv_text.text.removeprefix("\ufeff").splitlines()
    assert len(lines) == 1 + 5 + 1 and lines[-1].startswith("total,")
    assert (await api.client.get(path + ".csv", headers=bearer(expert))).status_code == 403
    # a session's analytics page links its admins to the whole series'
    page = await api.client.get(f"/sessions/{planted.past[0]}/analytics", headers=bearer(admin))
    assert f'href="/series/{planted.series.id}/analytics"' in page.text
