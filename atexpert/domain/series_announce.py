"""The announcement posts before an occurrence of a series (pure): text, time, price, state.

By default a series announces each occurrence 7 days, 1 day and 15 minutes before its start
(``Series.announce_before_minutes``); the start and closing posts follow as for any session
(:mod:`atexpert.domain.announce`). Each announcement is previewed (the text in the session's
language, shortened to fit one post), priced (one post, :mod:`atexpert.domain.costs`) and
editable: the admin may replace its text or skip it until it is posted.

States: ``scheduled`` -> ``posting`` (claimed by the scheduler's leader, the text fixed) ->
``posted`` (with its tweet id); ``skipped`` by the admin; ``missed`` when the app was down
past its time (more than half its offset late: a "tomorrow" post is not sent the same
evening); ``failed`` when X refused it. Only ``scheduled`` and ``skipped`` may be edited.
Each change writes its event (``announcement.*``) in the session's log in the same step.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from atexpert.domain import twittertext
from atexpert.domain.announce import NNBSP
from atexpert.domain.clock import shown_time
from atexpert.domain.costs import cost, post_kind
from atexpert.domain.plural import plural
from atexpert.domain.sessions import Session

AnnouncementStatus = Literal["scheduled", "posting", "posted", "skipped", "missed", "failed"]
#: The states an admin may still edit (replace the text, skip, or un-skip).
EDITABLE = ("scheduled", "skipped")

TEMPLATES = {
    "en": (
        "{when}: {title}{guest}\n{date}. Ask your questions with {hashtags} and mention @{handle}!"
    ),
    "fr": (
        f"{{when}}{NNBSP}: {{title}}{{guest}}\n{{date}}. Posez vos questions avec {{hashtags}} "
        f"en mentionnant @{{handle}}{NNBSP}!"
    ),
}
#: ``{guest}`` when the session has one (the occurrence's own expert), else nothing.
WITH_GUEST = {"en": ", with {guest}", "fr": ", avec {guest}"}
#: ``{when}``: (one day, days, hours, minutes), singular and plural.
WHEN = {
    "en": ("Tomorrow", ("In {n} day", "In {n} days"), ("In {n} hour", "In {n} hours")),
    "fr": ("Demain", ("Dans {n} jour", "Dans {n} jours"), ("Dans {n} heure", "Dans {n} heures")),
}
MINUTES = {"en": ("In {n} minute", "In {n} minutes"), "fr": ("Dans {n} minute", "Dans {n} minutes")}


class AnnouncementState(BaseModel):
    """What is stored for one announcement (absent: scheduled, the text rendered), and what
    each of its events in the session's log carries (``announcement.*``)."""

    model_config = ConfigDict(extra="ignore")

    #: The minutes before the start, as text (the entity id of its events).
    id: str = ""
    status: AnnouncementStatus = "scheduled"
    #: The admin's text (until posted), then the text claimed for the post.
    text: str | None = None
    tweet_id: str | None = None
    fence: int | None = None
    attempt_at: AwareDatetime | None = None
    posted_at: AwareDatetime | None = None
    reason: str | None = None
    edited_by: str | None = None
    #: Bumped by each change, each with its event.
    version: int = 0


class PlannedAnnouncement(BaseModel):
    """One announcement of an occurrence as the admin sees it."""

    before_minutes: int
    due_at: AwareDatetime
    text: str
    weighted_length: int
    price_usd: Decimal
    status: AnnouncementStatus
    #: Whether the text is the admin's rather than the rendered one.
    edited: bool = False
    tweet_id: str | None = None
    reason: str | None = None


class AnnouncementEdit(BaseModel):
    """Replace the text of one announcement, or skip it (or take a skip back)."""

    model_config = ConfigDict(extra="forbid")

    before_minutes: int = Field(ge=1, description="Which announcement: minutes before the start")
    text: str | None = Field(
        default=None, min_length=1, max_length=1000, description="null: the rendered text"
    )
    skip: bool = False


def when(before_minutes: int, language: str) -> str:
    tomorrow, days, hours = WHEN[language]
    if before_minutes == 24 * 60:
        return tomorrow
    if before_minutes % (24 * 60) == 0:
        return plural(before_minutes // (24 * 60), language, *days)
    if before_minutes % 60 == 0:
        return plural(before_minutes // 60, language, *hours)
    return plural(before_minutes, language, *MINUTES[language])


def render(session: Session, before_minutes: int) -> str:
    """The announcement text in the session's language, with its guest if it has one,
    shortened to fit one post (the title first)."""
    lang = session.language
    title = session.title.strip()
    guest = session.guest.strip()
    while True:
        text = TEMPLATES[lang].format(
            when=when(before_minutes, lang),
            title=title,
            guest=WITH_GUEST[lang].format(guest=guest) if guest else "",
            date=shown_time(session.scheduled_start, session.time_zone, lang),
            hashtags=" ".join(session.hashtags),
            handle=session.host_account.handle,
        )
        if twittertext.is_valid(text) or not (title or guest):
            return text
        if title:
            title = title[: max(len(title) - 10, 0)].rstrip()
            title = title + "…" if title else ""
        else:
            guest = ""  # still too long without a title: the guest goes too


def check_text(text: str) -> None:
    """A replacement text must fit one post (ValueError otherwise)."""
    if not twittertext.is_valid(text):
        weight = twittertext.weighted_length(text)
        raise ValueError(f"the text weighs {weight}, more than one post (280)")


def due_at(session: Session, before_minutes: int) -> datetime:
    return session.scheduled_start - timedelta(minutes=before_minutes)


def missed(session: Session, before_minutes: int, now: datetime) -> bool:
    """Too late to post: more than half its offset past its time."""
    late = now - due_at(session, before_minutes)
    return late > timedelta(minutes=before_minutes) / 2


def text_of(session: Session, before_minutes: int, state: AnnouncementState) -> str:
    return state.text if state.text is not None else render(session, before_minutes)


def planned(
    session: Session, offsets: list[int], states: dict[int, AnnouncementState]
) -> list[PlannedAnnouncement]:
    """The announcements of ``session`` (none when its announcements are off), earliest first."""
    if not session.options.announce:
        return []
    out = []
    for before in sorted(offsets, reverse=True):
        state = states.get(before, AnnouncementState())
        text = text_of(session, before, state)
        out.append(
            PlannedAnnouncement(
                before_minutes=before,
                due_at=due_at(session, before),
                text=text,
                weighted_length=twittertext.weighted_length(text),
                price_usd=cost(post_kind(text)),
                status=state.status,
                edited=state.edited_by is not None and state.text is not None,
                tweet_id=state.tweet_id,
                reason=state.reason,
            )
        )
    return out
