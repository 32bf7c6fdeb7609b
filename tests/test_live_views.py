"""Pure parts of the live protocol: role views, client message parsing, the rate limit."""

from __future__ import annotations

import pytest

from atexpert.live.protocol import (
    BadMessage,
    ClaimCommand,
    Pong,
    QuestionCommand,
    TokenBucket,
    parse_client_message,
)
from atexpert.live.views import View, event_message, snapshot_message, view_record

QUESTION = {
    "id": "q_1",
    "tweet_id": "1",
    "text": "Why?",
    "display_text": None,
    "status": "pending",
    "moderator_note": "troll",
    "reject_reason": None,
    "author": {"id": "7", "handle": "ann", "name": "Ann", "followers": 3},
    "created_at": "2026-11-26T09:00:00Z",
    "answer_id": None,
    "version": 1,
}
HEAD = {"kind": "question.noted", "actor": "mia", "at": "2026-11-26T09:01:00Z"}


def q(**changes: object) -> dict[str, object]:
    return {**QUESTION, **changes}


def test_staff_see_everything_experts_the_approved_public_the_answered() -> None:
    assert view_record(View.STAFF, "question", q()) == q()
    assert view_record(View.EXPERT, "question", q()) is None
    expert = view_record(View.EXPERT, "question", q(status="approved"))
    assert expert is not None and "moderator_note" not in expert and expert["text"] == "Why?"
    assert view_record(View.PUBLIC, "question", q(status="approved")) is None
    public = view_record(View.PUBLIC, "question", q(status="answered"))
    assert public is not None
    assert public["author"] == {"handle": "ann", "name": "Ann"}
    assert "moderator_note" not in public and "version" not in public


def test_public_sees_no_draft_session_and_only_posted_parts() -> None:
    session = {"id": "s", "title": "T", "status": "draft", "expert_ids": ["e"]}
    assert view_record(View.PUBLIC, "session", session) is None
    live = view_record(View.PUBLIC, "session", {**session, "status": "live"})
    assert live is not None and "expert_ids" not in live
    answer = {
        "id": "a",
        "question_ids": ["q_1"],
        "status": "publishing",
        "error": "x",
        "parts": [{"text": "1", "tweet_id": "9"}, {"text": "2", "tweet_id": None}],
    }
    assert view_record(View.PUBLIC, "answer", {**answer, "status": "draft"}) is None
    shown = view_record(View.PUBLIC, "answer", answer)
    assert shown == {
        "id": "a",
        "question_ids": ["q_1"],
        "status": "publishing",
        "parts": [{"text": "1", "tweet_id": "9"}],
    }


def test_an_event_reaches_a_view_only_when_its_view_changed() -> None:
    before, after = q(status="approved"), q(status="approved", moderator_note="new")
    args = ("1-0", HEAD, "question", "q_1", before, after)
    assert event_message(View.EXPERT, *args) is None
    assert event_message(View.PUBLIC, *args) is None
    staff = event_message(View.STAFF, *args)
    assert staff is not None and staff["record"]["moderator_note"] == "new"
    gone = event_message(View.EXPERT, "2-0", HEAD, "question", "q_1", after, q(status="pending"))
    assert gone is not None and gone["record"] is None and gone["actor"] == "mia"
    answered = event_message(
        View.PUBLIC, "3-0", HEAD, "question", "q_1", after, q(status="answered")
    )
    assert answered is not None and "actor" not in answered


def test_snapshot_lists_only_visible_records() -> None:
    snap = snapshot_message(View.EXPERT, "5-0", None, [q(), q(id="q_2", status="approved")], [])
    assert [x["id"] for x in snap["questions"]] == ["q_2"]
    assert snap["last_event_id"] == "5-0" and snap["session"] is None


def test_staff_and_experts_see_why_intake_is_paused_the_public_does_not() -> None:
    pause = {
        "paused": True,
        "reason": "budget",
        "version": 3,
        "updated_by": "intake",
        "updated_at": "2026-11-26T09:02:00Z",
    }
    assert snapshot_message(View.STAFF, "1-0", None, [], [], pause)["intake_pause"] == pause
    expert = snapshot_message(View.EXPERT, "1-0", None, [], [], pause)["intake_pause"]
    assert expert == {k: pause[k] for k in ("paused", "reason", "version", "updated_at")}
    assert "intake_pause" not in snapshot_message(View.PUBLIC, "1-0", None, [], [], pause)
    head = {"kind": "intake_pause.changed", "actor": "intake", "at": pause["updated_at"]}
    resumed = {**pause, "paused": False, "reason": None, "version": 4}
    message = event_message(View.EXPERT, "2-0", head, "intake_pause", "s_1", pause, resumed)
    assert message is not None and message["record"]["paused"] is False
    assert event_message(View.PUBLIC, "2-0", head, "intake_pause", "s_1", pause, resumed) is None


def test_only_the_staff_follow_the_announcements_of_an_occurrence() -> None:
    posting = {"id": "1440", "status": "posting", "text": "Tomorrow!", "fence": 2, "version": 2}
    posted = {**posting, "status": "posted", "tweet_id": "9", "version": 3}
    staff = snapshot_message(View.STAFF, "1-0", None, [], [], announcements=[posting])
    assert staff["announcements"] == [posting]
    for view in (View.EXPERT, View.PUBLIC):
        assert "announcements" not in snapshot_message(view, "1-0", None, [], [], None, [posting])
    head = {"kind": "announcement.posted", "actor": "scheduler", "at": "2026-11-26T09:02:00Z"}
    message = event_message(View.STAFF, "2-0", head, "announcement", "1440", posting, posted)
    assert message is not None and message["record"] == posted
    assert message["entity_id"] == "1440" and message["actor"] == "scheduler"
    for view in (View.EXPERT, View.PUBLIC):
        assert event_message(view, "2-0", head, "announcement", "1440", posting, posted) is None


def test_client_messages_are_validated_with_field_details() -> None:
    assert isinstance(parse_client_message('{"type":"pong"}', 100), Pong)
    claim = parse_client_message('{"type":"claim","request_id":"c","question_id":"q_1"}', 1000)
    assert isinstance(claim, ClaimCommand)
    cmd = parse_client_message(
        '{"type":"question","request_id":"r","action":"reject","question_id":"q_1",'
        '"reason":"spam"}',
        1000,
    )
    assert isinstance(cmd, QuestionCommand) and cmd.reason == "spam"
    with pytest.raises(BadMessage) as big:
        parse_client_message("é" * 60, 100)  # 120 bytes
    assert big.value.code == "message_too_large"
    with pytest.raises(BadMessage) as bad:
        parse_client_message("[1,", 100)
    assert bad.value.code == "malformed_json"
    with pytest.raises(BadMessage) as wrong:
        parse_client_message(
            '{"type":"question","request_id":"r","action":"approve","question_id":"../x"}',
            1000,
        )
    assert wrong.value.code == "invalid_message" and wrong.value.request_id == "r"
    assert wrong.value.fields and wrong.value.fields[0]["loc"][-1] == "question_id"


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=2, burst=3)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.25) is False
    assert bucket.take(0.5) is True
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]
