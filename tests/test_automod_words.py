"""Normalization and the fr/en profanity lists: what trips them, and what must not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atexpert.domain.automod_words import PROFANITY, find, normalize, words


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Enculé", "encule"),
        ("PÉTASSE", "petase"),
        ("fuuuuuck", "fuck"),
        ("sh1t", "shit"),
        ("$h!t", "shit"),
        ("Wow!Nice", "wowinice"),
        ("Wow! Nice", "wow nice"),
        ("@sshole", "ashole"),
        ("m3rd3", "merde"),
        ("5alope", "salope"),
        ("b4tard", "batard"),
        ("  Ta   GUEULE !! ", "ta gueule"),
        ("see https://t.co/abc now", "se now"),
    ],
)
def test_normalize_folds_case_accents_leetspeak_and_runs(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_listed_entry_is_normalized(language: str) -> None:
    for entry in PROFANITY[language]:  # type: ignore[index]
        assert normalize(entry) == entry


@given(st.text(max_size=60))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


def profane(text: str) -> dict[str, str | None]:
    w = words(text)
    return {lang: find(w, PROFANITY[lang]) for lang in ("fr", "en")}  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "language", "entry"),
    [
        ("Quelle merde ce vol ?", "fr", "merde"),
        ("Vous êtes des connards #AskAirbus", "fr", "conard"),
        ("ta gueule l'expert", "fr", "ta gueule"),
        ("PUTAIN de retard encore", "fr", "putain"),
        ("bande d'enculés", "fr", "encule"),
        ("What the f*ck #AskAirbus", "en", "fuck"),
        ("this is bullsh*t", "en", "bulshit"),
        ("FUUUUCK this airline", "en", "fuck"),
        ("you're an @sshole", "en", "ashole"),
        ("son of a b1tch", "en", "bitch"),
    ],
)
def test_profanity_is_found_in_both_languages(text: str, language: str, entry: str) -> None:
    assert profane(text)[language] == entry


@pytest.mark.parametrize(
    "text",
    [
        "Scunthorpe to Toulouse, when?",
        "Le vol en classe affaires est-il plus calme ?",
        "Why is the A380 retired? #AskAirbus",
        "Le vol a du retard, pourquoi ?",
        "as soon as possible, please",
        "Can I bring an ice cream cone on board?",
        "Quelle est la consommation d'un A320neo ?",
        "The assessment of the cockpit, was it shitake-free?",
        "Une dispute entre pilotes ?",
        "Is this unique to Airbus?",
        "How do you compute 1000000 rivets?",
        "Who is Dick Smith?",
        "Combien de passagers ? https://t.co/fuckit",
    ],
)
def test_clean_questions_do_not_trip(text: str) -> None:
    assert profane(text) == {"fr": None, "en": None}


def test_a_plural_matches_its_singular_and_phrases_need_whole_words() -> None:
    assert find(words("des salopes"), {"salope"}) == "salope"
    assert find(words("fils de putes"), {"fils de pute"}) is None
    assert find(words("le fils de pute"), {"fils de pute"}) == "fils de pute"
    assert find(words("la tagueule"), {"ta gueule"}) is None
