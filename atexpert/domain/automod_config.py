"""Auto-moderation settings of a session: the rules, their actions and the config model.

Pure; :mod:`atexpert.domain.automod` evaluates questions against an :class:`AutomodConfig`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from atexpert.domain import twittertext
from atexpert.domain.automod_words import LANGUAGES, Language, normalize


class Rule(StrEnum):
    BANNED = "banned-author"
    TRUSTED = "trusted-author"
    RAID = "raid-hold"
    BLOCKLIST = "blocklist"
    PROFANITY_FR = "profanity-fr"
    PROFANITY_EN = "profanity-en"
    LINK_ONLY = "link-only"
    DUPLICATE = "spam-duplicate"
    SHOUTING = "spam-shouting"
    REPEATED = "spam-repeated-chars"
    HASHTAGS = "spam-hashtags"
    MENTIONS = "spam-mentions"
    ACCOUNT_AGE = "new-account"
    FOLLOWERS = "few-followers"
    RATE = "rate-limit"


class Outcome(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    HOLD = "hold"
    NONE = "none"


Verdict = Literal["reject", "hold"]
#: Rules whose outcome never changes; the others default to DEFAULT_ACTIONS.
FIXED: dict[Rule, Outcome] = {
    Rule.BANNED: Outcome.REJECT,
    Rule.TRUSTED: Outcome.APPROVE,
    Rule.RAID: Outcome.HOLD,
}
DEFAULT_ACTIONS: dict[Rule, Verdict] = {
    Rule.BLOCKLIST: "reject",
    Rule.PROFANITY_FR: "reject",
    Rule.PROFANITY_EN: "reject",
    Rule.LINK_ONLY: "reject",
    Rule.DUPLICATE: "reject",
    Rule.RATE: "reject",
    Rule.SHOUTING: "hold",
    Rule.REPEATED: "hold",
    Rule.HASHTAGS: "hold",
    Rule.MENTIONS: "hold",
    Rule.ACCOUNT_AGE: "hold",
    Rule.FOLLOWERS: "hold",
}


def author_ref(raw: str) -> str:
    """``@Handle``/``handle`` -> ``@handle``; digits -> a user id (write ``@123`` for a handle)."""
    if re.fullmatch(r"[0-9]{1,20}", raw):
        return raw
    handle = twittertext.username(raw)
    if handle is None:
        raise ValueError("an X user id (digits) or a handle (@ and 1-15 letters, digits or _)")
    return "@" + handle.lower()


def _block_entry(raw: str) -> str:
    if not normalize(raw):
        raise ValueError("the entry has no letters or digits")
    return " ".join(raw.split())


AuthorRef = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(author_ref)]
BlockEntry = Annotated[str, StringConstraints(max_length=100), AfterValidator(_block_entry)]


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class AutomodConfig(BaseModel):
    """A session's auto-moderation settings. ``None`` turns a numeric rule off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    language: Language = Field("en", description="Language of the reasons written on questions")
    profanity: list[Language] = Field(
        default_factory=lambda: list(LANGUAGES), description="Profanity lists checked; [] is off"
    )
    link_only: bool = Field(True, description="Reject posts that are only links")
    blocklist: list[BlockEntry] = Field(
        default_factory=list, max_length=300, description="Words or phrases, matched normalized"
    )
    shouting: bool = Field(False, description="Flag posts written in capitals")
    repeated_chars: bool = Field(False, description="Flag a character repeated 6 times or more")
    duplicate_window_minutes: int | None = Field(
        None, ge=1, le=1440, description="Same text as the author's question in this window"
    )
    max_hashtags: int | None = Field(None, ge=1, le=100)
    max_mentions: int | None = Field(None, ge=1, le=100)
    min_account_age_days: int | None = Field(None, ge=0, le=36500)
    min_followers: int | None = Field(None, ge=0, le=1_000_000_000)
    max_per_hour: int | None = Field(None, ge=1, le=1000, description="Questions per author")
    trusted: list[AuthorRef] = Field(default_factory=list, max_length=500)
    banned: list[AuthorRef] = Field(default_factory=list, max_length=500)
    raid_mode: bool = Field(False, description="Hold every question of an unknown author")
    actions: dict[Rule, Verdict] = Field(
        default_factory=dict, description="Per-rule override of reject/hold"
    )

    @field_validator("profanity", "trusted", "banned")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        return _dedupe(values)

    @field_validator("blocklist")
    @classmethod
    def _unique_entries(cls, values: list[str]) -> list[str]:
        first: dict[str, str] = {}
        for value in values:
            first.setdefault(normalize(value), value)
        return list(first.values())

    @field_validator("actions")
    @classmethod
    def _overridable(cls, actions: dict[Rule, Verdict]) -> dict[Rule, Verdict]:
        fixed = sorted(r.value for r in actions if r in FIXED)
        if fixed:
            raise ValueError(f"the action of {', '.join(fixed)} cannot be changed")
        return actions

    @model_validator(mode="after")
    def _trusted_not_banned(self) -> Self:
        both = sorted(set(self.trusted) & set(self.banned))
        if both:
            raise ValueError(f"trusted and banned at once: {', '.join(both)}")
        return self

    def action(self, rule: Rule) -> Outcome:
        if rule in FIXED:
            return FIXED[rule]
        return Outcome(self.actions.get(rule, DEFAULT_ACTIONS[rule]))
