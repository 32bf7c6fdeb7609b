"""``atexpert user``: create staff users, give them API tokens, list, disable, enable and
delete them."""

from __future__ import annotations

import argparse
import getpass
import sys

from atexpert.cli.common import OPERATOR, CliError, SubParsers, stores_of, with_redis
from atexpert.cli.throttles import add_throttles_command
from atexpert.domain.clock import SystemClock
from atexpert.domain.passwords import check_new_password
from atexpert.domain.staff import StaffUser, invalid_username, normalize_username
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.store.staff import StaffStore
from atexpert.web.commands import NoInput, execute
from atexpert.web.staff_commands import USER_COMMANDS, UserCreate


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
    username = normalize_username(args.username)
    if username is None:
        raise CliError(invalid_username(args.username))
    body = UserCreate(
        username=username,
        password=password,
        display_name=args.display_name,
        is_admin=args.admin,
    )

    async def work(redis: RedisClient) -> int:
        now = SystemClock().now()
        user: StaffUser = await execute(
            USER_COMMANDS["add"], stores_of(redis), OPERATOR, "", "", body, at=now
        )
        role = "admin" if user.is_admin else "staff"
        print(f"created {role} user {user.username} (id {user.id})")
        return 0

    return await with_redis(settings, work)


async def named_user(staff: StaffStore, username: str) -> StaffUser:
    user = await staff.get_by_username(username)
    if user is None:
        raise CliError(f"no staff user named {username!r}")
    return user


async def run_user_token(args: argparse.Namespace, settings: Settings) -> int:
    async def work(redis: RedisClient) -> int:
        staff = StaffStore(redis)
        user = await named_user(staff, args.username)
        _, secret = await staff.create_token(user.id, args.name)
        print(secret)
        return 0

    return await with_redis(settings, work)


async def run_user_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(redis: RedisClient) -> int:
        for user in await StaffStore(redis).list_users():
            flag = (" (admin)" if user.is_admin else "") + (" (disabled)" if user.disabled else "")
            print(f"{user.id}  {user.username}  {user.display_name}{flag}")
        return 0

    return await with_redis(settings, work)


async def run_user_state(args: argparse.Namespace, settings: Settings) -> int:
    """``disable``, ``enable`` or ``delete`` a staff user: the command of ``USER_COMMANDS``
    on the user's id (the last admin: Conflict, exit status 1)."""

    async def work(redis: RedisClient) -> int:
        user = await named_user(StaffStore(redis), args.username)
        command = USER_COMMANDS[args.user_command]
        now = SystemClock().now()
        await execute(command, stores_of(redis), OPERATOR, "", user.id, NoInput(), at=now)
        print(f"{args.user_command}d staff user {user.username}")
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
    for name, what in [
        ("disable", "disable a staff user: no login, no token, websockets closed"),
        ("enable", "enable a disabled staff user"),
        ("delete", "delete a staff user (the event logs keep the name, no one can reuse it)"),
    ]:
        state = users.add_parser(name, help=what)
        state.add_argument("username")
        state.set_defaults(run=run_user_state)
