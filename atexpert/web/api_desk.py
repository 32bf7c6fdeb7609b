"""Desk mode over HTTP (:mod:`atexpert.domain.desk`): the queue of waiting questions with
their waiting times on the server's clock, an agent's shift, and the saved replies
(:mod:`atexpert.domain.saved_replies`): written by moderators, filled in for one question
by whoever answers it."""

from __future__ import annotations

import asyncio

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from atexpert.domain import desk, saved_replies, views
from atexpert.domain.answers import Answer
from atexpert.domain.questions import Question
from atexpert.domain.saved_replies import MAX_VALUE, Filled, SavedReply
from atexpert.domain.sessions import Session
from atexpert.domain.staff import Action, staff_name
from atexpert.domain.views import project, reader_of, sees_status
from atexpert.web.api_errors import ApiError
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

first_response = command_endpoint(
    DESK_COMMANDS["first_response"],
    ONE + "/desk/target",
    method="PUT",
    name="set_first_response_target",
    summary="Change the first-response target, live desk included (admins)",
    tag=TAG,
    response=Session,
)

REPLIES = ONE + "/saved-replies"
REPLY = REPLIES + "/{reply_id}"
add_reply = command_endpoint(
    DESK_COMMANDS["reply_add"],
    REPLIES,
    name="add_saved_reply",
    summary="Save a reply with variables: {asker}, {agent} and the declared free ones (moderators)",
    tag=TAG,
    response=SavedReply,
    status=201,
)
replace_reply = command_endpoint(
    DESK_COMMANDS["reply_replace"],
    REPLY,
    method="PUT",
    name="replace_saved_reply",
    summary="Change a saved reply (moderators)",
    tag=TAG,
    response=SavedReply,
    id_param="reply_id",
)
delete_reply = command_endpoint(
    DESK_COMMANDS["reply_delete"],
    REPLY,
    method="DELETE",
    name="delete_saved_reply",
    summary="Delete a saved reply (moderators)",
    tag=TAG,
    response=None,
    id_param="reply_id",
)


class FillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question_id: str = Field(min_length=1, max_length=64, description="Whose asker is {asker}")
    values: dict[str, str] = Field(
        default={}, max_length=20, description=f"The free variables, {MAX_VALUE} chars at most"
    )


@endpoint(
    "POST",
    REPLY + "/fill",
    summary="A saved reply filled in for one question, with its weighted length on X "
    "(whoever writes answers)",
    tag=TAG,
    body=FillIn,
    response=Filled,
)
async def fill_reply(call: Call) -> Filled:
    session = await call.session(Action.ANSWER_WRITE)
    body = call.body(FillIn)
    reply = saved_replies.find(session.saved_replies, call.path("reply_id"))
    question = await call.services.store.get_question(session.id, body.question_id)
    audience = reader_of(call.principal.user, session)
    if project(audience, "question", question.model_dump(mode="json")) is None:
        raise ApiError(403, "forbidden", "you may not see this question")
    agent = staff_name(call.principal.user)
    return saved_replies.fill(reply, asker=question.author.handle, agent=agent, values=body.values)


class HistoryItem(BaseModel):
    question: Question
    answer: Answer | None


@endpoint(
    "GET",
    ONE + "/questions/{question_id}/history",
    summary="The earlier questions of the same X account in this session, newest first, "
    "with their answers, as the caller may see them",
    tag=TAG,
    response=list[HistoryItem],
)
async def asker_history(call: Call) -> JSONResponse:
    session = await call.session(Action.QUESTION_READ_APPROVED)
    audience = reader_of(call.principal.user, session)
    store = call.services.store
    question = await store.get_question(session.id, call.path("question_id"))
    if project(audience, "question", question.model_dump(mode="json")) is None:
        raise ApiError(403, "forbidden", "you may not see this question")
    before = desk.earlier(question, await store.list_questions_by(session.id, question.author.id))
    answer_ids = sorted({q.answer_id for q in before if q.answer_id})
    found = await asyncio.gather(*(store.get_answer(session.id, a) for a in answer_ids))
    answers = {a.id: a.model_dump(mode="json") for a in found}
    records = (q.model_dump(mode="json") for q in before)
    return JSONResponse(views.asker_history(audience, records, answers))


ENDPOINTS: list[Endpoint] = [
    desk_queue,
    shift,
    first_response,
    add_reply,
    replace_reply,
    delete_reply,
    fill_reply,
    asker_history,
]
