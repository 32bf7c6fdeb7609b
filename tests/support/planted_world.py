"""A world full of private things for the role-leak scan (tests/test_role_views.py): a live
session and a closed one, questions in every status, notes, reasons, a merge, a hand-back,
draft and published answers, an announcement's text, staff of each role, X tokens, API
tokens, an invitation and a series with a scheduled and a draft occurrence, each planted
as a sentinel string the scan looks for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from atexpert.domain import saved_replies
from atexpert.domain.answers import AnswerDraft
from atexpert.domain.automod_config import AutomodConfig
from atexpert.domain.clock import ManualClock
from atexpert.domain.questions import Author, IncomingQuestion, QuestionStatus
from atexpert.domain.saved_replies import SavedReplyIn
from atexpert.domain.series import Series, SeriesFields, occurrence_fields, occurrences
from atexpert.domain.sessions import HostAccount, Role, SessionFields
from atexpert.store.automod import AutomodStore
from atexpert.store.intake_state import IntakeStore, PauseReason
from atexpert.store.invitations import InvitationStore
from atexpert.store.series import SeriesStore
from atexpert.store.series_announcements import AnnouncementStore
from atexpert.web.api_routing import Services
from atexpert.x.accounts import XAccountStore
from tests.support.api_world import PASSWORD, session_body

ROLES = ("public", "outsider", "expert", "moderator", "admin")
USERNAMES = {"outsider": "outqiv", "expert": "expyan", "moderator": "modzed", "admin": "admxu"}
#: Seen by the session's moderators and admins only.
STAFF_ONLY = [
    "PENDINGTEXT1",
    "PENDINGTEXT2",
    "REJECTREASON1",
    "REJECTREASON2",
    "MODNOTE1",
    "MODNOTE2",
    "MODNOTE3",
    "HANDBACK1",
    "AUTOMODWORD1",
    "spending1",
    "srejected1",
    "shanded1",
    "cpending1",
    "crejected1",
    "ANNOUNCETEXT1",
]
#: Seen by the session's staff (experts included), not by the public.
MEMBERS_ONLY = [
    "sapproved1",
    "DRAFTANSWER1",
    "smerged1",
    "x_token",
    "DRAFTTOPIC1",
    "DRAFTGUEST1",
    "HANDOVER1",
    "SAVEDREPLY1",
]
#: Some of what each role may see, for the scan to prove it reached it.
VISIBLE_TO = {
    "public": ["sanswered1", "canswered1", "capproved1", "OPENTOPIC1", "OPENGUEST1"],
    "outsider": ["sanswered1", "capproved1", "OPENTOPIC1", "OPENGUEST1"],
    "expert": ["sapproved1", "DRAFTANSWER1", "sanswered1", "smerged1", "x_token", "HANDOVER1"],
    "moderator": [*STAFF_ONLY, *MEMBERS_ONLY],
    "admin": [*STAFF_ONLY, *MEMBERS_ONLY],
}
#: Live sockets each role may open, of the 8 tried (4 endpoints x 2 sessions).
SOCKETS = {"public": 2, "outsider": 2, "expert": 4, "moderator": 4, "admin": 8}
NEVER = ["$argon2", "XACCESSTOKEN1", "XREFRESHTOKEN1"]
STAFF_FIELDS = {"moderator_note", "reject_reason"}
NEVER_FIELDS = {"password_hash", "access_token", "refresh_token", "code_verifier"}
EXTRA_QUERIES = {
    "/api/sessions/{session_id}/questions": [f"?status={s.value}" for s in QuestionStatus],
    "/api/sessions/{session_id}/export": ["?format=csv", "?format=md"],
}


@dataclass
class PlantedWorld:
    """A live session S and a closed one C, with questions in every status, notes,
    reasons, a merge, a hand-back, a draft and published answers; staff of each role."""

    sessions: list[str] = field(default_factory=list)
    questions: dict[str, list[str]] = field(default_factory=dict)
    answers: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)
    secret: str = ""
    series: list[str] = field(default_factory=list)
    series_slug: str = ""

    def forbidden(self, role: str) -> list[str]:
        """The values ``role`` must never see."""
        out = [*NEVER, self.secret, *self.tokens.values()]
        if role in ("public", "outsider", "expert"):
            out += STAFF_ONLY
        if role in ("public", "outsider"):
            out += MEMBERS_ONLY
            out += [v for r, v in USERNAMES.items() if r != role]
            out += [v for r, v in self.user_ids.items() if r != role]
        return out


async def seed_planted_world(services: Services, clock: ManualClock) -> PlantedWorld:
    w = PlantedWorld()
    staff, store, now = services.staff, services.store, clock.now()
    for role, name in USERNAMES.items():
        user = await staff.create_user(name, PASSWORD, is_admin=role == "admin")
        _, w.tokens[role] = await staff.create_token(user.id, "scan")
        w.user_ids[role] = user.id
    tweet = iter(range(1_000_001, 1_000_100))

    async def ask(sid: str, handle: str, text: str = "How do wings work?") -> str:
        n = str(next(tweet))
        incoming = IncomingQuestion(
            tweet_id=n, author=Author(id=n, handle=handle), text=text, created_at=now
        )
        question, _ = await store.add_question(sid, incoming, at=now)
        w.questions.setdefault(sid, []).append(question.id)
        return question.id

    async def publish(sid: str, qid: str, *, rejected: str | None = None) -> None:
        """Answer ``qid`` (and ``rejected``, rejected before the answer is posted)."""
        qids = [qid] if rejected is None else [qid, rejected]
        for q in qids:
            await store.approve_question(sid, q, actor="modzed", at=now)
        draft = AnswerDraft(question_ids=qids, text="With lift.")
        answer = await store.create_answer(sid, draft, expert_id=w.user_ids["expert"], at=now)
        await store.submit_answer(sid, answer.id, actor="expyan", at=now)
        if rejected is not None:
            await store.reject_question(sid, rejected, "REJECTREASON2", actor="modzed", at=now)
        parts = [p.model_dump(mode="json") for p in answer.parts]
        await store.start_publishing(sid, answer.id, actor="publisher", at=now, parts=parts)
        await store.record_part_posted(sid, answer.id, 0, str(next(tweet)), actor="p")
        await store.mark_published(sid, answer.id, actor="publisher", at=now)
        w.answers.setdefault(sid, []).append(answer.id)

    members = {"moderator_ids": [w.user_ids["moderator"]], "expert_ids": [w.user_ids["expert"]]}
    for _ in range(2):
        s = await store.create_session(
            SessionFields.model_validate(session_body(**members)), actor="admxu", at=now
        )
        await store.schedule_session(s.id, actor="admxu", at=now)
        await store.start_session(s.id, actor="admxu", at=now)
        w.sessions.append(s.id)
    sid, cid = w.sessions

    await ask(sid, "spending1", "PENDINGTEXT1?")
    rejected = await ask(sid, "srejected1")
    await store.reject_question(sid, rejected, "REJECTREASON1", actor="modzed", at=now)
    approved = await ask(sid, "sapproved1")
    await store.approve_question(sid, approved, actor="modzed", at=now)
    await store.set_question_note(sid, approved, "MODNOTE1", actor="modzed", at=now)
    # Desk mode: the expert on duty, the approved question handed over to them with a note.
    await store.set_on_duty(sid, w.user_ids["expert"], True, actor="expyan", at=now)
    await store.assign_question(
        sid, approved, w.user_ids["expert"], "HANDOVER1", actor="modzed", at=now
    )
    reply = SavedReplyIn(title="Thanks", text="SAVEDREPLY1 {asker}")
    await store.change_saved_replies(
        sid, lambda rs: saved_replies.added(rs, reply, "r_1"), actor="modzed", at=now
    )
    merged = await ask(sid, "smerged1")
    await store.merge_question(sid, merged, approved, actor="modzed", at=now)
    handed = await ask(sid, "shanded1")
    await store.approve_question(sid, handed, actor="modzed", at=now)
    await store.requeue_question(sid, handed, actor="expyan", at=now, reason="HANDBACK1")
    answered = await ask(sid, "sanswered1")
    await store.set_question_note(sid, answered, "MODNOTE2", actor="modzed", at=now)
    await publish(sid, answered)
    draft = AnswerDraft(question_ids=[approved], text="DRAFTANSWER1")
    answer = await store.create_answer(sid, draft, expert_id=w.user_ids["expert"], at=now)
    w.answers[sid].append(answer.id)
    config = AutomodConfig(blocklist=["AUTOMODWORD1"])
    await AutomodStore(services.redis).put(sid, config, actor="modzed", at=now)
    await IntakeStore(services.redis).set_pause(sid, PauseReason.X_TOKEN, at=now)
    announcement = {"status": "scheduled", "text": "ANNOUNCETEXT1"}
    await AnnouncementStore(services.redis).edit(sid, 1440, announcement, actor="admxu", at=now)

    await ask(cid, "cpending1", "PENDINGTEXT2?")
    answered = await ask(cid, "canswered1")
    await store.set_question_note(cid, answered, "MODNOTE3", actor="modzed", at=now)
    await publish(cid, answered, rejected=await ask(cid, "crejected1"))
    await store.merge_question(cid, await ask(cid, "cmerged1"), answered, actor="modzed", at=now)
    await store.approve_question(cid, await ask(cid, "capproved1"), actor="modzed", at=now)
    await store.close_session(cid, actor="admxu", at=now + timedelta(minutes=5))

    accounts = XAccountStore(services.redis, services.settings, clock)
    await accounts.put_tokens("Airbus", "42", "XACCESSTOKEN1", "XREFRESHTOKEN1", actor="admxu")
    invitations = InvitationStore(services.redis, clock=clock)
    _, w.secret = await invitations.create(sid, Role.EXPERT, note=None, hours=24, actor="admxu")
    series = SeriesFields(
        slug="ask-airbus",
        title="Ask Airbus",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        time_zone="Europe/Paris",
        rrule="FREQ=MONTHLY;BYDAY=1TU",
        start_time="15:00",
        **members,
    )
    created = await SeriesStore(services.redis, clock).create(series, "admxu")
    w.series.append(created.id)
    w.series_slug = created.slug
    await _plant_occurrences(services, created, clock)
    return w


async def _plant_occurrences(services: Services, series: Series, clock: ManualClock) -> None:
    """A scheduled occurrence of ``series`` (public) and a draft one (its staff only)."""
    now = clock.now()
    planted = (("OPENTOPIC1", "OPENGUEST1"), ("DRAFTTOPIC1", "DRAFTGUEST1"))
    for n, (title, guest) in enumerate(planted):
        start = occurrences(series, now, 2)[n]
        update = {"title": title, "guest": guest}
        fields = occurrence_fields(series, start).model_copy(update=update)
        session = await services.store.create_session(
            fields, actor="admxu", at=now, series_id=series.id
        )
        if n == 0:
            session = await services.store.schedule_session(session.id, actor="admxu", at=now)
        await SeriesStore(services.redis, clock).index_session(session)
