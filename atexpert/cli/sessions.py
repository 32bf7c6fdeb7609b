"""``atexpert session``: create, list and show sessions, run their lifecycle, assign
staff and invite them by link (the session and invitation commands, as the operator)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import TypeAdapter, ValidationError

from atexpert.cli.common import CLI_ACTOR, OPERATOR, CliError, SubParsers, stores_of, with_redis
from atexpert.domain.clock import SystemClock
from atexpert.domain.invitations import (
    DEFAULT_HOURS,
    MAX_HOURS,
    MIN_HOURS,
    Invitation,
    Note,
    invitation_url,
)
from atexpert.domain.sessions import HostAccount, Role, Session, SessionFields, SessionStatus
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.store.store import Store
from atexpert.web.commands import (
    INVITATION_COMMANDS,
    SESSION_COMMANDS,
    InvitationCreate,
    NoInput,
    RoleAssignment,
    Stores,
    execute,
    parse_input,
)

ASSIGN = SESSION_COMMANDS["assign"]


def parse_time(value: str, tz: str) -> datetime:
    """An ISO 8601 time; without an offset it is read in time zone ``tz``."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"{value!r} is not an ISO 8601 time like 2026-11-26T14:00") from None
    if when.tzinfo is None:
        try:
            when = when.replace(tzinfo=ZoneInfo(tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise CliError(
                f"unknown time zone {tz!r} (use an IANA name like Europe/Paris)"
            ) from None
    return when


def session_line(session: Session) -> str:
    start = session.scheduled_start.astimezone(ZoneInfo(session.time_zone))
    tags = " ".join(session.hashtags)
    status = session.status.value
    return f"{session.id}  {status:<9}  {start:%Y-%m-%d %H:%M %Z}  {tags}  {session.title}"


async def run_session_create(args: argparse.Namespace, settings: Settings) -> int:
    fields = SessionFields(
        title=args.title,
        description=args.description,
        kind=args.kind,
        hashtags=args.hashtag,
        host_account=HostAccount(handle=args.host),
        scheduled_start=parse_time(args.start, args.tz),
        scheduled_end=parse_time(args.end, args.tz) if args.end else None,
        time_zone=args.tz,
        language=args.lang,
    )

    async def work(redis: RedisClient) -> int:
        store = Store(redis)
        session = await store.create_session(fields, actor=CLI_ACTOR, at=SystemClock().now())
        if args.schedule:
            session = await store.schedule_session(
                session.id, actor=CLI_ACTOR, at=SystemClock().now()
            )
        print(session_line(session))
        return 0

    return await with_redis(settings, work)


async def run_session_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(redis: RedisClient) -> int:
        status = SessionStatus(args.status) if args.status else None
        for session in await Store(redis).list_sessions(status):
            print(session_line(session))
        return 0

    return await with_redis(settings, work)


async def run_session_show(args: argparse.Namespace, settings: Settings) -> int:
    async def work(redis: RedisClient) -> int:
        session = await Store(redis).get_session(args.session_id)
        print(session.model_dump_json(indent=2))
        return 0

    return await with_redis(settings, work)


async def run_session_action(args: argparse.Namespace, settings: Settings) -> int:
    """The CLI adapter of the session lifecycle commands (as the operator)."""

    async def work(redis: RedisClient) -> int:
        stores, sid, now = stores_of(redis), args.session_id, SystemClock().now()
        draft = (await stores.store.get_session(sid)).status is SessionStatus.DRAFT
        first = ["schedule"] if args.action == "start" and draft else []  # then start
        for name in [*first, args.action]:
            command = SESSION_COMMANDS[name]
            body = parse_input(command, {"queued": args.queued} if name == "close" else {})
            session = await execute(command, stores, OPERATOR, sid, "", body, at=now)
        print(session_line(session))
        return 0

    return await with_redis(settings, work)


async def run_session_assign(args: argparse.Namespace, settings: Settings) -> int:
    wanted = [(Role.MODERATOR, n) for n in args.moderator] + [(Role.EXPERT, n) for n in args.expert]
    if not wanted:
        raise CliError("name at least one --moderator or --expert")

    async def work(redis: RedisClient) -> int:
        stores = stores_of(redis)
        session = await stores.store.get_session(args.session_id)
        for role, username in wanted:
            user = await stores.staff.get_by_username(username)
            if user is None:
                raise CliError(f"no staff user named {username!r}")
            body, now = RoleAssignment(user_id=user.id, role=role), SystemClock().now()
            session = await execute(ASSIGN, stores, OPERATOR, session.id, "", body, at=now)
            print(f"{user.username} is now {role.value} of {session.id}")
        return 0

    return await with_redis(settings, work)


# -- invitations by link -------------------------------------------------------------------

_NOTE = TypeAdapter(Note)


def invitation_line(invitation: Invitation, time_zone: str) -> str:
    until = invitation.expires_at.astimezone(ZoneInfo(time_zone))
    note = f"  {invitation.note}" if invitation.note else ""
    role = invitation.role.value
    return f"{invitation.id}  {role:<9}  valid until {until:%Y-%m-%d %H:%M %Z}{note}"


def checked_note(text: str | None) -> str | None:
    try:
        return _NOTE.validate_python(text or "") or None
    except ValidationError as exc:
        raise CliError(f"--note: {exc.errors()[0]['msg']}") from None


async def with_invitations(
    settings: Settings,
    session_id: str,
    work: Callable[[Stores, Session], Awaitable[None]],
) -> int:
    """Run ``work`` on the invitations of the session ``session_id`` (which must exist)."""

    async def run(redis: RedisClient) -> int:
        stores = stores_of(redis)
        await work(stores, await stores.store.get_session(session_id))
        return 0

    return await with_redis(settings, run)


async def run_session_invite(args: argparse.Namespace, settings: Settings) -> int:
    if not MIN_HOURS <= args.hours <= MAX_HOURS:
        raise CliError(f"--hours is {MIN_HOURS} to {MAX_HOURS} (got {args.hours})")
    note = checked_note(args.note)

    body = InvitationCreate(role=Role(args.role), note=note, expires_in_hours=args.hours)

    async def work(stores: Stores, session: Session) -> None:
        invite = INVITATION_COMMANDS["invite"]
        now = SystemClock().now()
        invitation, secret = await execute(invite, stores, OPERATOR, session.id, "", body, at=now)
        print(invitation_url(settings.public_base_url, secret))
        print(invitation_line(invitation, session.time_zone))

    return await with_invitations(settings, args.session_id, work)


async def run_session_invitations(args: argparse.Namespace, settings: Settings) -> int:
    async def work(stores: Stores, session: Session) -> None:
        for invitation in await stores.invitations.pending(session.id):
            print(invitation_line(invitation, session.time_zone))

    return await with_invitations(settings, args.session_id, work)


async def run_session_uninvite(args: argparse.Namespace, settings: Settings) -> int:
    async def work(stores: Stores, session: Session) -> None:
        uninvite, iid = INVITATION_COMMANDS["uninvite"], args.invitation_id
        now = SystemClock().now()
        await execute(uninvite, stores, OPERATOR, session.id, iid, NoInput(), at=now)
        print(f"revoked invitation {args.invitation_id} of {session.id}")

    return await with_invitations(settings, args.session_id, work)


def add_invitation_commands(sessions: SubParsers) -> None:
    invite = sessions.add_parser(
        "invite", help="print a single-use link to join as moderator or expert"
    )
    invite.add_argument("session_id")
    invite.add_argument("--role", required=True, choices=[r.value for r in Role])
    invite.add_argument("--note", help="shown to the invitee too (at most 200 characters)")
    invite.add_argument(
        "--hours",
        type=int,
        default=DEFAULT_HOURS,
        help=f"how long the link is valid, {MIN_HOURS} to {MAX_HOURS} (default {DEFAULT_HOURS})",
    )
    invite.set_defaults(run=run_session_invite)
    listing = sessions.add_parser("invitations", help="list pending invitations (no links)")
    listing.add_argument("session_id")
    listing.set_defaults(run=run_session_invitations)
    uninvite = sessions.add_parser("uninvite", help="revoke a pending invitation")
    uninvite.add_argument("session_id")
    uninvite.add_argument("invitation_id", help="as listed by 'session invitations'")
    uninvite.set_defaults(run=run_session_uninvite)


def add_session_commands(sub: SubParsers) -> None:
    session = sub.add_parser("session", help="manage AMA sessions")
    sessions = session.add_subparsers(dest="session_command", required=True, metavar="COMMAND")
    create = sessions.add_parser("create", help="create a draft session")
    create.add_argument("--title", required=True)
    create.add_argument("--description", default="")
    create.add_argument(
        "--hashtag", action="append", required=True, help="e.g. #AskAirbus (repeatable)"
    )
    create.add_argument("--host", required=True, help="X handle that publishes the answers")
    create.add_argument("--start", required=True, help="ISO 8601, e.g. 2026-11-26T14:00")
    create.add_argument(
        "--end", help="ISO 8601, e.g. 2026-11-26T15:00 (required but for a desk, which has none)"
    )
    create.add_argument(
        "--kind", default="event", choices=["event", "desk"], help="a desk has no end"
    )
    create.add_argument("--tz", default="UTC", help="IANA time zone (default UTC)")
    create.add_argument("--lang", default="en", choices=["en", "fr"])
    create.add_argument("--schedule", action="store_true", help="schedule it right away")
    create.set_defaults(run=run_session_create)
    listing = sessions.add_parser("list", help="list sessions")
    listing.add_argument("--status", choices=[s.value for s in SessionStatus])
    listing.set_defaults(run=run_session_list)
    show = sessions.add_parser("show", help="show one session as JSON")
    show.add_argument("session_id")
    show.set_defaults(run=run_session_show)
    for action, text in SESSION_ACTIONS.items():
        parser = sessions.add_parser(action, help=text)
        parser.add_argument("session_id")
        if action == "close":
            parser.add_argument(
                "--queued",
                choices=["post", "cancel"],
                default="post",
                help="answers still queued: post them before the closing post (default), "
                "or cancel them (back to drafts)",
            )
        parser.set_defaults(run=run_session_action, action=action)
    assign = sessions.add_parser("assign", help="make staff users moderators or experts")
    assign.add_argument("session_id")
    assign.add_argument("--moderator", action="append", default=[], metavar="USERNAME")
    assign.add_argument("--expert", action="append", default=[], metavar="USERNAME")
    assign.set_defaults(run=run_session_assign)
    add_invitation_commands(sessions)


SESSION_ACTIONS = {
    "schedule": "draft -> scheduled",
    "start": "go live now (a draft is scheduled first)",
    "close": "live -> closed (or wrapping_up, with a wrap-up period); wrapping_up -> closed",
    "archive": "closed or draft -> archived",
}
