"""A real Prometheus server (Debian's `prometheus` binary) scraping a test's
service, and a reader of /metrics pages."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.redis_server import free_port

MISSING_PROMETHEUS = (
    "prometheus was not found on PATH; the scrape test starts its own. "
    "Install it (Debian/Ubuntu: apt-get install prometheus)."
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of a /metrics page: (name, labels) -> value."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def scrape_settled(url: str, timeout: float = 10.0) -> Samples:
    """A /metrics page once every call the server started is counted as
    handled, method by method. The server counts a call's end as its handler
    returns, which can be just after the client has read the status: a
    scrape right after the last call may come first."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url)
        methods = {
            dict(labels).get("grpc_method", "")
            for name, labels in samples
            if name == "grpc_server_started_total"
        }
        unsettled = {}
        for method in methods:
            started = value(samples, "grpc_server_started_total", grpc_method=method)
            handled = value(samples, "grpc_server_handled_total", grpc_method=method)
            if handled < started:
                unsettled[method] = (started, handled)
        if not unsettled:
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"calls started but not counted as handled: {unsettled}")
        time.sleep(0.05)


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


class PrometheusServer:
    def __init__(self, targets: list[str], interval_ms: int = 500) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError(MISSING_PROMETHEUS)
        self.binary = binary
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="storydedup-prometheus-"))
        self.targets = targets
        self.interval_ms = interval_ms
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        config = self.directory / "prometheus.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": f"{self.interval_ms}ms"},
                    "scrape_configs": [
                        {"job_name": "storydedup", "static_configs": [{"targets": self.targets}]}
                    ],
                }
            )
        )
        log = (self.directory / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url("/-/ready"), timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: {self.log()}")
            time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def query(self, expression: str) -> list[dict[str, object]]:
        """The result vector of an instant query (/api/v1/query)."""
        address = self.url("/api/v1/query?" + urllib.parse.urlencode({"query": expression}))
        with urllib.request.urlopen(address, timeout=10) as response:
            reply = json.loads(response.read())
        assert reply["status"] == "success", reply
        result: list[dict[str, object]] = reply["data"]["result"]
        return result

    def query_value(self, expression: str) -> float | None:
        """The value of a query that gives one series, None while it gives none."""
        result = self.query(expression)
        if not result:
            return None
        assert len(result) == 1, result
        sample = result[0]["value"]
        assert isinstance(sample, list)
        return float(sample[1])

    def log(self) -> str:
        path = self.directory / "prometheus.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def cleanup(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
