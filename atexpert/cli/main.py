"""The ``atexpert`` command line: serve, staff users, sessions, invitations and the demo.

Errors print one line on stderr and exit with status 1 (2 for usage errors, from
argparse); never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import TypeAdapter, ValidationError
from redis.exceptions import RedisError

from atexpert import __version__
from atexpert.cli.demo import print_demo, seed_demo
from atexpert.cli.export import add_export_commands
from atexpert.cli.throttles import add_throttles_command
from atexpert.domain.clock import SystemClock
from atexpert.domain.errors import AtexpertError
from atexpert.domain.invitations import (
    DEFAULT_HOURS,
    MAX_HOURS,
    MIN_HOURS,
    Invitation,
    Note,
    invitation_url,
)
from atexpert.domain.passwords import check_new_password
from atexpert.domain.sessions import HostAccount, Role, Session, SessionFields, SessionStatus
from atexpert.emulator import add_emulator_command
from atexpert.emulator.demo import demo_emulator
from atexpert.settings import Settings
from atexpert.store.invitations import InvitationStore
from atexpert.store.redis_conn import RedisClient, RedisRuntime, RedisUnavailable
from atexpert.store.redis_embedded import EmbeddedRedisError
from atexpert.store.staff import StaffStore, UnknownUser, UsernameTaken
from atexpert.store.store import Store
from atexpert.web.commands import (
    INVITATION_COMMANDS,
    SESSION_COMMANDS,
    Caller,
    InvitationCreate,
    NoInput,
    RoleAssignment,
    Stores,
    execute,
)

CLI_ACTOR = "cli"
OPERATOR = Caller(CLI_ACTOR)
ASSIGN = SESSION_COMMANDS["assign"]

Run = Callable[[argparse.Namespace, Settings], Awaitable[int]]
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


async def with_redis(settings: Settings, work: Callable[[RedisClient], Awaitable[int]]) -> int:
    async with RedisRuntime(settings) as runtime:
        return await work(runtime.client)


# -- serve ---------------------------------------------------------------------------------


def bound(settings: Settings, host: str, port: int) -> Settings:
    """``settings`` for serving on ``host:port``: unless set explicitly, the public URL (the
    origin the live websockets accept) is that address."""
    if "public_base_url" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"public_base_url": f"http://{host}:{port}"})


async def serve(settings: Settings, host: str, port: int) -> None:
    # Imported here: the other commands need neither the web stack nor uvicorn.
    import uvicorn

    from atexpert.web.app import create_app
    from atexpert.web.workers import background_hooks

    settings = bound(settings, host, port)
    app = create_app(settings, lifespan_hooks=background_hooks())
    # Each live event is serialized once for all clients: per-message compression would
    # redo that work per client and frame. The client's address is read by the app alone,
    # from settings.trusted_proxies (web/client_ip.py): uvicorn's own X-Forwarded-For
    # handling (which trusts 127.0.0.1 by default) is off.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        ws_per_message_deflate=False,
        proxy_headers=False,
    )
    await uvicorn.Server(config).serve()


async def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    async with RedisRuntime(settings):  # fail here, in one line, if Redis is unusable
        pass
    await serve(
        settings, args.host or settings.host, settings.port if args.port is None else args.port
    )
    return 0


# -- users ---------------------------------------------------------------------------------


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise CliError("the passwords differ")
    else:
        raise CliError("no terminal to prompt for a password: use --password-stdin")
    check_new_password(password, args.username)  # InvalidInput: one line, exit status 1
    return password


async def run_user_add(args: argparse.Namespace, settings: Settings) -> int:
    password = read_password(args)

    async def work(redis: RedisClient) -> int:
        staff = StaffStore(redis)
        try:
            user = await staff.create_user(
                args.username, password, display_name=args.display_name, is_admin=args.admin
            )
        except UsernameTaken as exc:
            raise CliError(str(exc)) from exc
        role = "admin" if user.is_admin else "staff"
        print(f"created {role} user {user.username} (id {user.id})")
        return 0

    return await with_redis(settings, work)


async def run_user_token(args: argparse.Namespace, settings: Settings) -> int:
    async def work(redis: RedisClient) -> int:
        staff = StaffStore(redis)
        user = await staff.get_by_username(args.username)
        if user is None:
            raise CliError(f"no staff user named {args.username!r}")
        _, secret = await staff.create_token(user.id, args.name)
        print(secret)
        return 0

    return await with_redis(settings, work)


async def run_user_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(redis: RedisClient) -> int:
        for user in await StaffStore(redis).list_users():
            flag = " (admin)" if user.is_admin else ""
            print(f"{user.id}  {user.username}  {user.display_name}{flag}")
        return 0

    return await with_redis(settings, work)


def add_user_commands(sub: SubParsers) -> None:
    user = sub.add_parser("user", help="manage staff users")
    users = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    add = users.add_parser("add", help="create a staff user")
    add.add_argument("username")
    add.add_argument("--admin", action="store_true", help="give global admin rights")
    add.add_argument("--display-name", help="shown name (defaults to the username)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(run=run_user_add)
    token = users.add_parser("token", help="create an API token and print it (once)")
    token.add_argument("username")
    token.add_argument("--name", default="cli", help="a label for the token")
    token.set_defaults(run=run_user_token)
    users.add_parser("list", help="list staff users").set_defaults(run=run_user_list)
    add_throttles_command(users)


# -- sessions ------------------------------------------------------------------------------


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
        hashtags=args.hashtag,
        host_account=HostAccount(handle=args.host),
        scheduled_start=parse_time(args.start, args.tz),
        scheduled_end=parse_time(args.end, args.tz),
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
        stores, sid, now = _stores(redis), args.session_id, SystemClock().now()
        draft = (await stores.store.get_session(sid)).status is SessionStatus.DRAFT
        first = ["schedule"] if args.action == "start" and draft else []  # then start
        for name in [*first, args.action]:
            command = SESSION_COMMANDS[name]
            session = await execute(command, stores, OPERATOR, sid, "", NoInput(), at=now)
        print(session_line(session))
        return 0

    return await with_redis(settings, work)


async def run_session_assign(args: argparse.Namespace, settings: Settings) -> int:
    wanted = [(Role.MODERATOR, n) for n in args.moderator] + [(Role.EXPERT, n) for n in args.expert]
    if not wanted:
        raise CliError("name at least one --moderator or --expert")

    async def work(redis: RedisClient) -> int:
        stores = _stores(redis)
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


def _stores(redis: RedisClient) -> Stores:
    return Stores(Store(redis), StaffStore(redis), InvitationStore(redis))


async def with_invitations(
    settings: Settings,
    session_id: str,
    work: Callable[[Stores, Session], Awaitable[None]],
) -> int:
    """Run ``work`` on the invitations of the session ``session_id`` (which must exist)."""

    async def run(redis: RedisClient) -> int:
        stores = _stores(redis)
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
    create.add_argument("--end", required=True, help="ISO 8601, e.g. 2026-11-26T15:00")
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
    "close": "live -> closed",
    "archive": "closed or draft -> archived",
}


# -- demo ----------------------------------------------------------------------------------


async def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    async with AsyncExitStack() as stack:
        # A fresh data dir, removed on exit: the emulator's state and, unless a Redis URL is
        # configured, the embedded Redis.
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="atexpert-demo-"))
        settings = settings.model_copy(update={"data_dir": Path(data_dir)})
        settings = await stack.enter_async_context(demo_emulator(settings))
        async with RedisRuntime(settings) as runtime:
            seed = await seed_demo(settings, runtime.client, SystemClock().now())
        print_demo(seed, bound(settings, host, port).public_base_url.rstrip("/"))
        if args.no_serve:
            return 0
        # The app's lifespan reopens the (embedded) Redis, so that uvicorn's shutdown on
        # SIGTERM/SIGINT also stops it.
        await serve(settings, host, port)
    return 0


def add_demo_command(sub: SubParsers) -> None:
    demo = sub.add_parser(
        "demo", help="seed a live #AskAirbus session on an embedded Redis and serve it"
    )
    demo.add_argument("--host", help="address to bind (default: settings.host)")
    demo.add_argument("--port", type=int, help="port to bind (default: settings.port)")
    demo.add_argument("--no-serve", action="store_true", help="seed and print, do not serve")
    demo.set_defaults(run=run_demo)


# -- parser and main -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atexpert", description="Live 'Ask the Expert' sessions on X."
    )
    parser.add_argument("--version", action="version", version=f"atexpert {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the web app")
    serve.add_argument("--host", help="address to bind (default: settings.host)")
    serve.add_argument("--port", type=int, help="port to bind (default: settings.port)")
    serve.set_defaults(run=run_serve)
    add_user_commands(sub)
    add_session_commands(sub)
    add_demo_command(sub)
    add_emulator_command(sub)
    add_export_commands(sub)
    return parser


async def _dispatch(args: argparse.Namespace) -> int:
    run: Run | None = getattr(args, "run", None)
    if run is not None:
        return await run(args, Settings())
    func: Callable[[argparse.Namespace], int | None] = args.func
    status = await asyncio.to_thread(func, args)
    return 0 if status is None else status


def main(
    argv: Sequence[str] | None = None, *, parser: argparse.ArgumentParser | None = None
) -> int:
    """Run one command; ``parser`` defaults to :func:`build_parser`'s."""
    args = (parser or build_parser()).parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_dispatch(args))
    except KeyboardInterrupt:
        return 130
    except ValidationError as exc:  # before ValueError, its base class
        return fail(_validation_message(exc))
    except (
        CliError,
        AtexpertError,
        RedisUnavailable,
        EmbeddedRedisError,
        UnknownUser,
        ValueError,
    ) as exc:
        return fail(str(exc))
    except (RedisError, OSError) as exc:
        return fail(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug: one line, unless --debug asks for the traceback
        if args.debug:
            raise
        return fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)")


def fail(message: str) -> int:
    print(f"atexpert: error: {message}", file=sys.stderr)
    return 1


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())
