"""Questions of a session: the moderation queue and its actions.

Moderators (and admins) see every question and act on them; experts see only approved
(and answered) questions, as :mod:`atexpert.views` shows them, and cannot act on them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.responses import JSONResponse

from atexpert.api_errors import ApiError
from atexpert.api_routing import Call, Endpoint, IfVersion, endpoint
from atexpert.questions import (
    MAX_NOTE,
    MAX_REASON,
    MAX_TAG,
    MAX_TAGS,
    MAX_TEXT,
    IncomingQuestion,
    Question,
    QuestionStatus,
)
from atexpert.staff import Action
from atexpert.views import (
    WHOLE,
    Audience,
    Json,
    project,
    project_all,
    reader_of,
    sees_status,
    shape,
)

TAG = "questions"
ALL = "/api/sessions/{session_id}/questions"
ONE = ALL + "/{question_id}"


class QuestionListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: QuestionStatus | None = None
    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=200, ge=1, le=1000)


class QuestionAdded(BaseModel):
    question: Question
    created: bool = Field(description="False when the tweet had already been received")


class Reject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON)
    ]


class HandBack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None, max_length=MAX_REASON, description="Why, for the moderators (optional)"
    )


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)] | None = (
        Field(description="Text shown to the expert; null restores the original")
    )


class Star(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starred: bool


class Priority(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: int = Field(ge=-1_000_000, le=1_000_000)


class Tags(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_TAG)]] = Field(
        max_length=MAX_TAGS
    )


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, StringConstraints(max_length=MAX_NOTE)] | None


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
)
async def add_question(call: Call) -> QuestionAdded:
    session = await call.session(Action.QUESTION_CREATE)
    incoming = call.body(IncomingQuestion)
    question, created = await call.services.store.add_question(session.id, incoming, at=call.now())
    return QuestionAdded(question=question, created=created)


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


async def _moderated(call: Call) -> tuple[str, str]:
    session = await call.session(Action.QUESTION_MODERATE)
    return session.id, call.path("question_id")


@endpoint(
    "POST",
    ONE + "/approve",
    summary="pending -> approved",
    tag=TAG,
    query=IfVersion,
    response=Question,
)
async def approve(call: Call) -> Question:
    sid, qid = await _moderated(call)
    version = call.query(IfVersion).version
    return await call.services.store.approve_question(
        sid, qid, actor=call.actor, at=call.now(), version=version
    )


@endpoint(
    "POST",
    ONE + "/reject",
    summary="pending/approved -> rejected, with a reason",
    tag=TAG,
    body=Reject,
    query=IfVersion,
    response=Question,
)
async def reject(call: Call) -> Question:
    sid, qid = await _moderated(call)
    reason = call.body(Reject).reason
    version = call.query(IfVersion).version
    return await call.services.store.reject_question(
        sid, qid, reason, actor=call.actor, at=call.now(), version=version
    )


@endpoint(
    "POST",
    ONE + "/merge",
    summary="Merge into another question (a duplicate)",
    tag=TAG,
    body=Merge,
    response=Question,
)
async def merge(call: Call) -> Question:
    sid, qid = await _moderated(call)
    into = call.body(Merge).into
    return await call.services.store.merge_question(sid, qid, into, actor=call.actor, at=call.now())


@endpoint(
    "POST",
    ONE + "/requeue",
    summary="approved -> pending: hand back to the moderators (moderators and experts)",
    tag=TAG,
    body=HandBack,
    response=Question,
)
async def requeue(call: Call) -> Question:
    session = await call.session(Action.QUESTION_HAND_BACK)
    reason = call.body(HandBack).reason
    return await call.services.store.requeue_question(
        session.id, call.path("question_id"), actor=call.actor, at=call.now(), reason=reason
    )


@endpoint(
    "POST", ONE + "/restore", summary="rejected/merged -> pending", tag=TAG, response=Question
)
async def restore(call: Call) -> Question:
    sid, qid = await _moderated(call)
    return await call.services.store.restore_question(sid, qid, actor=call.actor, at=call.now())


@endpoint(
    "POST",
    ONE + "/edit",
    summary="Set the text shown to the expert",
    tag=TAG,
    body=Edit,
    response=Question,
)
async def edit(call: Call) -> Question:
    sid, qid = await _moderated(call)
    text = call.body(Edit).display_text
    return await call.services.store.edit_question(sid, qid, text, actor=call.actor, at=call.now())


@endpoint("POST", ONE + "/star", summary="Star or unstar", tag=TAG, body=Star, response=Question)
async def star(call: Call) -> Question:
    sid, qid = await _moderated(call)
    starred = call.body(Star).starred
    return await call.services.store.star_question(
        sid, qid, starred, actor=call.actor, at=call.now()
    )


@endpoint(
    "POST", ONE + "/priority", summary="Set the priority", tag=TAG, body=Priority, response=Question
)
async def priority(call: Call) -> Question:
    sid, qid = await _moderated(call)
    value = call.body(Priority).priority
    return await call.services.store.set_question_priority(
        sid, qid, value, actor=call.actor, at=call.now()
    )


@endpoint("POST", ONE + "/tags", summary="Replace the tags", tag=TAG, body=Tags, response=Question)
async def tags(call: Call) -> Question:
    sid, qid = await _moderated(call)
    values = call.body(Tags).tags
    return await call.services.store.set_question_tags(
        sid, qid, values, actor=call.actor, at=call.now()
    )


@endpoint(
    "POST", ONE + "/note", summary="Set the moderators' note", tag=TAG, body=Note, response=Question
)
async def note(call: Call) -> Question:
    sid, qid = await _moderated(call)
    text = call.body(Note).note
    return await call.services.store.set_question_note(
        sid, qid, text, actor=call.actor, at=call.now()
    )


ENDPOINTS: list[Endpoint] = [
    list_questions,
    add_question,
    show_question,
    approve,
    reject,
    merge,
    requeue,
    restore,
    edit,
    star,
    priority,
    tags,
    note,
]
