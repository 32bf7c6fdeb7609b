"""Stopping the background tasks the app runs (scheduler, intake, publishers)."""

from __future__ import annotations

import asyncio
import contextlib


async def stop_task(task: asyncio.Task[None], stop: asyncio.Event, *, timeout: float) -> None:
    """Set ``stop``, then wait up to ``timeout`` seconds for ``task`` to end; cancel it
    (and wait for it) if it has not. An error the task ended with is raised."""
    stop.set()
    # asyncio.timeout, not wait_for: Python 3.11's wait_for can lose a cancel that lands
    # as the wait ends. Cancelling the wait on ``task`` cancels ``task``.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await task
