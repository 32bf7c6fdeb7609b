"""Desk mode over HTTP (:mod:`atexpert.domain.desk`): the queue of waiting questions with
their waiting times on the server's clock, and an agent's shift."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from atexpert.domain import desk
from atexpert.domain.sessions import Session
from atexpert.domain.staff import Action
from atexpert.domain.views import reader_of, sees_status
from atexpert.web.api_routing import Call, Endpoint, command_endpoint, endpoint
from atexpert.web.desk_commands import DESK_COMMANDS

TAG = "desk"
ONE = "/api/sessions/{session_id}"


class DeskQueue(BaseModel):
    now: AwareDatetime
    first_response_minutes: int
    on_duty: list[str]
    waiting: list[desk.Waiting]


@endpoint(
    "GET",
    ONE + "/desk/queue",
    summary="The questions waiting for a first response, the caller's own first, then "
    "oldest first, with their waiting times (experts: approved ones only)",
    tag=TAG,
    response=DeskQueue,
)
async def desk_queue(call: Call) -> DeskQueue:
    session = await call.session(Action.QUESTION_READ_APPROVED)
    audience = reader_of(call.principal.user, session)
    store = call.services.store
    seen = [
        q
        for status in sorted(desk.WAITING)
        if sees_status(audience, "question", status.value)
        for q in await store.list_questions(session.id, status)
    ]
    now = call.now()
    return DeskQueue(
        now=now,
        first_response_minutes=session.first_response_minutes,
        on_duty=list(session.on_duty),
        waiting=desk.queue(session, seen, now, call.principal.user.id),
    )


shift = command_endpoint(
    DESK_COMMANDS["shift"],
    ONE + "/shift",
    name="shift",
    summary="Start or end the caller's shift (the session's agents: its experts)",
    tag=TAG,
    response=Session,
)

ENDPOINTS: list[Endpoint] = [desk_queue, shift]
