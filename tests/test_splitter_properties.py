"""Property tests of the thread splitter on arbitrary text."""

from __future__ import annotations

import itertools
import re
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atexpert.domain import twittertext
from atexpert.domain.splitter import Numbering, Part, SplitOptions, preview, rebuild

NO_BREAK = "\u00a0\u2007\u202f"
CLOSING = set("?!:;»" + NO_BREAK)
MENTION = re.compile(r"(?<![\w!#$%&*@＠])[@＠][A-Za-z0-9_]{1,15}")
HASHTAG = re.compile(r"(?<![\w&#＃])[#＃][\w]*[^\W\d_]\w*")
EDGE_WHITESPACE = re.compile(rf"^[^\S{NO_BREAK}]+|[^\S{NO_BREAK}]+$")

letters = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzéèàçôœABCÉ0123456789'-"), min_size=1)
words = st.one_of(
    letters.filter(lambda w: len(w) <= 12),
    st.text(st.sampled_from("日本語中文한국어テキスト"), min_size=1, max_size=6),
    st.sampled_from(
        [
            "🎉",
            "👍🏽",
            "🇫🇷",
            "🇩🇪🇫🇷",
            "👨\u200d👩\u200d👧",
            "#\ufe0f\u20e3",
            "❤️",
            "e\u0301",
            "a\u0308\u0323",
            "한",
            "\u1100\u1161\u11a8",
            "Pourquoi\u00a0?",
            "vrai\u202f!",
            "ceci\u00a0:",
            "là\u202f;",
            "?",
            "!",
            "«",
            "»",
            "(voir",
            "ici).",
            "Fin.",
            "etc…",
            "https://www.airbus.com/en/newsroom/press-releases/2026-11-a350-freighter?utm=x",
            "airbus.com",
            "https://t.co/abc123",
            "@AirbusExpert",
            "@a",
            "#AskAirbus",
            "#A350",
            "3.5",
            "a.b.c",
        ]
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="\ufffe\ufeff\uffff"), max_size=6),
)
giant_words = st.lists(
    st.sampled_from(["a", "é", "日", "🎉", "e\u0301", "🇫🇷", "x\u00a0?", "-", "@b", ".#c"]),
    min_size=100,
    max_size=200,
).map("".join)
separators = st.sampled_from([" ", " ", " ", " ", "  ", "\n", "\n\n", "\t", " \u00a0", "\r\n"])


@st.composite
def answers(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(st.one_of(words, words, words, giant_words), min_size=1, max_size=120))
    text = draw(separators).join(tokens) if draw(st.booleans()) else ""
    if not text:
        text = "".join(token + draw(separators) for token in tokens)
    return text


options = st.builds(
    SplitOptions,
    numbering=st.sampled_from(list(Numbering)),
    signature=st.sampled_from(["", "— Marie, Airbus", "🛩️ #AskAirbus", "^MD https://airbus.com"]),
    signature_on_every_part=st.booleans(),
)


def _entity_spans(text: str) -> list[tuple[int, int]]:
    spans = twittertext.url_spans(text) + twittertext.emoji_spans(text)
    return spans + [m.span() for p in (MENTION, HASHTAG) for m in p.finditer(text)]


def _cuts(parts: list[Part]) -> list[int]:
    """Positions in the answer where a word was cut (no whitespace dropped)."""
    return [p.start + len(p.body) for p in parts[:-1] if p.separator == ""]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers(), options)
def test_every_part_is_a_valid_post_and_the_parts_rebuild_the_answer(
    text: str, opts: SplitOptions
) -> None:
    if not text.strip():
        return
    parts = preview(text, opts)
    assert rebuild(parts) == EDGE_WHITESPACE.sub("", text)
    total = len(parts)
    for part in parts:
        parsed = twittertext.parse(part.text)
        assert parsed.valid and parsed.weighted_length == part.weighted_length <= 280
        assert text[part.start : part.start + len(part.body)] == part.body
        assert part.body and part.body == EDGE_WHITESPACE.sub("", part.body)
        if opts.numbering is Numbering.SUFFIX:
            assert part.text.startswith(part.body + f" {part.index}/{total}")
        elif opts.numbering is Numbering.PREFIX:
            assert part.text.startswith(f"{part.index}/{total} {part.body}")
        signed = opts.signature and (opts.signature_on_every_part or part.index == total)
        assert part.text.endswith("\n" + opts.signature) == bool(signed)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers())
def test_no_cut_inside_an_entity_a_grapheme_or_a_french_mot_mark(text: str) -> None:
    if not text.strip():
        return
    parts = preview(text)
    spans = _entity_spans(text)
    for cut in _cuts(parts):
        assert not any(start < cut < end for start, end in spans), (cut, text[cut - 20 : cut + 20])
        prev, char = text[cut - 1], text[cut]
        assert unicodedata.category(char) not in ("Mn", "Mc", "Me"), repr(char)
        assert "\u200d" not in (prev, char) and not 0xFE00 <= ord(char) <= 0xFE0F
        assert not (0x1F3FB <= ord(char) <= 0x1F3FF)
    for before, after in itertools.pairwise(parts):
        if before.separator:  # cut at a space: a lone mark stays with the word before it
            assert not set(after.body.split()[0]) <= CLOSING, (before.body, after.body)
        else:  # cut inside a word: never next to a no-break space ("mot ?")
            assert before.body[-1] not in NO_BREAK and after.body[0] not in NO_BREAK
