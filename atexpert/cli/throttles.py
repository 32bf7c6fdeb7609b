"""``atexpert user throttles [--clear ID]``: the login failure counters, as admins see them in
``GET /api/throttles`` (see docs/staff.md, "Login throttling")."""

from __future__ import annotations

import argparse

from atexpert.cli.common import OPERATOR, stores_of
from atexpert.domain.clock import SystemClock
from atexpert.settings import Settings
from atexpert.store.login_throttle import LoginThrottle
from atexpert.store.redis_conn import RedisRuntime
from atexpert.web.commands import NoInput, execute
from atexpert.web.staff_commands import USER_COMMANDS


async def run_user_throttles(args: argparse.Namespace, settings: Settings) -> int:
    async with RedisRuntime(settings) as runtime:
        clock = SystemClock()
        if args.clear is not None:
            command, stores = USER_COMMANDS["clear_throttle"], stores_of(runtime.client)
            await execute(command, stores, OPERATOR, "", args.clear, NoInput(), at=clock.now())
            print(f"cleared {args.clear}")
            return 0
        for t in await LoginThrottle(runtime.client, clock).list():
            who = f"{t.username} from {t.client}" if t.username is not None else t.client
            wait = f"retry in {t.retry_after} s" if t.retry_after else "not blocking"
            print(f"{t.id}  {t.kind.value:<7}  {who}  {t.failures} failures, {wait}")
        return 0


def add_throttles_command(users: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    throttles = users.add_parser("throttles", help="list login failure counters, or clear one")
    throttles.add_argument("--clear", metavar="ID", help="forget the counter ID")
    throttles.set_defaults(run=run_user_throttles)
