"""Auto-moderation on intake: questions stored through :class:`AutomodSink` on real Redis."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atexpert.domain.automod_config import AutomodConfig
from atexpert.domain.clock import ManualClock
from atexpert.domain.errors import Conflict
from atexpert.domain.questions import Author, IncomingQuestion, Question, QuestionStatus
from atexpert.domain.sessions import SessionFields
from atexpert.intake.poll import Ingestor
from atexpert.intake.posts import Target
from atexpert.store.automod import HOLD_TAG, AutomodSink, AutomodStore
from atexpert.store.intake_state import IntakeStore
from atexpert.store.store import Store
from tests.support.redis_fixtures import RedisClient

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@dataclass
class Bench:
    store: Store
    automod: AutomodStore
    sink: AutomodSink
    sid: str
    tweets: int = 0

    async def configure(self, **fields: Any) -> None:
        await self.automod.put(self.sid, AutomodConfig.model_validate(fields), actor="admin", at=T0)

    def incoming(
        self, text: str, *, author: str = "7", minutes: float = 0, **extra: Any
    ) -> IncomingQuestion:
        self.tweets += 1
        return IncomingQuestion(
            tweet_id=str(2_000_000 + self.tweets),
            author=Author(id=author, handle=f"user{author}", **extra),
            text=text,
            created_at=T0 + timedelta(minutes=minutes),
        )

    async def ask(self, text: str, **kw: Any) -> Question:
        question, created = await self.sink.add_question(self.sid, self.incoming(text, **kw))
        assert created
        return await self.store.get_question(self.sid, question.id)


@pytest.fixture
async def bench(redis: RedisClient) -> Bench:
    store = Store(redis, clock=ManualClock(T0))
    fields = SessionFields.model_validate(
        {
            "title": "Ask Airbus",
            "hashtags": ["#AskAirbus"],
            "host_account": {"handle": "@Airbus"},
            "scheduled_start": (T0 + timedelta(hours=1)).isoformat(),
            "scheduled_end": (T0 + timedelta(hours=2)).isoformat(),
        }
    )
    session = await store.create_session(fields, actor="admin", at=T0)
    await store.schedule_session(session.id, actor="admin", at=T0)
    await store.start_session(session.id, actor="admin", at=T0)
    automod = AutomodStore(redis)
    return Bench(store, automod, AutomodSink(store, automod), session.id)


async def test_defaults_reject_profanity_in_both_languages_and_keep_clean_ones(
    bench: Bench,
) -> None:
    fr = await bench.ask("Quelle merde ce vol ? #AskAirbus")
    en = await bench.ask("What the f*ck #AskAirbus", author="8")
    clean = await bench.ask("Scunthorpe : c'est classe ? #AskAirbus", author="9")
    assert fr.status is QuestionStatus.REJECTED and fr.decided_by == "automod"
    assert fr.reject_reason is not None
    assert fr.reject_reason.startswith("automod [profanity-fr]: profanity 'merde'")
    assert en.status is QuestionStatus.REJECTED
    assert en.reject_reason is not None and "[profanity-en]" in en.reject_reason
    assert clean.status is QuestionStatus.PENDING and clean.tags == []


async def test_reasons_in_french_when_configured(bench: Bench) -> None:
    await bench.configure(language="fr")
    q = await bench.ask("https://t.co/promo #AskAirbus")
    assert q.reject_reason == "automod [link-only]: seulement un lien"


async def test_trusted_is_approved_and_banned_rejected(bench: Bench) -> None:
    await bench.configure(trusted=["@user1"], banned=["2"])
    trusted = await bench.ask("Une question ?", author="1")
    banned = await bench.ask("A question?", author="2")
    assert trusted.status is QuestionStatus.APPROVED and trusted.decided_by == "automod"
    assert banned.status is QuestionStatus.REJECTED
    assert banned.reject_reason == "automod [banned-author]: author banned from the session"


async def test_held_questions_stay_pending_tagged_with_the_reason(bench: Bench) -> None:
    await bench.configure(min_followers=10)
    q = await bench.ask("How many rivets? #AskAirbus", followers=3)
    assert q.status is QuestionStatus.PENDING
    assert q.tags == [HOLD_TAG]
    assert q.moderator_note == "automod [few-followers]: 3 follower(s), minimum 10"
    pending = await bench.store.list_questions(bench.sid, QuestionStatus.PENDING)
    assert [p.id for p in pending] == [q.id]


async def test_raid_mode_holds_unknown_authors_but_not_approved_ones(bench: Bench) -> None:
    regular = await bench.ask("Première question #AskAirbus", author="1")
    await bench.store.approve_question(bench.sid, regular.id, actor="moderator")
    await bench.configure(raid_mode=True)
    again = await bench.ask("Deuxième question #AskAirbus", author="1")
    stranger = await bench.ask("First question #AskAirbus", author="2")
    assert again.status is QuestionStatus.PENDING and again.tags == []
    assert stranger.tags == [HOLD_TAG] and stranger.moderator_note is not None
    assert stranger.moderator_note.startswith("automod [raid-hold]")


async def test_per_hour_limit_counts_the_authors_earlier_tweets(bench: Bench) -> None:
    await bench.configure(max_per_hour=2)
    first = await bench.ask("Q1 #AskAirbus", minutes=0)
    second = await bench.ask("Q2 #AskAirbus", minutes=10)
    third = await bench.ask("Q3 #AskAirbus", minutes=59)
    other = await bench.ask("Q3 #AskAirbus", author="99", minutes=59)
    later = await bench.ask("Q4 #AskAirbus", minutes=70)  # the first is an hour old
    statuses = [q.status for q in (first, second, third, other, later)]
    assert (
        statuses
        == [QuestionStatus.PENDING] * 2 + [QuestionStatus.REJECTED] + [QuestionStatus.PENDING] * 2
    )
    assert third.reject_reason is not None and "already 2 question(s)" in third.reject_reason


async def test_a_concurrent_burst_of_one_author_is_limited(bench: Bench) -> None:
    await bench.configure(max_per_hour=2)
    burst = [bench.incoming(f"Question {n} #AskAirbus", minutes=n) for n in range(6)]
    others = [bench.incoming(f"Other {n} #AskAirbus", author=str(100 + n)) for n in range(6)]
    mixed = [q for pair in zip(burst, others, strict=True) for q in pair]
    await asyncio.gather(*(bench.sink.add_question(bench.sid, q) for q in mixed))
    stored = await bench.store.list_questions(bench.sid)
    by_tweet = {q.tweet_id: q.status for q in stored}
    assert [by_tweet[q.tweet_id] for q in burst] == [QuestionStatus.PENDING] * 2 + [
        QuestionStatus.REJECTED
    ] * 4
    assert all(by_tweet[q.tweet_id] is QuestionStatus.PENDING for q in others)


async def test_duplicate_text_of_the_same_author(bench: Bench) -> None:
    await bench.configure(duplicate_window_minutes=15)
    await bench.ask("When is the A390 out? #AskAirbus")
    dup = await bench.ask("WHEN is the A390 out?? #AskAirbus #A390", minutes=5)
    assert dup.status is QuestionStatus.REJECTED
    assert dup.reject_reason is not None and "[spam-duplicate]" in dup.reject_reason


async def test_the_same_tweet_twice_is_moderated_once(bench: Bench) -> None:
    await bench.configure(min_followers=10)
    tweet = bench.incoming("How? #AskAirbus", followers=1)
    first, created = await bench.sink.add_question(bench.sid, tweet)
    assert created
    await bench.store.set_question_tags(bench.sid, first.id, ["looked-at"], actor="moderator")
    again, created = await bench.sink.add_question(bench.sid, tweet)
    assert not created and again.id == first.id
    stored = await bench.store.get_question(bench.sid, first.id)
    assert stored.tags == ["looked-at"]


async def test_disabled_automod_leaves_everything_pending(bench: Bench) -> None:
    await bench.configure(enabled=False)
    q = await bench.ask("Quelle merde https://t.co/x")
    assert q.status is QuestionStatus.PENDING and q.tags == []


async def test_config_round_trip_and_version_guard(bench: Bench) -> None:
    assert (await bench.automod.get(bench.sid)).version == 0
    config = AutomodConfig(blocklist=["Boeing"], raid_mode=True)
    saved = await bench.automod.put(bench.sid, config, actor="mia", at=T0, expected_version=0)
    assert saved.version == 1
    loaded = await bench.automod.get(bench.sid)
    assert loaded == saved and loaded.config == config
    with pytest.raises(Conflict):
        await bench.automod.put(bench.sid, config, actor="eva", at=T0, expected_version=0)


def post(n: int, author: str, text: str) -> dict[str, Any]:
    created = (T0 + timedelta(seconds=n)).isoformat()
    return {"id": str(3_000_000 + n), "author_id": author, "text": text, "created_at": created}


async def test_intake_ingestor_with_raid_mode_on_a_flood(redis: RedisClient, bench: Bench) -> None:
    """The real intake path: an Ingestor storing a page of posts through the sink."""
    regular = await bench.ask("Bonjour #AskAirbus", author="500")
    await bench.store.approve_question(bench.sid, regular.id, actor="moderator")
    await bench.configure(raid_mode=True, trusted=["@press"])
    flood = [post(n, str(1000 + n), f"Spam spam {n} #AskAirbus") for n in range(20)]
    posts = [*flood, post(50, "500", "Une vraie question #AskAirbus")]
    posts.append(post(51, "600", "Official question #AskAirbus"))
    users = {
        p["author_id"]: {"id": p["author_id"], "username": f"u{p['author_id']}"} for p in posts
    }
    users["600"] = {"id": "600", "username": "Press"}
    target = Target.of(bench.sid, ["#AskAirbus"], "1", "Airbus")
    ingestor = Ingestor(bench.sink, IntakeStore(redis))
    assert await ingestor.ingest(target, posts, users) == len(posts)
    stored = {q.tweet_id: q for q in await bench.store.list_questions(bench.sid)}
    held = [stored[p["id"]] for p in flood]
    assert all(q.status is QuestionStatus.PENDING and q.tags == [HOLD_TAG] for q in held)
    known = stored[posts[-2]["id"]]
    assert known.status is QuestionStatus.PENDING and known.tags == []
    assert stored[posts[-1]["id"]].status is QuestionStatus.APPROVED
