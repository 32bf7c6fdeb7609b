"""``atexpert series``: create, list and show series (the series commands, as the operator)."""

from __future__ import annotations

import argparse
import json

from atexpert.cli.common import OPERATOR, SubParsers, stores_of, with_redis
from atexpert.domain.clock import SystemClock, shown_time
from atexpert.domain.errors import NotFound
from atexpert.domain.series import Series, SeriesFields, occurrences
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.store.series import SeriesStore
from atexpert.web.commands import execute
from atexpert.web.series_commands import SERIES_COMMANDS, occurrence

CREATE = SERIES_COMMANDS["series_create"]


def series_line(series: Series) -> str:
    starts = occurrences(series, SystemClock().now(), 1)
    following = shown_time(starts[0], series.time_zone) if starts else "ended"
    tags = " ".join(series.hashtags)
    rule = f"{series.rrule} {series.start_time}"
    return f"{series.id}  {series.slug}  {rule}  next: {following}  {tags}  {series.title}"


async def run_series_create(args: argparse.Namespace, settings: Settings) -> int:
    raw = {
        "slug": args.slug,
        "title": args.title,
        "hashtags": args.hashtag,
        "host_account": {"handle": args.host},
        "time_zone": args.tz,
        "rrule": args.rule,
        "start_time": args.start,
        "duration_minutes": args.duration,
        "language": args.lang,
    }
    body = SeriesFields.model_validate(raw)  # a ValidationError names the fields

    async def work(redis: RedisClient) -> int:
        now = SystemClock().now()
        series = await execute(CREATE, stores_of(redis), OPERATOR, "", "", body, at=now)
        print(series_line(series))
        return 0

    return await with_redis(settings, work)


async def run_series_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(redis: RedisClient) -> int:
        for series in await SeriesStore(redis).list():
            print(series_line(series))
        return 0

    return await with_redis(settings, work)


async def run_series_show(args: argparse.Namespace, settings: Settings) -> int:
    """The series (by id or slug) and its sessions with their announcements, as JSON."""

    async def work(redis: RedisClient) -> int:
        store = SeriesStore(redis)
        try:
            series = await store.get(args.series)
        except NotFound:
            series = await store.by_slug(args.series)
        shown = [await occurrence(redis, series, s) for s in await store.sessions(series.id)]
        out = {
            "series": series.model_dump(mode="json"),
            "occurrences": [o.model_dump(mode="json") for o in shown],
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0

    return await with_redis(settings, work)


def add_series_commands(sub: SubParsers) -> None:
    series = sub.add_parser("series", help="manage series (recurring sessions)")
    commands = series.add_subparsers(dest="series_command", required=True, metavar="COMMAND")
    create = commands.add_parser("create", help="create a series")
    create.add_argument("--slug", required=True, help="its URL name, e.g. ask-airbus")
    create.add_argument("--title", required=True)
    create.add_argument("--hashtag", action="append", required=True, help="repeatable")
    create.add_argument("--host", required=True, help="X handle that posts")
    create.add_argument("--tz", required=True, help="IANA time zone, e.g. Europe/Paris")
    create.add_argument(
        "--rule", required=True, help='RFC 5545 rule, e.g. "FREQ=MONTHLY;BYDAY=1TU"'
    )
    create.add_argument("--start", required=True, help="local start time, HH:MM")
    create.add_argument("--duration", type=int, default=60, help="minutes (default 60)")
    create.add_argument("--lang", default="en", choices=["en", "fr"])
    create.set_defaults(run=run_series_create)
    commands.add_parser("list", help="list series").set_defaults(run=run_series_list)
    show = commands.add_parser("show", help="a series and its sessions with announcements (JSON)")
    show.add_argument("series", help="id or slug")
    show.set_defaults(run=run_series_show)
