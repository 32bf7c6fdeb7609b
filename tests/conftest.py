"""Shared fixtures: real Redis servers (standalone and a 3-master cluster) and clients.

Clients are created with ``decode_responses=True``: every reply is ``str`` (the app's
:func:`atexpert.store.redis_conn.connect` does the same).

``ATEXPERT_TEST_REDIS_URL`` points the standalone fixtures at an existing Redis and
``ATEXPERT_TEST_REDIS_CLUSTER_URL`` the cluster ones at an existing cluster (a seed
node). Each test FLUSHALLs them, so never point these at data you want to keep.
Without them the tests start redis-server processes of their own.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from atexpert.store.redis_conn import RedisClient
from atexpert.store.redis_embedded import RedisBinaryNotFound, find_redis_server
from tests.support.redis_fixtures import RedisFactory, start_cluster, start_standalone


def _binary() -> Path:
    try:
        return find_redis_server()
    except RedisBinaryNotFound as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a standalone Redis server shared by the whole test session."""
    env = os.environ.get("ATEXPERT_TEST_REDIS_URL")
    if env:
        yield env
        return
    server = start_standalone(_binary(), tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Seed-node URL of a 3-master Redis Cluster shared by the whole test session."""
    env = os.environ.get("ATEXPERT_TEST_REDIS_CLUSTER_URL")
    if env:
        yield env
        return
    cluster = start_cluster(_binary(), tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield cluster.url
    finally:
        cluster.stop()


async def _standalone_client(url: str) -> aioredis.Redis:
    client = aioredis.Redis.from_url(url, decode_responses=True)
    await client.flushall()
    return client


async def _cluster_client(url: str) -> RedisCluster:
    client = RedisCluster.from_url(url, decode_responses=True)
    await client.initialize()
    await client.flushall(target_nodes=RedisCluster.PRIMARIES)
    return client


@pytest.fixture(params=["standalone", "cluster"])
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[RedisClient]:
    """A flushed async client, once against standalone Redis and once against the cluster.

    Code under test must keep all keys of one operation under one hash tag.
    """
    client: RedisClient
    if request.param == "standalone":
        client = await _standalone_client(request.getfixturevalue("redis_url"))
    else:
        client = await _cluster_client(request.getfixturevalue("redis_cluster_url"))
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis_factory(
    redis: RedisClient, request: pytest.FixtureRequest
) -> AsyncIterator[RedisFactory]:
    """Makes more clients of the server behind ``redis`` (one per simulated app process).

    They are not flushed again and are closed at the end of the test.
    """
    made: list[RedisClient] = []

    async def make() -> RedisClient:
        client: RedisClient
        if isinstance(redis, RedisCluster):
            client = RedisCluster.from_url(
                request.getfixturevalue("redis_cluster_url"), decode_responses=True
            )
            await client.initialize()
        else:
            client = aioredis.Redis.from_url(
                request.getfixturevalue("redis_url"), decode_responses=True
            )
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            await client.aclose()


@pytest.fixture
async def redis_standalone(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A flushed async client on the standalone server only."""
    client = await _standalone_client(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis_cluster(redis_cluster_url: str) -> AsyncIterator[RedisCluster]:
    """A flushed async client on the cluster only."""
    client = await _cluster_client(redis_cluster_url)
    try:
        yield client
    finally:
        await client.aclose()
