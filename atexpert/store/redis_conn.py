"""Connecting to Redis: an existing server or cluster, or the embedded one.

Every client is made with ``decode_responses=True``: replies are ``str``.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Self, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from atexpert.settings import Settings
from atexpert.store.redis_embedded import DataDirInUse, EmbeddedRedis

RedisClient: TypeAlias = Redis | RedisCluster

log = logging.getLogger(__name__)


class RedisUnavailable(RuntimeError):
    pass


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


async def connect(url: str, *, cluster: bool) -> RedisClient:
    """A connected client (checked with PING); :class:`RedisUnavailable` if unreachable."""
    kind = "Redis Cluster" if cluster else "Redis"
    client: RedisClient
    try:
        client = (RedisCluster if cluster else Redis).from_url(url, decode_responses=True)
    except ValueError as exc:
        raise RedisUnavailable(f"invalid {kind} URL {redact(url)}: {exc}") from exc
    try:
        if isinstance(client, RedisCluster):
            await client.initialize()
        else:
            await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise RedisUnavailable(f"cannot reach {kind} at {redact(url)}: {exc}") from exc
    return client


async def ping(client: RedisClient, *, timeout: float = 2.0) -> bool:
    """Whether Redis answers (every primary, for a cluster) within ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            if isinstance(client, RedisCluster):
                return bool(await client.ping(target_nodes=RedisCluster.PRIMARIES))
            return bool(await client.ping())
    except (RedisError, OSError, TimeoutError):
        return False


class RedisRuntime:
    """The app's Redis for its lifetime, from :class:`Settings`.

    With ``redis_url`` set it connects there (to a cluster when ``redis_cluster``);
    otherwise it starts an :class:`EmbeddedRedis` in ``data_dir/redis`` and stops it on exit.
    If another process already runs that embedded Redis (``atexpert serve``, say), this one
    connects to it instead, for as long as its owner runs: meant for short CLI commands;
    several long-running processes should share a real Redis through ``redis_url``.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.embedded: EmbeddedRedis | None = None
        self._client: RedisClient | None = None

    @property
    def client(self) -> RedisClient:
        if self._client is None:
            raise RuntimeError("RedisRuntime is not started: use 'async with'")
        return self._client

    async def __aenter__(self) -> Self:
        url = self._settings.redis_url
        if url:
            self._client = await connect(url, cluster=self._settings.redis_cluster)
            return self
        embedded = EmbeddedRedis(self._settings.data_dir / "redis")
        try:
            await asyncio.to_thread(embedded.start)
        except DataDirInUse as busy:
            try:
                self._client = await connect(embedded.url, cluster=False)
            except RedisUnavailable:
                raise busy from None
            log.info("sharing the embedded Redis of another process: %s", embedded.url)
            return self
        self.embedded = embedded
        try:
            self._client = await connect(embedded.url, cluster=False)
        except BaseException:
            await asyncio.to_thread(embedded.stop)
            self.embedded = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._client is not None:
                await self._client.aclose()
        finally:
            self._client = None
            if self.embedded is not None:
                await asyncio.to_thread(self.embedded.stop)
                self.embedded = None
