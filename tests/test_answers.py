"""The answer state machine, over every (status, action) pair, and its input checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from atexpert.domain import answers
from atexpert.domain.answers import AnswerAction as A
from atexpert.domain.answers import AnswerStatus as S
from atexpert.domain.errors import IllegalTransition, InvalidInput
from atexpert.domain.events import apply_patch

AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)

LEGAL: dict[tuple[S, A], S] = {
    (S.DRAFT, A.EDIT): S.DRAFT,
    (S.DRAFT, A.SUBMIT): S.AWAITING_APPROVAL,
    (S.DRAFT, A.QUEUE): S.QUEUED,
    (S.AWAITING_APPROVAL, A.APPROVE): S.QUEUED,
    (S.AWAITING_APPROVAL, A.RETURN): S.DRAFT,
    (S.QUEUED, A.WITHDRAW): S.DRAFT,
    (S.QUEUED, A.PUBLISH): S.PUBLISHING,
    (S.PUBLISHING, A.POST_PART): S.PUBLISHING,
    (S.PUBLISHING, A.REFUSE_MERGED): S.PUBLISHING,
    (S.PUBLISHING, A.ADD_MERGED): S.PUBLISHING,
    (S.PUBLISHED, A.ADD_MERGED): S.PUBLISHED,  # an asker merged once it is published
    (S.PUBLISHED, A.POST_PART): S.PUBLISHED,
    (S.PUBLISHED, A.REFUSE_MERGED): S.PUBLISHED,
    (S.PUBLISHING, A.PUBLISHED): S.PUBLISHED,
    (S.PUBLISHING, A.FAIL): S.FAILED,
    (S.FAILED, A.RETRY): S.QUEUED,
}
ALL_PAIRS = [(s, a) for s in S for a in A]


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS)
def test_every_pair_follows_the_table(status: S, action: A) -> None:
    change = answers.change("a_1", action, actor="exp", at=AT)
    if (status, action) in LEGAL:
        assert answers.MACHINE.next(status, action, "a_1") is LEGAL[(status, action)]
        assert status.value in change.sources
        assert change.patch.get("status", status.value) == LEGAL[(status, action)].value
    else:
        assert status.value not in change.sources
        with pytest.raises(IllegalTransition):
            answers.MACHINE.next(status, action, "a_1")


def _answer(parts: list[str] | None = None) -> answers.Answer:
    draft = answers.AnswerDraft(question_ids=["q_1", "q_1", "q_2"], text="Because.", parts=parts)
    return answers.drafted(draft, answer_id="a_1", session_id="s_1", expert_id="exp", at=AT)


def test_draft_defaults_to_one_part_and_dedupes_questions() -> None:
    a = _answer()
    assert a.question_ids == ["q_1", "q_2"]
    assert [p.text for p in a.parts] == ["Because."]
    assert a.posted_tweet_ids == []


def test_posting_a_part_patches_only_that_part() -> None:
    a = _answer(["one", "two"])
    record = apply_patch(a.model_dump(mode="json"), answers.post_part_patch(1, "999"))
    after = answers.Answer.model_validate(record)
    assert [p.status for p in after.parts] == ["pending", "posted"]
    assert after.posted_tweet_ids == ["999"]


@pytest.mark.parametrize(("index", "tweet_id"), [(-1, "1"), (0, "abc")])
def test_bad_part_references_are_invalid_input(index: int, tweet_id: str) -> None:
    with pytest.raises(InvalidInput):
        answers.post_part_patch(index, tweet_id)


def test_edit_validates_text_and_parts() -> None:
    patch = answers.edit_patch("New text", ["New", "text"])
    assert [p["text"] for p in patch["parts"]] == ["New", "text"]
    with pytest.raises(InvalidInput):
        answers.edit_patch(" ", None)
    with pytest.raises(InvalidInput):
        answers.edit_patch("x", ["ok", "  "])


def test_illegal_message() -> None:
    a = _answer()
    err = answers.illegal(a.model_dump(mode="json"), A.PUBLISH.value)
    assert str(err) == "answer a_1 is draft (by exp at 10:00); cannot publish"
