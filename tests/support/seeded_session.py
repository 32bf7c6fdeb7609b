"""A closed session seeded on real Redis with a hand-made timeline (:func:`seed_session`):
the analytics, export, recap and browser tests work out their expected figures from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from atexpert.domain.answers import AnswerDraft
from atexpert.domain.costs import CallKind
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import HostAccount, SessionFields, SessionOptions
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from atexpert.x.meter import Meter

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
