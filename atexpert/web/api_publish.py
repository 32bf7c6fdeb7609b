"""Publishing, seen from the consoles: thread previews, announcements, status and ETA.

Retrying a failed answer is ``POST /api/sessions/{id}/answers/{id}/retry`` (api_answers):
failed -> queued, and the publisher resumes after the last posted part.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel

from atexpert.domain import announce
from atexpert.domain.announce import AnnouncementPreview, Moment
from atexpert.domain.answers import AnswerStatus
from atexpert.domain.business_hours import AutoReplyPreview, preview_auto_reply
from atexpert.domain.publish_plan import ThreadPlan, plan
from atexpert.domain.splitter import SplitError
from atexpert.domain.staff import Action
from atexpert.publish.outbox import Outbox, PublisherStatus, claimed_plan
from atexpert.web.api_errors import ApiError
from atexpert.web.api_routing import Call, Endpoint, endpoint

TAG = "publishing"
SESSION = "/api/sessions/{session_id}"


class QueuedAnswer(BaseModel):
    answer_id: str
    status: AnswerStatus
    parts_total: int
    parts_posted: int


class PublishingView(BaseModel):
    """The publisher's state; ``eta`` is when it resumes when X made it wait."""

    status: PublisherStatus
    eta: AwareDatetime | None
    queue: list[QueuedAnswer]
    start_announcement_id: str | None
    end_announcement_id: str | None


@endpoint(
    "GET",
    SESSION + "/publishing",
    summary="What the publisher does, why it waits and until when, and what is queued",
    tag=TAG,
    response=PublishingView,
)
async def publishing_status(call: Call) -> PublishingView:
    session = await call.session(Action.ANSWER_READ)
    store, outbox = call.services.store, Outbox(call.services.redis, session.id)
    queue = [
        *await store.list_answers(session.id, AnswerStatus.PUBLISHING),
        *await store.list_answers(session.id, AnswerStatus.QUEUED),
    ]
    status = await outbox.status()
    return PublishingView(
        status=status,
        eta=status.resume_at,
        queue=[
            QueuedAnswer(
                answer_id=a.id,
                status=a.status,
                parts_total=len(a.parts),
                parts_posted=len(a.posted_tweet_ids),
            )
            for a in queue
        ],
        start_announcement_id=await outbox.announcement_id(Moment.START),
        end_announcement_id=await outbox.announcement_id(Moment.END),
    )


@endpoint(
    "GET",
    SESSION + "/answers/{answer_id}/thread",
    summary="The thread an answer becomes on X: its posts and what part 1 replies to",
    tag=TAG,
    response=ThreadPlan,
)
async def thread_preview(call: Call) -> ThreadPlan:
    session = await call.session(Action.ANSWER_READ)
    store = call.services.store
    answer = await store.get_answer(session.id, call.path("answer_id"))
    if answer.status in (AnswerStatus.PUBLISHING, AnswerStatus.PUBLISHED, AnswerStatus.FAILED):
        outbox = Outbox(call.services.redis, session.id)
        stored = claimed_plan(await outbox.raw_answer(answer.id))
        if stored is not None:
            return stored
    question = await store.get_question(session.id, answer.question_ids[0])
    root = await Outbox(call.services.redis, session.id).announcement_id(Moment.START)
    try:
        return plan(answer, question, session, root)
    except SplitError as exc:
        raise ApiError(
            422, "invalid_input", str(exc), [{"loc": ["text"], "msg": str(exc), "type": "split"}]
        ) from None


@endpoint(
    "GET",
    SESSION + "/announcements",
    summary="Preview the start and end announcements (and whether they are on)",
    tag=TAG,
    response=AnnouncementPreview,
)
async def announcements_preview(call: Call) -> AnnouncementPreview:
    session = await call.session(Action.SESSION_READ)
    published = await call.services.store.list_answers(session.id, AnswerStatus.PUBLISHED)
    return announce.preview(session, answered=len(published))


@endpoint(
    "GET",
    SESSION + "/auto-reply",
    summary="Preview the automatic reply after business hours, its length and price",
    tag=TAG,
    response=AutoReplyPreview,
)
async def auto_reply_preview(call: Call) -> AutoReplyPreview:
    session = await call.session(Action.SESSION_READ)
    options = session.options
    return preview_auto_reply(
        options.auto_reply_text,
        options.business_hours,
        options.after_hours,
        session.time_zone,
        call.services.clock.now(),
    )


ENDPOINTS: list[Endpoint] = [
    publishing_status,
    thread_preview,
    announcements_preview,
    auto_reply_preview,
]
