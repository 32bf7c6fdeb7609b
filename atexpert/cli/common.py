"""What the command modules of the ``atexpert`` command line share: the operator, the
user-facing error and Redis for one command."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from atexpert.settings import Settings
from atexpert.store.invitations import InvitationStore
from atexpert.store.redis_conn import RedisClient, RedisRuntime
from atexpert.store.staff import StaffStore
from atexpert.store.store import Store
from atexpert.web.commands import Caller, Stores

CLI_ACTOR = "cli"
#: The CLI runs the commands as the operator, who may do everything.
OPERATOR = Caller(CLI_ACTOR)

Run = Callable[[argparse.Namespace, Settings], Awaitable[int]]
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


async def with_redis(settings: Settings, work: Callable[[RedisClient], Awaitable[int]]) -> int:
    async with RedisRuntime(settings) as runtime:
        return await work(runtime.client)


def stores_of(redis: RedisClient) -> Stores:
    """What the commands write to."""
    return Stores(Store(redis), StaffStore(redis), InvitationStore(redis), redis)
