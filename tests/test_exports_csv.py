"""Property: any question text (and its like count) survives the CSV export, read back with
the csv module."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from atexpert.domain.costs import Spend
from atexpert.domain.questions import Author, Question
from atexpert.domain.sessions import HostAccount, SessionFields, new_session
from atexpert.recap import exports
from atexpert.store.store import SessionSnapshot

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SESSION = new_session(
    SessionFields(
        title="Été, « test »",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=T0,
        scheduled_end=T0 + timedelta(hours=1),
    ),
    session_id="s_csv",
    actor="root",
    at=T0,
)
#: Any text a tweet may hold: accents, quotes, commas, CR/LF, emoji; no NUL (X refuses it).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1)


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(TEXT, min_size=1, max_size=5),
    name=TEXT,
    likes=st.integers(min_value=0, max_value=10**9),
)
def test_any_text_round_trips_through_the_csv(texts: list[str], name: str, likes: int) -> None:
    questions = {
        f"q_{i}": Question(
            id=f"q_{i}",
            session_id=SESSION.id,
            author=Author(id=str(i), handle=f"fan_{i}", name=name[:100]),
            text=text,
            received_at=T0 + timedelta(seconds=i),
            created_at=T0,
            likes=likes + i,
        )
        for i, text in enumerate(texts, 1)
    }
    snapshot = SessionSnapshot(session=SESSION, questions=questions, answers={})
    doc = exports.build_export(snapshot, [], Spend())
    data = exports.to_csv(doc).encode("utf-8")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert len(rows) == len(texts)
    assert list(rows[0]) == exports.CSV_COLUMNS
    for i, (row, text) in enumerate(zip(rows, texts, strict=True), 1):
        assert row["text"] == shown(text)
        assert row["author_name"] == shown(name[:100])
        assert row["likes"] == str(likes + i)


def shown(text: str) -> str:
    """What a spreadsheet cell holds: formula-like text defused with a leading quote."""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text
