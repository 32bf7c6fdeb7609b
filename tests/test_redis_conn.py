"""Connecting to Redis from settings: external server, cluster, or embedded."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisRuntime, RedisUnavailable, connect, ping
from atexpert.store.redis_embedded import DataDirInUse, EmbeddedRedis


async def test_connect_to_a_standalone_server(redis_url: str) -> None:
    client = await connect(redis_url, cluster=False)
    try:
        assert await ping(client)
        await client.set("greeting", "hello")
        assert await client.get("greeting") == "hello"
    finally:
        await client.aclose()


async def test_connect_to_a_cluster(redis_cluster_url: str) -> None:
    client = await connect(redis_cluster_url, cluster=True)
    try:
        assert isinstance(client, RedisCluster)
        assert len(client.get_primaries()) == 3
        assert await ping(client)
    finally:
        await client.aclose()


async def test_unreachable_redis_is_a_clear_error_without_the_password(tmp_path: Path) -> None:
    url = f"unix://:s3cret@{tmp_path / 'nobody.sock'}"
    with pytest.raises(RedisUnavailable, match="cannot reach Redis") as info:
        await connect(url, cluster=False)
    assert "s3cret" not in str(info.value)


async def test_invalid_url_is_a_clear_error() -> None:
    with pytest.raises(RedisUnavailable, match="invalid Redis URL"):
        await connect("http://example.invalid", cluster=False)


async def test_ping_is_false_once_the_server_is_gone(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    client = await connect(server.url, cluster=False)
    try:
        assert await ping(client)
        server.stop()
        assert not await ping(client, timeout=5)
    finally:
        await client.aclose()
        server.stop()


async def test_runtime_without_url_runs_an_embedded_redis_that_keeps_data(
    tmp_path: Path,
) -> None:
    settings = Settings(redis_url=None, data_dir=tmp_path)
    async with RedisRuntime(settings) as runtime:
        assert runtime.embedded is not None
        await runtime.client.set("{s}:title", "AskAirbus")
    assert not (tmp_path / "redis" / "redis.sock").exists()
    async with RedisRuntime(settings) as runtime:
        assert await runtime.client.get("{s}:title") == "AskAirbus"


async def test_runtime_with_url_uses_that_server(redis_url: str, tmp_path: Path) -> None:
    settings = Settings(redis_url=redis_url, data_dir=tmp_path)
    async with RedisRuntime(settings) as runtime:
        assert runtime.embedded is None
        assert await ping(runtime.client)
    assert not (tmp_path / "redis").exists()
    with pytest.raises(RuntimeError, match="not started"):
        _ = runtime.client


async def test_runtime_with_cluster_url(redis_cluster_url: str, tmp_path: Path) -> None:
    settings = Settings(redis_url=redis_cluster_url, redis_cluster=True, data_dir=tmp_path)
    async with RedisRuntime(settings) as runtime:
        assert isinstance(runtime.client, RedisCluster)
        assert await ping(runtime.client)


async def test_second_runtime_on_the_same_data_dir_shares_the_running_redis(
    tmp_path: Path,
) -> None:
    settings = Settings(redis_url=None, data_dir=tmp_path)
    async with RedisRuntime(settings) as serve:
        await serve.client.set("{s}:title", "AskAirbus")
        async with RedisRuntime(settings) as cli:  # e.g. `atexpert` admin command
            assert cli.embedded is None
            assert await cli.client.get("{s}:title") == "AskAirbus"
            await cli.client.set("{s}:by", "cli")
        assert await serve.client.get("{s}:by") == "cli"  # still up after the guest left


async def test_data_dir_locked_by_a_process_without_a_server_is_a_clear_error(
    tmp_path: Path,
) -> None:
    data = tmp_path / "redis"
    data.mkdir()
    with (data / "redis.lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # an owner still starting up
        with pytest.raises(DataDirInUse, match="in use by another atexpert process"):
            async with RedisRuntime(Settings(redis_url=None, data_dir=tmp_path)):
                pass
