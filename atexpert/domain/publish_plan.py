"""How an answer becomes a thread on X (pure, no I/O).

Part 1 replies to the question's post when X lets the host reply to it: since 2026 an API
reply is allowed only to a post that mentions the replying account (the "summoned reply"
rule). Otherwise part 1 continues the session's own thread (under the start announcement,
or as a new post when announcements are off) and quotes the question: «Q @who: …».
Each next part replies to the previous one. The texts come from :mod:`atexpert.domain.splitter`
with the session's numbering and signature.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from atexpert.domain import twittertext
from atexpert.domain.answers import Answer
from atexpert.domain.questions import Question
from atexpert.domain.sessions import Session
from atexpert.domain.splitter import Numbering, SplitOptions, preview

QUOTE_WEIGHT = 120
"""The quoted question weighs at most this much, so it always stays within part 1."""


class Route(StrEnum):
    REPLY = "reply"  # part 1 replies to the question's post
    SESSION_THREAD = "session_thread"  # part 1 continues the session's thread
    STANDALONE = "standalone"  # no thread to continue (announcements off)


class PlannedPart(BaseModel):
    text: str
    weighted_length: int


class ThreadPlan(BaseModel):
    """The posts of one answer and where part 1 goes (``reply_to`` None: a new post)."""

    route: Route
    reply_to: str | None
    parts: list[PlannedPart]


def can_reply(question: Question, session: Session) -> bool:
    """X accepts an API reply to the question: as intake saw it (``replyable``), else
    (unknown) the reply rule on its text (:func:`atexpert.domain.twittertext.may_reply`)."""
    if question.replyable is not None:
        return question.replyable
    return twittertext.may_reply(question.text, session.host_account.handle)


def quote(question: Question, limit: int = QUOTE_WEIGHT) -> str:
    """«Q @who: text» with the text cut at a word (and "…") to weigh at most ``limit``."""
    words = " ".join(question.shown_text.split())
    head = f"«Q @{question.author.handle}: "
    text = words
    while twittertext.weighted_length(f"{head}{text}»") > limit:
        cut = text[: max(len(text) - 8, 0)]
        space = cut.rfind(" ")
        text = (cut[:space] if space > 0 else cut).rstrip() + "…"
        if len(text) <= 1:
            break
    return f"{head}{text}»"


def split_options(session: Session) -> SplitOptions:
    return SplitOptions(
        numbering=Numbering.SUFFIX if session.options.numbering else Numbering.NONE,
        signature=session.options.signature or "",
    )


def thread_texts(text: str, options: SplitOptions) -> list[PlannedPart]:
    """The split, without "1/1" numbering when the answer fits one post."""
    parts = preview(text, options)
    if len(parts) == 1 and options.numbering is not Numbering.NONE:
        parts = preview(text, options.model_copy(update={"numbering": Numbering.NONE}))
    return [PlannedPart(text=p.text, weighted_length=p.weighted_length) for p in parts]


def plan(answer: Answer, question: Question, session: Session, root_id: str | None) -> ThreadPlan:
    """The thread for ``answer`` to ``question`` (its first question when several)."""
    options = split_options(session)
    if can_reply(question, session):
        return ThreadPlan(
            route=Route.REPLY,
            reply_to=question.tweet_id,
            parts=thread_texts(answer.text, options),
        )
    body = quote(question) + "\n\n" + answer.text
    return ThreadPlan(
        route=Route.SESSION_THREAD if root_id else Route.STANDALONE,
        reply_to=root_id,
        parts=thread_texts(body, options),
    )
