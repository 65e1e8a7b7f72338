"""Storage URIs beyond ``redis://``, on Redis servers of the test's own: ``redis+unix://``
(a Unix socket), ``redis+sentinel://`` (a Sentinel monitoring a Redis) and
``redis+cluster://`` (a one-node Redis Cluster holding every slot). One budget is shared by
an ``AsyncServer`` (``limits.aio``, coredis) and a sync ``socketio.Server`` (limits' sync
API, redis-py) on each, counted in the Redis behind it."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.plugins.kinds import served

from .processes import OwnRedis, free_port
from .support import assert_rate_limited, attempt, make_server


@contextlib.contextmanager
def unix_redis() -> Iterator[tuple[str, OwnRedis]]:
    """A Redis on a Unix socket (and a loopback port, to look inside)."""
    socket_path = Path(tempfile.mkdtemp(prefix="siomw-unix-")) / "redis.sock"
    server = OwnRedis("--unixsocket", str(socket_path), "--unixsocketperm", "700")
    server.start()
    try:
        yield f"redis+unix://{socket_path}", server
    finally:
        server.kill()


@contextlib.contextmanager
def sentinel_redis() -> Iterator[tuple[str, OwnRedis]]:
    """A Redis and a Sentinel monitoring it as ``mymaster``."""
    primary = OwnRedis()
    primary.start()
    sentinel = OwnRedis("--sentinel", config=(
        f"sentinel monitor mymaster 127.0.0.1 {primary.port} 1\n"
        "sentinel down-after-milliseconds mymaster 60000\n"))
    try:
        sentinel.start()
        yield f"redis+sentinel://127.0.0.1:{sentinel.port}/mymaster", primary
    finally:
        sentinel.kill()
        primary.kill()


def cluster_node() -> OwnRedis:
    """A Redis Cluster node, not started (:func:`start_cluster`)."""
    directory = tempfile.mkdtemp(prefix="siomw-cluster-")
    return OwnRedis("--cluster-enabled", "yes", "--dir", directory,
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-port", str(free_port()))  # port + 10000 may not exist


def start_cluster(node: OwnRedis) -> None:
    """Start ``node`` as a one-node cluster: every slot assigned to it, state ``ok``."""
    node.start()
    subprocess.run(["redis-cli", "-p", str(node.port), "cluster", "addslotsrange", "0",
                    "16383"], check=True, capture_output=True, timeout=10)
    client = redis.Redis(port=node.port)
    try:
        for _ in range(200):
            info = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
            if info.get("cluster_state") == "ok":  # a dict (redis-py); ok 2 s after the slots
                return
            time.sleep(0.05)
        raise RuntimeError("the one-node cluster did not reach cluster_state:ok")
    finally:
        client.close()


@contextlib.contextmanager
def cluster_redis() -> Iterator[tuple[str, OwnRedis]]:
    """A one-node Redis Cluster, started."""
    node = cluster_node()
    try:
        start_cluster(node)
        yield f"redis+cluster://127.0.0.1:{node.port}", node
    finally:
        node.kill()


STORAGES = {"unix": unix_redis, "sentinel": sentinel_redis, "cluster": cluster_redis}


@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window"])
@pytest.mark.parametrize("storage", sorted(STORAGES))
async def test_budget_shared_through_the_uri(storage: str, strategy: str, prefix: str) -> None:
    """``connect = "2/minute"`` on an AsyncServer and a sync Server through the URI: one
    connect on each spends it, the third (on either) is refused; the counter lives in the
    Redis behind the URI."""
    with STORAGES[storage]() as (uri, server):
        table = {"connect": "2/minute", "storage": uri, "key_prefix": prefix,
                 "strategy": strategy}
        sio_a, _ = make_server(table, kind="async")
        sio_b, _ = make_server(table, kind="sync")
        async with served(sio_a) as url_a, served(sio_b) as url_b:
            assert (await attempt(url_a, "async"))[0] == "connect"
            assert (await attempt(url_b, "sync"))[0] == "connect"
            outcome, data = await attempt(url_a, "async")
            assert outcome == "connect_error"
            assert_rate_limited(data, "2 per 1 minute", most=61)
            assert (await attempt(url_b, "sync"))[0] == "connect_error"
        client = redis.Redis(port=server.port)
        try:
            keys = [k.decode() for k in client.scan_iter(match=f"*{prefix}*")]
        finally:
            client.close()
        assert keys and all(f"{prefix}/connect/{strategy}/ip/127.0.0.1/2/1/minute" in k
                            for k in keys), keys


async def test_sync_cluster_down_at_build_is_the_policy(prefix: str) -> None:
    """A sync server whose Redis Cluster is down when the plugin is built (redis-py's
    RedisCluster connects in its constructor): the stack starts, the policy applies
    (closed: rate_limit_unavailable), and once the cluster runs the probe creates the
    client and connections are counted there."""
    node = cluster_node()
    try:
        table = {"connect": "5/minute", "storage": f"redis+cluster://127.0.0.1:{node.port}",
                 "key_prefix": prefix, "on_storage_error": "closed", "storage_timeout": 0.5}
        sio, _ = make_server(table, kind="sync")
        async with served(sio) as url:
            outcome, data = await attempt(url, "sync")
            assert outcome == "connect_error"
            assert data["data"] == {"code": "rate_limit_unavailable"}, data
            await asyncio.to_thread(start_cluster, node)
            for _ in range(40):  # the probe waits 1 s, then 2 s, 4 s after failures
                outcome, data = await attempt(url, "sync")
                if outcome == "connect":
                    break
                await asyncio.sleep(0.25)
            assert outcome == "connect", data
        client = redis.Redis(port=node.port)
        try:
            assert list(client.scan_iter(match=f"*{prefix}*"))
        finally:
            client.close()
    finally:
        node.kill()
