"""Analytics of a seeded session on real Redis; every expected number is worked out by hand
from the timeline of :func:`tests.support.seeded_session.seed_session`."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from atexpert.domain.costs import CallKind
from atexpert.domain.views import Audience
from atexpert.recap.analytics import answer_times, compute, per_minute, percentile
from atexpert.recap.exports import read_all_events
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from atexpert.x.meter import Meter
from tests.support.seeded_session import (
    PROFANITY,
    T0,
    seed_session,
)


def minute(m: int) -> datetime:
    return T0 + timedelta(minutes=m)


async def test_every_figure_matches_the_hand_count(redis_standalone: RedisClient) -> None:
    seeded = await seed_session(redis_standalone)
    store = Store(redis_standalone)
    snapshot = await store.snapshot(seeded.session_id)
    events = await read_all_events(store, seeded.session_id)
    spend = await Meter(redis_standalone).spend(seeded.session_id)
    figures = compute(snapshot, events, spend, Audience.MODERATOR)

    # received: 10:00 (101, 102), 10:01 (103), none at 10:02, 10:03 (104-107), 10:04 (108, 109)
    assert [(m.minute, m.count) for m in figures.per_minute] == [
        (minute(0), 2),
        (minute(1), 1),
        (minute(2), 0),
        (minute(3), 4),
        (minute(4), 2),
    ]
    c = figures.counts
    assert (c.received, c.pending, c.approved, c.answered) == (9, 1, 1, 3)
    assert (c.rejected, c.merged, c.approved_total) == (3, 1, 4)
    assert [(r.label, r.count) for r in figures.reject_reasons] == [
        ("hors sujet", 2),
        (PROFANITY, 1),
    ]
    # waits: 101 10:00:10 -> 10:06:10 = 360 s; 107 10:03:59 -> 10:07:59 = 240 s;
    # 102 10:00:40 -> 10:10:40 = 600 s. Median 360; p90 = ceil(2.7) = 3rd smallest = 600.
    t = figures.answer_times
    assert (t.answered, t.median_seconds, t.p90_seconds) == (3, 360.0, 600.0)
    mods = [(m.actor, m.approved, m.rejected, m.merged, m.total) for m in figures.moderators]
    assert mods == [("alice", 2, 1, 0, 3), ("bob", 1, 1, 1, 3)]
    experts = [(e.expert, e.drafted, e.published, e.questions_answered) for e in figures.experts]
    assert experts == [("erin", 2, 2, 2), ("yann", 2, 1, 1)]
    assert [(a.label, a.count) for a in figures.top_askers] == [
        ("@ana", 3),
        ("@ben", 2),
        ("@cleo", 1),
        ("@dan", 1),
        ("@eve", 1),
        ("@zoe", 1),
    ]
    hits = [(r.rule, r.approved, r.rejected, r.held) for r in figures.automod]
    assert hits == [
        ("profanity-fr", 0, 1, 0),
        ("spam-shouting", 0, 0, 1),
        ("trusted-author", 1, 0, 0),
    ]
    spend_usd = figures.x_spend
    # 9 search reads at $0.005 and 4 posts at $0.015
    assert spend_usd.total_usd == Decimal("0.105")
    assert spend_usd.by_kind_usd == {
        CallKind.SEARCH_READ: Decimal("0.045"),
        CallKind.POST: Decimal("0.06"),
    }
    assert spend_usd.counts == {CallKind.SEARCH_READ: 9, CallKind.POST: 4}

    # An expert: the same counts, no free-text reason, askers of approved/answered/merged only.
    seen = compute(snapshot, events, spend, Audience.EXPERT)
    assert seen.counts == figures.counts and seen.reject_reasons == []
    shown = {"approved", "answered", "merged"}
    readable = [q for q in snapshot.questions.values() if q.status in shown]
    assert sum(a.count for a in seen.top_askers) == len(readable) == 5


async def test_figures_from_the_replayed_log_equal_the_stored_ones(
    redis_standalone: RedisClient,
) -> None:
    seeded = await seed_session(redis_standalone)
    store = Store(redis_standalone)
    events = await read_all_events(store, seeded.session_id)
    spend = await Meter(redis_standalone).spend(seeded.session_id)
    stored = compute(await store.snapshot(seeded.session_id), events, spend, Audience.ADMIN)
    replayed = await store.replay(seeded.session_id)
    assert compute(replayed, events, spend, Audience.ADMIN) == stored


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert percentile(values, 0.9) == 9.0
    assert percentile(values, 0.5) == 5.0
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([3.0, 1.0, 2.0], 0.9) == 3.0


def test_an_empty_session_has_no_figures() -> None:
    assert per_minute([]) == []
    assert answer_times([]).median_seconds is None
