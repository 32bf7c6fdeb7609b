"""The question state machine, over every (status, action) pair, and its input checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from atexpert.domain import questions
from atexpert.domain.errors import IllegalTransition, InvalidInput
from atexpert.domain.questions import QuestionAction as A
from atexpert.domain.questions import QuestionStatus as S

AT = datetime(2026, 11, 26, 10, 2, tzinfo=UTC)
ANNOTATE = [A.STAR, A.PRIORITIZE, A.TAG, A.NOTE]

# The specification, written out independently of the module's table.
LEGAL: dict[tuple[S, A], S] = {
    (S.PENDING, A.APPROVE): S.APPROVED,
    (S.PENDING, A.REJECT): S.REJECTED,
    (S.PENDING, A.MERGE): S.MERGED,
    (S.PENDING, A.EDIT): S.PENDING,
    (S.APPROVED, A.REJECT): S.REJECTED,
    (S.APPROVED, A.MERGE): S.MERGED,
    (S.APPROVED, A.REQUEUE): S.PENDING,
    (S.APPROVED, A.ANSWER): S.ANSWERED,
    (S.APPROVED, A.EDIT): S.APPROVED,
    (S.REJECTED, A.RESTORE): S.PENDING,
    (S.MERGED, A.RESTORE): S.PENDING,
    **{(s, a): s for s in (S.PENDING, S.APPROVED, S.ANSWERED, S.REJECTED) for a in ANNOTATE},
    **{(s, A.MERGE_INTO): s for s in (S.PENDING, S.APPROVED, S.ANSWERED)},
    # Desk mode: only a question still waiting for its first response is assigned.
    **{(s, A.ASSIGN): s for s in (S.PENDING, S.APPROVED)},
}
ALL_PAIRS = [(s, a) for s in S for a in A]


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS)
def test_every_pair_follows_the_table(status: S, action: A) -> None:
    if (status, action) in LEGAL:
        assert questions.MACHINE.next(status, action, "q_1") is LEGAL[(status, action)]
    else:
        with pytest.raises(IllegalTransition) as info:
            questions.MACHINE.next(status, action, "q_1")
        assert info.value.status == status.value
        assert info.value.action == action.value


@pytest.mark.parametrize(("status", "action"), [p for p in ALL_PAIRS if p[1] != A.MERGE_INTO])
def test_the_guarded_change_expects_exactly_the_legal_sources(status: S, action: A) -> None:
    change = questions.change("q_1", action, actor="alice", at=AT)
    legal = (status, action) in LEGAL
    assert (status.value in change.sources) is legal
    if legal:
        assert change.patch.get("status", status.value) == LEGAL[(status, action)].value


def test_illegal_message_names_who_decided_and_when() -> None:
    record = {
        "id": "q_12",
        "session_id": "s_1",
        "tweet_id": "12",
        "author": {"id": "1", "handle": "bob"},
        "text": "Why?",
        "received_at": AT.isoformat(),
        "created_at": AT.isoformat(),
        "status": "rejected",
        "decided_by": "alice",
        "decided_at": AT.isoformat(),
    }
    err = questions.illegal(record, "approve")
    assert str(err) == "question q_12 is rejected (by alice at 10:02); cannot approve"
    again = questions.illegal(record, "reject")
    assert str(again) == "question q_12 is already rejected (by alice at 10:02); cannot reject"


def test_decisions_record_actor_and_time() -> None:
    change = questions.change("q_1", A.APPROVE, actor="alice", at=AT)
    assert change.patch["decided_by"] == "alice"
    assert change.patch["decided_at"] == AT.isoformat()


@pytest.mark.parametrize("reason", ["", "   ", "x" * (questions.MAX_REASON + 1)])
def test_reject_needs_a_reasonable_reason(reason: str) -> None:
    with pytest.raises(InvalidInput) as info:
        questions.reject_patch(reason)
    assert info.value.errors[0].loc == ("reason",)


def test_cannot_merge_into_itself() -> None:
    with pytest.raises(InvalidInput):
        questions.merge_plan("q_1", "q_1", actor="a", at=AT)


def test_merge_target_must_not_be_merged() -> None:
    _, guard = questions.merge_plan("q_1", "q_2", actor="a", at=AT)
    assert guard.entity_id == "q_2"
    assert guard.sources == {"pending", "approved", "answered"}


def test_text_limits() -> None:
    author = {"id": "1", "handle": "bob"}
    ok = questions.IncomingQuestion(
        tweet_id="1",
        author=author,
        text="x" * 25_000,
        created_at=AT,  # type: ignore[arg-type]
    )
    assert len(ok.text) == 25_000
    with pytest.raises(ValueError, match="25000"):
        questions.IncomingQuestion(
            tweet_id="1",
            author=author,
            text="x" * 25_001,
            created_at=AT,  # type: ignore[arg-type]
        )
    with pytest.raises(ValueError):
        questions.IncomingQuestion(
            tweet_id="not-digits",
            author=author,
            text="x",
            created_at=AT,  # type: ignore[arg-type]
        )


def test_tags_are_cleaned_and_bounded() -> None:
    assert questions.tags_patch([" a ", "b", "a"]) == {"tags": ["a", "b"]}
    with pytest.raises(InvalidInput):
        questions.tags_patch([""])
    with pytest.raises(InvalidInput):
        questions.tags_patch([f"t{i}" for i in range(questions.MAX_TAGS + 1)])


def test_edit_keeps_the_original_and_rejects_blank() -> None:
    assert questions.edit_patch("Shorter?") == {"display_text": "Shorter?"}
    assert questions.edit_patch(None) == {"display_text": None}
    with pytest.raises(InvalidInput):
        questions.edit_patch("  ")


def test_stored_record_is_compact_but_complete() -> None:
    q = questions.received(
        questions.IncomingQuestion(
            tweet_id="42",
            author=questions.Author(id="7", handle="bob"),
            text="Why?",
            created_at=AT,
        ),
        session_id="s_1",
        at=AT,
    )
    record = q.record()
    assert not {"url", "starred", "session_id", "tweet_id"} & set(record)
    assert questions.load(json.dumps(record), "s_1") == q
    assert q.url == "https://x.com/bob/status/42"
