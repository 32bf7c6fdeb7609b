"""The background workers `atexpert serve` runs beside the web app: intake and publishing
(after the stored X tokens are encrypted with the current key).

Both are lifespan hooks for :func:`atexpert.web.app.create_app`. Each takes a Redis lease per
session, so any number of app processes can run them: one process works on a session at a
time, another takes over when it stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from atexpert.publish.publisher import PublishConfig
from atexpert.web.api_routing import Services
from atexpert.web.app import LifespanHook
from atexpert.web.intake_service import intake_hook
from atexpert.web.publish_service import PublishService, tweepy_posters
from atexpert.web.tasks import stop_task
from atexpert.x.accounts import XAccountStore
from atexpert.x.meter import Meter


@asynccontextmanager
async def publishing(services: Services) -> AsyncIterator[PublishService]:
    """Publish queued answers of live sessions with the host account's connected token."""
    accounts = XAccountStore(services.redis, services.settings, services.clock)
    service = PublishService(
        services.store,
        services.redis,
        tweepy_posters(services.settings, accounts.session_token),
        config=PublishConfig(public_base_url=services.settings.public_base_url),
        clock=services.clock,
        meter=Meter(services.redis, clock=services.clock),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop), name="atexpert-publisher")
    try:
        yield service
    finally:
        await stop_task(task, stop, timeout=10)


@asynccontextmanager
async def sealed_x_tokens(services: Services) -> AsyncIterator[None]:
    """Encrypt, with the current key, the X tokens stored in clear text by an older version
    or with a previous secret key (:mod:`atexpert.x.sealing`), once before the workers."""
    await XAccountStore(services.redis, services.settings, services.clock).reseal_all()
    yield


def background_hooks() -> list[LifespanHook]:
    """Intake and publishing, as `atexpert serve` and `atexpert demo` run them."""
    return [sealed_x_tokens, intake_hook(), publishing]
