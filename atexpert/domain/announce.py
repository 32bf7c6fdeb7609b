"""Announcement posts at the start and end of a session, in French or English (pure).

The start announcement becomes the root of the session's own thread on X: answers to
questions that cannot be replied to directly continue under it. A session turns both
announcements off with ``options.announce = False``. Texts always fit one post: the title
is shortened (with "…") until the whole text weighs at most 280.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from atexpert.domain import twittertext
from atexpert.domain.plural import plural
from atexpert.domain.sessions import Session

NNBSP = "\u202f"  # French: a narrow no-break space before ? ! : ;


class Moment(StrEnum):
    START = "start"
    END = "end"


TEMPLATES: dict[str, dict[Moment, str]] = {
    "en": {
        Moment.START: (
            "We're live: {title}\n"
            "Ask your questions with {hashtags} and mention @{handle}. "
            "Answers come in this thread."
        ),
        Moment.END: (
            "That's a wrap: {title}\n{answered}. Thank you for your questions {hashtags}!"
        ),
    },
    "fr": {
        Moment.START: (
            f"C'est parti{NNBSP}: {{title}}\n"
            "Posez vos questions avec {hashtags} en mentionnant @{handle}. "
            "Les réponses arrivent dans ce fil."
        ),
        Moment.END: (
            f"C'est terminé{NNBSP}: {{title}}\n"
            f"{{answered}}. Merci pour vos questions {{hashtags}}{NNBSP}!"
        ),
    },
}


#: ``{answered}`` of the end announcement: the answers posted, singular and plural.
ANSWERED: dict[str, tuple[str, str]] = {
    "en": ("{n} answer posted", "{n} answers posted"),
    "fr": ("{n} réponse publiée", "{n} réponses publiées"),
}


class Announcement(BaseModel):
    moment: Moment
    text: str
    weighted_length: int


class AnnouncementPreview(BaseModel):
    """What the session will post, or ``enabled: false`` when announcements are off."""

    enabled: bool
    language: str
    start: Announcement
    end: Announcement


#: The end announcement's last line when the session's recap page is linked.
RECAP_LINE = {
    "en": "\nEvery answer: {recap_url}",
    "fr": f"\nToutes les réponses{NNBSP}: {{recap_url}}",
}


def render(
    session: Session, moment: Moment, *, answered: int = 0, recap_url: str | None = None
) -> str:
    """The announcement text in the session's language, shortened to fit one post.

    ``recap_url`` (see :func:`atexpert.recap.summary.recap_url`): the end announcement links to it.
    """
    template = TEMPLATES[session.language][moment]
    if moment is Moment.END and recap_url:
        template += RECAP_LINE[session.language]
    title = session.title.strip()
    counted = plural(answered, session.language, *ANSWERED[session.language])
    while True:
        text = template.format(
            title=title,
            hashtags=" ".join(session.hashtags),
            handle=session.host_account.handle,
            answered=counted,
            recap_url=recap_url,
        )
        if twittertext.is_valid(text) or not title:
            return text
        title = title[: max(len(title) - 10, 0)].rstrip()
        title = title + "…" if title else ""


def announcement(
    session: Session, moment: Moment, *, answered: int = 0, recap_url: str | None = None
) -> Announcement:
    text = render(session, moment, answered=answered, recap_url=recap_url)
    return Announcement(moment=moment, text=text, weighted_length=twittertext.weighted_length(text))


def preview(
    session: Session, *, answered: int = 0, recap_url: str | None = None
) -> AnnouncementPreview:
    return AnnouncementPreview(
        enabled=session.options.announce,
        language=session.language,
        start=announcement(session, Moment.START),
        end=announcement(session, Moment.END, answered=answered, recap_url=recap_url),
    )
