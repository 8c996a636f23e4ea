"""storydedup-server as a real process, for restart and signal tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.redis_server import free_port


class ServerProcess:
    def __init__(self, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        # Only what the test passes configures the server, not the caller's environment.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("STORYDEDUP_")}
        self.env = {**inherited, "STORYDEDUP_PORT": str(self.port), **(env or {})}
        self.log_path = Path(tempfile.mkstemp(prefix="storydedup-server-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    # Starting is importing the service (numpy, grpc, resiliparse...) in every
    # process, two or three at once in some tests: on a loaded 2-core machine
    # that took over 30 s. A server that never serves still fails the test.
    def start(self, wait_serving: bool = True, timeout: float = 90.0) -> ServerProcess:
        if self.process is not None and self.process.poll() is None:
            # A second process on the same port would fail to bind and the
            # first would outlive the test: wait with wait_health() instead.
            raise RuntimeError("server process already running; use wait_health()")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "storydedup.api.main"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            status = self.health()
            if status == "SERVING" or (status is not None and not wait_serving):
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"server not {'serving' if wait_serving else 'up'}: {self.log()}"
                )
            time.sleep(0.05)

    def health(self) -> str | None:
        """SERVING / NOT_SERVING, or None when nothing answers."""
        with grpc.insecure_channel(self.target) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1
                )
            except grpc.RpcError:
                return None
        name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return name

    def wait_health(self, wanted: str, timeout: float = 30.0) -> None:
        """Waits until the running process reports `wanted` (SERVING or
        NOT_SERVING)."""
        deadline = time.monotonic() + timeout
        while (status := self.health()) != wanted:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"server exited while waiting for {wanted}: {self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"server still {status}, not {wanted}: {self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def full_log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
