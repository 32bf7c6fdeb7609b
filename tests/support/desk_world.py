"""A live desk for the desk-mode tests: an admin, a moderator, two agents (experts), an
outsider, and questions received at different times on the app's manual clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

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
