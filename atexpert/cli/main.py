"""The ``atexpert`` command line: its parser and dispatch, ``serve`` and ``demo``; staff
users, sessions and exports have their own modules (:mod:`atexpert.cli.users`, ...).

Errors print one line on stderr and exit with status 1 (2 for usage errors, from
argparse, and for serving with an unfit secret key); never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError

from atexpert import __version__
from atexpert.cli.backup import add_backup_commands
from atexpert.cli.common import CliError, Run, SubParsers
from atexpert.cli.demo import print_demo, seed_demo, with_secret_key
from atexpert.cli.export import add_export_commands
from atexpert.cli.series import add_series_commands
from atexpert.cli.sessions import add_session_commands
from atexpert.cli.users import add_user_commands
from atexpert.domain.clock import SystemClock
from atexpert.domain.errors import AtexpertError
from atexpert.emulator import add_emulator_command
from atexpert.emulator.demo import demo_emulator
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisRuntime, RedisUnavailable
from atexpert.store.redis_embedded import EmbeddedRedisError
from atexpert.store.staff import UnknownUser

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
    from atexpert.web.logs import configure_logging
    from atexpert.web.serving import server_config
    from atexpert.web.workers import background_hooks

    settings = bound(settings, host, port)
    app = create_app(settings, lifespan_hooks=background_hooks())
    options: dict[str, Any] = {}
    if settings.log_format == "json":  # uvicorn's loggers too, through the root handler
        configure_logging("json")
        options["log_config"] = None
    await uvicorn.Server(server_config(app, host, port, log_level="info", **options)).serve()


async def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    if (problem := settings.secret_key_problem()) is not None:
        fail(problem)
        return 2
    async with RedisRuntime(settings):  # fail here, in one line, if Redis is unusable
        pass
    await serve(
        settings, args.host or settings.host, settings.port if args.port is None else args.port
    )
    return 0


# -- demo ----------------------------------------------------------------------------------


class Terminated(Exception):
    """SIGTERM, raised where the program runs so that every ``with`` block cleans up."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


async def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    # Python's default SIGTERM ends the process on the spot, and uvicorn re-raises the signal
    # once it has shut down: either way the temporary data (password hashes, X tokens) would
    # stay behind. Raising instead unwinds the exit stack below; SIGINT already does.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return await _demo(args, settings)
    except Terminated:
        return 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)


async def _demo(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    async with AsyncExitStack() as stack:
        # A fresh data dir, removed on exit: the emulator's state and, unless a Redis URL is
        # configured, the embedded Redis.
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="atexpert-demo-"))
        settings = with_secret_key(settings.model_copy(update={"data_dir": Path(data_dir)}))
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
    add_series_commands(sub)
    add_demo_command(sub)
    add_emulator_command(sub)
    add_export_commands(sub)
    add_backup_commands(sub)
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
