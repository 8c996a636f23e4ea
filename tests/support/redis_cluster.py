"""A real local Redis Cluster for tests and benchmarks: six redis-server
processes on free loopback ports (three masters, one replica each), joined
by `redis-cli --cluster create`, as an operator would build one."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from tests.support.redis_server import RedisServer, free_ports

MISSING_CLI = (
    "redis-cli was not found on PATH; the Redis Cluster tests build their cluster with "
    "`redis-cli --cluster create`. Install it (Debian/Ubuntu: apt-get install redis-tools)."
)


def redis_cli() -> str:
    path = shutil.which("redis-cli")
    if path is None:
        raise RuntimeError(MISSING_CLI)
    return path


def _untyped(client: redis.Redis) -> Any:
    """redis-py's sync execute_command carries no annotations."""
    return client


class LocalRedisCluster:
    def __init__(self, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 1000) -> None:
        self.masters = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.nodes: list[RedisServer] = []

    @property
    def url(self) -> str:
        """A seed address; the cluster client discovers the other nodes."""
        return self.nodes[0].url.removesuffix("/0")

    @property
    def urls(self) -> list[str]:
        return [node.url.removesuffix("/0") for node in self.nodes]

    def _node(self, port: int, bus_port: int) -> RedisServer:
        return RedisServer(
            port=port,
            extra=(
                "--cluster-enabled",
                "yes",
                # The bus port is a free port too: the default, port + 10000,
                # does not exist for ports above 55535.
                "--cluster-port",
                str(bus_port),
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(self.node_timeout_ms),
                # A replica takes over however far it lags: the tests stop
                # masters on purpose.
                "--cluster-replica-validity-factor",
                "0",
            ),
        )

    def _started_node(self, attempts: int = 5) -> RedisServer:
        """A node on two free ports, started. A port found free may be taken
        before redis-server binds it (another test's client, a process
        starting meanwhile): then the node starts again on other ports."""
        for attempt in range(attempts):
            port, bus_port = free_ports(2)
            node = self._node(port, bus_port)
            try:
                return node.start()
            except RuntimeError as error:
                node.cleanup()
                if "Address already in use" not in str(error) or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def start(self, timeout: float = 60.0) -> LocalRedisCluster:
        count = self.masters * (1 + self.replicas)
        self.nodes = []
        try:
            for _ in range(count):
                self.nodes.append(self._started_node())
            subprocess.run(
                [
                    redis_cli(),
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{node.port}" for node in self.nodes),
                    "--cluster-replicas",
                    str(self.replicas),
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=timeout,
            )
            self.wait_ok(timeout)
        except BaseException:
            # A cluster that did not come up leaves no redis-server behind.
            self.cleanup()
            raise
        return self

    def _info(self, node: RedisServer) -> dict[str, str]:
        client = redis.Redis(port=node.port, socket_connect_timeout=0.5, socket_timeout=2)
        try:
            raw = _untyped(client).execute_command("CLUSTER INFO")
        finally:
            client.close()
        if isinstance(raw, dict):
            return {str(k): str(v) for k, v in raw.items()}
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    def wait_ok(self, timeout: float = 60.0) -> None:
        """Until every running node sees all slots served and agrees on it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                infos = [self._info(node) for node in self.running()]
                if (
                    all(
                        info.get("cluster_state") == "ok"
                        and info.get("cluster_slots_ok") == "16384"
                        for info in infos
                    )
                    and self._one_master_per_slot_range()
                ):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the local Redis Cluster did not become ready")
            time.sleep(0.1)

    def _one_master_per_slot_range(self) -> bool:
        node = self.running()[0]
        client = redis.Redis(port=node.port, socket_connect_timeout=0.5, socket_timeout=2)
        try:
            shards = _untyped(client).execute_command("CLUSTER SLOTS")
        finally:
            client.close()
        covered = sum(int(end) - int(start) + 1 for start, end, *_ in shards)
        masters = {int(entry[2][1]) for entry in shards}
        running = {n.port for n in self.running()}
        return covered == 16384 and masters <= running

    def running(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def role(self, node: RedisServer) -> str:
        client = redis.Redis(port=node.port, socket_connect_timeout=0.5, socket_timeout=2)
        try:
            role = _untyped(client).execute_command("ROLE")[0]
        finally:
            client.close()
        return role.decode() if isinstance(role, bytes) else str(role)

    def masters_now(self) -> list[RedisServer]:
        return [n for n in self.running() if self.role(n) == "master"]

    def flush(self) -> None:
        for node in self.masters_now():
            client = redis.Redis(port=node.port)
            try:
                client.flushall()
            finally:
                client.close()

    def per_node(self, section: str) -> dict[int, dict[str, object]]:
        """INFO `section` of each running master, by port."""
        out: dict[int, dict[str, object]] = {}
        for node in self.masters_now():
            client = redis.Redis(port=node.port)
            try:
                out[node.port] = client.info(section)
            finally:
                client.close()
        return out

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()

    @staticmethod
    def data_dirs(nodes: list[RedisServer]) -> list[Path]:
        return [node.directory for node in nodes]
