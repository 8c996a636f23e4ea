"""What Prometheus metrics cost: batch ingest articles/s with the metrics port on against off,
in one run, on one Redis, with the pages and servers of bench/throughput.py.

    uv run python bench/metrics_overhead.py                 # 4 rounds of 4,000 articles (~5 min)
    uv run python bench/metrics_overhead.py --quick         # 2 rounds of 1,000

Each round starts two servers in turn, one with STORYDEDUP_METRICS_PORT set and one without
(which goes first alternates from round to round, so that drift on a shared machine falls on
both), each on a fresh namespace, and sends them the same pages in IngestArticles batches of
500. While the metrics server runs, a scraper reads /metrics every second, as Prometheus would
(more often than the 15 s of deploy/prometheus.yml). The table gives each round's rates and the
median of the per-round ratios: the cost of metrics is 1 - median(on / off).

The metrics are counted whether or not the port is set (only serving them and the index scan
depend on it), so the end-to-end comparison measures serving and scraping. What counting costs
is measured apart, in this process: the metric operations one article of a batch of 500 makes
(its cleaning and fingerprinting times, its outcome, input kind and store time, one Redis round
trip, and a 500th of the call's interceptor bookkeeping), timed over many repetitions and set
against the server CPU per article of the metrics-off servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
from storydedup import metrics

from bench.machine import format_machine, machine_description
from bench.throughput import (
    DEFAULT_DATA_DIR,
    Meter,
    ServerProcess,
    bbc_source,
    build_articles,
    ingest_batches,
    snapshot_service,
    start_redis,
    synthetic_source,
    take,
)
from tests.support.redis_server import free_port

BATCH = 500
SCRAPE_INTERVAL_S = 1.0


def counting_seconds_per_article(repetitions: int = 200_000) -> float:
    """CPU seconds of the metric operations of one article of a batch of BATCH (see the module
    doc), on the service's own metric objects."""
    stage = metrics.INGEST_STAGE_SECONDS
    cleaning, fingerprinting, store = (
        stage.labels(stage=s) for s in ("cleaning", "fingerprinting", "store")
    )
    outcome = metrics.ARTICLES_INGESTED.labels(outcome="copy")
    kind = metrics.ARTICLES_INPUT.labels(kind="text")
    redis_call = metrics.REDIS_CALL_SECONDS
    labels = ("unary", "storydedup.v1.StoryDedupService", "IngestArticles")
    started = time.process_time()
    for i in range(repetitions):
        cleaning.observe(0.0004)
        fingerprinting.observe(0.0003)
        with redis_call.time():
            pass
        kind.inc()
        outcome.inc()
        store.observe(0.0005)
        if i % BATCH == 0:
            metrics.GRPC_STARTED.labels(*labels).inc()
            metrics.GRPC_HANDLED.labels(*labels, "OK").inc()
            metrics.GRPC_HANDLING_SECONDS.labels(*labels).observe(0.9)
    return (time.process_time() - started) / repetitions


class Scraper:
    """Reads a /metrics page every interval on a thread, until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.scrapes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SCRAPE_INTERVAL_S):
            with urllib.request.urlopen(self.url, timeout=5) as response:
                response.read()
            self.scrapes += 1

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1,000 articles")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--text", choices=("bbc", "synthetic"), default="bbc")
    args = parser.parse_args()
    if args.quick:
        args.articles, args.rounds = 1000, 2

    source_name = args.text
    try:
        source = bbc_source(args.data) if args.text == "bbc" else synthetic_source(7)
    except FileNotFoundError:
        source, source_name = synthetic_source(7), "synthetic (no BBC corpus found)"
    pages = build_articles(source, args.articles, seed=1)
    articles = take(pages, 0, args.articles)

    with contextlib.ExitStack() as stack:
        log_dir = Path(tempfile.mkdtemp(prefix="storydedup-bench-metrics-"))
        stack.callback(shutil.rmtree, log_dir, ignore_errors=True)
        code, code_description = snapshot_service(log_dir)
        redis_server = start_redis(stack)
        admin = redis.Redis.from_url(redis_server.url)
        stack.callback(admin.close)
        assert redis_server.process is not None
        redis_pid = redis_server.process.pid
        namespaces = itertools.count()
        rates: dict[str, list[float]] = {"off": [], "on": []}
        # Server CPU seconds per article, per mode: less moved by other processes competing
        # for the cores than the wall-clock rate is.
        server_cpu: dict[str, list[float]] = {"off": [], "on": []}
        scrapes = 0
        for round_number in range(args.rounds):
            order = ("off", "on") if round_number % 2 == 0 else ("on", "off")
            for mode in order:
                server = ServerProcess(redis_server.url, f"m{next(namespaces)}", log_dir, code)
                metrics_port = free_port()
                if mode == "on":
                    server.env["STORYDEDUP_METRICS_PORT"] = str(metrics_port)
                server.start()
                try:
                    meter = Meter(admin, {"server": server.pid, "redis": redis_pid})
                    scraping: contextlib.AbstractContextManager[object] = (
                        Scraper(f"http://127.0.0.1:{metrics_port}/metrics")
                        if mode == "on"
                        else contextlib.nullcontext()
                    )
                    with scraping as scraper:
                        timed, results = asyncio.run(
                            ingest_batches(server.target, articles, BATCH, meter)
                        )
                    if isinstance(scraper, Scraper):
                        scrapes += scraper.scrapes
                finally:
                    server.stop()
                assert len(results) == len(articles)
                rate = len(articles) / timed.seconds
                rates[mode].append(rate)
                server_cpu[mode].append(timed.cpu["server"] / len(articles))
                print(
                    f"round {round_number + 1} metrics {mode:>3}: {rate:8.1f} articles/s, "
                    f"server CPU {server_cpu[mode][-1] * 1000:.2f} ms/article "
                    f"(other processes on the machine: {timed.foreign_cores:.2f} cores)",
                    flush=True,
                )

    ratios = [on / off for on, off in zip(rates["on"], rates["off"], strict=True)]
    cost = 1 - statistics.median(ratios)
    print()
    print(format_machine(machine_description()))
    print(f"code: {code_description}; text: {source_name}")
    print(f"{args.articles} articles per server, IngestArticles batches of {BATCH}, one client")
    print(f"scrapes of /metrics while ingesting: {scrapes}")
    print()
    print("| metrics | articles/s per round | median | server CPU ms/article, median |")
    print("| --- | --- | --- | --- |")
    for mode in ("off", "on"):
        shown = " / ".join(f"{r:,.0f}" for r in rates[mode])
        cpu_ms = statistics.median(server_cpu[mode]) * 1000
        print(f"| {mode} | {shown} | {statistics.median(rates[mode]):,.0f} | {cpu_ms:.2f} |")
    cpu_cost = statistics.median(server_cpu["on"]) / statistics.median(server_cpu["off"]) - 1
    print(
        f"\ncost of serving metrics: {cost * 100:.1f}% articles/s (1 - median of per-round on/off"
    )
    print(f"ratios), {cpu_cost * 100:+.1f}% server CPU per article (medians)")
    counting = counting_seconds_per_article()
    cpu_off = statistics.median(server_cpu["off"])
    print(
        f"cost of counting: {counting * 1e6:.2f} us per article against "
        f"{cpu_off * 1000:.2f} ms of server CPU per article: {counting / cpu_off * 100:.2f}%"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
