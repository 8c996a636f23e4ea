"""The service's Prometheus metrics, all declared here.

Labels take values from small fixed sets (methods, status codes, outcomes,
stages); never an article ID, a source or anything else that grows with the
data. The gRPC server metrics carry the names and labels of
go-grpc-prometheus / py-grpc-prometheus, so existing dashboards and alerts
read them.

With `--workers N` every worker writes its values to files under
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode, chosen by
that variable when prometheus_client is first imported) and the supervisor
serves one page summing them; `serve_metrics` picks the collector.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Handling time of one call: a unary lookup takes about a millisecond, a
# batch of 1,000 articles some seconds.
_CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# One article's cleaning or fingerprinting: tens of microseconds to tens of
# milliseconds for a large page.
_STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
# One Redis round trip: sub-millisecond on a LAN.
_REDIS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2)

_GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")

GRPC_STARTED = Counter("grpc_server_started_total", "RPCs started on the server.", _GRPC_LABELS)
GRPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, whatever their status.",
    (*_GRPC_LABELS, "grpc_code"),
)
GRPC_HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from the start of an RPC to its status.",
    _GRPC_LABELS,
    buckets=_CALL_BUCKETS,
)

# outcome: new_story, copy, merge (a copy that joined clusters), unchanged
# (the same ID with the same content again).
ARTICLES_INGESTED = Counter(
    "storydedup_articles_ingested_total", "Articles indexed, by outcome.", ("outcome",)
)
# kind: text or html, as the article was sent.
ARTICLES_INPUT = Counter(
    "storydedup_articles_input_total", "Articles indexed, by input kind.", ("kind",)
)
# reason: invalid, no_story_text, too_large, store_full, unavailable, internal.
ARTICLES_REFUSED = Counter(
    "storydedup_articles_refused_total",
    "Articles of ingest calls that failed, by reason.",
    ("reason",),
)
# stage: cleaning, fingerprinting (per article), store (per article: its
# batch's time in the store divided by the batch's articles).
INGEST_STAGE_SECONDS = Histogram(
    "storydedup_ingest_stage_seconds",
    "Time an article spends in each stage of ingest.",
    ("stage",),
    buckets=_STAGE_BUCKETS,
)

REDIS_CALL_SECONDS = Histogram(
    "storydedup_redis_call_seconds",
    "Time of one Redis round trip (a script call, or a pipeline of them).",
    buckets=_REDIS_BUCKETS,
)
# kind: unavailable (connection lost, timeout, loading...), full (maxmemory).
STORE_ERRORS = Counter(
    "storydedup_store_errors_total", "Failed calls to the index store, by kind.", ("kind",)
)
STORE_RECONNECTS = Counter(
    "storydedup_store_reconnects_total",
    "Times the index store became reachable again after being unreachable.",
)
# With --workers, one series per live worker (a `pid` label), so that a
# worker that lost Redis shows; dead workers' series are dropped.
STORE_UP = Gauge(
    "storydedup_store_up",
    "1 while the index store answers (health SERVING), else 0.",
    multiprocess_mode="liveall",
)
# Read from the store at most every INDEX_REFRESH_S (api/server.py), not at
# each scrape; every worker reads the same namespace, so the most recent
# value of any worker is the answer.
INDEX_ARTICLES = Gauge(
    "storydedup_index_articles",
    "Articles in the retention window.",
    multiprocess_mode="mostrecent",
)
INDEX_CLUSTERS = Gauge(
    "storydedup_index_clusters",
    "Story clusters in the retention window.",
    multiprocess_mode="mostrecent",
)
INDEX_CHROME_LINES = Gauge(
    "storydedup_index_chrome_lines",
    "Learned chrome lines, all sources together.",
    multiprocess_mode="mostrecent",
)


def mark_process_dead(pid: int, directory: str) -> None:
    multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


class MetricsServer:
    """/metrics over HTTP on a thread of its own."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.port: int = server.server_address[1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(host: str, port: int, multiprocess_from: str | None = None) -> MetricsServer:
    """Serves this process's metrics, or, with `multiprocess_from` (a
    PROMETHEUS_MULTIPROC_DIR), the sum of every process writing there."""
    registry = REGISTRY
    if multiprocess_from is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_from)  # type: ignore[no-untyped-call]
    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread)
