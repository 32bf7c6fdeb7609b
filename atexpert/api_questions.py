"""Questions of a session: the moderation queue and its actions.

Moderators (and admins) see every question and act on them; experts see only approved
(and answered) questions and may only hand them back (requeue). The write actions are
the question commands of :mod:`atexpert.commands`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from atexpert.api_errors import ApiError
from atexpert.api_routing import Call, Endpoint, command_endpoints, endpoint
from atexpert.commands import QUESTION_COMMANDS
from atexpert.questions import IncomingQuestion, Question, QuestionStatus
from atexpert.sessions import Session
from atexpert.staff import Action, can

TAG = "questions"
ALL = "/api/sessions/{session_id}/questions"
ONE = ALL + "/{question_id}"

#: What an expert (who may not read the whole queue) sees.
EXPERT_VISIBLE = frozenset({QuestionStatus.APPROVED, QuestionStatus.ANSWERED})


class QuestionListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: QuestionStatus | None = None
    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=200, ge=1, le=1000)


class QuestionAdded(BaseModel):
    question: Question
    created: bool = Field(description="False when the tweet had already been received")


def _reader_sees(call: Call, session: Session, status: QuestionStatus) -> bool:
    user = call.principal.user
    if can(user, Action.QUESTION_READ_ALL, session):
        return True
    return status in EXPERT_VISIBLE and can(user, Action.QUESTION_READ_APPROVED, session)


@endpoint(
    "GET",
    ALL,
    summary="Questions, in arrival order (experts: approved only)",
    tag=TAG,
    query=QuestionListQuery,
    response=list[Question],
)
async def list_questions(call: Call) -> list[Question]:
    session = await call.session(Action.QUESTION_READ_APPROVED)
    query = call.query(QuestionListQuery)
    store = call.services.store
    if can(call.principal.user, Action.QUESTION_READ_ALL, session):
        return await store.list_questions(
            session.id, query.status, offset=query.offset, limit=query.limit
        )
    if query.status is not None and query.status not in EXPERT_VISIBLE:
        raise ApiError(403, "forbidden", "experts see approved and answered questions only")
    if query.status is not None:
        return await store.list_questions(
            session.id, query.status, offset=query.offset, limit=query.limit
        )
    # Both visible statuses, merged in arrival order, then paged.
    found = [q for q in await store.list_questions(session.id) if q.status in EXPERT_VISIBLE]
    return found[query.offset : query.offset + query.limit]


@endpoint(
    "POST",
    ALL,
    summary="Add a question by hand, as if tweeted (admin; tests, demo)",
    tag=TAG,
    body=IncomingQuestion,
    response=QuestionAdded,
    status=201,
)
async def add_question(call: Call) -> QuestionAdded:
    session = await call.session(Action.QUESTION_CREATE)
    incoming = call.body(IncomingQuestion)
    question, created = await call.services.store.add_question(session.id, incoming, at=call.now())
    return QuestionAdded(question=question, created=created)


@endpoint("GET", ONE, summary="One question", tag=TAG, response=Question)
async def show_question(call: Call) -> Question:
    session = await call.session(Action.QUESTION_READ_APPROVED)
    question = await call.services.store.get_question(session.id, call.path("question_id"))
    if not _reader_sees(call, session, question.status):
        raise ApiError(403, "forbidden", "experts see approved and answered questions only")
    return question


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
    },
    ONE,
    tag=TAG,
    response=Question,
    id_param="question_id",
)

ENDPOINTS: list[Endpoint] = [list_questions, add_question, show_question, *ACTIONS]
