"""The public recap of a closed session: every published answer with its questions (pure).

Each item is one published answer, in publishing order: the questions it answers (with the
askers whose questions were merged into them, each with the post that answered them on X)
and each post of its reply thread, linked to the configured X (``Settings.x_post_link``;
``https://x.com/<handle>/status/<id>`` by default). Approved questions left unanswered are listed
apart, for the page to show with a note. An answer's questions are shown only when the
public may see them (:mod:`atexpert.domain.views`): one rejected while the answer was queued is not.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from atexpert.domain.answers import Answer, AnswerStatus
from atexpert.domain.merged import merged_into
from atexpert.domain.questions import X_POST_LINK, Question, QuestionStatus, post_link
from atexpert.domain.sessions import SessionStatus
from atexpert.domain.views import Audience, sees_status
from atexpert.store.store import SessionSnapshot

#: Statuses whose recap is public.
RECAP_STATUSES = (SessionStatus.CLOSED, SessionStatus.ARCHIVED)


def recap_url(public_base_url: str, session_id: str) -> str:
    """Where the recap of ``session_id`` is published (the link to share)."""
    return public_base_url.rstrip("/") + "/recap/" + session_id


class Asker(BaseModel):
    handle: str
    name: str = ""
    url: str
    text: str
    #: The first post that answered this asker on X (None: not answered, or refused by X).
    answered_by: str | None = None


class RecapQuestion(BaseModel):
    id: str
    handle: str
    text: str
    url: str
    merged: list[Asker]


class RecapPost(BaseModel):
    text: str
    url: str | None


class RecapItem(BaseModel):
    answer_id: str
    questions: list[RecapQuestion]
    posts: list[RecapPost]
    published_at: datetime


class SeriesLink(BaseModel):
    """The series a session is an occurrence of: its public page."""

    title: str
    path: str


class Recap(BaseModel):
    session_id: str
    title: str
    description: str
    guest: str = ""
    language: str
    hashtags: list[str]
    host_handle: str
    started_at: datetime | None
    closed_at: datetime | None
    items: list[RecapItem]
    unanswered: list[RecapQuestion]
    series: SeriesLink | None = None


def _question(
    q: Question, merged: dict[str, list[Question]], replies: dict[str, str], host: str, links: str
) -> RecapQuestion:
    def url(handle: str, tweet_id: str) -> str:
        return post_link(handle, tweet_id, links)

    return RecapQuestion(
        id=q.id,
        handle=q.author.handle,
        text=q.shown_text,
        url=url(q.author.handle, q.tweet_id),
        merged=[
            Asker(
                handle=m.author.handle,
                name=m.author.name,
                url=url(m.author.handle, m.tweet_id),
                text=m.text,
                answered_by=url(host, replies[m.id]) if m.id in replies else None,
            )
            for m in merged.get(q.id, [])
        ],
    )


def _merged_replies(answers: list[Answer]) -> dict[str, str]:
    """The first post of each merged asker's reply, by merged question id."""
    out: dict[str, str] = {}
    for answer in answers:
        for reply in answer.merged:
            first = reply.parts[0].tweet_id if reply.parts else None
            if first is not None:
                out.setdefault(reply.question_id, first)
    return out


def build(
    snapshot: SessionSnapshot, links: str = X_POST_LINK, series: SeriesLink | None = None
) -> Recap:
    """The recap view model of ``snapshot`` (any status; the page shows closed ones), its
    posts linked after the template ``links``, linking back to its ``series`` if any."""
    session = snapshot.session
    handle = session.host_account.handle
    merged = merged_into(snapshot.questions.values())
    published = sorted(
        (a for a in snapshot.answers.values() if a.status is AnswerStatus.PUBLISHED),
        key=lambda a: (a.updated_at, a.id),
    )
    replies = _merged_replies(published)
    items = [
        RecapItem(
            answer_id=a.id,
            questions=[
                _question(q, merged, replies, handle, links)
                for q in (snapshot.questions.get(qid) for qid in a.question_ids)
                if q is not None and sees_status(Audience.PUBLIC, "question", q.status)
            ],
            posts=[
                RecapPost(
                    text=p.text,
                    url=post_link(handle, p.tweet_id, links) if p.tweet_id else None,
                )
                for p in a.parts
            ],
            published_at=a.updated_at,
        )
        for a in published
    ]
    waiting = sorted(
        (q for q in snapshot.questions.values() if q.status is QuestionStatus.APPROVED),
        key=lambda q: (q.received_at, q.id),
    )
    return Recap(
        session_id=session.id,
        title=session.title,
        description=session.description,
        guest=session.guest,
        language=session.language,
        hashtags=list(session.hashtags),
        host_handle=handle,
        started_at=session.started_at,
        closed_at=session.closed_at,
        items=items,
        unanswered=[_question(q, merged, replies, handle, links) for q in waiting],
        series=series,
    )
