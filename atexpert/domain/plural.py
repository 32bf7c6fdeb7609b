"""Counted words in the texts the server writes (posts on X, pages), by the language's
plural rule (pure): the rule of CLDR, as the browser's ``Intl.PluralRules`` applies it to
whole numbers. English takes the singular for 1 only, French for 0 and 1 ("0 réponse
publiée", "1 réponse publiée", "2 réponses publiées")."""

from __future__ import annotations

from typing import Literal

Category = Literal["one", "other"]


def category(n: int, language: str) -> Category:
    """The plural category of the whole number ``n`` in ``language`` (English's rule for
    a language without one of its own)."""
    if language == "fr":
        return "one" if abs(n) <= 1 else "other"
    return "one" if abs(n) == 1 else "other"


def plural(n: int, language: str, one: str, other: str) -> str:
    """``one`` or ``other``, as ``language`` wants for ``n``, with ``{n}`` filled in:
    ``plural(1, "en", "{n} answer", "{n} answers")`` is "1 answer"."""
    form = one if category(n, language) == "one" else other
    return form.format(n=n)
