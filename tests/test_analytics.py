"""Analytics of a seeded session on real Redis; every expected number is worked out by hand
from the timeline of :func:`seed_session` (also used by the export and browser tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from atexpert.analytics import answer_times, compute, per_minute, percentile
from atexpert.answers import AnswerDraft
from atexpert.costs import CallKind
from atexpert.exports import read_all_events
from atexpert.meter import Meter
from atexpert.questions import Author, IncomingQuestion
from atexpert.redis_conn import RedisClient
from atexpert.sessions import HostAccount, SessionFields, SessionOptions
from atexpert.store import Store
from atexpert.views import Audience

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TEXT_101 = 'Pourquoi l\'A350 est-il « si » silencieux, même au décollage ?\nEt "pourquoi" ?'
TEXT_102 = "@Airbus what about =SUM(A1), the galley; and the crew rest?"
PROFANITY = "automod [profanity-fr]: grossièreté « zut »"
SHOUTING = "automod [spam-shouting]: 100% majuscules"


def at(minutes: int, seconds: int = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


@dataclass
class Seeded:
    session_id: str
    answers: dict[str, str]  # question id -> answer id


async def _ask(store: Store, sid: str, tweet: int, handle: str, text: str, when: datetime) -> str:
    incoming = IncomingQuestion(
        tweet_id=str(tweet),
        author=Author(id=str(tweet * 7), handle=handle, name=handle.title()),
        text=text,
        created_at=when - timedelta(seconds=2),
    )
    question, _ = await store.add_question(sid, incoming, at=when)
    return question.id


async def _publish(
    store: Store, sid: str, qid: str, expert: str, drafted: datetime, done: datetime, tweet: int
) -> str:
    draft = AnswerDraft(question_ids=[qid], text=f"Réponse à {qid}, merci !")
    answer = await store.create_answer(sid, draft, expert_id=expert, at=drafted)
    await store.submit_answer(sid, answer.id, actor=expert, at=drafted)
    parts = [p.model_dump(mode="json") for p in answer.parts]
    await store.start_publishing(sid, answer.id, actor="publisher", at=done, parts=parts)
    await store.record_part_posted(sid, answer.id, 0, str(tweet), actor="publisher", at=done)
    await store.mark_published(sid, answer.id, actor="publisher", at=done)
    return answer.id


async def seed_session(
    redis: RedisClient,
    language: str = "fr",
    *,
    moderator_ids: tuple[str, ...] = ("u_alice", "u_bob"),
    expert_ids: tuple[str, ...] = ("u_erin",),
    close: bool = True,
) -> Seeded:
    """A closed session: 9 questions, 3 published answers, 2 moderators, 2 experts, automod."""
    store = Store(redis)
    fields = SessionFields(
        title="L'A350 « Airspace », vos questions",
        description="Nos ingénieurs cabine répondent.",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus", user_id="999"),
        moderator_ids=list(moderator_ids),
        expert_ids=list(expert_ids),
        scheduled_start=T0,
        scheduled_end=T0 + timedelta(hours=1),
        time_zone="Europe/Paris",
        language=language,  # type: ignore[arg-type]
        options=SessionOptions(announce=False),
    )
    session = await store.create_session(fields, actor="root", at=T0 - timedelta(hours=2))
    sid = session.id
    await store.schedule_session(sid, actor="root", at=T0 - timedelta(hours=1))
    await store.start_session(sid, actor="scheduler", at=T0)
    q101 = await _ask(store, sid, 101, "ana", TEXT_101, at(0, 10))
    q102 = await _ask(store, sid, 102, "ben", TEXT_102, at(0, 40))
    await store.approve_question(sid, q101, actor="alice", at=at(1))
    q103 = await _ask(store, sid, 103, "ana", "Le menu, c'est quoi ?", at(1, 5))
    await store.approve_question(sid, q102, actor="alice", at=at(1, 30))
    await store.reject_question(sid, q103, "hors sujet", actor="bob", at=at(2))
    q104 = await _ask(store, sid, 104, "cleo", "zut alors", at(3))
    await store.reject_question(sid, q104, PROFANITY, actor="automod", at=at(3, 1))
    q105 = await _ask(store, sid, 105, "dan", "Et la météo ?", at(3, 30))
    q106 = await _ask(store, sid, 106, "ana", "Pourquoi si calme ?", at(3, 50))
    q107 = await _ask(store, sid, 107, "ben", "Combien de hublots ?", at(3, 59))
    await store.reject_question(sid, q105, "hors sujet", actor="alice", at=at(4))
    await store.merge_question(sid, q106, q101, actor="bob", at=at(4, 10))
    q108 = await _ask(store, sid, 108, "eve", "POURQUOI AUTANT DE BRUIT", at(4, 20))
    await store.set_question_tags(sid, q108, ["automod-hold"], actor="automod", at=at(4, 21))
    await store.set_question_note(sid, q108, SHOUTING, actor="automod", at=at(4, 21))
    await store.approve_question(sid, q107, actor="bob", at=at(4, 30))
    q109 = await _ask(store, sid, 109, "zoe", "Quelle altitude de croisière ?", at(4, 40))
    await store.approve_question(sid, q109, actor="automod", at=at(4, 41))
    answers = {
        q101: await _publish(store, sid, q101, "erin", at(5), at(6, 10), 9001),
        q107: await _publish(store, sid, q107, "yann", at(6, 30), at(7, 59), 9002),
        q102: await _publish(store, sid, q102, "erin", at(9), at(10, 40), 9003),
    }
    draft = AnswerDraft(question_ids=[q109], text="Brouillon jamais publié")
    await store.create_answer(sid, draft, expert_id="yann", at=at(11))
    if close:
        await store.close_session(sid, actor="scheduler", at=at(60))
    meter = Meter(redis)
    await meter.record(sid, CallKind.SEARCH_READ, 9)
    await meter.record(sid, CallKind.POST, 4)
    return Seeded(sid, answers)


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

    # An expert: the same counts, no free-text reason, askers of approved/answered only.
    seen = compute(snapshot, events, spend, Audience.EXPERT)
    assert seen.counts == figures.counts and seen.reject_reasons == []
    readable = [q for q in snapshot.questions.values() if q.status in {"approved", "answered"}]
    assert sum(a.count for a in seen.top_askers) == len(readable) == 4


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
