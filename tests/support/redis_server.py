"""Real redis-server processes for tests and benchmarks, on free loopback
ports, each with its own directory so that persistence and restarts are
under the test's control."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

MISSING_BINARY = (
    "redis-server was not found on PATH; the tests start their own Redis. "
    "Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)."
)


def redis_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError(MISSING_BINARY)
    return path


def free_port() -> int:
    [port] = free_ports(1)
    return port


def free_ports(count: int) -> list[int]:
    """`count` different ports free now: each held until all are found, so
    that the kernel cannot hand out one of them twice."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class RedisServer:
    def __init__(
        self,
        port: int | None = None,
        appendonly: bool = False,
        appendfsync: str = "always",
        extra: tuple[str, ...] = (),
        directory: Path | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.port = port or free_port()
        self.directory = directory or Path(tempfile.mkdtemp(prefix="storydedup-redis-"))
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.extra = extra
        # Credentials for the readiness check, when `extra` sets up ACL users
        # or requirepass.
        self.username = username
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            redis_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            self.appendfsync,
            "--logfile",
            str(self.directory / "redis.log"),
            *self.extra,
        ]

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        client = redis.Redis(
            port=self.port,
            socket_connect_timeout=0.2,
            username=self.username,
            password=self.password,
        )
        try:
            while True:
                try:
                    if client.ping():
                        return self
                except (redis.ConnectionError, redis.BusyLoadingError):
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        log = self.directory / "redis.log"
                        detail = log.read_text()[-2000:] if log.exists() else ""
                        raise RuntimeError(f"redis-server did not start: {detail}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Graceful shutdown (what `redis-cli shutdown` does)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    def kill(self) -> None:
        """SIGKILL: no chance to write anything more."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
