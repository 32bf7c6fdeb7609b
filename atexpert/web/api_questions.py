"""Questions of a session: the moderation queue and its actions.

Moderators (and admins) see every question and act on them; experts see only approved
(and answered) questions, as :mod:`atexpert.domain.views` shows them, and may only hand them
back (requeue). The write actions are the question commands of :mod:`atexpert.web.commands`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from atexpert.domain.questions import (
    IncomingQuestion,
    Question,
    QuestionStatus,
)
from atexpert.domain.staff import Action
from atexpert.domain.views import (
    WHOLE,
    Audience,
    Json,
    project,
    project_all,
    reader_of,
    sees_status,
    shape,
)
from atexpert.web.api_errors import ApiError
from atexpert.web.api_routing import Call, Endpoint, command_endpoints, endpoint
from atexpert.web.commands import ADD_QUESTION, QUESTION_COMMANDS, QuestionAdded

TAG = "questions"
ALL = "/api/sessions/{session_id}/questions"
ONE = ALL + "/{question_id}"


class QuestionListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: QuestionStatus | None = None
    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=200, ge=1, le=1000)


def _forbidden() -> ApiError:
    return ApiError(403, "forbidden", "experts see approved and answered questions only")


def _seen(audience: Audience, questions: list[Question]) -> list[Json]:
    return project_all(audience, "question", (q.model_dump(mode="json") for q in questions))


@endpoint(
    "GET",
    ALL,
    summary="Questions, in arrival order, as the caller may see them (experts: approved "
    "and answered only, without the moderators' note and reject reason)",
    tag=TAG,
    query=QuestionListQuery,
    response=list[Question],
)
async def list_questions(call: Call) -> JSONResponse:
    session = await call.session(Action.QUESTION_READ_APPROVED)
    audience = reader_of(call.principal.user, session)
    query = call.query(QuestionListQuery)
    store = call.services.store
    if query.status is not None:
        if not sees_status(audience, "question", query.status):
            raise _forbidden()
        found = await store.list_questions(
            session.id, query.status, offset=query.offset, limit=query.limit
        )
        return JSONResponse(_seen(audience, found))
    if shape(audience, "question") == WHOLE:
        found = await store.list_questions(session.id, offset=query.offset, limit=query.limit)
        return JSONResponse(_seen(audience, found))
    # Only some statuses: filtered in arrival order, then paged.
    seen = _seen(audience, await store.list_questions(session.id))
    return JSONResponse(seen[query.offset : query.offset + query.limit])


@endpoint(
    "POST",
    ALL,
    summary="Add a question by hand, as if tweeted (admin; tests, demo)",
    tag=TAG,
    body=IncomingQuestion,
    response=QuestionAdded,
    status=201,
    command=True,
)
async def add_question(call: Call) -> QuestionAdded:
    return await call.run(ADD_QUESTION)


@endpoint("GET", ONE, summary="One question, as the caller may see it", tag=TAG, response=Question)
async def show_question(call: Call) -> JSONResponse:
    session = await call.session(Action.QUESTION_READ_APPROVED)
    question = await call.services.store.get_question(session.id, call.path("question_id"))
    seen = project(
        reader_of(call.principal.user, session), "question", question.model_dump(mode="json")
    )
    if seen is None:
        raise _forbidden()
    return JSONResponse(seen)


ACTIONS = command_endpoints(
    QUESTION_COMMANDS,
    {
        "approve": "pending -> approved",
        "reject": "pending/approved -> rejected, with a reason",
        "merge": "Merge into another question (a duplicate)",
        "requeue": "approved -> pending: hand back to the moderators (moderators and experts)",
        "restore": "rejected/merged -> pending",
        "edit": "Set the text shown to the expert",
        "star": "Star or unstar",
        "priority": "Set the priority",
        "tags": "Replace the tags",
        "note": "Set the moderators' note",
        "assign": "Assign to an agent on duty, hand over (with a note) or unassign (desk)",
    },
    ONE,
    tag=TAG,
    response=Question,
    id_param="question_id",
)

ENDPOINTS: list[Endpoint] = [list_questions, add_question, show_question, *ACTIONS]
