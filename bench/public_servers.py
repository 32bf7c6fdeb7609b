"""The servers of ``bench_public.py`` (each run as a subprocess: ``--serve SYSTEM PORT ...``).

``atexpert``: the app as ``atexpert serve`` runs it. ``bare``: the ``websockets`` library's
``broadcast()`` of a Redis Stream, no framework (the ceiling). python-socketio's is
``bench_fanout.serve_socketio``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import redis.asyncio as aioredis

BARE_STREAM = "bench:bare"


def serve_atexpert(port: int, limit: int) -> None:
    import uvicorn

    from atexpert.web.app import create_app
    from atexpert.web.serving import server_config

    app = create_app(run_scheduler=False)  # the settings come from the environment
    config = server_config(
        app, "127.0.0.1", port, log_level="warning", limit_concurrency=limit, backlog=4096
    )
    profile = os.environ.get("BENCH_PROFILE")  # a file: the server's cProfile stats
    if not profile:
        return uvicorn.Server(config).run()
    import cProfile
    import signal

    # uvicorn raises SIGTERM again once stopped: exit through the finally below instead
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    prof = cProfile.Profile()
    prof.enable()
    try:
        uvicorn.Server(config).run()
    finally:
        prof.disable()
        prof.dump_stats(profile)


async def serve_bare(port: int, redis_url: str) -> None:
    """``broadcast()`` of each stream entry to every client; a new client first gets the last
    frame as its snapshot (``?after=`` a recent id: the frames since)."""
    from collections import deque
    from urllib.parse import parse_qs, urlsplit

    from websockets.asyncio.server import ServerConnection, broadcast, serve

    # broadcast() writes to connections lost but not yet noticed: asyncio warns each time
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    clients: set[ServerConnection] = set()
    ring: deque[tuple[str, str]] = deque(maxlen=10_000)
    snapshot = ['{"type":"snapshot","last_event_id":"0-0"}']

    async def handler(ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        after = query.get("after", [""])[0]
        ids = [i for i, _ in ring]
        first = [f for _, f in list(ring)[ids.index(after) + 1 :]] if after in ids else snapshot
        for frame in first:  # written at once, in order, before any later broadcast
            broadcast([ws], frame)
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    position = "$"
    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None,
                     max_queue=None, backlog=4096):  # fmt: skip
        while True:
            reply: Any = await redis.xread({BARE_STREAM: position}, count=500, block=1000)
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    position = entry_id
                    body = fields["payload"][1:]
                    frame = f'{{"type":"event","id":"{entry_id}",{body}'
                    ring.append((entry_id, frame))
                    snapshot[0] = f'{{"type":"snapshot","last_event_id":"{entry_id}",{body}'
                    broadcast(clients, frame)
