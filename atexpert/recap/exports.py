"""Exports of a session (JSON, CSV, Markdown) and the import of a JSON export.

The JSON export carries the session's event log plus the records and settings
(auto-moderation config, intake mode, a series occurrence's announcements) it rebuilds,
the X spend meter and the analytics. A log trimmed by a checkpoint
(:mod:`atexpert.store.checkpoint`) is exported as that checkpoint plus the events after
it; ``complete_from`` tells from when the audit trail holds every event. Import checks that
the checkpoint and the log replay to exactly the records and settings carried, then writes,
in ONE Lua step under the session's hash tag, the checkpoint, the events into a fresh
stream (same entry ids, so the audit trail is kept as it was), the records, their status
indexes, the settings and the meter; it refuses a session id that already exists.
Exporting an imported session gives the same document again.

CSV and Markdown exports may cover a range of days (:class:`Days`, in the session's time
zone), as a desk that never closes needs: the questions received, the answers drafted and
the events in that range.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, model_validator

from atexpert.domain import sessions
from atexpert.domain.answers import Answer
from atexpert.domain.costs import CallKind, Spend
from atexpert.domain.errors import Conflict, InvalidInput
from atexpert.domain.events import (
    Event,
    Record,
    SessionState,
    dumps,
    event_fields,
    invalid_input,
    replay,
)
from atexpert.domain.questions import Question, post_link
from atexpert.domain.series_announce import AnnouncementState
from atexpert.domain.sessions import Session, SessionStatus
from atexpert.domain.staff import StaffNames
from atexpert.domain.views import Audience
from atexpert.recap.analytics import Analytics, compute
from atexpert.store import checkpoint, keys, lua
from atexpert.store.automod import StoredConfig
from atexpert.store.checkpoint import Checkpoint
from atexpert.store.intake_state import IntakeSetting
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import SessionSnapshot, Store
from atexpert.x.meter import Meter, to_micro

Format = Literal["json", "csv", "md"]
CSV_BOM = "\ufeff"
#: Spreadsheets run cells starting with these as formulas: such cells get a leading "'".
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
#: A live session would need its publisher outbox and intake cursors, which stay behind.
IMPORTABLE = (SessionStatus.CLOSED, SessionStatus.ARCHIVED)
_MD_SPECIAL = frozenset("\\`*_[]<>|")
#: What makes a line a heading, list item or quote: the start of the line, then the marker.
_MD_LINE_START = re.compile(r"^(\s*\d*)([#+\-=.)])")
#: The only links the Markdown export writes: to posts on X.
_LINK_ORIGIN = "https://x.com/"
#: What a link target keeps as is (with letters, digits and "_.-~"); the rest is encoded.
_URL_SAFE = "/:%"
#: Characters of an export file name's slug at most.
_SLUG_MAX = 40

_IMPORT_LUA = lua.script(__name__, "exports_import.lua")
#: Days a range of a CSV or Markdown export covers at most.
MAX_DAYS = 366


class SpendExport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by_kind_usd: dict[CallKind, Decimal] = {}
    counts: dict[CallKind, int] = {}


class SessionExport(BaseModel):
    """Everything needed to rebuild the session in another atexpert."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["atexpert.session-export"] = "atexpert.session-export"
    version: Literal[1] = 1
    session: Session
    questions: list[Question]
    answers: list[Answer]
    automod: StoredConfig = StoredConfig()
    intake: IntakeSetting = IntakeSetting()
    #: The log folded up to where it was trimmed; ``events`` are the ones after it.
    checkpoint: Checkpoint | None = None
    #: The audit trail holds every event after this time (None: every event since creation).
    complete_from: AwareDatetime | None = None
    #: A series occurrence's announcements, earliest first (their events are in ``events``).
    announcements: list[AnnouncementState] = []
    events: list[Event]
    spend: SpendExport
    analytics: Analytics


def check_days(start: date, end: date) -> None:
    """ValueError unless ``[start, end)`` is a range of 1 to ``MAX_DAYS`` days."""
    if end <= start:
        raise ValueError("the range ends after it starts (to > from; to is excluded)")
    if (end - start).days > MAX_DAYS:
        raise ValueError(f"a range covers {MAX_DAYS} days at most")


def days_of(fmt: Format, start: date | None, end: date | None) -> Days | None:
    """The range of days an export in ``fmt`` asks for (from and to, or neither: None);
    ValueError saying why it cannot be."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise ValueError("give both from and to (days, to excluded), or neither")
    if fmt == "json":
        raise ValueError("the JSON export is the whole session (importable): no range")
    check_days(start, end)
    return Days(start=start, end=end)


class Days(BaseModel):
    """A range of days ``[start, end)`` in the session's time zone."""

    model_config = ConfigDict(extra="forbid")

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Days:
        check_days(self.start, self.end)
        return self

    def holds(self, at: datetime, time_zone: str) -> bool:
        return self.start <= at.astimezone(ZoneInfo(time_zone)).date() < self.end


async def read_all_events(store: Store, session_id: str) -> list[Event]:
    """Every event the log still holds: all of them, or those after its checkpoint."""
    out: list[Event] = []
    after = "0-0"
    while chunk := await store.read_events(session_id, after, count=1000):
        out.extend(chunk)
        after = chunk[-1].id
    return out


async def export_session(
    store: Store,
    redis: RedisClient,
    session_id: str,
    names: StaffNames | None = None,
    days: Days | None = None,
) -> SessionExport:
    """The session's export; with ``days``, only what happened in that range (not importable:
    no checkpoint, and the records of other days are left out)."""
    snapshot = await store.snapshot(session_id)
    base, events = await checkpoint.read_log(redis, session_id)
    spend = await Meter(redis).spend(session_id)
    if days is None:
        trimmed = base if base.id != "0-0" else None
        return build_export(snapshot, events, spend, names, trimmed)
    tz = snapshot.session.time_zone
    within = snapshot.model_copy(
        update={
            "questions": {
                k: q for k, q in snapshot.questions.items() if days.holds(q.received_at, tz)
            },
            "answers": {k: a for k, a in snapshot.answers.items() if days.holds(a.created_at, tz)},
        }
    )
    in_range = [e for e in events if days.holds(e.at, tz)]
    doc = build_export(within, in_range, spend, names)
    return doc.model_copy(update={"complete_from": base.at})


def build_export(
    snapshot: SessionSnapshot,
    events: Sequence[Event],
    spend: Spend,
    names: StaffNames | None = None,
    base: Checkpoint | None = None,
) -> SessionExport:
    return SessionExport(
        checkpoint=base,
        complete_from=None if base is None else base.at,
        session=snapshot.session,
        questions=sorted(snapshot.questions.values(), key=lambda q: (q.received_at, q.id)),
        answers=sorted(snapshot.answers.values(), key=lambda a: (a.created_at, a.id)),
        automod=snapshot.automod,
        intake=snapshot.intake,
        announcements=[snapshot.announcements[k] for k in sorted(snapshot.announcements)[::-1]],
        events=list(events),
        spend=SpendExport(by_kind_usd=dict(spend.by_kind), counts=dict(spend.counts)),
        analytics=compute(snapshot, events, spend, Audience.ADMIN, names),
    )


def to_json(doc: SessionExport) -> str:
    return doc.model_dump_json(indent=2) + "\n"


# -- CSV -----------------------------------------------------------------------------------

CSV_COLUMNS = [
    "question_id",
    "question_url",
    "received_at",
    "author_handle",
    "author_name",
    "text",
    "display_text",
    "likes",
    "status",
    "decided_by",
    "decided_at",
    "reason",
    "merged_into",
    "answer_id",
    "answer_status",
    "expert",
    "answer_text",
    "answer_tweet_ids",
    "merged_reply_tweet_ids",
]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def to_csv(doc: SessionExport, names: StaffNames | None = None) -> str:
    """One row per question, RFC 4180 (CRLF, quoted as needed), UTF-8 BOM first so
    spreadsheet apps read the accents right; staff people by their display names."""
    names = names or StaffNames()
    answers = {a.id: a for a in doc.answers}
    replies = {
        r.question_id: " ".join(p.tweet_id for p in r.parts if p.tweet_id)
        for a in doc.answers
        for r in a.merged
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for q in doc.questions:
        a = answers.get(q.answer_id or "")
        row = [
            q.id,
            q.url,
            q.received_at.isoformat(),
            q.author.handle,
            q.author.name,
            q.text,
            q.display_text,
            q.likes,
            q.status.value,
            names.name(q.decided_by) if q.decided_by else None,
            q.decided_at.isoformat() if q.decided_at else None,
            q.reject_reason,
            q.merged_into,
            q.answer_id,
            a.status.value if a else None,
            names.name(a.expert_id) if a else None,
            a.text if a else None,
            " ".join(a.posted_tweet_ids) if a else None,
            replies.get(q.id),
        ]
        writer.writerow([_cell(v) for v in row])
    return CSV_BOM + out.getvalue()


# -- Markdown --------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Inline text that Markdown shows as is: no emphasis, link, HTML or table cell break,
    and no heading, list or quote when it starts a line."""
    out = "".join("\\" + c if c in _MD_SPECIAL else c for c in text)
    out = _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), out)
    return out.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def _link(text: str, url: str) -> str:
    """A Markdown link to a post on X: its text escaped, its target percent-encoded (nothing
    in it can end the link or start another); any other target is left out, text only."""
    if not url.startswith(_LINK_ORIGIN):
        return _md(text)
    return f"[{_md(text)}]({quote(url, safe=_URL_SAFE)})"


def _quote(text: str) -> str:
    return "\n".join("> " + _md(line) if line else ">" for line in text.splitlines() or [""])


def to_markdown(doc: SessionExport, names: StaffNames | None = None) -> str:
    """A readable report; staff people by their display names."""
    names = names or StaffNames()
    s = doc.session
    handle = s.host_account.handle
    questions = {q.id: q for q in doc.questions}
    lines = [f"# {_md(s.title)}", "", f"{_md(' '.join(s.hashtags))} · @{_md(handle)}", ""]
    c = doc.analytics.counts
    lines += [
        f"Questions: {c.received} received, {c.approved_total} approved, {c.answered} "
        f"answered, {c.rejected} rejected, {c.merged} merged.",
        "",
        "## Answers",
        "",
    ]
    for a in doc.answers:
        lines.append(f"### {_md(a.id)} ({a.status.value}, {_md(names.name(a.expert_id))})")
        for qid in a.question_ids:
            q = questions.get(qid)
            if q is not None:
                lines += ["", _link("@" + q.author.handle, q.url) + ":", "", _quote(q.shown_text)]
        lines += ["", _quote(a.text), ""]
        for i, tid in enumerate(a.posted_tweet_ids, 1):
            lines.append(f"- {_link(f'post {i}', post_link(handle, tid))}")
        for r in a.merged:
            first = r.parts[0].tweet_id if r.parts else None
            answered = f": {_link('reply', post_link(handle, first))}" if first else ""
            lines.append(f"- merged, @{_md(r.handle)}{answered}")
        lines.append("")
    lines += [
        "## Questions",
        "",
        "| question | author | status | by | reason |",
        "|---|---|---|---|---|",
    ]
    for q in doc.questions:
        by = names.name(q.decided_by)
        cells = ["@" + q.author.handle, q.status.value, by, q.reject_reason or ""]
        lines.append("| " + " | ".join([_link(q.id, q.url), *map(_md, cells)]) + " |")
    lines += ["", "## Audit trail", ""]
    if doc.complete_from is not None:
        since = doc.complete_from.isoformat()
        lines += [f"Complete from {since}: the earlier events were folded into a checkpoint.", ""]
    lines.append("| event | time | actor | kind | entity |")
    lines.append("|---|---|---|---|---|")
    for e in doc.events:
        cells = [e.id, e.at.isoformat(), names.name(e.actor), e.kind.value, e.entity_id]
        lines.append("| " + " | ".join(_md(x) for x in cells) + " |")
    return "\n".join(lines) + "\n"


def render(doc: SessionExport, fmt: Format, names: StaffNames | None = None) -> str:
    """The document in ``fmt``; the JSON keeps the records' ids (it is the importable one)."""
    if fmt == "csv":
        return to_csv(doc, names)
    if fmt == "md":
        return to_markdown(doc, names)
    return to_json(doc)


def file_name(session: Session, fmt: Format) -> str:
    """The export's file name: a slug of the session's first hashtag (its title when it has
    none) and its local start date, e.g. ``askairbus-2026-05-01.csv``."""
    source = session.hashtags[0] if session.hashtags else session.title
    ascii_text = unicodedata.normalize("NFKD", source).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:_SLUG_MAX].rstrip("-")
    day = session.scheduled_start.astimezone(ZoneInfo(session.time_zone)).date().isoformat()
    return f"{slug or 'session'}-{day}.{fmt}"


# -- import ----------------------------------------------------------------------------------


def parse_export(raw: str | bytes) -> SessionExport:
    """A JSON export, validated (InvalidInput with field details otherwise)."""
    try:
        doc = SessionExport.model_validate_json(raw)
    except ValidationError as exc:
        raise invalid_input(exc, "not an atexpert session export") from None
    check_consistent(doc)
    return doc


def check_consistent(doc: SessionExport) -> SessionSnapshot:
    """The snapshot the event log replays to; InvalidInput unless it is the one carried."""
    sid = doc.session.id
    keys.check_id("session", sid)
    if doc.session.status not in IMPORTABLE:
        raise InvalidInput.field(
            ("session", "status"),
            "only a closed or archived session can be imported (nothing would publish or "
            "ingest it again)",
        )
    if any(e.session_id != sid for e in doc.events):
        raise InvalidInput.field(("events",), "every event must belong to the exported session")
    ids = [e.id for e in doc.events]
    if len(set(ids)) != len(ids) or any(not i for i in ids):
        raise InvalidInput.field(("events",), "event ids must be present and unique")
    start = doc.checkpoint or Checkpoint()
    if any(checkpoint.id_key(i) <= checkpoint.id_key(start.id) for i in ids):
        raise InvalidInput.field(("events",), "the events are the ones after the checkpoint")
    try:
        replayed = SessionSnapshot.of(replayed_state(doc))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidInput.field(("events",), f"the event log does not replay: {exc}") from None
    try:
        carried = SessionSnapshot(
            session=doc.session,
            questions={q.id: q for q in doc.questions},
            answers={a.id: a for a in doc.answers},
            automod=doc.automod,
            intake=doc.intake,
            announcements={a.id: a for a in doc.announcements},  # ids: minutes, as text
        )
    except ValidationError as exc:
        raise invalid_input(exc, "not an atexpert session export") from None
    if replayed != carried:
        raise InvalidInput.field(
            ("events",),
            "the event log does not rebuild the session, questions, answers and settings",
        )
    return replayed


def replayed_state(doc: SessionExport) -> SessionState:
    """The state the export's checkpoint (if any) and events fold to."""
    start = doc.checkpoint or Checkpoint()
    return replay(doc.events, start.state.model_copy(deep=True))


async def import_session(redis: RedisClient, doc: SessionExport) -> Session:
    """Recreate the exported session here (checkpoint, events, records, indexes, meter),
    atomically."""
    check_consistent(doc)
    sid = doc.session.id
    state = replayed_state(doc)
    slots = {k: i for i, k in enumerate([keys.events(sid), keys.session(sid), keys.meter(sid)], 1)}

    def ref(key: str) -> int:
        return slots.setdefault(key, len(slots) + 1)

    events = []
    for e in doc.events:
        fields = event_fields(e.kind, e.entity_id, e.actor, e.at, e.data, e.fence)
        events.append([e.id, [*fields, "v", str(e.version)]])
    records: list[list[object]] = [[2, dumps(state.session)]]
    index: list[list[object]] = []
    for qid, q in state.questions.items():
        records.append([ref(keys.question(sid, qid)), dumps(q)])
        score = keys.ms(Question.model_validate({**q, "session_id": sid}).received_at)
        index.append([ref(keys.question_index(sid, str(q["status"]))), score, qid])
    for aid, a in state.answers.items():
        records.append([ref(keys.answer(sid, aid)), dumps(a)])
        score = keys.ms(Answer.model_validate(a).created_at)
        index.append([ref(keys.answer_index(sid, str(a["status"]))), score, aid])
    meter: list[list[object]] = []
    for kind, usd in doc.spend.by_kind_usd.items():
        meter.append(["usd:" + kind.value, to_micro(usd)])
    for kind, n in doc.spend.counts.items():
        meter.append(["n:" + kind.value, n])
    settings = [
        [ref(key), name, value]
        for key, fields in _setting_hashes(sid, state)
        for name, value in fields.items()
    ]
    if doc.checkpoint is not None:
        base = doc.checkpoint
        at = "" if base.at is None else base.at.isoformat()
        hashed = {"id": base.id, "at": at, "state": checkpoint.encode_state(base.state)}
        settings += [[ref(keys.checkpoint(sid)), k, v] for k, v in hashed.items()]
    payload = json.dumps(
        {"events": events, "records": records, "index": index, "meter": meter, "settings": settings}
    )
    script = redis.register_script(_IMPORT_LUA)
    reply = await script(keys=list(slots), args=[payload])
    if reply != "ok":
        raise Conflict(f"session {sid} already exists here; nothing was imported")
    session = doc.session
    await redis.zadd(keys.GLOBAL_SESSIONS, {sid: keys.ms(session.created_at)})
    due = sessions.due_at(session)
    if due is not None:
        await redis.zadd(keys.GLOBAL_DUE, {sid: keys.ms(due)})
    return session


def _setting_hashes(sid: str, state: SessionState) -> list[tuple[str, Record]]:
    """The settings' hashes as their stores write them (see atexpert.store.session_settings),
    and the announcements' (atexpert.store.series_announcements)."""
    out: list[tuple[str, Record]] = []
    if state.automod is not None:
        out.append((keys.automod(sid), {**state.automod, "config": dumps(state.automod["config"])}))
    if state.intake is not None:
        out.append((keys.intake(sid, "config"), state.intake))
    if state.announcements:
        announcements = {k: dumps(v) for k, v in state.announcements.items()}
        out.append((keys.series_announcements(sid), announcements))
    return out
