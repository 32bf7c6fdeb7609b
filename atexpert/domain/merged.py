"""Merged askers: everyone whose question was merged into an answered one gets the answer
on X too (pure, no I/O).

Within X's rules (:func:`atexpert.domain.publish_plan.can_reply`): a reply to the asker's
post when that post summoned the host, otherwise a mention in the session's own thread. The
session chooses what they get (:class:`~atexpert.domain.sessions.MergedReplies`):

- ``thread``: the whole answer, each post signed with the asker's @handle (X refuses a
  second post with the same text, and the mention tells the asker);
- ``link``: one short post linking to the answer's first post (billed as a post with a link).

One reply per asker: a second merged question of the same author, or of an author of the
answer's own questions, gets none. A question merged once the answer is claimed (publishing
or published) adds its asker's reply to the answer (:func:`late_askers`), as long as the
session's publisher still posts and its closing post is not on X (:func:`late_refusal`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from pydantic import BaseModel

from atexpert.domain.announce import NNBSP
from atexpert.domain.answers import Answer, AnswerPart, MergedReply
from atexpert.domain.costs import DEFAULT_RATE_CARD, RateCard, cost, post_kind
from atexpert.domain.publish_plan import Route, can_reply, quote, split_options, thread_texts
from atexpert.domain.questions import Question, QuestionStatus, post_link
from atexpert.domain.sessions import MergedReplies, Session, SessionStatus

LINK_TEXT = {
    "en": "@{handle} Your question is answered here: {url}",
    "fr": f"@{{handle}} La réponse à votre question est ici{NNBSP}: {{url}}",
}
#: A post id of X's length, to price a link reply before the answer is on X.
_SAMPLE_ID = "1" * 19


def merged_into(questions: Iterable[Question]) -> dict[str, list[Question]]:
    """Merged questions by the question they ended up in (following chains of merges),
    each group in arrival order."""
    by_id = {q.id: q for q in questions}
    out: dict[str, list[Question]] = {}
    for q in by_id.values():
        if q.status is not QuestionStatus.MERGED or q.merged_into is None:
            continue
        target, seen = q.merged_into, {q.id}
        while (nxt := by_id.get(target)) is not None and nxt.merged_into:
            if nxt.status is not QuestionStatus.MERGED or target in seen:
                break
            seen.add(target)
            target = nxt.merged_into
        out.setdefault(target, []).append(q)
    for group in out.values():
        group.sort(key=lambda q: (q.received_at, q.id))
    return out


def askers(answered: Sequence[Question], merged: Iterable[Question]) -> list[Question]:
    """The merged questions whose askers get the answer to ``answered``: one per author,
    none to an author of ``answered``. ``merged``: the session's merged questions."""
    groups = merged_into([*answered, *merged])
    seen = {q.author.id for q in answered}
    out: list[Question] = []
    for target in answered:
        for q in groups.get(target.id, []):
            if q.author.id not in seen:
                seen.add(q.author.id)
                out.append(q)
    return out


def late_askers(
    answered: Sequence[Question], merged: Iterable[Question], replied: Iterable[Question]
) -> list[Question]:
    """:func:`askers` whose author has no reply planned yet (``replied``: the questions
    the answer's planned replies answer)."""
    done = {q.author.id for q in replied}
    return [q for q in askers(answered, merged) if q.author.id not in done]


#: The session statuses in which a reply to a late merged asker can still be posted.
_REPLYING = (SessionStatus.LIVE, SessionStatus.WRAPPING_UP, SessionStatus.CLOSED)


def late_refusal(session: Session) -> str | None:
    """Why a question can no longer be merged into an answer already claimed (its asker
    would get no reply, or one after the closing post); None when it can."""
    if session.closing_tweet_id is not None:
        return "the closing post is on X: its asker could no longer be answered"
    if session.status not in _REPLYING:
        return f"the session is {session.status.value}: its asker could no longer be answered"
    return None


def plan_reply(
    answer: Answer, question: Question, session: Session, root: str | None
) -> MergedReply:
    """What the asker of merged ``question`` gets, as the publisher will post it."""
    summoned = can_reply(question, session)
    route = Route.REPLY if summoned else Route.SESSION_THREAD if root else Route.STANDALONE
    handle = question.author.handle
    if session.options.merged_replies is MergedReplies.LINK:
        parts = [AnswerPart(text="")]
    else:
        mention = f"@{handle}"
        sign = session.options.signature
        options = split_options(session).model_copy(
            update={
                "signature": f"{sign} {mention}" if sign else mention,
                "signature_on_every_part": True,
            }
        )
        body = answer.text if summoned else f"{quote(question)}\n\n{answer.text}"
        parts = [AnswerPart(text=p.text) for p in thread_texts(body, options)]
    return MergedReply(
        question_id=question.id,
        handle=handle,
        name=question.author.name,
        route=route.value,
        reply_to=question.tweet_id if summoned else root,
        link=session.options.merged_replies is MergedReplies.LINK,
        parts=parts,
    )


def link_text(language: str, handle: str, url: str) -> str:
    """The one post of a ``link`` reply, in the session's language."""
    return LINK_TEXT.get(language, LINK_TEXT["en"]).format(handle=handle, url=url)


def text_of(reply: MergedReply, index: int, session: Session, answer_url: str) -> str:
    """The text of post ``index`` of ``reply``: as planned, or the link to ``answer_url``."""
    part = reply.parts[index]
    return part.text or link_text(session.language, reply.handle, answer_url)


class Summary(BaseModel):
    """What the merged askers of an answer cost, as the expert's preview shows it."""

    askers: list[MergedReply]
    posts: int
    cost: Decimal


def summarize(
    replies: list[MergedReply], session: Session, card: RateCard = DEFAULT_RATE_CARD
) -> Summary:
    """The replies, their posts and their price (a link priced with a sample post id)."""
    sample = post_link(session.host_account.handle, _SAMPLE_ID)
    total = Decimal(0)
    posts = 0
    for reply in replies:
        for i in range(len(reply.parts)):
            summoned = i == 0 and reply.route == Route.REPLY.value
            total += cost(
                post_kind(text_of(reply, i, session, sample), summoned_reply=summoned), card=card
            )
            posts += 1
    return Summary(askers=replies, posts=posts, cost=total)
