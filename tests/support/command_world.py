"""The world of the adapter-equivalence test (tests/test_commands.py): one app on a frozen
clock, a live session with a user per role and a pending, an approved and a rejected
question, and a draft session for the CLI."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis

from atexpert.domain.clock import ManualClock, SystemClock
from atexpert.domain.sessions import SessionFields
from atexpert.live.hub import LiveConfig
from atexpert.store.invitations import InvitationStore
from atexpert.store.staff import StaffStore
from atexpert.store.store import Store
from atexpert.web.app import create_app
from tests.support.api_world import FAST_HASHER, PASSWORD, incoming, session_body
from tests.support.api_world import settings as app_settings

with warnings.catch_warnings():  # starlette nags about httpx; its TestClient still works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

#: The app's (manual) clock; now, since the CLI runs on the real one.
NOW = SystemClock().now().replace(microsecond=0)


@dataclass
class CommandWorld:
    """A live session with one user per role (the expert on duty) and a pending, an
    approved and a rejected question (each action has a target it is legal on); a draft
    session for the CLI."""

    client: TestClient
    store: Store
    staff: StaffStore
    invitations: InvitationStore
    tokens: dict[str, str] = field(default_factory=dict)
    sid: str = ""
    draft: str = ""
    qids: dict[str, str] = field(default_factory=dict)

    def call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        return self.client.portal.call(functools.partial(fn, *args, **kw))


@contextmanager
def command_app(redis_url: str) -> Iterator[TestClient]:
    """The app of the command worlds, on a frozen clock, served to a test client."""
    app = create_app(
        app_settings().model_copy(update={"redis_url": redis_url}),
        clock=ManualClock(NOW),
        password_hasher=FAST_HASHER,
        run_scheduler=False,
        # Every world is fresh: a feed left without clients is retired at once, rather
        # than holding a Redis connection for a session the next world flushed.
        live_config=LiveConfig(idle_s=0),
    )
    with TestClient(app) as client:
        yield client


def fresh_world(client: TestClient, redis_url: str) -> CommandWorld:
    with redis.Redis.from_url(redis_url) as sync:
        sync.flushall()
    services = client.app.state.services  # type: ignore[attr-defined]
    invitations = InvitationStore(services.redis, clock=services.clock)
    w = CommandWorld(client, services.store, services.staff, invitations)
    users = {}
    for role in ("outsider", "expert", "moderator", "admin"):
        user = w.call(services.staff.create_user, role, PASSWORD, is_admin=role == "admin")
        users[role] = user
        w.tokens[role] = w.call(services.staff.create_token, user.id, "tests")[1]
    fields = SessionFields.model_validate(
        session_body(
            scheduled_start=(NOW + timedelta(hours=1)).isoformat(),
            scheduled_end=(NOW + timedelta(hours=2)).isoformat(),
            moderator_ids=[users["moderator"].id],
            expert_ids=[users["expert"].id],
        )
    )
    w.sid = w.call(w.store.create_session, fields, actor="seed", at=NOW).id
    w.draft = w.call(w.store.create_session, fields, actor="seed", at=NOW).id
    w.call(w.store.schedule_session, w.sid, actor="seed", at=NOW)
    w.call(w.store.start_session, w.sid, actor="seed", at=NOW)
    w.call(w.store.set_on_duty, w.sid, users["expert"].id, True, actor="seed", at=NOW)
    for n, status in enumerate(("pending", "approved", "rejected")):
        question, _ = w.call(w.store.add_question, w.sid, incoming(n), at=NOW)
        w.qids[status] = question.id
    w.call(w.store.approve_question, w.sid, w.qids["approved"], actor="seed", at=NOW)
    w.call(w.store.reject_question, w.sid, w.qids["rejected"], "spam", actor="seed", at=NOW)
    return w
