"""The session state machine, over every (status, action) pair, and session validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from atexpert.domain import sessions
from atexpert.domain.errors import IllegalTransition, InvalidInput
from atexpert.domain.sessions import Role, SessionFields, SessionUpdate
from atexpert.domain.sessions import SessionAction as A
from atexpert.domain.sessions import SessionStatus as S

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

LEGAL: dict[tuple[S, A], S] = {
    (S.DRAFT, A.UPDATE): S.DRAFT,
    (S.DRAFT, A.SCHEDULE): S.SCHEDULED,
    (S.DRAFT, A.ARCHIVE): S.ARCHIVED,
    (S.DRAFT, A.CHANGE_ROLES): S.DRAFT,
    (S.SCHEDULED, A.UPDATE): S.SCHEDULED,
    (S.SCHEDULED, A.UNSCHEDULE): S.DRAFT,
    (S.SCHEDULED, A.START): S.LIVE,
    (S.SCHEDULED, A.CHANGE_ROLES): S.SCHEDULED,
    (S.SCHEDULED, A.RECEIVE): S.SCHEDULED,
    (S.LIVE, A.CLOSE): S.CLOSED,
    (S.LIVE, A.WRAP_UP): S.WRAPPING_UP,
    (S.WRAPPING_UP, A.CLOSE): S.CLOSED,
    (S.WRAPPING_UP, A.CHANGE_ROLES): S.WRAPPING_UP,
    (S.WRAPPING_UP, A.ANNOUNCE): S.WRAPPING_UP,
    (S.LIVE, A.CHANGE_ROLES): S.LIVE,
    (S.LIVE, A.RECEIVE): S.LIVE,
    (S.CLOSED, A.ARCHIVE): S.ARCHIVED,
    (S.LIVE, A.ANNOUNCE): S.LIVE,
    (S.CLOSED, A.ANNOUNCE): S.CLOSED,
    # Desk mode: agents go on and off duty until the session closes.
    **{(s, A.SHIFT): s for s in (S.SCHEDULED, S.LIVE, S.WRAPPING_UP)},
    **{(s, A.REPLIES): s for s in (S.DRAFT, S.SCHEDULED, S.LIVE, S.WRAPPING_UP)},
    **{(s, A.TARGET): s for s in (S.DRAFT, S.SCHEDULED, S.LIVE, S.WRAPPING_UP)},
}
ALL_PAIRS = [(s, a) for s in S for a in A]


def fields(**over: Any) -> SessionFields:
    base: dict[str, Any] = {
        "title": "Ask Airbus",
        "hashtags": ["#AskAirbus"],
        "host_account": {"handle": "@Airbus", "user_id": "123"},
        "scheduled_start": AT + timedelta(hours=1),
        "scheduled_end": AT + timedelta(hours=2),
        "time_zone": "Europe/Paris",
    }
    return SessionFields.model_validate(base | over)


def session(status: S = S.DRAFT) -> sessions.Session:
    s = sessions.new_session(fields(), session_id="s_1", actor="brand", at=AT)
    return s.model_copy(update={"status": status})


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS)
def test_every_pair_follows_the_table(status: S, action: A) -> None:
    if action is A.RECEIVE:  # a guard only: questions arrive while it holds
        sources = sessions.MACHINE.guard("s_1", action).sources
        patch: dict[str, Any] = {}
    else:
        change = sessions.transition("s_1", action, actor="u", at=AT)
        sources, patch = change.sources, change.patch
    if (status, action) in LEGAL:
        assert sessions.MACHINE.next(status, action, "s_1") is LEGAL[(status, action)]
        assert status.value in sources
        assert patch.get("status", status.value) == LEGAL[(status, action)].value
    else:
        assert status.value not in sources
        with pytest.raises(IllegalTransition):
            sessions.MACHINE.next(status, action, "s_1")


def test_start_and_close_record_time_and_fence() -> None:
    change = sessions.transition("s_1", A.START, actor="scheduler", at=AT, fence=7)
    assert change.patch["started_at"] == AT.isoformat()
    assert change.patch["fence"] == 7
    assert change.fence == 7
    closing = sessions.transition("s_1", A.CLOSE, actor="host", at=AT)
    assert closing.patch["closed_at"] == AT.isoformat()
    assert "fence" not in closing.patch


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"hashtags": []}, "hashtags"),
        ({"hashtags": ["#has space"]}, "hashtags"),
        ({"hashtags": ["#123"]}, "hashtags"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"scheduled_end": AT}, None),
        ({"scheduled_start": datetime(2026, 11, 26, 10, 0)}, "scheduled_start"),
        ({"language": "de"}, "language"),
        ({"host_account": {"handle": "not a handle"}}, "host_account"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(
    over: dict[str, Any], field: str | None
) -> None:
    with pytest.raises(ValidationError) as info:
        fields(**over)
    locs = [e["loc"] for e in info.value.errors()]
    if field is not None:
        assert any(loc and loc[0] == field for loc in locs), locs


def test_hashtags_are_normalised() -> None:
    f = fields(hashtags=["AskAirbus", "#askairbus", "#A350_XWB"])
    assert f.hashtags == ["#AskAirbus", "#A350_XWB"]
    assert f.host_account.handle == "Airbus"
    assert f.intake_opens_at == f.scheduled_start - timedelta(minutes=60)


def test_update_is_validated_as_a_whole() -> None:
    s = session()
    change = sessions.update(s, SessionUpdate(title="New"), actor="brand", at=AT)
    assert change.patch["title"] == "New"
    assert change.expected_version == s.version
    with pytest.raises(InvalidInput) as info:
        sessions.update(s, SessionUpdate(scheduled_end=AT), actor="brand", at=AT)
    assert "scheduled_end must be after scheduled_start" in str(info.value)
    with pytest.raises(InvalidInput) as tz:
        sessions.update(s, SessionUpdate(time_zone="Nowhere/Land"), actor="brand", at=AT)
    assert tz.value.errors[0].loc == ("time_zone",)


def test_update_refused_once_live() -> None:
    with pytest.raises(IllegalTransition, match="session s_1 is live"):
        sessions.update(session(S.LIVE), SessionUpdate(title="x"), actor="brand", at=AT)


def test_schedule_refuses_a_session_already_over() -> None:
    with pytest.raises(InvalidInput):
        sessions.schedule(session(), actor="brand", at=AT + timedelta(hours=3))


def test_roles_are_granted_and_revoked() -> None:
    s = session()
    grant = sessions.change_role(s, "u9", Role.MODERATOR, grant=True, actor="brand", at=AT)
    assert grant.patch["moderator_ids"] == ["u9"]
    s2 = s.model_copy(update={"moderator_ids": ["u9"]})
    assert sessions.roles_of(s2, "u9") == {Role.MODERATOR}
    revoke = sessions.change_role(s2, "u9", Role.MODERATOR, grant=False, actor="b", at=AT)
    assert revoke.patch["moderator_ids"] == []


def test_due_at() -> None:
    s = session(S.SCHEDULED)
    assert sessions.due_at(s) == s.scheduled_start
    assert not sessions.is_due(s, AT)
    assert sessions.is_due(s, s.scheduled_start)
    live = session(S.LIVE)
    assert sessions.due_at(live) == live.scheduled_end
    assert sessions.due_at(session(S.CLOSED)) is None


def test_close_with_a_wrap_up_period_wraps_up_first() -> None:
    live = session(S.LIVE).model_copy(update={"wrap_up_minutes": 10})
    [change] = sessions.close_plan(live, ["a_1"], actor="admin", at=AT, choice="cancel")
    assert change.patch["status"] == S.WRAPPING_UP.value
    assert change.patch["wrap_up_until"] == (AT + timedelta(minutes=10)).isoformat()
    assert change.patch["close_queued"] == "cancel"
    wrapping = live.model_copy(
        update={"status": S.WRAPPING_UP, "wrap_up_until": AT + timedelta(minutes=10)}
    )
    assert sessions.due_at(wrapping) == AT + timedelta(minutes=10)
    # The wrap-up's end closes for good with the recorded choice: queued answers withdrawn.
    wrapping = wrapping.model_copy(update={"close_queued": "cancel"})
    close, withdraw = sessions.close_plan(wrapping, ["a_1"], actor="scheduler", at=AT)
    assert close.patch["status"] == S.CLOSED.value
    assert withdraw.entity_id == "a_1" and withdraw.patch["status"] == "draft"
    assert withdraw.optional  # one the publisher claimed meanwhile is finished instead


def test_close_posting_the_queue_leaves_queued_answers_alone() -> None:
    [close] = sessions.close_plan(session(S.LIVE), ["a_1"], actor="admin", at=AT)
    assert close.patch["status"] == S.CLOSED.value and close.patch["close_queued"] == "post"


def test_wrap_up_minutes_are_bounded() -> None:
    assert fields(wrap_up_minutes=15).wrap_up_minutes == 15
    with pytest.raises(ValidationError):
        fields(wrap_up_minutes=-1)
    with pytest.raises(ValidationError):
        fields(wrap_up_minutes=sessions.MAX_WRAP_UP + 1)
