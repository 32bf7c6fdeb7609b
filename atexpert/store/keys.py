"""Redis key layout. Every key of one session carries the hash tag ``{<session id>}``.

Per session (one Cluster slot, so one Lua step may touch any of them)::

    ama:{s_x}:session            Session JSON
    ama:{s_x}:events             Stream: the session's event log (the tail after the checkpoint)
    ama:{s_x}:checkpoint         hash id, at, state: the log folded up to ``id`` (checkpoint)
    ama:{s_x}:q:<qid>            Question JSON (qid = "q_" + source tweet id)
    ama:{s_x}:qs:<status>        sorted set of question ids by arrival (ms)
    ama:{s_x}:a:<aid>            Answer JSON
    ama:{s_x}:as:<status>        sorted set of answer ids by creation (ms)
    ama:{s_x}:qby:<asker id>     sorted set of one X account's question ids by arrival (ms)
    ama:{s_x}:qby                set once every question of the session is in those sets

The ``qby`` keys are derived data (rebuilt from the question records, see
``QuestionSteps.list_questions_by``): written in the step that creates the record, never
replayed from the event log.

Side keys of a session (same tag; each module's docstring tells what they hold)::

    ama:{s_x}:intake:<part>      cursor, status, n, config (intake_state), likes (intake_likes)
    ama:{s_x}:automod[:by:<id>]  auto-moderation config, an author's recent questions
    ama:{s_x}:meter[:budget]     X API spend and its budget
    ama:{s_x}:meter:days|months|monthly_budget  spend per local day and month, its budget
    ama:{s_x}:pub:<name>         publisher attempts and status
    ama:{s_x}:autoreply[:<period>]  automatic replies to post; askers answered per period
    ama:{s_x}:presence|claims|live   live consoles: who is there, who holds which question

Global, best-effort mirrors derived from the session records (``{global}`` tag)::

    ama:{global}:sessions        sorted set session id -> created_at (ms)
    ama:{global}:due             sorted set session id -> next scheduler deadline (ms)

Keys outside any session: ``ama:{staff}:*`` (staff_store, login_throttle), ``ama:{invites}:*``
(invitation_store), ``ama:{x}:*`` (x_accounts), ``ama:{meter}:limits`` (meter),
``ama:{lease:<name>}:*`` (scheduler), ``ama:{series}:*`` (series: records, slugs, each series'
sessions), ``ama:{s_x}:series:announce`` (the announcements before an occurrence). This module
is the only one that builds key strings.
"""

from __future__ import annotations

import re
from datetime import datetime

from atexpert.domain.errors import NotFound

ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

GLOBAL_SESSIONS = "ama:{global}:sessions"
GLOBAL_DUE = "ama:{global}:due"
SESSION_PATTERN = "ama:{*}:session"
METER_LIMITS = "ama:{meter}:limits"
X_ACCOUNTS = "ama:{x}:accounts"
LOGIN_THROTTLES = "ama:{staff}:throttles"
SERIES_ALL = "ama:{series}:all"


def ms(at: datetime) -> int:
    """Sorted-set score of a time: milliseconds since the epoch."""
    return int(at.timestamp() * 1000)


def check_id(entity: str, value: str) -> str:
    """Ids end up inside keys: anything else than ``[A-Za-z0-9_-]`` can't exist."""
    if ID.fullmatch(value) is None:
        raise NotFound(entity, repr(value)[:80])
    return value


def _tag(session_id: str) -> str:
    return "ama:{" + check_id("session", session_id) + "}:"


def session_key(session_id: str, name: str) -> str:
    """Any other key of the session (intake, meter, publisher, presence...): same hash tag."""
    return _tag(session_id) + name


def session(session_id: str) -> str:
    return _tag(session_id) + "session"


def events(session_id: str) -> str:
    return _tag(session_id) + "events"


def checkpoint(session_id: str) -> str:
    """The session's checkpoint: its state folded up to an event id trimmed from the log."""
    return _tag(session_id) + "checkpoint"


def question(session_id: str, question_id: str) -> str:
    return _tag(session_id) + "q:" + check_id("question", question_id)


def question_index(session_id: str, status: str) -> str:
    return _tag(session_id) + "qs:" + status


def asker_questions(session_id: str, author_id: str) -> str:
    """Sorted set: the question ids of one X account (``author.id``) by arrival (ms)."""
    return _tag(session_id) + "qby:" + check_id("asker", author_id)


def askers_indexed(session_id: str) -> str:
    """Set when every question of the session is in its asker's ``asker_questions``."""
    return _tag(session_id) + "qby"


def answer(session_id: str, answer_id: str) -> str:
    return _tag(session_id) + "a:" + check_id("answer", answer_id)


def answer_index(session_id: str, status: str) -> str:
    return _tag(session_id) + "as:" + status


def record(session_id: str, entity: str, entity_id: str) -> str:
    """The key of a session, question or answer record."""
    if entity == "session":
        return session(session_id)
    if entity == "question":
        return question(session_id, entity_id)
    return answer(session_id, entity_id)


def status_index(session_id: str, entity: str, status: str) -> str | None:
    """The sorted set of the entity's ids in ``status``; sessions have none per session."""
    if entity == "question":
        return question_index(session_id, status)
    if entity == "answer":
        return answer_index(session_id, status)
    return None


def session_id_of(session_key: str) -> str:
    return session_key[len("ama:{") : session_key.index("}")]


def intake(session_id: str, part: str) -> str:
    """``cursor``, ``status``, ``n`` (counters), ``config`` (the mode) or ``likes`` (due flag)."""
    return session_key(session_id, "intake:" + part)


def automod(session_id: str) -> str:
    """The hash of the session's auto-moderation config."""
    return session_key(session_id, "automod")


def automod_history(session_id: str, author_id: str) -> str:
    """The author's recent questions, by post time."""
    return automod(session_id) + ":by:" + author_id


def meter(session_id: str) -> str:
    return session_key(session_id, "meter")


def meter_budget(session_id: str) -> str:
    return meter(session_id) + ":budget"


def auto_replies(session_id: str) -> str:
    """Hash: ``<closed period>|<asker id>`` -> JSON of an automatic reply to post."""
    return session_key(session_id, "autoreply")


def auto_replied(session_id: str, period: str) -> str:
    """Set: the askers already answered automatically in one closed period."""
    return session_key(session_id, "autoreply:" + period)


def meter_days(session_id: str) -> str:
    """Hash: local day (``2026-12-06``, the session's time zone) -> micro-dollars."""
    return meter(session_id) + ":days"


def meter_months(session_id: str) -> str:
    """Hash: local month (``2026-12``) -> micro-dollars."""
    return meter(session_id) + ":months"


def meter_monthly_budget(session_id: str) -> str:
    return meter(session_id) + ":monthly_budget"


def publisher(session_id: str, name: str) -> str:
    """``attempts`` or ``status`` of the session's publisher."""
    return session_key(session_id, "pub:" + name)


def staff(name: str) -> str:
    """``usernames``, ``user:<id>``, ``token:<sha256>``, ``tokens:<id>``, ``login:...``."""
    return "ama:{staff}:" + name


def login_throttle(throttle_id: str) -> str:
    """A login failure counter (``a-<hash>`` per account and client, ``c-<hash>`` per client)."""
    return "ama:{staff}:throttle:" + check_id("throttle", throttle_id)


def invitation_link(digest: str) -> str:
    return "ama:{invites}:link:" + digest


def invitations_pending(session_id: str) -> str:
    return "ama:{invites}:pending:" + check_id("session", session_id)


def x_account(handle: str) -> str:
    return "ama:{x}:account:" + handle.lower()


def x_pkce(state: str) -> str:
    return "ama:{x}:pkce:" + state


def x_refresh_lock(handle: str) -> str:
    return "ama:{x}:refresh:" + handle.lower()


def lease(name: str, part: str) -> str:
    """``holder`` or ``fence`` of the lease ``name``."""
    return "ama:{lease:" + name + "}:" + part


def series(series_id: str) -> str:
    """The series record (JSON)."""
    return "ama:{series}:rec:" + check_id("series", series_id)


def series_slug(slug: str) -> str:
    """The id of the series named ``slug``."""
    return "ama:{series}:slug:" + check_id("series", slug)


def series_sessions(series_id: str) -> str:
    """Sorted set: the series' session ids by scheduled start (ms)."""
    return "ama:{series}:sessions:" + check_id("series", series_id)


def series_announcements(session_id: str) -> str:
    """Hash: minutes before the start -> the state of that announcement (JSON)."""
    return session_key(session_id, "series:announce")
