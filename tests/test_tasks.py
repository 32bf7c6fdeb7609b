"""stop_task: a task that obeys its stop event ends on its own; one that does not is
cancelled after the timeout; an error it ended with is not swallowed."""

from __future__ import annotations

import asyncio

import pytest

from atexpert.web.tasks import stop_task


async def test_a_task_that_obeys_ends_on_its_own() -> None:
    stop = asyncio.Event()
    ended: list[str] = []

    async def work() -> None:
        await stop.wait()
        ended.append("clean")

    task = asyncio.create_task(work())
    await asyncio.sleep(0)
    await stop_task(task, stop, timeout=5)
    assert ended == ["clean"] and not task.cancelled()


async def test_a_task_that_ignores_stop_is_cancelled_after_the_timeout() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(asyncio.sleep(3600))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await stop_task(task, stop, timeout=0.05)
    assert task.cancelled() and stop.is_set()
    assert loop.time() - started < 5


async def test_the_error_a_task_ended_with_is_raised() -> None:
    stop = asyncio.Event()

    async def work() -> None:
        await stop.wait()
        raise RuntimeError("boom")

    task = asyncio.create_task(work())
    with pytest.raises(RuntimeError, match="boom"):
        await stop_task(task, stop, timeout=5)
