"""``atexpert user throttles [--clear ID]``: the login failure counters, as admins see them in
``GET /api/throttles`` (see docs/staff.md, "Login throttling")."""

from __future__ import annotations

import argparse

from atexpert.domain.clock import SystemClock
from atexpert.domain.errors import NotFound
from atexpert.settings import Settings
from atexpert.store.login_throttle import LoginThrottle
from atexpert.store.redis_conn import RedisRuntime


async def run_user_throttles(args: argparse.Namespace, settings: Settings) -> int:
    async with RedisRuntime(settings) as runtime:
        throttle = LoginThrottle(runtime.client, SystemClock())
        if args.clear is not None:
            if not await throttle.clear(args.clear):
                raise NotFound("throttle", args.clear)
            print(f"cleared {args.clear}")
            return 0
        for t in await throttle.list():
            who = f"{t.username} from {t.client}" if t.username is not None else t.client
            wait = f"retry in {t.retry_after} s" if t.retry_after else "not blocking"
            print(f"{t.id}  {t.kind.value:<7}  {who}  {t.failures} failures, {wait}")
        return 0


def add_throttles_command(users: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    throttles = users.add_parser("throttles", help="list login failure counters, or clear one")
    throttles.add_argument("--clear", metavar="ID", help="forget the counter ID")
    throttles.set_defaults(run=run_user_throttles)
