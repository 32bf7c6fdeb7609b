"""``atexpert demo`` hook: run the emulator in-process and point the settings at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import SecretStr

from atexpert.emulator.server import EmulatorServer
from atexpert.settings import Settings

SNAPSHOT_NAME = "x-emulator.json"


@asynccontextmanager
async def demo_emulator(settings: Settings) -> AsyncIterator[Settings]:
    """Start an emulator (state kept in ``data_dir``) and yield settings that use it:
    its base URL and its app credentials (consumer key/secret, bearer, OAuth 2.0 client)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    server = EmulatorServer(host="127.0.0.1", snapshot_path=settings.data_dir / SNAPSHOT_NAME)
    await asyncio.to_thread(server.start)
    try:
        app = server.emulator.state.app
        yield settings.model_copy(
            update={
                "x_api_base_url": server.base_url,
                "x_consumer_key": SecretStr(app.consumer_key),
                "x_consumer_secret": SecretStr(app.consumer_secret),
                "x_bearer_token": SecretStr(app.bearer_token),
                "x_client_id": app.client_id,
                "x_client_secret": SecretStr(app.client_secret),
            }
        )
    finally:
        # Not in a thread: a Ctrl+C cancels the demo, and a cancelled wait would let the
        # demo remove the data dir while the emulator still writes its state there.
        server.stop()
