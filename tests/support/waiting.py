"""Waiting for a condition in async tests, instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def wait_for(condition: Callable[[], Any], timeout: float = 20) -> None:
    """Wait until ``condition()`` (a value, or a coroutine's result) is truthy."""
    async with asyncio.timeout(timeout):
        while True:
            value = condition()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
            await asyncio.sleep(0.01)
