"""Questions tweeted by the public: the model and its moderation state machine (pure).

Lifecycle::

    pending --approve--> approved --answer--> answered
    pending|approved --reject(reason)--> rejected --restore--> pending
    pending|approved --merge(into)--> merged --restore--> pending
    approved --requeue--> pending          (handed back to the moderators, with a reason)

Annotations (star, prioritize, tag, note) keep the status and are allowed on every status
but merged; ``edit`` (the moderator's display text; the original text stays) only before
the question is answered. A question's id derives from its source tweet id, so receiving
the same tweet twice is a no-op. ``likes`` (the post's like count on X, refreshed by
intake) is not moderation state: updating it keeps the version.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Literal
from urllib.parse import quote

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    computed_field,
    field_validator,
)

from atexpert.domain import twittertext
from atexpert.domain.errors import IllegalTransition, InvalidInput
from atexpert.domain.events import (
    Change,
    EventKind,
    Guard,
    JsonList,
    Record,
    StateMachine,
)

#: X long posts ("note tweets") go up to 25,000 characters.
MAX_TEXT = 25_000
MAX_REASON = 500
MAX_NOTE = 2_000
MAX_TAGS = 20
MAX_TAG = 50
MAX_PRIORITY = 1_000_000


class QuestionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    ANSWERED = "answered"
    REJECTED = "rejected"
    MERGED = "merged"


class QuestionAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    MERGE = "merge"
    REQUEUE = "requeue"
    RESTORE = "restore"
    ANSWER = "answer"
    EDIT = "edit"
    STAR = "star"
    PRIORITIZE = "prioritize"
    TAG = "tag"
    NOTE = "note"
    ASSIGN = "assign"
    #: Guard only: the target of a merge must be one of these.
    MERGE_INTO = "merge into"


_S, _A = QuestionStatus, QuestionAction
_ANNOTATIONS = (_A.STAR, _A.PRIORITIZE, _A.TAG, _A.NOTE)
_table: dict[tuple[QuestionStatus, QuestionAction], QuestionStatus] = {
    (_S.PENDING, _A.APPROVE): _S.APPROVED,
    (_S.PENDING, _A.REJECT): _S.REJECTED,
    (_S.APPROVED, _A.REJECT): _S.REJECTED,
    (_S.PENDING, _A.MERGE): _S.MERGED,
    (_S.APPROVED, _A.MERGE): _S.MERGED,
    (_S.APPROVED, _A.REQUEUE): _S.PENDING,
    (_S.REJECTED, _A.RESTORE): _S.PENDING,
    (_S.MERGED, _A.RESTORE): _S.PENDING,
    (_S.APPROVED, _A.ANSWER): _S.ANSWERED,
    (_S.PENDING, _A.EDIT): _S.PENDING,
    (_S.APPROVED, _A.EDIT): _S.APPROVED,
}
for _status in (_S.PENDING, _S.APPROVED, _S.ANSWERED, _S.REJECTED):
    for _action in _ANNOTATIONS:
        _table[(_status, _action)] = _status
for _status in (_S.PENDING, _S.APPROVED, _S.ANSWERED):
    _table[(_status, _A.MERGE_INTO)] = _status
for _status in (_S.PENDING, _S.APPROVED):  # waiting questions (atexpert.domain.desk)
    _table[(_status, _A.ASSIGN)] = _status

MACHINE: StateMachine[QuestionStatus, QuestionAction] = StateMachine("question", _table)

_KIND = {
    _A.APPROVE: EventKind.QUESTION_APPROVED,
    _A.REJECT: EventKind.QUESTION_REJECTED,
    _A.MERGE: EventKind.QUESTION_MERGED,
    _A.REQUEUE: EventKind.QUESTION_REQUEUED,
    _A.RESTORE: EventKind.QUESTION_RESTORED,
    _A.ANSWER: EventKind.QUESTION_ANSWERED,
    _A.EDIT: EventKind.QUESTION_EDITED,
    _A.STAR: EventKind.QUESTION_STARRED,
    _A.PRIORITIZE: EventKind.QUESTION_PRIORITIZED,
    _A.TAG: EventKind.QUESTION_TAGGED,
    _A.NOTE: EventKind.QUESTION_NOTED,
    _A.ASSIGN: EventKind.QUESTION_ASSIGNED,
}
_DECISIONS = (_A.APPROVE, _A.REJECT, _A.MERGE, _A.REQUEUE, _A.RESTORE)


#: Validation context of a record read back from Redis (see :func:`load`).
STORED = "stored"
#: A handle's length before X's rule was checked: such stored handles still load.
_LEGACY_HANDLE_LENGTH = range(1, 51)


class Author(BaseModel):
    """Snapshot of the tweet's author when the question was received.

    ``handle`` follows X's username rule (:data:`twittertext.USERNAME_PATTERN`; a leading
    "@" is dropped) wherever a question enters: intake, an admin's manual add, an import.
    A question stored before the rule was checked keeps its handle when read back (context
    :data:`STORED`); the exports escape it, and importing it is refused.
    """

    model_config = ConfigDict(extra="ignore")

    id: str = Field(pattern=r"^[0-9]{1,20}$")
    handle: str = Field(
        description="The author's X username (1-15 letters, digits or underscores; a "
        "leading @ is dropped)",
        json_schema_extra={"pattern": twittertext.USERNAME_PATTERN},
    )
    name: str = Field(default="", max_length=100)
    followers: int = Field(default=0, ge=0)
    verified: bool = False
    account_created_at: AwareDatetime | None = None

    @field_validator("handle")
    @classmethod
    def _x_username(cls, v: str, info: ValidationInfo) -> str:
        handle = twittertext.username(v)
        if handle is not None:
            return handle
        if info.context and info.context.get(STORED) and len(v) in _LEGACY_HANDLE_LENGTH:
            return v
        raise ValueError(twittertext.HANDLE_RULE)


class IncomingQuestion(BaseModel):
    """A question as intake hands it to the store."""

    model_config = ConfigDict(extra="forbid")

    tweet_id: str = Field(pattern=r"^[0-9]{1,20}$")
    author: Author
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    created_at: AwareDatetime = Field(description="When the tweet was posted")
    replyable: bool | None = Field(
        default=None,
        description="The host may reply to it on X: it mentions the host and its reply "
        "settings allow it (None: unknown)",
    )
    likes: int = Field(default=0, ge=0, description="The post's like count on X when read")


class Question(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(description='"q_" + the source tweet id')
    session_id: str
    author: Author
    text: str
    display_text: str | None = None
    received_at: AwareDatetime
    created_at: AwareDatetime
    #: The host may reply to the tweet on X (see :class:`IncomingQuestion`); None: unknown.
    replyable: bool | None = None
    #: The post's like count on X as last read (intake refreshes it; not moderation state).
    likes: int = Field(default=0, ge=0)
    status: QuestionStatus = QuestionStatus.PENDING
    starred: bool = False
    priority: int = 0
    tags: JsonList[str] = []
    moderator_note: str | None = None
    #: Sent back to the queue by an expert or a moderator (``decided_by``) since approved.
    handed_back: bool = False
    handback_reason: str | None = None
    reject_reason: str | None = None
    merged_into: str | None = None
    answer_id: str | None = None
    decided_by: str | None = None
    decided_at: AwareDatetime | None = None
    #: Desk mode (atexpert.domain.desk): the agent on duty it is assigned to, and the
    #: note of the last hand-over.
    assignee: str | None = None
    handover_note: str | None = None
    version: int = 1

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tweet_id(self) -> str:
        return self.id.removeprefix("q_")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def url(self) -> str:
        """The post's address on X itself (see :func:`post_link` for the configured X)."""
        return post_link(self.author.handle, self.tweet_id)

    @property
    def shown_text(self) -> str:
        return self.display_text if self.display_text is not None else self.text

    def record(self) -> Record:
        """The stored form: defaults and what the key implies left out (Redis memory)."""
        implied = {"url", "tweet_id", "session_id"}
        return self.model_dump(mode="json", exclude_defaults=True, exclude=implied) | {
            "status": self.status.value,
            "version": self.version,
        }


#: Where X shows a post on the web; ``{handle}`` and ``{id}`` are filled in.
X_POST_LINK = "https://x.com/{handle}/status/{id}"


def post_link(handle: str, tweet_id: str, template: str = X_POST_LINK) -> str:
    """The web address of post ``tweet_id`` by ``handle``, after ``template`` (X's by
    default; the configured X's is ``Settings.x_post_link``)."""
    return template.replace("{handle}", quote(handle or "i", safe="")).replace(
        "{id}", quote(tweet_id, safe="")
    )


def load(raw: str, session_id: str) -> Question:
    """A question from its stored JSON, which leaves out the session id."""
    record = {**json.loads(raw), "session_id": session_id}
    return Question.model_validate(record, context={STORED: True})


def question_id(tweet_id: str) -> str:
    return "q_" + tweet_id


def received(incoming: IncomingQuestion, *, session_id: str, at: datetime) -> Question:
    return Question(
        id=question_id(incoming.tweet_id),
        session_id=session_id,
        author=incoming.author,
        text=incoming.text,
        received_at=at,
        created_at=incoming.created_at,
        replyable=incoming.replyable,
        likes=incoming.likes,
    )


def likes_change(question_id: str, likes: int, *, actor: str, at: datetime) -> Change:
    """Set the like count read on X (``question.metrics``), in any status. It is not
    moderation state: the version stays (a moderator's pending approve still holds), an
    unchanged count writes nothing, and a missing question is skipped."""
    if likes < 0:
        raise InvalidInput.field(("likes",), "a like count is >= 0")
    return Change(
        entity="question",
        entity_id=question_id,
        action="metrics",
        kind=EventKind.QUESTION_METRICS,
        sources=frozenset(s.value for s in QuestionStatus),
        patch={"likes": likes},
        actor=actor,
        at=at,
        optional=True,
        keep_version=True,
    )


def illegal(record: Record, action: str) -> IllegalTransition:
    q = Question.model_validate({"session_id": "", **record}, context={STORED: True})
    try:
        MACHINE.next(q.status, QuestionAction(action), q.id, by=q.decided_by, at=q.decided_at)
    except IllegalTransition as exc:
        return exc
    raise AssertionError(f"{action} is legal from {q.status}")


def change(
    question_id: str,
    action: QuestionAction,
    *,
    actor: str,
    at: datetime,
    patch: Record | None = None,
    expected_version: int | None = None,
    optional: bool = False,
) -> Change:
    """The guarded change of one question action (arguments already validated)."""
    body: Record = dict(patch or {})
    if action in _DECISIONS:
        body |= {"decided_by": actor, "decided_at": at.isoformat()}
    return MACHINE.change(
        question_id,
        action,
        _KIND[action],
        body,
        actor=actor,
        at=at,
        expected_version=expected_version,
        optional=optional,
    )


def reject_patch(reason: str) -> Record:
    reason = reason.strip()
    if not reason:
        raise InvalidInput.field(("reason",), "a reason is required to reject a question")
    if len(reason) > MAX_REASON:
        raise InvalidInput.field(("reason",), f"at most {MAX_REASON} characters")
    return {"reject_reason": reason}


def merge_plan(question_id: str, into: str, *, actor: str, at: datetime) -> tuple[Change, Guard]:
    """Merge ``question_id`` into ``into``, which must be a non-merged question."""
    if into == question_id:
        raise InvalidInput.field(("into",), "a question cannot be merged into itself")
    guard = MACHINE.guard(into, _A.MERGE_INTO)
    step = change(question_id, _A.MERGE, actor=actor, at=at, patch={"merged_into": into})
    return step, guard


RESTORE_PATCH: Record = {
    "reject_reason": None,
    "merged_into": None,
    "handed_back": False,
    "handback_reason": None,
}


def requeue_patch(reason: str | None) -> Record:
    """Hand back to the moderators, saying why (optional)."""
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidInput.field(("reason",), f"at most {MAX_REASON} characters")
    return {"handed_back": True, "handback_reason": reason}


def edit_patch(display_text: str | None) -> Record:
    if display_text is not None and not display_text.strip():
        raise InvalidInput.field(("display_text",), "the text cannot be empty")
    if display_text is not None and len(display_text) > MAX_TEXT:
        raise InvalidInput.field(("display_text",), f"at most {MAX_TEXT} characters")
    return {"display_text": display_text}


def tags_patch(tags: list[str]) -> Record:
    clean: list[str] = []
    for i, tag in enumerate(tags):
        tag = tag.strip()
        if not tag or len(tag) > MAX_TAG:
            raise InvalidInput.field(("tags", i), f"a tag is 1-{MAX_TAG} characters")
        if tag not in clean:
            clean.append(tag)
    if len(clean) > MAX_TAGS:
        raise InvalidInput.field(("tags",), f"at most {MAX_TAGS} tags")
    return {"tags": clean}


def priority_patch(priority: int) -> Record:
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise InvalidInput.field(("priority",), f"between -{MAX_PRIORITY} and {MAX_PRIORITY}")
    return {"priority": priority}


def note_patch(note: str | None) -> Record:
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInput.field(("note",), f"at most {MAX_NOTE} characters")
    return {"moderator_note": note or None}


#: What staff can do to a question: the question commands (atexpert.web.commands) and the
#: ``action`` of a websocket question message (atexpert.live.protocol).
QuestionCommandName = Literal[
    "approve",
    "reject",
    "merge",
    "requeue",
    "restore",
    "edit",
    "star",
    "priority",
    "tags",
    "note",
    "assign",
]
