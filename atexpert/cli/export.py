"""``atexpert export SESSION --format json|csv|md [-o FILE]`` and ``atexpert import FILE``.

Wired into the CLI by ``add_export_commands(subparsers)``. Failures (unknown session, an
existing id on import, a file that is not an export) raise errors the CLI prints as one
line with exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from atexpert.recap import exports
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisRuntime
from atexpert.store.staff import StaffStore
from atexpert.store.store import Store


async def run_export(args: argparse.Namespace, settings: Settings) -> int:
    days = exports.days_of(args.format, args.start, args.end)
    async with RedisRuntime(settings) as runtime:
        store = Store(runtime.client)
        names = await StaffStore(runtime.client).names()
        doc = await exports.export_session(store, runtime.client, args.session, names, days)
    text = exports.render(doc, args.format, names)
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    path = Path(args.output)
    if path.is_dir():
        path /= exports.file_name(doc.session, args.format)
    path.write_text(text, encoding="utf-8", newline="")
    print(f"exported {args.session} to {path}", file=sys.stderr)
    return 0


async def run_import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    doc = exports.parse_export(raw)
    async with RedisRuntime(settings) as runtime:
        session = await exports.import_session(runtime.client, doc)
    print(f"imported {session.id} ({len(doc.events)} events): {session.title}")
    return 0


def add_export_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = subparsers.add_parser("export", help="export a session (json is importable)")
    export.add_argument("session", metavar="SESSION", help="session id")
    export.add_argument("--format", choices=["json", "csv", "md"], default="json")
    for flag, dest, what in (
        ("--from", "start", "first day"),
        ("--to", "end", "day after the last"),
    ):
        export.add_argument(
            flag,
            dest=dest,
            type=date.fromisoformat,
            metavar="YYYY-MM-DD",
            help=f"csv or md: the {what} of a range, in the session's time zone",
        )
    export.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write here (default: stdout); a folder: into it, named after the session "
        "(e.g. askairbus-2026-05-01.csv)",
    )
    export.set_defaults(run=run_export)
    imp = subparsers.add_parser("import", help="import a session from its JSON export")
    imp.add_argument("file", metavar="FILE", help="a JSON export ('-': standard input)")
    imp.set_defaults(run=run_import)
