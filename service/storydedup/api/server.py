"""Wiring: the gRPC server with health checking, reflection, the store
connection watcher, expiry, and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from storydedup import metrics
from storydedup.api.auth import BearerTokenInterceptor
from storydedup.api.browser import StoryBrowser
from storydedup.api.observe import ObservingInterceptor
from storydedup.api.servicer import SERVICE_NAME, StoryDedupServicer, method_handlers
from storydedup.api.validation import Limits
from storydedup.cleaning.chrome_state import ChromeState, LocalChromeState
from storydedup.clustering.policy import MatchPolicy
from storydedup.config import Config
from storydedup.dedup import Deduplicator
from storydedup.fingerprints.fingerprint import Fingerprinter, FingerprintSettings
from storydedup.fingerprints.text import as_tokenizer
from storydedup.store.base import (
    IndexStore,
    StoreFullError,
    StoreLayoutError,
    StoreUnavailableError,
)
from storydedup.store.cluster_store import RedisClusterStore
from storydedup.store.memory import MemoryStore, expiry_slot_ms, wall_clock_ms
from storydedup.store.redis_chrome import RedisChromeState, cluster_keys, single_redis_keys
from storydedup.store.redis_store import RedisStore, key_prefix
from storydedup.store.stats import NamespaceStats, memory_store_stats, redis_namespace_stats
from storydedup.store.unavailable import REDIS_UNAVAILABLE, unavailable_on

log = logging.getLogger("storydedup.server")

DAY_MS = 86_400_000.0
# Set by the --workers supervisor in the environment of the processes it starts.
POOL_MEMBER_ENV = "STORYDEDUP_POOL_MEMBER"
# Health of the store is re-checked this often; a call that finds it down
# fails at once with UNAVAILABLE in between.
WATCH_INTERVAL_S = 1.0
EXPIRY_BUDGET = 1000
# The index gauges (articles, clusters, chrome lines) are read from the store
# this often while metrics are served: a scan of the namespace
# (store/stats.py), too dear for every scrape.
INDEX_REFRESH_S = 300.0


def server_credentials(config: Config) -> grpc.ServerCredentials | None:
    if config.tls_cert_file is None or config.tls_key_file is None:
        return None
    with open(config.tls_key_file, "rb") as key, open(config.tls_cert_file, "rb") as cert:
        pair = (key.read(), cert.read())
    client_ca = None
    if config.tls_client_ca_file is not None:
        with open(config.tls_client_ca_file, "rb") as ca:
            client_ca = ca.read()
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def make_store(config: Config, policy: MatchPolicy) -> IndexStore:
    slot_ms = expiry_slot_ms(config.retention_days * DAY_MS)
    if config.redis_url is None:
        return MemoryStore(policy, expiry_slot_ms=slot_ms, events_max_len=config.events_max_len)
    if config.redis_cluster:
        return RedisClusterStore.from_url(
            config.redis_url,
            config.namespace,
            policy,
            expiry_slot_ms=slot_ms,
            events_max_len=config.events_max_len,
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
        )
    return RedisStore.from_url(
        config.redis_url,
        config.namespace,
        policy,
        expiry_slot_ms=slot_ms,
        events_max_len=config.events_max_len,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        health_check_interval=10,
        retry_on_timeout=False,
        # After Redis restarts, every pooled connection is dead; without a
        # retry each one failed one call with UNAVAILABLE although Redis was
        # back (from_url gives no retry by default). One immediate retry on a
        # fresh connection; safe, as a repeated ingest of the same content
        # changes nothing.
        retry=Retry(NoBackoff(), 1, supported_errors=(redis_errors.ConnectionError,)),
    )


def make_chrome_state(config: Config, store: IndexStore) -> ChromeState:
    """Learned chrome next to the index: shared by all replicas on Redis."""
    ttl_ms = config.retention_days * DAY_MS
    if isinstance(store, RedisClusterStore):
        return RedisChromeState(store.client, cluster_keys(config.namespace), ttl_ms)
    if isinstance(store, RedisStore):
        return RedisChromeState(store.client, single_redis_keys(config.namespace), ttl_ms)
    return LocalChromeState()


def fingerprint_settings(config: Config) -> FingerprintSettings:
    """The fingerprint settings the configuration names."""
    return FingerprintSettings(
        num_perm=config.num_perm,
        shingle_size=config.shingle_size,
        seed=config.seed,
        bucket_group_bits=config.bucket_group_bits,
        tokenizer=as_tokenizer(config.tokenizer),
    )


class StoryDedupServer:
    def __init__(self, config: Config, store: IndexStore | None = None) -> None:
        self.config = config
        policy = MatchPolicy()
        self.fingerprinter = Fingerprinter(fingerprint_settings(config))
        self.store = store or make_store(config, policy)
        self.dedup = Deduplicator(
            self.store,
            self.fingerprinter,
            chrome_state=make_chrome_state(config, self.store),
            processes=config.clean_processes,
        )
        self.servicer = StoryDedupServicer(
            self.dedup, Limits(config.max_article_bytes, config.max_batch_articles)
        )
        self.health = health.aio.HealthServicer()
        # Observing first, so that calls the token check refuses are counted.
        interceptors: list[grpc.aio.ServerInterceptor] = [ObservingInterceptor()]
        if config.auth_token:
            interceptors.append(BearerTokenInterceptor(config.auth_token))
        self.server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", config.max_message_bytes),
                ("grpc.max_send_message_length", config.max_message_bytes),
                # Only the processes of one --workers pool share a port;
                # otherwise a second server on a taken port must fail.
                ("grpc.so_reuseport", 1 if os.environ.get(POOL_MEMBER_ENV) else 0),
            ],
        )
        self.server.add_generic_rpc_handlers((method_handlers(self.servicer),))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self.port = 0
        # The port /metrics is served on; None when it is not served here.
        self.metrics_port: int | None = None
        self._metrics_http: metrics.MetricsServer | None = None
        self.browser = (
            StoryBrowser(
                self.store,
                config.host,
                config.browser_port,
                reuse_port=bool(os.environ.get(POOL_MEMBER_ENV)),
            )
            if config.browser_port
            else None
        )
        self._tasks: list[asyncio.Task[None]] = []
        self.stopping = asyncio.Event()
        # Set when the server cannot go on (e.g. a namespace made with other
        # settings); serve() then exits non-zero.
        self.fatal: Exception | None = None

    async def _set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", SERVICE_NAME):
            await self.health.set(name, status)
        metrics.STORE_UP.set(1 if serving else 0)

    async def start(self) -> int:
        address = f"{self.config.host}:{self.config.port}"
        if ":" in self.config.host and not self.config.host.startswith("["):
            address = f"[{self.config.host}]:{self.config.port}"
        credentials = server_credentials(self.config)
        if credentials is None:
            self.port = self.server.add_insecure_port(address)
        else:
            self.port = self.server.add_secure_port(address, credentials)
        await self._set_serving(False)
        await self.server.start()
        # NOT_SERVING until the cleaning processes are up.
        await self.dedup.start()
        if self.browser is not None:
            await self.browser.start()
        if not self.store.persistent:
            log.warning(
                "no Redis configured: using the in-process store; the index is NOT persistent "
                "and is lost when the server stops (set STORYDEDUP_REDIS_URL to keep it)"
            )
        self._tasks.append(asyncio.create_task(self._watch_store(), name="watch-store"))
        self._tasks.append(asyncio.create_task(self._expire_loop(), name="expire"))
        # A --workers pool's metrics are served by its supervisor (api/main.py).
        if self.config.metrics_port is not None and not os.environ.get(POOL_MEMBER_ENV):
            self._metrics_http = metrics.serve_metrics(self.config.host, self.config.metrics_port)
            self.metrics_port = self._metrics_http.port
            log.info("serving metrics on http://%s:%d/metrics", self.config.host, self.metrics_port)
        if self.config.metrics_port is not None:
            self._tasks.append(asyncio.create_task(self._index_gauges(), name="index-gauges"))
        log.info(
            "serving storydedup.v1 on %s:%d (pid %d)", self.config.host, self.port, os.getpid()
        )
        return self.port

    async def _watch_store(self) -> None:
        """Opens the store, then follows its health: the server keeps
        running while Redis is away and serves again when it is back."""
        opened = False
        # Whether it served before: coming back after that is a reconnect.
        opened_before = False
        while not self.stopping.is_set():
            try:
                if not opened:
                    await self.store.open(self.fingerprinter.settings.store_settings())
                    opened = True
                else:
                    await self.store.ping()
                if not self.servicer.ready:
                    log.info("index store reachable: serving")
                    if opened_before:
                        metrics.STORE_RECONNECTS.inc()
                    opened_before = True
                self.servicer.ready = True
                await self._set_serving(True)
            except StoreUnavailableError as error:
                if self.servicer.ready or not opened:
                    log.warning("index store unreachable (%s): NOT_SERVING", error)
                self.servicer.ready = False
                await self._set_serving(False)
            except StoreFullError as error:
                # Only a new namespace writes on open: it cannot be created
                # until Redis has room; tried again each interval.
                log.warning("cannot create the namespace (%s): NOT_SERVING", error)
                self.servicer.ready = False
                await self._set_serving(False)
            except StoreLayoutError as error:
                log.error("%s", error)
                self.servicer.ready = False
                await self._set_serving(False)
                self.fatal = error
                self.stopping.set()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), WATCH_INTERVAL_S)

    async def _expire_loop(self) -> None:
        retention_ms = self.config.retention_days * DAY_MS
        # Short windows (tests, benchmarks) need expiry to keep pace with them.
        idle_pause = min(5.0, expiry_slot_ms(retention_ms) / 1000)
        while not self.stopping.is_set():
            pause = idle_pause
            if self.servicer.ready:
                try:
                    removed = await self.store.expire(wall_clock_ms() - retention_ms, EXPIRY_BUDGET)
                    if removed:
                        log.info("expired %d articles", removed)
                    if removed >= EXPIRY_BUDGET:
                        pause = 0.05
                except StoreUnavailableError:
                    pass
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), pause)

    async def index_stats(self) -> NamespaceStats | None:
        """What the namespace holds, for the index gauges; None on a Redis
        Cluster, whose namespace spans every master (not read here)."""
        if isinstance(self.store, MemoryStore):
            return memory_store_stats(self.store)
        if isinstance(self.store, RedisStore):
            with unavailable_on(REDIS_UNAVAILABLE, "Redis"):
                return await redis_namespace_stats(
                    self.store.client, key_prefix(self.config.namespace)
                )
        return None

    async def _index_gauges(self) -> None:
        while not self.stopping.is_set():
            # Until the store is first read, look again each watch interval.
            pause = WATCH_INTERVAL_S
            if self.servicer.ready:
                try:
                    stats = await self.index_stats()
                except StoreUnavailableError as error:
                    log.debug("index gauges not refreshed: %s", error)
                    stats = None
                if stats is not None:
                    metrics.INDEX_ARTICLES.set(stats.articles)
                    metrics.INDEX_CLUSTERS.set(stats.clusters)
                    metrics.INDEX_CHROME_LINES.set(stats.chrome_lines)
                    pause = INDEX_REFRESH_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), pause)

    async def stop(self, grace: float | None = None) -> None:
        """Health goes NOT_SERVING first, so balancers stop sending; calls in
        flight get `grace` seconds to finish."""
        await self.health.enter_graceful_shutdown()
        self.stopping.set()
        await self.server.stop(self.config.shutdown_grace_seconds if grace is None else grace)
        if self.browser is not None:
            await self.browser.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._metrics_http is not None:
            self._metrics_http.close()
        self.dedup.close()
        await self.store.close()

    async def wait(self) -> None:
        await self.server.wait_for_termination()


async def serve(config: Config) -> None:
    server = StoryDedupServer(config)
    await server.start()
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    stopping = asyncio.create_task(server.stopping.wait())
    requested = asyncio.create_task(stop_requested.wait())
    await asyncio.wait((stopping, requested), return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    requested.cancel()
    if server.fatal is not None:
        await server.stop(grace=0)
        raise SystemExit(1)
    log.info(
        "shutting down: finishing calls in flight (up to %.0fs)", config.shutdown_grace_seconds
    )
    await server.stop()
    log.info("stopped")
