"""Split an expert's answer into the posts of an X thread (pure, no I/O).

Each post weighs at most 280 (twitter-text v3, see :mod:`atexpert.domain.twittertext`) once its
numbering ("3/10") and signature are added. Cuts go, by preference, after a sentence (or at a
line break) that fills at least half a post, else at the last space that fits. A cut never
falls inside a URL, an @mention or a #hashtag, nor separates a French "mot ?" from its mark
(U+00A0 or U+202F before ? ! : ;): punctuation standing alone after a space stays with the
word before it, an opening « ( ¿ with the word after it. A word longer than a post is cut
between two grapheme clusters (never inside a combining sequence, a flag or an emoji ZWJ
sequence), away from no-break spaces and punctuation when it can. (A "URL" longer than 4,096
characters is none for twitter-text: it weighs its length and is cut like a word.)

Rebuilding: a part's ``body`` is an exact slice of the answer and its ``separator`` the exact
whitespace that followed it (empty when a word was cut), so ``rebuild(parts)`` gives back the
answer without its leading and trailing whitespace. Only breakable whitespace is a separator:
no-break spaces stay inside their part.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from atexpert.domain import twittertext

MAX_TEXT_LENGTH: Final = 10_000
NO_BREAK_SPACES: Final = frozenset("\u00a0\u2007\u202f")
_CLOSING: Final = frozenset("?!:;.,…»›)]}%’”") | NO_BREAK_SPACES
_OPENING: Final = frozenset("«‹([{¿¡“‘") | NO_BREAK_SPACES
_SLACK: Final = 2 * twittertext.URL_WEIGHT  # how far an estimate may be off, at most
_SENTENCE_END: Final = frozenset(".!?…。！？")
_TOKEN = re.compile(r"(?:[^\s]|[\u00a0\u2007\u202f])+")
_SPACES = re.compile(r"[^\S\u00a0\u2007\u202f]+")


class SplitError(ValueError):
    """The answer cannot be split as asked; the message says why."""


class Numbering(StrEnum):
    NONE = "none"
    PREFIX = "prefix"  # "1/3 text"
    SUFFIX = "suffix"  # "text 1/3"


class SplitOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    numbering: Numbering = Numbering.NONE
    signature: str = Field(default="", max_length=280, description="Added on its own line.")
    signature_on_every_part: bool = False


class Part(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int = Field(description="1-based position in the thread.")
    text: str = Field(description="The post as published: numbering, body and signature.")
    weighted_length: int
    body: str = Field(description="The slice of the answer this post carries.")
    start: int = Field(description="Code point offset of body in the answer.")
    separator: str = Field(description="Whitespace of the answer dropped after body.")


def split(text: str, options: SplitOptions | None = None) -> list[str]:
    """The posts of the thread, in order."""
    return [part.text for part in preview(text, options)]


def rebuild(parts: list[Part]) -> str:
    return "".join(part.body + part.separator for part in parts)


def preview(text: str, options: SplitOptions | None = None) -> list[Part]:
    """The parts of the thread with their weighted lengths (for the expert console)."""
    options = options or SplitOptions()
    signature = options.signature.strip()
    _check_text(text, "text")
    if signature:
        _check_text(signature, "signature")
    atoms, entities = _atoms(text), _entities(text)
    digits = 1
    while True:
        decor = _Decor(options.numbering, signature, options.signature_on_every_part, digits)
        spans = _Layout(text, list(atoms), entities, decor).run()
        total = len(spans)
        if options.numbering is Numbering.NONE or len(str(total)) <= digits:
            break
        digits = len(str(total))  # "9/9" became "10/10": a wider label, lay out again
    parts: list[Part] = []
    for index, (start, end) in enumerate(spans, 1):
        last = index == total
        post = decor.render(text[start:end], index, str(total), last)
        parsed = twittertext.parse(post)
        if not parsed.valid:  # labels never outweigh the reserved ones: a bug if reached
            raise AssertionError(f"part {index} is not a valid post: {post!r}")
        gap_end = spans[index][0] if not last else end
        parts.append(
            Part(
                index=index,
                text=post,
                weighted_length=parsed.weighted_length,
                body=text[start:end],
                start=start,
                separator=text[end:gap_end],
            )
        )
    return parts


def _check_text(text: str, field: str) -> None:
    if not text.strip():
        raise SplitError(f"{field} is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise SplitError(f"{field} is too long: {len(text)} characters (at most {MAX_TEXT_LENGTH})")
    bad = twittertext.invalid_character_positions(text)
    if bad:
        raise SplitError(
            f"{field} holds characters X refuses: "
            + ", ".join(f"U+{ord(text[i]):04X} at {i}" for i in bad[:5])
        )


@dataclass(frozen=True, slots=True)
class _Atom:
    """Words never cut at a space; ``strength`` of a cut after it: 2 sentence end, else 1."""

    start: int
    end: int
    strength: int


def _atoms(text: str) -> list[_Atom]:
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    glued: list[list[int]] = []
    for k, (start, end) in enumerate(tokens):
        chars = set(text[start:end])
        if glued and chars <= _CLOSING:
            glued[-1][1] = end  # "mot ?" with a plain space: the mark stays with its word
        elif glued and k > 0 and set(text[tokens[k - 1][0] : tokens[k - 1][1]]) <= _OPENING:
            glued[-1][1] = end  # "« mot": the opening mark stays with the next word
        else:
            glued.append([start, end])
    atoms = []
    for k, (start, end) in enumerate(glued):
        following = glued[k + 1][0] if k + 1 < len(glued) else end
        word = text[start:end].rstrip("»›)]}\"'’”\u00a0\u2007\u202f")
        sentence = word[-1:] in _SENTENCE_END or "\n" in text[end:following]
        atoms.append(_Atom(start, end, 2 if sentence else 1))
    return atoms


@dataclass(frozen=True, slots=True)
class _Decor:
    """Numbering and signature around a body; labels reserve ``digits`` for the total."""

    numbering: Numbering
    signature: str
    signature_on_every_part: bool
    digits: int

    def render(self, body: str, index: int, total: str, last: bool) -> str:
        post = body
        if self.numbering is Numbering.PREFIX:
            post = f"{index}/{total} {body}"
        elif self.numbering is Numbering.SUFFIX:
            post = f"{body} {index}/{total}"
        if self.signature and (last or self.signature_on_every_part):
            post = f"{post}\n{self.signature}"
        return post

    def weight(self, index: int, last: bool) -> int:
        """Weight added to a body (with the widest label for the reserved digits)."""
        return twittertext.weighted_length(self.render("x", index, "9" * self.digits, last)) - 1


class _Layout:
    """Greedy layout of atoms into parts; weights estimated by sums, then checked for real."""

    def __init__(self, text: str, atoms: list[_Atom], entities: bytearray, decor: _Decor) -> None:
        self.text = text
        self.entities = entities
        self.atoms = atoms
        self.decor = decor
        self.weights = [self._weight(atom) for atom in atoms]

    def run(self) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        i = 0
        while i < len(self.atoms):
            index = len(spans) + 1
            end = self._fill(i, index)
            spans.append((self.atoms[i].start, self.atoms[end].end))
            i = end + 1
        return spans

    def _room(self, index: int, last: bool) -> int:
        room = twittertext.MAX_WEIGHTED_LENGTH - self.decor.weight(index, last)
        if room <= 0:
            raise SplitError(f"the signature and numbering leave no room for text in part {index}")
        return room

    def _gap(self, k: int) -> int:
        """Weight of the whitespace between atoms k and k + 1."""
        gap = self.text[self.atoms[k].end : self.atoms[k + 1].start]
        return twittertext.weighted_length(gap) if gap else 0

    def _fits(self, i: int, j: int, index: int) -> bool:
        body = self.text[self.atoms[i].start : self.atoms[j].end]
        last = j == len(self.atoms) - 1
        post = self.decor.render(body, index, "9" * self.decor.digits, last)
        return twittertext.parse(post).valid

    def _fill(self, i: int, index: int) -> int:
        """Index of the last atom of the part that starts at atom i."""
        n = len(self.atoms)
        room, room_last = self._room(index, False), self._room(index, True)
        fitting: list[int] = []  # atoms j such that atoms i..j fit, by estimate
        sentences: list[int] = []  # those of them ending a sentence past half the room
        total = 0
        for j in range(i, n):
            total += self.weights[j] + (self._gap(j - 1) if j > i else 0)
            if total > max(room, room_last):
                break
            if total <= (room_last if j == n - 1 else room):
                fitting.append(j)
                if self.atoms[j].strength == 2 and total >= room // 2:
                    sentences.append(j)
        if sentences and fitting[-1] != n - 1:
            fitting = [j for j in fitting if j <= sentences[-1]]
        for j in reversed(fitting):
            if self._fits(i, j, index):
                return j
        if i not in fitting and self.weights[i] <= room + _SLACK and self._fits(i, i, index):
            return i
        self._cut_word(i, index, room)
        return i

    def _cut_word(self, i: int, index: int, room: int) -> None:
        """Replace atom i, too heavy for one post, by a head that fits and the rest."""
        atom, weight_before = self.atoms[i], self.weights[i]
        heads: list[tuple[int, int, int, int]] = []  # head end, rest start, rank, head weight
        weight, previous = 0, atom.start
        for head_end, rest_start, rank in _cut_points(
            self.text, atom.start, atom.end, self.entities
        ):
            weight += twittertext.weighted_length(self.text[previous:head_end])
            if weight > room:
                break
            heads.append((head_end, rest_start, rank, weight))
            weight += twittertext.weighted_length(self.text[head_end:rest_start])
            previous = rest_start
        for rank in (2, 1, 0):
            for head_end, rest_start, head_rank, head_weight in reversed(heads):
                if head_rank < rank:
                    continue
                head = _Atom(atom.start, head_end, 1)
                rest = _Atom(rest_start, atom.end, atom.strength)
                self.atoms[i : i + 1] = [head, rest]
                self.weights[i : i + 1] = [head_weight, max(weight_before - head_weight, 1)]
                if self._fits(i, i, index):
                    return
                self.atoms[i : i + 2] = [atom]
                self.weights[i : i + 2] = [weight_before]
        word = self.text[atom.start : atom.end]
        shown = word if len(word) <= 40 else word[:40] + "…"
        raise SplitError(
            f"{shown!r} cannot be cut to fit in a post of {room} weighted characters: a URL,"
            " @mention, #hashtag or character with its accents is never cut"
        )

    def _weight(self, atom: _Atom) -> int:
        return twittertext.weighted_length(self.text[atom.start : atom.end])


def _cut_points(
    text: str, start: int, end: int, entities: bytearray
) -> Iterator[tuple[int, int, int]]:
    """Where the word text[start:end] may be cut: (head end, rest start, rank), in order.

    Rank 2: between two grapheme clusters away from no-break spaces and punctuation; rank 1:
    next to them; rank 0 (last resort): at a space inside glued words ("a ? ? ? ...").
    Never inside a URL, an @mention, a #hashtag or an emoji sequence.
    """
    spaces = {m.start(): m.end() for m in _SPACES.finditer(text, start, end)}
    for p in range(start + 1, end):
        prev, char = text[p - 1], text[p]
        if p in spaces:
            yield p, spaces[p], 0
        elif entities[p] or _breakable(prev) or _breakable(char):
            continue
        elif _grapheme_boundary(text, p, start):
            bad = {prev, char} & NO_BREAK_SPACES or char in _CLOSING or prev in _OPENING
            yield p, p, 1 if bad else 2


def _entities(text: str) -> bytearray:
    """1 at each position where a cut would split a URL, mention, hashtag or emoji."""
    inside = bytearray(len(text) + 1)
    # Sigil runs are wider than the entity rules: protecting too much only costs cut points.
    spans = twittertext.url_spans(text) + twittertext.emoji_spans(text)
    spans += twittertext.sigil_spans(text)
    for start, end in spans:
        inside[start + 1 : end] = b"\x01" * (end - start - 1)
    return inside


def _breakable(char: str) -> bool:
    return char.isspace() and char not in NO_BREAK_SPACES


def _hangul(char: str) -> str:
    cp = ord(char)
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    return ""


def _extends(char: str) -> bool:
    """Whether char belongs to the grapheme cluster before it (UAX #29 Extend, ZWJ...)."""
    cp = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or cp == 0x200D
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
    )


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _grapheme_boundary(text: str, p: int, start: int) -> bool:
    """UAX #29 extended grapheme cluster boundary, the rules that matter for a post
    (``start``: a known boundary before p, where flags pair up)."""
    prev, char = text[p - 1], text[p]
    if (prev == "\r" and char == "\n") or _extends(char) or prev == "\u200d":
        return False
    before, after = _hangul(prev), _hangul(char)
    if (
        (before == "L" and after in ("L", "V", "LV", "LVT"))
        or (before in ("LV", "V") and after in ("V", "T"))
        or (before in ("LVT", "T") and after == "T")
    ):
        return False
    if _regional(prev) and _regional(char):
        run = 0
        while p - run - 1 >= start and _regional(text[p - run - 1]):
            run += 1
        return run % 2 == 0
    return True
