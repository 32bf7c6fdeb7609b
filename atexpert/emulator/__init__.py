"""A local X API v2: the endpoints atexpert uses, X's 2026 rules, faults on demand."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from atexpert.emulator.app import create_emulator_app
from atexpert.emulator.server import EmulatorServer, run_emulator

__all__ = ["EmulatorServer", "add_emulator_command", "create_emulator_app", "run_emulator"]


def add_emulator_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``atexpert emulator --host --port [--snapshot FILE]``; the handler is
    ``args.func(args)``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "emulator", help="run the local X API v2 emulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400)
    parser.add_argument(
        "--snapshot",
        type=Path,
        default=None,
        help="JSON file that keeps the emulator's state across restarts",
    )
    parser.set_defaults(func=lambda args: run_emulator(args.host, args.port, args.snapshot))
    return parser
