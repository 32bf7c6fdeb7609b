"""Counts in the server's texts take the language's plural rule (CLDR, as the browser's
Intl.PluralRules): English's singular for 1 only, French's for 0 and 1; in the end
announcement on X (en, fr) and on the staff analytics page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from atexpert.domain import announce, twittertext
from atexpert.domain.announce import Moment
from atexpert.domain.plural import plural
from atexpert.domain.sessions import HostAccount, Session
from atexpert.domain.views import Audience
from atexpert.recap.analytics import Analytics, AnswerTimes, StatusCounts, XSpend
from atexpert.web.api_recap import render_analytics

NOW = datetime.now(UTC)


def session(language: str = "en", title: str = "Inside the A350 cabin") -> Session:
    return Session(
        id="s_1",
        title=title,
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=NOW,
        scheduled_end=NOW + timedelta(hours=1),
        language=language,  # type: ignore[arg-type]
        created_by="admin",
        created_at=NOW,
        updated_by="admin",
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("n", "language", "expected"),
    [
        (0, "en", "0 answers"),
        (1, "en", "1 answer"),
        (2, "en", "2 answers"),
        (0, "fr", "0 réponse"),
        (1, "fr", "1 réponse"),
        (2, "fr", "2 réponses"),
    ],
)
def test_plural_of_0_1_2_in_english_and_french(n: int, language: str, expected: str) -> None:
    one, other = (
        ("{n} answer", "{n} answers") if language == "en" else ("{n} réponse", "{n} réponses")
    )
    assert plural(n, language, one, other) == expected


@pytest.mark.parametrize(
    ("n", "language", "expected"),
    [
        (0, "en", "\n0 answers posted. Thank you"),
        (1, "en", "\n1 answer posted. Thank you"),
        (2, "en", "\n2 answers posted. Thank you"),
        (0, "fr", "\n0 réponse publiée. Merci"),
        (1, "fr", "\n1 réponse publiée. Merci"),
        (2, "fr", "\n2 réponses publiées. Merci"),
    ],
)
def test_the_closing_post_counts_its_answers_in_the_sessions_language(
    n: int, language: str, expected: str
) -> None:
    assert expected in announce.render(session(language), Moment.END, answered=n)
    long = session(language, "A very long title " * 11)
    text = announce.render(long, Moment.END, answered=n, recap_url="https://ama.example/r/s_1")
    assert expected in text and twittertext.is_valid(text)  # the title gave way


@pytest.mark.parametrize(
    ("received", "expected"), [(0, "0 questions ·"), (1, "1 question ·"), (2, "2 questions ·")]
)
def test_the_analytics_page_counts_questions_with_the_plural_rule(
    received: int, expected: str
) -> None:
    figures = Analytics(
        per_minute=[],
        counts=StatusCounts(received=received),
        reject_reasons=[],
        answer_times=AnswerTimes(answered=0, median_seconds=None, p90_seconds=None),
        moderators=[],
        experts=[],
        top_askers=[],
        automod=[],
        x_spend=XSpend(total_usd=Decimal(0), by_kind_usd={}, counts={}),
    )
    page = render_analytics(session(), figures, Audience.ADMIN)
    assert f'<p class="meta">{expected} 0 answered' in page
