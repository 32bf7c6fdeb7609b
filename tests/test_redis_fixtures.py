"""Sanity of the shared Redis fixtures: both topologies work, the cluster enforces slots."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, ResponseError

SWAP = """
local a = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], redis.call('GET', KEYS[2]))
redis.call('SET', KEYS[2], a)
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}
"""


async def test_each_test_starts_empty_and_replies_are_str(
    redis: aioredis.Redis | RedisCluster,
) -> None:
    assert await redis.dbsize() == 0
    await redis.set("{s1}:k", "v")
    assert await redis.get("{s1}:k") == "v"


async def test_same_hash_tag_keys_work_in_one_script(
    redis: aioredis.Redis | RedisCluster,
) -> None:
    await redis.set("{ama:1}:a", "x")
    await redis.set("{ama:1}:b", "y")
    assert await redis.eval(SWAP, 2, "{ama:1}:a", "{ama:1}:b") == ["y", "x"]


async def test_cluster_refuses_keys_of_different_slots(redis_cluster: RedisCluster) -> None:
    assert len(redis_cluster.get_primaries()) == 3
    with pytest.raises(RedisClusterException, match="same key slot"):
        await redis_cluster.eval(SWAP, 2, "{ama:1}:a", "{ama:2}:a")
    # The server itself refuses too (CROSSSLOT).
    node = redis_cluster.get_node_from_key("{ama:1}:a")
    with pytest.raises(ResponseError, match="same slot"):
        await redis_cluster.execute_command(
            "EVAL", SWAP, 2, "{ama:1}:a", "{ama:2}:a", target_nodes=node
        )


async def test_cluster_spreads_keys_over_all_masters(redis_cluster: RedisCluster) -> None:
    for i in range(60):
        await redis_cluster.set(f"{{ama:{i}}}:k", i)
    sizes = [
        await redis_cluster.dbsize(target_nodes=node) for node in redis_cluster.get_primaries()
    ]
    assert sum(sizes) == 60 and all(size > 0 for size in sizes)
    assert await redis_cluster.get("{ama:7}:k") == "7"
