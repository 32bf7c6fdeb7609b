"""Answers written by the expert and published as a thread of replies (pure).

Lifecycle::

    draft --submit--> awaiting_approval --approve--> queued      (session requires approval)
    draft --queue--> queued                                      (no approval required)
    awaiting_approval --return--> draft;  queued --withdraw--> draft
    queued --publish--> publishing --published--> published
    publishing --fail--> failed --retry--> queued

``edit`` only in draft. While publishing, ``post_part`` records each reply's tweet id, so a
retry resumes the thread after the last posted part instead of posting it twice. The
replies to merged askers (``merged``, :mod:`atexpert.domain.merged`) are recorded the same
way, and ``refuse_merged`` keeps X's reason when X refuses one of them. A question merged
once its answer is claimed adds its asker's reply (``add_merged``), while publishing or
after: a published answer stays published while that reply is posted.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from atexpert.domain.errors import IllegalTransition, InvalidInput
from atexpert.domain.events import Change, EventKind, JsonList, Record, StateMachine

MAX_TEXT = 25_000
MAX_PARTS = 25
MAX_QUESTIONS = 10


class AnswerStatus(StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"


class AnswerAction(StrEnum):
    EDIT = "edit"
    SUBMIT = "submit"
    APPROVE = "approve"
    RETURN = "return"
    QUEUE = "queue"
    WITHDRAW = "withdraw"
    PUBLISH = "publish"
    POST_PART = "post part of"
    REFUSE_MERGED = "record a refused merged reply of"
    ADD_MERGED = "add a merged asker to"
    PUBLISHED = "mark published"
    FAIL = "mark failed"
    RETRY = "retry"


_S, _A = AnswerStatus, AnswerAction
MACHINE: StateMachine[AnswerStatus, AnswerAction] = StateMachine(
    "answer",
    {
        (_S.DRAFT, _A.EDIT): _S.DRAFT,
        (_S.DRAFT, _A.SUBMIT): _S.AWAITING_APPROVAL,
        (_S.DRAFT, _A.QUEUE): _S.QUEUED,
        (_S.AWAITING_APPROVAL, _A.APPROVE): _S.QUEUED,
        (_S.AWAITING_APPROVAL, _A.RETURN): _S.DRAFT,
        (_S.QUEUED, _A.WITHDRAW): _S.DRAFT,
        (_S.QUEUED, _A.PUBLISH): _S.PUBLISHING,
        (_S.PUBLISHING, _A.POST_PART): _S.PUBLISHING,
        (_S.PUBLISHING, _A.REFUSE_MERGED): _S.PUBLISHING,
        (_S.PUBLISHING, _A.ADD_MERGED): _S.PUBLISHING,
        (_S.PUBLISHED, _A.ADD_MERGED): _S.PUBLISHED,
        (_S.PUBLISHED, _A.POST_PART): _S.PUBLISHED,
        (_S.PUBLISHED, _A.REFUSE_MERGED): _S.PUBLISHED,
        (_S.PUBLISHING, _A.PUBLISHED): _S.PUBLISHED,
        (_S.PUBLISHING, _A.FAIL): _S.FAILED,
        (_S.FAILED, _A.RETRY): _S.QUEUED,
    },
)

_KIND = {
    _A.EDIT: EventKind.ANSWER_EDITED,
    _A.SUBMIT: EventKind.ANSWER_SUBMITTED,
    _A.APPROVE: EventKind.ANSWER_APPROVED,
    _A.RETURN: EventKind.ANSWER_RETURNED,
    _A.QUEUE: EventKind.ANSWER_QUEUED,
    _A.WITHDRAW: EventKind.ANSWER_WITHDRAWN,
    _A.PUBLISH: EventKind.ANSWER_PUBLISHING,
    _A.POST_PART: EventKind.ANSWER_PART_POSTED,
    _A.REFUSE_MERGED: EventKind.ANSWER_MERGED_REFUSED,
    _A.ADD_MERGED: EventKind.ANSWER_MERGED_ADDED,
    _A.PUBLISHED: EventKind.ANSWER_PUBLISHED,
    _A.FAIL: EventKind.ANSWER_FAILED,
    _A.RETRY: EventKind.ANSWER_RETRIED,
}


class AnswerPart(BaseModel):
    """One reply of the published thread."""

    model_config = ConfigDict(extra="ignore")

    text: str
    status: Literal["pending", "posted"] = "pending"
    tweet_id: str | None = None


class MergedReply(BaseModel):
    """The answer as one merged asker gets it: the posts, and what post 1 replies to.

    ``link``: one post linking to the answer; its text is written when it is posted (the
    answer's first post must be on X first). ``error``: X refused it (X's reason).
    """

    model_config = ConfigDict(extra="ignore")

    question_id: str
    handle: str
    name: str = ""
    route: str
    reply_to: str | None = None
    link: bool = False
    parts: JsonList[AnswerPart]
    error: str | None = None


class AnswerDraft(BaseModel):
    """What the expert submits. ``parts`` is the thread split (defaults to one part)."""

    model_config = ConfigDict(extra="forbid")

    question_ids: list[str] = Field(min_length=1, max_length=MAX_QUESTIONS)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    parts: list[str] | None = Field(default=None, min_length=1, max_length=MAX_PARTS)


class Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    session_id: str
    question_ids: JsonList[str]
    expert_id: str
    text: str
    parts: JsonList[AnswerPart]
    #: The replies to the askers of merged questions, written at claim time.
    merged: JsonList[MergedReply] = []
    status: AnswerStatus = AnswerStatus.DRAFT
    error: str | None = None
    created_at: AwareDatetime
    updated_by: str
    updated_at: AwareDatetime
    version: int = 1

    @property
    def replies_pending(self) -> bool:
        """Whether a reply to a merged asker is still to post (none refused by X)."""
        return any(
            r.error is None and any(p.tweet_id is None for p in r.parts) for r in self.merged
        )

    @property
    def posted_tweet_ids(self) -> list[str]:
        return [p.tweet_id for p in self.parts if p.tweet_id is not None]


def new_answer_id() -> str:
    return "a_" + secrets.token_hex(6)


def _parts(text: str, parts: list[str] | None) -> list[AnswerPart]:
    chunks = parts if parts is not None else [text]
    for i, chunk in enumerate(chunks):
        if not chunk.strip():
            raise InvalidInput.field(("parts", i), "a thread part cannot be empty")
    return [AnswerPart(text=c) for c in chunks]


def drafted(
    draft: AnswerDraft, *, answer_id: str, session_id: str, expert_id: str, at: datetime
) -> Answer:
    return Answer(
        id=answer_id,
        session_id=session_id,
        question_ids=list(dict.fromkeys(draft.question_ids)),
        expert_id=expert_id,
        text=draft.text,
        parts=_parts(draft.text, draft.parts),
        created_at=at,
        updated_by=expert_id,
        updated_at=at,
    )


def illegal(record: Record, action: str) -> IllegalTransition:
    a = Answer.model_validate(record)
    try:
        MACHINE.next(a.status, AnswerAction(action), a.id, by=a.updated_by, at=a.updated_at)
    except IllegalTransition as exc:
        return exc
    raise AssertionError(f"{action} is legal from {a.status}")


def change(
    answer_id: str,
    action: AnswerAction,
    *,
    actor: str,
    at: datetime,
    patch: Record | None = None,
    expected_version: int | None = None,
) -> Change:
    body: Record = {**(patch or {}), "updated_by": actor, "updated_at": at.isoformat()}
    return MACHINE.change(
        answer_id,
        action,
        _KIND[action],
        body,
        actor=actor,
        at=at,
        expected_version=expected_version,
    )


def edit_patch(text: str, parts: list[str] | None) -> Record:
    if not text.strip() or len(text) > MAX_TEXT:
        raise InvalidInput.field(("text",), f"the text is 1-{MAX_TEXT} characters")
    if parts is not None and not 1 <= len(parts) <= MAX_PARTS:
        raise InvalidInput.field(("parts",), f"a thread has 1-{MAX_PARTS} parts")
    return {"text": text, "parts": [p.model_dump(mode="json") for p in _parts(text, parts)]}


def claim_patch(parts: Sequence[Record], merged: Sequence[Record] = ()) -> Record:
    """The thread to publish, written at claim time (the publisher's outbox): one record
    per post, an :class:`AnswerPart` plus what the publisher adds (part 1's ``reply_to``
    and ``route``); and one :class:`MergedReply` per merged asker."""
    if not parts:
        raise InvalidInput.field(("parts",), "a thread has at least one part")
    for i, part in enumerate(parts):
        try:
            checked = AnswerPart.model_validate(part)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(map(str, error["loc"]))
            raise InvalidInput.field(("parts", i), f"{where}: {error['msg']}") from None
        if not checked.text.strip():
            raise InvalidInput.field(("parts", i), "a thread part cannot be empty")
    for i, reply in enumerate(merged):
        try:
            MergedReply.model_validate(reply)
        except ValidationError as exc:
            raise InvalidInput.field(("merged", i), str(exc.errors()[0]["msg"])) from None
    return {"parts": [dict(p) for p in parts], "merged": [dict(r) for r in merged]}


def post_part_patch(index: int, tweet_id: str) -> Record:
    if index < 0:
        raise InvalidInput.field(("index",), "a part index is >= 0")
    if not tweet_id.isdigit():
        raise InvalidInput.field(("tweet_id",), "a tweet id is digits")
    return {f"parts.{index}.status": "posted", f"parts.{index}.tweet_id": tweet_id}


def merged_posted_patch(reply: int, index: int, text: str, tweet_id: str) -> Record:
    """Post ``index`` of the reply to merged asker ``reply`` is on X, with this text."""
    if reply < 0 or index < 0:
        raise InvalidInput.field(("index",), "an index is >= 0")
    if not tweet_id.isdigit():
        raise InvalidInput.field(("tweet_id",), "a tweet id is digits")
    at = f"merged.{reply}.parts.{index}"
    return {f"{at}.status": "posted", f"{at}.tweet_id": tweet_id, f"{at}.text": text}


def merged_refused_patch(reply: int, reason: str) -> Record:
    """X refused the reply to merged asker ``reply``: keep its reason, post no more of it."""
    if reply < 0:
        raise InvalidInput.field(("index",), "an index is >= 0")
    return {f"merged.{reply}.error": reason.strip()[:1000] or "refused by X"}


def merged_added_patch(answer: Answer, added: Sequence[MergedReply]) -> Record:
    """The answer's replies to merged askers with ``added`` after them (the indexes of
    the replies already there stay, so the posts recorded under them keep their place)."""
    replies = [*answer.merged, *added]
    return {"merged": [r.model_dump(mode="json") for r in replies]}


def fail_patch(error: str) -> Record:
    return {"error": error.strip()[:1000] or "unknown error"}
