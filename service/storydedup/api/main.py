"""`storydedup-server`: start the gRPC service."""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from storydedup.api.server import POOL_MEMBER_ENV, serve
from storydedup.config import Config, ConfigError, parse_config

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
    children = [
        subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)
        for _ in range(config.workers)
    ]
    stopping = False

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
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if config.workers > 1:
        log.info("configuration: %s", json.dumps(config.masked(), sort_keys=True))
        return supervise(config, sys.argv[1:] if argv is None else argv)
    if not os.environ.get(POOL_MEMBER_ENV):
        log.info("configuration: %s", json.dumps(config.masked(), sort_keys=True))
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
