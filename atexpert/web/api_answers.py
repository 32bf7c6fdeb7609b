"""Answers of a session: experts draft, edit and submit; moderators approve or return."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse

from atexpert.domain.answers import Answer, AnswerStatus
from atexpert.domain.staff import Action
from atexpert.domain.views import project, project_all, reader_of
from atexpert.web.api_errors import ApiError
from atexpert.web.api_routing import (
    Call,
    Endpoint,
    command_endpoint,
    command_endpoints,
    endpoint,
)
from atexpert.web.commands import ANSWER_COMMANDS

TAG = "answers"
ALL = "/api/sessions/{session_id}/answers"
ONE = ALL + "/{answer_id}"


class AnswerListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: AnswerStatus | None = None


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


create_answer = command_endpoint(
    ANSWER_COMMANDS["create"],
    ALL,
    name="create_answer",
    summary="Draft an answer to approved questions (expert)",
    tag=TAG,
    response=Answer,
    status=201,
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


ACTIONS = command_endpoints(
    ANSWER_COMMANDS,
    {
        "edit": "Replace a draft's text and thread parts (expert)",
        "submit": "draft -> awaiting_approval (or queued when no approval is required)",
        "withdraw": "queued -> draft (expert)",
        "approve": "awaiting_approval -> queued (moderator)",
        "return": "awaiting_approval -> draft (moderator)",
        "retry": "failed -> queued (moderator)",
    },
    ONE,
    tag=TAG,
    response=Answer,
    id_param="answer_id",
    suffix="_answer",
)

ENDPOINTS: list[Endpoint] = [list_answers, create_answer, show_answer, *ACTIONS]
