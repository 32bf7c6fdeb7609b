"""Thread splitter: table tests in French and English, and errors."""

from __future__ import annotations

import pytest

from atexpert.domain import twittertext
from atexpert.domain.splitter import (
    MAX_TEXT_LENGTH,
    Numbering,
    Part,
    SplitError,
    SplitOptions,
    preview,
    rebuild,
    split,
)

NBSP, NNBSP = "\u00a0", "\u202f"
FAMILY = "👨\u200d👩\u200d👧"


def _filler(weight: int) -> str:
    """Plain words (no sentence end) of exactly ``weight`` weighted characters."""
    words, left = [], weight
    while left > 0:
        size = min(left, 9) if left != 10 else 5  # never leave a 0-length word
        words.append("x" * size)
        left -= size + 1
    text = " ".join(words)
    assert twittertext.weighted_length(text) == weight, text
    return text


def _check(parts: list[Part], text: str) -> None:
    assert rebuild(parts) == text.strip()
    for part in parts:
        parsed = twittertext.parse(part.text)
        assert parsed.valid, part
        assert parsed.weighted_length == part.weighted_length <= 280


def test_short_answer_is_one_post() -> None:
    parts = preview("  Yes, the A350 can fly 18 hours.\n")
    assert [(p.index, p.text, p.weighted_length) for p in parts] == [
        (1, "Yes, the A350 can fly 18 hours.", 31)
    ]
    assert split("Oui.") == ["Oui."]


def test_cuts_after_sentences() -> None:
    sentence = "The wing is made of carbon fibre reinforced polymer, which saves weight. "
    text = sentence * 10  # 72 each: three sentences a part, not four (291)
    parts = preview(text)
    _check(parts, text)
    assert [p.weighted_length for p in parts] == [218, 218, 218, 72]
    assert all(part.body.endswith("weight.") for part in parts)


def test_sentence_preference_does_not_leave_tiny_parts() -> None:
    text = "Short one. " + _filler(400)  # the only sentence end is far before the limit
    parts = preview(text)
    _check(parts, text)
    assert parts[0].weighted_length > 250


def test_line_breaks_are_kept_and_preferred() -> None:
    text = _filler(150) + "\n\n" + _filler(200)
    parts = preview(text)
    _check(parts, text)
    assert [p.weighted_length for p in parts] == [150, 200]
    assert parts[0].separator == "\n\n"
    two_paragraphs = "Premier paragraphe.\nSecond paragraphe."
    assert split(two_paragraphs) == [two_paragraphs]


@pytest.mark.parametrize("space", [NBSP, NNBSP, " "])
@pytest.mark.parametrize("mark", ["?", "!", ":", ";"])
def test_french_mark_stays_with_its_word(space: str, mark: str) -> None:
    # "Pourquoi" ends exactly at 280: the mark must go to the next part with its word.
    text = _filler(271) + f" Pourquoi{space}{mark} Parce que."
    parts = preview(text)
    _check(parts, text)
    assert parts[0].body == _filler(271)
    assert parts[1].body.startswith(f"Pourquoi{space}{mark}")


def test_opening_guillemet_stays_with_its_word() -> None:
    text = _filler(277) + " « Bonjour »"
    parts = preview(text)
    _check(parts, text)
    assert parts[1].body == "« Bonjour »"


def test_long_url_near_the_boundary_counts_23_and_is_never_cut() -> None:
    url = "https://www.airbus.com/en/products-services/commercial-aircraft?" + "q=a350&" * 40
    text = _filler(250) + f" {url} " + _filler(100)
    parts = preview(text)
    _check(parts, text)
    assert sum(url in part.body for part in parts) == 1
    assert twittertext.weighted_length(url) == 23
    holder = next(part for part in parts if url in part.body)
    assert holder.weighted_length <= 280


def test_mentions_and_hashtags_are_never_cut_inside_a_giant_word() -> None:
    word = "a" * 265 + ".@AirbusExpert!#AskAirbus!" + "b" * 100
    parts = preview(word)
    _check(parts, word)
    assert [p.body[-14:] for p in parts] == ["@AirbusExpert!", "b" * 14]
    assert parts[1].body.startswith("#AskAirbus!")
    word = "a" * 270 + ".@AirbusExpert!"
    assert [p.body for p in preview(word)] == ["a" * 270 + ".", "@AirbusExpert!"]


def test_mentions_and_hashtags_near_a_boundary() -> None:
    text = _filler(270) + " @AirbusExpert #AskAirbus merci"
    parts = preview(text)
    _check(parts, text)
    assert parts[1].body == "@AirbusExpert #AskAirbus merci"


def test_giant_hashtag_is_a_clear_error() -> None:
    with pytest.raises(SplitError, match=r"#hashtag .* is never cut"):
        preview("#" + "a" * 300)


def test_giant_word_is_cut_at_280() -> None:
    text = "a" * 700
    parts = preview(text)
    _check(parts, text)
    assert [p.weighted_length for p in parts] == [280, 280, 140]
    assert [p.separator for p in parts] == ["", "", ""]


def test_emoji_count_2_and_zwj_sequences_are_never_cut() -> None:
    text = FAMILY * 200  # one word: a hard split between sequences only
    parts = preview(text)
    _check(parts, text)
    assert [p.weighted_length for p in parts] == [280, 120]
    assert all(p.body == FAMILY * (p.weighted_length // 2) for p in parts)
    spaced = " ".join(["🎉", "👍🏽", "🇫🇷", FAMILY] * 40)
    _check(preview(spaced), spaced)


def test_flags_and_combining_marks_are_never_cut() -> None:
    flags = "🇫🇷🇩🇪" * 100
    for part in preview(flags):
        assert len(part.body) % 2 == 0
    accents = "e\u0301" * 400  # é decomposed: weighs 1 per letter (NFC)
    parts = preview(accents)
    _check(parts, accents)
    assert [p.weighted_length for p in parts] == [280, 120]
    assert not any(p.body.startswith("\u0301") for p in parts)


def test_dotted_runs_and_long_urls_in_a_giant_word() -> None:
    # twitter-text's own URL regex is quadratic on "a.a.a..." (minutes for this text).
    text = "a." * 2500 + " " + "https://airbus.com/" + "x" * 3000
    parts = preview(text)
    _check(parts, text)
    assert [p.weighted_length for p in parts] == [280] * 17 + [240 + 1 + 23]
    assert parts[-1].body.endswith(" https://airbus.com/" + "x" * 3000)


def test_hangul_jamo_and_long_flag_runs() -> None:
    jamo = "\u1100\u1161\u11a8" * 200  # composes (NFC) to 200 syllables of weight 2
    parts = preview(jamo)
    _check(parts, jamo)
    assert [len(p.body) for p in parts] == [3 * 140, 3 * 60]
    flags = "x" + "🇫🇷" * 300
    parts = preview(flags)
    _check(parts, flags)
    assert [len(p.body) for p in parts] == [1 + 2 * 139, 2 * 140, 2 * 21]  # 2 per flag


def test_cjk_weighs_2() -> None:
    text = "日本語のテキスト" * 40  # 320 characters, no spaces
    parts = preview(text)
    _check(parts, text)
    assert [len(p.body) for p in parts] == [140, 140, 40]


def test_numbering_suffix_and_prefix() -> None:
    text = "The wing is made of carbon fibre reinforced polymer, which saves weight. " * 9
    parts = preview(text, SplitOptions(numbering=Numbering.SUFFIX))
    _check(parts, text)
    assert [p.text.rsplit(" ", 1)[1] for p in parts] == ["1/3", "2/3", "3/3"]
    prefixed = split(text, SplitOptions(numbering=Numbering.PREFIX))
    assert [post.split(" ", 1)[0] for post in prefixed] == ["1/3", "2/3", "3/3"]


def test_numbering_width_change_from_9_to_10_parts() -> None:
    # Ten sentences of 275: with "i/9" each fits its part, but "10/10" needs one more
    # character than the last sentence leaves: the thread grows to 11 parts.
    sentence = _filler(274) + "."
    text = " ".join([sentence] * 10)
    parts = preview(text, SplitOptions(numbering=Numbering.SUFFIX))
    _check(parts, text)
    assert len(parts) == 11
    assert [p.text.rsplit(" ", 1)[1] for p in parts] == [f"{i}/11" for i in range(1, 12)]
    shorter = " ".join([_filler(273) + "."] * 10)  # "10/10" still fits: 10 parts, relabelled
    ten = preview(shorter, SplitOptions(numbering=Numbering.SUFFIX))
    assert [p.text.rsplit(" ", 1)[1] for p in ten] == [f"{i}/10" for i in range(1, 11)]
    assert [p.weighted_length for p in ten] == [279] * 9 + [280]
    nine = preview(" ".join([sentence] * 9), SplitOptions(numbering=Numbering.SUFFIX))
    assert [p.text.rsplit(" ", 1)[1] for p in nine] == [f"{i}/9" for i in range(1, 10)]
    assert all(p.weighted_length == 279 for p in nine)


def test_signature_on_last_part_or_every_part() -> None:
    text = "The wing is made of carbon fibre reinforced polymer, which saves weight. " * 10
    signature = "— Marie, ingénieure Airbus"
    last = preview(text, SplitOptions(signature=signature))
    _check(last, text)
    assert [p.text.endswith("\n" + signature) for p in last] == [False] * (len(last) - 1) + [True]
    every = preview(text, SplitOptions(signature=signature, signature_on_every_part=True))
    _check(every, text)
    assert all(p.text.endswith("\n" + signature) for p in every)
    weight = twittertext.weighted_length(signature) + 1
    assert all(p.weighted_length == twittertext.weighted_length(p.body) + weight for p in every)


def test_signature_pushes_the_last_words_to_a_new_part() -> None:
    text = _filler(275)
    parts = preview(text, SplitOptions(signature="— Marie"))
    _check(parts, text)
    assert len(parts) == 2
    assert parts[1].text.endswith("\n— Marie")


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("", SplitOptions(), "text is empty"),
        (" \n\t ", SplitOptions(), "text is empty"),
        ("abc\ufffe", SplitOptions(), r"U\+FFFE at 3"),
        ("a" * (MAX_TEXT_LENGTH + 1), SplitOptions(), "too long"),
        ("Bonjour", SplitOptions(signature="x" * 280), "no room"),
        ("Bonjour", SplitOptions(signature="x\uffff"), "signature holds"),
        ("Voir https://airbus.com", SplitOptions(signature="x" * 265), "never cut"),
        ("e" + "\u0301" * 300, SplitOptions(), "character with its accents is never cut"),
    ],
)
def test_bad_input_is_a_clear_error(text: str, options: SplitOptions, message: str) -> None:
    with pytest.raises(SplitError, match=message):
        preview(text, options)


def test_options_reject_unknown_fields() -> None:
    with pytest.raises(ValueError, match="signatur"):
        SplitOptions.model_validate({"signatur": "x"})
