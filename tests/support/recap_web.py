"""The app with the recap routes it mounts, and a parser of the links, scripts and inline
styles of a page: shared by the recap tests over HTTP and the recap world test."""

from __future__ import annotations

from html.parser import HTMLParser

import redis.asyncio as aioredis
from argon2 import PasswordHasher
from starlette.applications import Starlette

from atexpert.settings import Settings
from atexpert.web.app import create_app

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def recap_app(settings: Settings, redis: aioredis.Redis) -> Starlette:
    """The app, with the recap routes it mounts."""
    app = create_app(settings, redis=redis, password_hasher=FAST_HASHER, run_scheduler=False)
    return app


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.scripts = 0
        self.inline_styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
        self.scripts += tag == "script"
        self.inline_styles += "style" in found or tag == "style"
