"""`storydedup-server`: start the gRPC service."""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from storydedup import metrics
from storydedup.api.server import POOL_MEMBER_ENV, serve
from storydedup.config import Config, ConfigError, parse_config
from storydedup.logs import configure_logging

log = logging.getLogger("storydedup")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Linux: a worker gets SIGTERM when the supervisor dies, even by SIGKILL,
    # instead of serving on as an orphan nobody manages.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def supervise(config: Config, argv: Sequence[str]) -> int:
    """Runs `config.workers` server processes on one port (SO_REUSEPORT: the
    kernel spreads connections) and forwards SIGTERM/SIGINT to them. When one
    dies the others are stopped too, so that an orchestrator restarts the
    whole unit rather than running it at reduced capacity unnoticed."""
    env = {**os.environ, POOL_MEMBER_ENV: "1", "STORYDEDUP_WORKERS": "1"}
    command = [sys.executable, "-m", "storydedup.api.main", *argv, "--workers", "1"]
    metrics_dir: str | None = None
    metrics_http: metrics.MetricsServer | None = None
    if config.metrics_port is not None:
        # Every worker writes its metrics to files here (prometheus-client's
        # multiprocess mode); this process serves their sum, so one scrape
        # sees the whole pool. A fresh directory: files left by an earlier
        # run would be summed in.
        metrics_dir = tempfile.mkdtemp(prefix="storydedup-metrics-")
        env[metrics.MULTIPROC_ENV] = metrics_dir
        metrics_http = metrics.serve_metrics(config.host, config.metrics_port, metrics_dir)
        log.info(
            "serving metrics of all workers on http://%s:%d/metrics", config.host, metrics_http.port
        )
    children = [
        subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)
        for _ in range(config.workers)
    ]
    try:
        return _watch_workers(config, children, metrics_dir)
    finally:
        if metrics_http is not None:
            metrics_http.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _watch_workers(
    config: Config, children: list[subprocess.Popen[bytes]], metrics_dir: str | None
) -> int:
    stopping = False
    dead: set[int] = set()

    def forward(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    log.info("started %d worker processes", config.workers)
    while True:
        codes = [child.poll() for child in children]
        for child, code in zip(children, codes, strict=True):
            if code is not None and metrics_dir is not None and child.pid not in dead:
                # Its live gauges (store up) leave the sum.
                metrics.mark_process_dead(child.pid, metrics_dir)
                dead.add(child.pid)
        if all(code is not None for code in codes):
            return 0 if stopping else 1
        if not stopping and any(code is not None for code in codes):
            log.error("a worker process exited (%s); stopping the others", codes)
            forward(signal.SIGTERM, None)
        time.sleep(0.2)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_config(argv)
    except ConfigError as error:
        print(f"storydedup-server: {error}", file=sys.stderr)
        return 2
    configure_logging(config.log_level, config.log_format)
    if config.workers > 1:
        log.info("configuration: %s", json.dumps(config.masked(), sort_keys=True))
        return supervise(config, sys.argv[1:] if argv is None else argv)
    if not os.environ.get(POOL_MEMBER_ENV):
        log.info("configuration: %s", json.dumps(config.masked(), sort_keys=True))
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
