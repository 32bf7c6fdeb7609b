"""Auto-moderation of incoming questions: a pure rules engine, no I/O.

:func:`evaluate` checks one question against a session's config
(:class:`~atexpert.domain.automod_config.AutomodConfig`) and the facts of its :class:`Context`
and returns a :class:`Decision`: ``approve``, ``reject``, ``hold`` (stays pending,
flagged for a person) or ``none``, with every rule hit and a reason in French and
English, so a moderator can overrule it.

Precedence, first match decides (every hit is still listed)::

    banned-author (reject) > trusted-author (approve) > raid-hold (hold)
      > rules whose action is reject > rules whose action is hold > none
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from atexpert.domain import twittertext
from atexpert.domain.automod_config import FIXED, AutomodConfig, Outcome, Rule
from atexpert.domain.automod_words import (
    LANGUAGES,
    LINK,
    PROFANITY,
    Language,
    find,
    normalize,
    words,
)
from atexpert.domain.questions import MAX_REASON, Author, Question

_REPEATED = re.compile(r"([^\d\s])\1{5,}")
#: Shouting: at least this many letters, this share of them upper case.
SHOUT_MIN_LETTERS = 10
SHOUT_RATIO = 0.9
HOUR = timedelta(hours=1)
#: Duplicates are compared on this many normalized characters.
DUPLICATE_PREFIX = 1000
_ORDER = list(Rule)


@dataclass(frozen=True)
class PastQuestion:
    """An earlier question of the same author in the same session."""

    at: datetime
    text: str


@dataclass(frozen=True)
class Context:
    """The facts :func:`evaluate` needs beside the question and the config."""

    now: datetime
    #: The author's earlier questions in this session (any order, the question itself excluded).
    recent: Sequence[PastQuestion] = ()
    #: Ids of the authors with a question approved (or answered) in this session.
    approved_authors: frozenset[str] = frozenset()
    #: More banned authors (user ids or ``@handles``), e.g. a platform-wide list.
    banned: frozenset[str] = frozenset()


class RuleHit(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: Rule
    outcome: Outcome
    reason_fr: str
    reason_en: str

    def reason(self, language: Language) -> str:
        return self.reason_fr if language == "fr" else self.reason_en


class Decision(BaseModel):
    """What auto-moderation does with a question; ``rule`` is the hit that decided."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    rule: Rule | None = None
    hits: list[RuleHit] = Field(default_factory=list)

    def reason(self, language: Language) -> str:
        """One line for the question's reject reason or note (at most MAX_REASON chars)."""
        if not self.hits:
            return ""
        first, more = self.hits[0], len(self.hits) - 1
        text = f"automod [{first.rule}]: {first.reason(language)}"
        if more:
            text += f" (+{more} " + ("autre(s) règle(s))" if language == "fr" else "more rule(s))")
        return text[:MAX_REASON]


def _rank(config: AutomodConfig, hit: Rule) -> tuple[int, int]:
    if hit in FIXED:
        level = list(FIXED).index(hit)
    else:
        level = 3 if config.action(hit) is Outcome.REJECT else 4
    return level, _ORDER.index(hit)


def evaluate(question: Question, config: AutomodConfig, context: Context) -> Decision:
    """The auto-moderation decision on ``question`` (pure)."""
    if not config.enabled:
        return Decision(outcome=Outcome.NONE)
    found = [
        *_author_hits(question.author, config, context),
        *_text_hits(question, config, context),
    ]
    found.sort(key=lambda h: _rank(config, h[0]))
    hits = [
        RuleHit(rule=r, outcome=config.action(r), reason_fr=fr, reason_en=en) for r, fr, en in found
    ]
    if not hits:
        return Decision(outcome=Outcome.NONE)
    return Decision(outcome=hits[0].outcome, rule=hits[0].rule, hits=hits)


_Found = tuple[Rule, str, str]


def _author_hits(author: Author, config: AutomodConfig, context: Context) -> list[_Found]:
    refs = {author.id, "@" + author.handle.lower()}
    out: list[_Found] = []
    if refs & (set(config.banned) | context.banned):
        out.append((Rule.BANNED, "auteur banni de la session", "author banned from the session"))
    trusted = bool(refs & set(config.trusted))
    if trusted:
        out.append((Rule.TRUSTED, "auteur de confiance", "trusted author"))
    if config.raid_mode and not trusted and author.id not in context.approved_authors:
        out.append(
            (
                Rule.RAID,
                "mode raid : auteur sans question approuvée dans la session",
                "raid mode: author has no approved question in this session",
            )
        )
    created = author.account_created_at
    days = config.min_account_age_days
    if days is not None and created is not None and context.now - created < timedelta(days=days):
        age = max((context.now - created).days, 0)
        out.append(
            (
                Rule.ACCOUNT_AGE,
                f"compte créé il y a {age} jour(s), minimum {days}",
                f"account created {age} day(s) ago, minimum {days}",
            )
        )
    least = config.min_followers
    if least is not None and author.followers < least:
        n = author.followers
        out.append(
            (Rule.FOLLOWERS, f"{n} abonné(s), minimum {least}", f"{n} follower(s), minimum {least}")
        )
    limit = config.max_per_hour
    if limit is not None:
        n = sum(context.now - HOUR < p.at <= context.now for p in context.recent)
        if n >= limit:
            out.append(
                (
                    Rule.RATE,
                    f"déjà {n} question(s) de cet auteur dans l'heure, maximum {limit}",
                    f"already {n} question(s) from this author in the last hour, maximum {limit}",
                )
            )
    return out


def body_of(text: str) -> str:
    """The text without its hashtags, mentions (as X extracts them) and links."""
    text = LINK.sub(" ", text)
    for entity in sorted(_entities(text), key=lambda e: e.start, reverse=True):
        text = text[: entity.start] + " " + text[entity.end :]
    return text


def _entities(text: str) -> list[twittertext.Entity]:
    return twittertext.extract_hashtags(text) + twittertext.extract_mentions(text)


def comparable(text: str) -> str:
    """What the duplicate rule compares: the normalized body, its first characters only."""
    return normalize(body_of(text))[:DUPLICATE_PREFIX].rstrip()


def _text_hits(question: Question, config: AutomodConfig, context: Context) -> list[_Found]:
    text = question.text
    body = body_of(text)
    text_words = words(text)
    out: list[_Found] = []
    entries = {normalize(e): e for e in config.blocklist}
    blocked = entries.get(find(text_words, entries) or "")
    if blocked is not None:
        out.append(
            (
                Rule.BLOCKLIST,
                f"contient « {blocked} » (liste de blocage)",
                f"contains '{blocked}' (blocklist)",
            )
        )
    for language in LANGUAGES:
        if language in config.profanity:
            found = find(text_words, PROFANITY[language])
            if found is not None:
                word = PROFANITY[language][found]
                rule = Rule.PROFANITY_FR if language == "fr" else Rule.PROFANITY_EN
                out.append((rule, f"grossièreté « {word} »", f"profanity '{word}'"))
    if config.link_only and LINK.search(text) and not re.search(r"\w", body):
        out.append((Rule.LINK_ONLY, "seulement un lien", "only a link"))
    out.extend(_spam_hits(text, body, config, context))
    return out


def _spam_hits(text: str, body: str, config: AutomodConfig, context: Context) -> list[_Found]:
    out: list[_Found] = []
    window = config.duplicate_window_minutes
    if window is not None:
        mine = comparable(body)
        since = context.now - timedelta(minutes=window)
        if mine and any(
            since < p.at <= context.now and comparable(p.text) == mine for p in context.recent
        ):
            out.append(
                (
                    Rule.DUPLICATE,
                    f"même texte qu'une question de cet auteur il y a moins de {window} min",
                    f"same text as this author's question less than {window} min ago",
                )
            )
    cased = [c for c in body if c.isalpha() and c.upper() != c.lower()]
    upper = sum(c.isupper() for c in cased)
    if config.shouting and len(cased) >= SHOUT_MIN_LETTERS and upper >= SHOUT_RATIO * len(cased):
        out.append((Rule.SHOUTING, "écrit en majuscules", "written in capitals"))
    repeated = _REPEATED.search(LINK.sub(" ", text))
    if config.repeated_chars and repeated is not None:
        char = repeated.group(1)
        out.append((Rule.REPEATED, f"caractère « {char} » répété", f"character '{char}' repeated"))
    unlinked = LINK.sub(" ", text)
    for rule, extract, most, fr, en in (
        (Rule.HASHTAGS, twittertext.extract_hashtags, config.max_hashtags, "hashtags", "hashtags"),
        (Rule.MENTIONS, twittertext.extract_mentions, config.max_mentions, "mentions", "mentions"),
    ):
        n = len(extract(unlinked))
        if most is not None and n > most:
            out.append((rule, f"{n} {fr}, maximum {most}", f"{n} {en}, maximum {most}"))
    return out
