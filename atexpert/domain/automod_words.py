"""Text normalization and the curated fr/en profanity lists of auto-moderation (pure).

Both the lists and the text go through :func:`normalize`: lower case, accents folded,
leetspeak folded (``0→o 1→i 3→e 4→a 5→s @→a $→s``, ``!`` between letters → ``i``),
runs of one letter collapsed (``fuuuck`` → ``fuck``). Matching is on whole words (and
whole phrases of words), so "Scunthorpe" or "classe" never trip. A ``*`` inside a word
masks letters: ``f*ck`` and ``sh**`` match the listed words they could spell.

The lists are short on purpose: words that are abusive in every context. Words that are
also harmless words once normalized or in the other language (``ass`` → ``as``,
``conne`` → ``cone``, ``bite``, ``retard`` (a delay in French)) are left out; a session
adds what it needs to its own blocklist.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Literal

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "@": "a", "$": "s"})
#: Anything that looks like a link, wider than X's URL rule (a spammer's "www.x.example").
LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9*]+")
_RUNS = re.compile(r"(.)\1+")
_BANG = re.compile(r"(?<=[a-z])!(?=[a-z])")

_FR = """
merde merdique emmerde emmerder emmerdeur putain pute putes salope salopes salaud salauds
connard connards connasse connasses encule encules enculer enculé batard batards bâtard
niquer nique enfoire enfoiré enfoires couilles chier foutre fdp ntm pétasse pouffiasse
"fils de pute" "ta gueule" "ferme ta gueule" "nique ta mere" "va te faire foutre"
"fait chier" "bordel de merde"
"""
_EN = """
fuck fucks fucked fucker fuckers fucking fuckin motherfucker motherfuckers wtf stfu
shit shits shitty bullshit bitch bitches bastard bastards asshole assholes dumbass
jackass dickhead dickheads cunt cunts twat twats wanker wankers slut sluts whore whores
faggot faggots "piece of shit" "son of a bitch"
"""


def fold(text: str) -> str:
    """Lower case, accents, leetspeak and letter runs folded; punctuation kept."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _RUNS.sub(r"\1", _BANG.sub("i", bare.translate(_LEET)))


def words(text: str) -> list[str]:
    """The normalized words of ``text`` (URLs dropped; ``*`` kept inside words)."""
    return [w for w in _TOKEN.findall(fold(LINK.sub(" ", text))) if w.strip("*")]


def normalize(text: str) -> str:
    """The normalized form of a word or phrase: its words joined by single spaces."""
    return " ".join(words(text))


def _entries(raw: str) -> dict[str, str]:
    """Normalized entry -> the entry as listed."""
    found = re.findall(r'"([^"]+)"|(\S+)', raw)
    return {normalize(quoted or bare): quoted or bare for quoted, bare in found}


PROFANITY: dict[Language, dict[str, str]] = {"fr": _entries(_FR), "en": _entries(_EN)}


#: Masked words looked at per text, and their shape: bounded work on hostile input.
MAX_MASKS = 50
MAX_MASK_LEN = 30
MAX_MASK_RUNS = 3


def _masked(word: str) -> re.Pattern[str] | None:
    """``f*ck`` as a pattern: each run of ``*`` stands for one or more letters."""
    parts = re.split(r"\*+", word)
    runs = len(parts) - 1
    if not 0 < runs <= MAX_MASK_RUNS or len(word) > MAX_MASK_LEN or len("".join(parts)) < 2:
        return None
    return re.compile("[a-z]+".join(map(re.escape, parts)))


def find(text_words: list[str], entries: Iterable[str]) -> str | None:
    """The first entry (a normalized word or phrase) found in ``text_words``, else None.

    A word ending in ``s`` also matches its singular entry (``connards`` → ``connard``).
    """
    joined = " " + " ".join(text_words) + " "
    singles = set(text_words) | {w[:-1] for w in text_words if len(w) > 3 and w.endswith("s")}
    masked = list(dict.fromkeys(w for w in text_words if "*" in w))[:MAX_MASKS]
    masks = [m for m in map(_masked, masked) if m is not None]
    for entry in sorted(entries):
        if " " in entry:
            if f" {entry} " in joined:
                return entry
        elif entry in singles or any(m.fullmatch(entry) for m in masks):
            return entry
    return None
