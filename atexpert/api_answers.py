"""Answers of a session: experts draft, edit and submit; moderators approve or return."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.responses import JSONResponse

from atexpert.answers import MAX_PARTS, MAX_TEXT, Answer, AnswerDraft, AnswerStatus
from atexpert.api_errors import ApiError
from atexpert.api_routing import Call, Endpoint, IfVersion, endpoint
from atexpert.staff import Action
from atexpert.views import project, project_all, reader_of

TAG = "answers"
ALL = "/api/sessions/{session_id}/answers"
ONE = ALL + "/{answer_id}"

Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]


class AnswerListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: AnswerStatus | None = None


class AnswerEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Text
    parts: list[Text] | None = Field(default=None, min_length=1, max_length=MAX_PARTS)


@endpoint(
    "GET",
    ALL,
    summary="Answers of the session",
    tag=TAG,
    query=AnswerListQuery,
    response=list[Answer],
)
async def list_answers(call: Call) -> JSONResponse:
    session = await call.session(Action.ANSWER_READ)
    status = call.query(AnswerListQuery).status
    found = await call.services.store.list_answers(session.id, status)
    audience = reader_of(call.principal.user, session)
    return JSONResponse(project_all(audience, "answer", (a.model_dump(mode="json") for a in found)))


@endpoint(
    "POST",
    ALL,
    summary="Draft an answer to approved questions (expert)",
    tag=TAG,
    body=AnswerDraft,
    response=Answer,
    status=201,
)
async def create_answer(call: Call) -> Answer:
    session = await call.session(Action.ANSWER_WRITE)
    draft = call.body(AnswerDraft)
    return await call.services.store.create_answer(
        session.id, draft, expert_id=call.principal.user.id, at=call.now()
    )


@endpoint("GET", ONE, summary="One answer", tag=TAG, response=Answer)
async def show_answer(call: Call) -> JSONResponse:
    session = await call.session(Action.ANSWER_READ)
    answer = await call.services.store.get_answer(session.id, call.path("answer_id"))
    seen = project(
        reader_of(call.principal.user, session), "answer", answer.model_dump(mode="json")
    )
    if seen is None:
        raise ApiError(403, "forbidden", "you may not see this answer")
    return JSONResponse(seen)


async def _target(call: Call, action: Action) -> tuple[str, str]:
    session = await call.session(action)
    return session.id, call.path("answer_id")


@endpoint(
    "POST",
    ONE + "/edit",
    summary="Replace a draft's text and thread parts (expert)",
    tag=TAG,
    body=AnswerEdit,
    query=IfVersion,
    response=Answer,
)
async def edit_answer(call: Call) -> Answer:
    sid, aid = await _target(call, Action.ANSWER_WRITE)
    body = call.body(AnswerEdit)
    version = call.query(IfVersion).version
    return await call.services.store.edit_answer(
        sid, aid, body.text, body.parts, actor=call.actor, at=call.now(), version=version
    )


@endpoint(
    "POST",
    ONE + "/submit",
    summary="draft -> awaiting_approval (or queued when no approval is required)",
    tag=TAG,
    response=Answer,
)
async def submit_answer(call: Call) -> Answer:
    sid, aid = await _target(call, Action.ANSWER_WRITE)
    return await call.services.store.submit_answer(sid, aid, actor=call.actor, at=call.now())


@endpoint("POST", ONE + "/withdraw", summary="queued -> draft (expert)", tag=TAG, response=Answer)
async def withdraw_answer(call: Call) -> Answer:
    sid, aid = await _target(call, Action.ANSWER_WRITE)
    return await call.services.store.withdraw_answer(sid, aid, actor=call.actor, at=call.now())


@endpoint(
    "POST",
    ONE + "/approve",
    summary="awaiting_approval -> queued (moderator)",
    tag=TAG,
    response=Answer,
)
async def approve_answer(call: Call) -> Answer:
    sid, aid = await _target(call, Action.ANSWER_APPROVE)
    return await call.services.store.approve_answer(sid, aid, actor=call.actor, at=call.now())


@endpoint(
    "POST",
    ONE + "/return",
    summary="awaiting_approval -> draft (moderator)",
    tag=TAG,
    response=Answer,
)
async def return_answer(call: Call) -> Answer:
    sid, aid = await _target(call, Action.ANSWER_APPROVE)
    return await call.services.store.return_answer(sid, aid, actor=call.actor, at=call.now())


@endpoint("POST", ONE + "/retry", summary="failed -> queued (moderator)", tag=TAG, response=Answer)
async def retry_answer(call: Call) -> Answer:
    sid, aid = await _target(call, Action.ANSWER_APPROVE)
    return await call.services.store.retry_answer(sid, aid, actor=call.actor, at=call.now())


ENDPOINTS: list[Endpoint] = [
    list_answers,
    create_answer,
    show_answer,
    edit_answer,
    submit_answer,
    withdraw_answer,
    approve_answer,
    return_answer,
    retry_answer,
]
