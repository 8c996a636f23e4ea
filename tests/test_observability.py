"""Metrics, logs and a real Prometheus: each against a real server process
on a real redis-server."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY
from storydedup.api.server import StoryDedupServer
from storydedup.config import ConfigError, build_config
from storydedup.logs import JsonFormatter
from storydedup.v1 import storydedup_pb2 as pb
from storydedup.v1 import storydedup_pb2_grpc as pb_grpc
from storydedup_client import Article, AsyncStoryDedupClient, StoryDedupClient, StoryDedupError

from tests.conftest import running_server
from tests.support import articles
from tests.support.prometheus import PrometheusServer, scrape, scrape_settled, value
from tests.support.redis_server import RedisServer, free_port
from tests.support.server_process import ServerProcess

SERVICE = "storydedup.v1.StoryDedupService"
TOKEN = "observability-test-token-0123456789"


def story(seed: int, article_id: str) -> Article:
    return Article(id=article_id, text=articles.text(articles.story(seed)), source="wire.example")


def page(seed: int, article_id: str) -> Article:
    body = "".join(f"<p>{p}</p>" for p in articles.story(seed))
    html = f"<html><head><title>Story {seed}</title></head><body><article>{body}</article></body>"
    return Article(id=article_id, html=html, source="site.example")


def metrics_process(redis_server: RedisServer, namespace: str, **env: str) -> ServerProcess:
    """A server (not started) serving metrics on a free port, kept as
    `metrics_port`; `env`: more settings."""
    metrics_port = free_port()
    process = ServerProcess(
        env={
            "STORYDEDUP_REDIS_URL": redis_server.url,
            "STORYDEDUP_NAMESPACE": namespace,
            "STORYDEDUP_METRICS_PORT": str(metrics_port),
            **env,
        }
    )
    process.metrics_port = metrics_port  # type: ignore[attr-defined]
    return process


@pytest.fixture
def metrics_server(redis_server: RedisServer, namespace: str) -> Iterator[ServerProcess]:
    process = metrics_process(redis_server, namespace).start()
    yield process
    process.stop()


def metrics_url(process: ServerProcess) -> str:
    return f"http://127.0.0.1:{process.metrics_port}/metrics"  # type: ignore[attr-defined]


def ingest_mix(target: str, stories: int, copies_each: int) -> None:
    """`stories` new stories, each with `copies_each` copies under other IDs,
    one at a time."""
    with StoryDedupClient(target, timeout=30) as client:
        for seed in range(stories):
            client.ingest_article(story(seed, f"s{seed}"))
            for copy in range(copies_each):
                assert client.ingest_article(story(seed, f"s{seed}-copy{copy}")).duplicate


def test_counts_after_ingests(metrics_server: ServerProcess) -> None:
    ingest_mix(metrics_server.target, stories=3, copies_each=2)
    with StoryDedupClient(metrics_server.target, timeout=30) as client:
        client.ingest_article(story(0, "s0"))  # the same again: unchanged
        client.ingest_article(page(50, "p50"))
        with pytest.raises(StoryDedupError):
            client.ingest_article(
                Article(id="empty", html="<html><body><script>x()</script></body></html>")
            )
        with pytest.raises(StoryDedupError):
            client.get_article("missing")

    samples = scrape_settled(metrics_url(metrics_server))
    ingest = {"grpc_service": SERVICE, "grpc_method": "IngestArticle", "grpc_type": "unary"}
    assert value(samples, "grpc_server_started_total", **ingest) == 12
    assert value(samples, "grpc_server_handled_total", grpc_code="OK", **ingest) == 11
    assert value(samples, "grpc_server_handled_total", grpc_code="INVALID_ARGUMENT", **ingest) == 1
    assert value(samples, "grpc_server_handling_seconds_count", **ingest) == 12
    assert (
        value(
            samples,
            "grpc_server_handled_total",
            grpc_method="GetArticle",
            grpc_code="NOT_FOUND",
        )
        == 1
    )
    assert value(samples, "storydedup_articles_ingested_total", outcome="new_story") == 4
    assert value(samples, "storydedup_articles_ingested_total", outcome="copy") == 6
    assert value(samples, "storydedup_articles_ingested_total", outcome="unchanged") == 1
    assert value(samples, "storydedup_articles_input_total", kind="text") == 10
    assert value(samples, "storydedup_articles_input_total", kind="html") == 1
    assert value(samples, "storydedup_articles_refused_total", reason="no_story_text") == 1
    for stage in ("cleaning", "fingerprinting", "store"):
        assert value(samples, "storydedup_ingest_stage_seconds_count", stage=stage) >= 11
    assert value(samples, "storydedup_redis_call_seconds_count") > 0
    assert value(samples, "storydedup_store_up") == 1
    # The index gauges were read at start-up (empty) and are not re-read per scrape.
    assert ("storydedup_index_articles", frozenset()) in samples
    # No label whose values grow with the data.
    for (_, labels), _v in samples.items():
        for name, label_value in labels:
            assert "s0" not in label_value and "example" not in label_value, (name, label_value)


def test_batch_handled_once_with_every_article_counted(metrics_server: ServerProcess) -> None:
    with StoryDedupClient(metrics_server.target, timeout=30) as client:
        client.ingest_articles([story(seed, f"b{seed}") for seed in range(5)])
        client.ingest_articles([story(seed, f"b{seed}-copy") for seed in range(5)])
    samples = scrape_settled(metrics_url(metrics_server))
    batch = {"grpc_method": "IngestArticles", "grpc_code": "OK"}
    assert value(samples, "grpc_server_handled_total", **batch) == 2
    assert value(samples, "storydedup_articles_ingested_total", outcome="new_story") == 5
    assert value(samples, "storydedup_articles_ingested_total", outcome="copy") == 5


def test_workers_share_one_scrape(redis_server: RedisServer, namespace: str) -> None:
    """With --workers 2 the supervisor's page sums both workers: every call
    counted once, whichever process took it (one connection per call, so
    the kernel spreads them over the two)."""
    process = metrics_process(redis_server, namespace, STORYDEDUP_WORKERS="2").start()
    url = metrics_url(process)
    try:
        # Health answers SERVING as soon as one worker does: wait for both.
        deadline = time.monotonic() + 60
        while True:
            up = [v for (name, _), v in scrape(url).items() if name == "storydedup_store_up"]
            if up == [1.0, 1.0]:
                break
            assert time.monotonic() < deadline, f"workers not both serving: {up}"
            time.sleep(0.2)
        calls = 24
        for n in range(calls):
            with StoryDedupClient(process.target, timeout=30) as client:
                client.ingest_article(story(n % 6, f"w{n}"))
        samples = scrape_settled(url)
        assert (
            value(samples, "grpc_server_handled_total", grpc_method="IngestArticle", grpc_code="OK")
            == calls
        )
        assert value(samples, "storydedup_articles_ingested_total", outcome="new_story") == 6
        assert value(samples, "storydedup_articles_ingested_total", outcome="copy") == calls - 6
        # One series per live worker.
        assert value(samples, "storydedup_store_up") == 2
    finally:
        process.stop()


@pytest.mark.slow
def test_a_real_prometheus_scrapes_the_counts(metrics_server: ServerProcess) -> None:
    prometheus = PrometheusServer([f"127.0.0.1:{metrics_server.metrics_port}"]).start()  # type: ignore[attr-defined]
    try:
        ingest_mix(metrics_server.target, stories=2, copies_each=3)
        handled = (
            'sum(grpc_server_handled_total{job="storydedup",grpc_method="IngestArticle",'
            'grpc_code="OK"})'
        )
        copies = 'sum(storydedup_articles_ingested_total{job="storydedup",outcome="copy"})'
        deadline = time.monotonic() + 60
        while True:
            got = (prometheus.query_value(handled), prometheus.query_value(copies))
            if got == (8.0, 6.0):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus has {got}, not (8, 6): {prometheus.log()}")
            time.sleep(0.5)
        up = prometheus.query_value('up{job="storydedup"}')
        assert up == 1.0
    finally:
        prometheus.cleanup()


def test_json_log_lines_parse(redis_server: RedisServer, namespace: str) -> None:
    process = ServerProcess(
        env={
            "STORYDEDUP_REDIS_URL": redis_server.url.replace("redis://", "redis://:hunter2secret@"),
            "STORYDEDUP_NAMESPACE": namespace,
            "STORYDEDUP_LOG_FORMAT": "json",
            "STORYDEDUP_AUTH_TOKEN": TOKEN,
        }
    )
    # Redis has no password: the server is up but not serving, and says so.
    process.start(wait_serving=False)
    process.stop()
    lines = process.full_log().splitlines()
    assert len(lines) >= 3
    for line in lines:
        parsed = json.loads(line)
        assert {"time", "level", "logger", "message"} <= parsed.keys(), parsed
        assert TOKEN not in line and "hunter2secret" not in line
    messages = [json.loads(line)["message"] for line in lines]
    assert any(m.startswith("configuration: ") for m in messages)


async def test_json_lines_inside_a_call_name_method_and_peer(
    redis_server: RedisServer, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line logged while a call is handled carries its method and peer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("storydedup")
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        async with running_server(
            {"port": "0", "namespace": namespace, "redis_url": redis_server.url}
        ) as running:
            await _fail_one_call(running, monkeypatch)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    failure = next(line for line in lines if line["message"] == "unexpected failure in a call")
    assert failure["method"] == f"/{SERVICE}/FindSimilar"
    assert failure["peer"].startswith(("ipv4:127.0.0.1:", "ipv6:"))
    assert failure["level"] == "ERROR" and "Traceback" in failure["exception"]
    outside = [line for line in lines if line["message"].startswith("serving storydedup.v1")]
    assert outside and "method" not in outside[0]


async def _fail_one_call(running: StoryDedupServer, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(running.store, "similar", broken)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}")
    try:
        stub = pb_grpc.StoryDedupServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.FindSimilar(
                pb.FindSimilarRequest(article=story(1, "").to_proto()), timeout=30
            )
        assert failed.value.code() == grpc.StatusCode.INTERNAL
    finally:
        await channel.close()


def test_dashboard_queries_are_valid_promql() -> None:
    """Every query of deploy/grafana-dashboard.json parses in a real Prometheus."""
    dashboard = json.loads(
        (Path(__file__).parent.parent / "deploy/grafana-dashboard.json").read_text()
    )
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(expressions) >= 8
    prometheus = PrometheusServer([]).start()
    try:
        for expression in expressions:
            # Grafana fills $__rate_interval in; the query API raises on a parse error.
            prometheus.query(expression.replace("$__rate_interval", "1m"))
    finally:
        prometheus.cleanup()


async def test_streaming_handlers_of_both_kinds_pass_the_interceptor(
    redis_server: RedisServer, namespace: str
) -> None:
    """Health Watch writes with context.write(), StreamIngestArticles yields:
    both stream through the interceptor."""
    async with running_server(
        {"port": "0", "namespace": namespace, "redis_url": redis_server.url}
    ) as running:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=""), timeout=30
            )
            first = await watch.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            watch.cancel()
        async with AsyncStoryDedupClient(f"127.0.0.1:{running.port}", timeout=30) as client:
            results = [r async for r in client.stream_ingest_articles([story(1, "x1")])]
        assert len(results) == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"log_format": "xml"}, "--log-format: 'xml' is not one of text, json"),
        ({"metrics_port": "nine"}, "--metrics-port: 'nine' is not a valid int"),
        ({"metrics_port": "70000"}, "--metrics-port: 70000 is not a port number"),
        ({"metrics_port": "50051"}, "--metrics-port: must differ from --port"),
        (
            {"metrics_port": "0", "workers": "2", "port": "5000", "redis_url": "redis://h"},
            "--workers: more than one worker needs a fixed --metrics-port",
        ),
    ],
)
def test_observability_settings_are_checked(raw: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_config(raw)


def test_metrics_port_unset_or_empty_is_off() -> None:
    assert build_config({}).metrics_port is None
    assert build_config({"metrics_port": ""}).metrics_port is None
    assert build_config({"metrics_port": "9100"}).metrics_port == 9100
    assert build_config({"log_format": "json"}).log_format == "json"


async def test_a_redis_restart_counts_a_reconnect_and_the_up_state(namespace: str) -> None:
    """Redis stopped and started again: the up gauge follows and a reconnect is counted."""
    own = RedisServer().start()
    try:
        async with running_server(
            {"port": "0", "namespace": namespace, "redis_url": own.url}
        ) as running:
            reconnects = REGISTRY.get_sample_value("storydedup_store_reconnects_total") or 0.0
            errors_before = unavailable_errors()
            assert REGISTRY.get_sample_value("storydedup_store_up") == 1.0
            own.stop()
            await wait_for(lambda: not running.servicer.ready)
            assert REGISTRY.get_sample_value("storydedup_store_up") == 0.0
            own.start()
            await wait_for(lambda: running.servicer.ready)
            assert REGISTRY.get_sample_value("storydedup_store_up") == 1.0
            assert REGISTRY.get_sample_value("storydedup_store_reconnects_total") == reconnects + 1
            assert unavailable_errors() > errors_before
    finally:
        own.cleanup()


def unavailable_errors() -> float:
    found = REGISTRY.get_sample_value("storydedup_store_errors_total", {"kind": "unavailable"})
    return found or 0.0


async def wait_for(condition: Callable[[], bool], within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)
