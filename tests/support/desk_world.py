"""A live desk for the desk-mode tests: an admin, a moderator, two agents (experts), an
outsider, and questions received at different times on the app's manual clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from atexpert.domain.answers import AnswerDraft
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import SessionFields
from atexpert.domain.staff import StaffUser
from tests.support.api_world import Api, session_body

ROLES = ("admin", "moderator", "ada", "bob", "outsider")
#: Minutes ago each question arrived (the desk's first-response target is 60 minutes).
ARRIVALS = {"old": 95, "late": 61, "fresh": 5}


def desk_question(n: int, handle: str, text: str, minutes_ago: int, api: Api) -> IncomingQuestion:
    return IncomingQuestion(
        tweet_id=str(7_000_000 + n),
        author=Author(id=str(800 + n), handle=handle),
        text=text,
        created_at=api.clock.now() - timedelta(minutes=minutes_ago),
    )


@dataclass
class DeskWorld:
    """A live desk ``sid`` (moderator, agents ada and bob) with three pending questions
    (``qids``: old, late, fresh) received :data:`ARRIVALS` minutes ago."""

    api: Api
    users: dict[str, StaffUser] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    sid: str = ""
    qids: dict[str, str] = field(default_factory=dict)


@pytest.fixture
async def desk_world(api: Api) -> DeskWorld:
    w = DeskWorld(api)
    for name in ROLES:
        user, token = await api.user(name, admin=name == "admin")
        w.users[name], w.tokens[name] = user, token
    body = session_body(
        kind="desk",
        title="Air France helps",
        hashtags=["#AFhelp"],
        host_account={"handle": "AirFrance"},
        moderator_ids=[w.users["moderator"].id],
        expert_ids=[w.users["ada"].id, w.users["bob"].id],
        scheduled_start=(api.clock.now() - timedelta(days=2)).isoformat(),
    )
    del body["scheduled_end"]
    store, now = api.services.store, api.clock.now()
    desk = await store.create_session(SessionFields.model_validate(body), actor="admin", at=now)
    await store.schedule_session(desk.id, actor="admin", at=now)
    await store.start_session(desk.id, actor="admin", at=now)
    w.sid = desk.id
    for n, (name, minutes) in enumerate(ARRIVALS.items()):
        incoming = desk_question(n, f"flyer{n}", f"Where is my bag? ({name}) #AFhelp", minutes, api)
        question, _ = await store.add_question(
            desk.id, incoming, at=now - timedelta(minutes=minutes)
        )
        w.qids[name] = question.id
    return w


async def ask_again(w: DeskWorld, n: int, text: str, minutes_ago: int = 0) -> str:
    """Another question from the asker of question ``n`` (the same X account)."""
    incoming = desk_question(n, f"flyer{n}", text, minutes_ago, w.api)
    incoming = incoming.model_copy(update={"tweet_id": str(7_100_000 + len(w.qids))})
    at = w.api.clock.now() - timedelta(minutes=minutes_ago)
    question, _ = await w.api.services.store.add_question(w.sid, incoming, at=at)
    w.qids[f"again{len(w.qids)}"] = question.id
    return question.id


async def publish(w: DeskWorld, qid: str, text: str, *, agent: str = "ada") -> str:
    """Approve ``qid`` and publish ``text`` as its answer; the answer's id."""
    store, now, tweet = w.api.services.store, w.api.clock.now(), 7_200_000 + len(w.qids)
    await store.approve_question(w.sid, qid, actor="moderator", at=now)
    draft = AnswerDraft(question_ids=[qid], text=text)
    answer = await store.create_answer(w.sid, draft, expert_id=w.users[agent].id, at=now)
    await store.submit_answer(w.sid, answer.id, actor=agent, at=now)
    parts = [p.model_dump(mode="json") for p in answer.parts]
    await store.start_publishing(w.sid, answer.id, actor="publisher", at=now, parts=parts)
    await store.record_part_posted(w.sid, answer.id, 0, str(tweet), actor="publisher", at=now)
    await store.mark_published(w.sid, answer.id, actor="publisher", at=now)
    return answer.id
