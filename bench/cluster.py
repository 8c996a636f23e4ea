"""How storydedup spreads over a Redis Cluster: per-shard keys, memory and
commands under a realistic stream, and bytes and commands per article for
the capacity note (docs/scaling.md).

Run by hand from the repository root (a benchmark, not a test):

    uv run python bench/cluster.py                 # 6,000 articles, 3 replicas (~3 min)
    uv run python bench/cluster.py --articles 1500 # a quick look

It starts a local Redis Cluster of its own (3 masters + 3 replicas on free
loopback ports, tests/support/redis_cluster.py) and several storydedup server
processes on it (--redis-cluster), and sends pages built like those of
bench/throughput.py (about 600-word bodies in outlets' chrome, 30% copies of
recent stories) plus a few big stories that draw hundreds of copies each,
interleaved: the hot keys a naive layout would have. Clients send batches of
50 round-robin over the replicas.

Per master it prints keys (DBSIZE), memory (used_memory after minus before)
and commands processed (INFO commandstats after CONFIG RESETSTAT), with the
max/min ratio of each; then the totals per article. Then, unless
--no-single-redis, the same pages through as many server processes on one
redis-server (the single-Redis store), and both runs' articles/s per server
process and server and Redis CPU per article side by side (a cluster's Redis CPU
counts every node, replicas included).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
from storydedup_client import Article, AsyncStoryDedupClient

from bench.machine import format_machine, machine_description
from bench.throughput import (
    BenchArticle,
    bbc_source,
    build_articles,
    synthetic_source,
    tree_cpu_seconds,
)
from tests.support.redis_cluster import LocalRedisCluster
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BATCH = 50


def stream(
    count: int, hot_stories: int, hot_copies: int, seed: int, editions: int = 1
) -> list[Article]:
    """`count` pages in arrival order, of which hot_stories × hot_copies are
    copies of a few big stories spread through the stream. With `editions`
    above 1, each outlet publishes under that many source names (regional
    editions sharing one page template), as an aggregator with hundreds of
    sources sees; learned chrome is kept per source."""
    source = bbc_source(DATA) if DATA.exists() else synthetic_source(seed)
    base = build_articles(source, count - hot_stories * hot_copies, seed)
    originals = [b for b in base if b.kind == "original"][:hot_stories]
    rng = random.Random(seed)
    pages: list[Article] = [_edition(b.article, editions) for b in base]
    for story, original in enumerate(originals):
        copies = [
            _edition(_copy(original, story, n, base, rng), editions) for n in range(hot_copies)
        ]
        # Each big story breaks early and draws its copies over what follows.
        start = next(i for i, p in enumerate(pages) if p.id == original.article.id) + 1
        for n, page in enumerate(copies):
            at = start + (n * (len(pages) - start)) // hot_copies
            pages.insert(min(at + n, len(pages)), page)
    return pages


def _copy(
    original: BenchArticle, story: int, n: int, base: Sequence[BenchArticle], rng: random.Random
) -> Article:
    """Another outlet's page of the big story: its body inside that outlet's chrome."""
    host = rng.choice(base).article
    body_lines = original.article.text.splitlines()
    return Article(
        id=f"hot{story}-{n:05d}",
        title=original.article.title,
        text="\n".join(
            [*host.text.splitlines()[:6], *body_lines[6:-6], *host.text.splitlines()[-6:]]
        ),
        url=f"https://{host.source}/hot/{story}/{n}",
        source=host.source,
        published_at=original.article.published_at,
    )


def _edition(page: Article, editions: int) -> Article:
    if editions <= 1:
        return page
    edition = int.from_bytes(page.id.encode()[-2:], "big") % editions
    return dataclasses.replace(page, source=f"{page.source}/edition-{edition}")


def shard_stats(cluster: LocalRedisCluster) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for node in cluster.masters_now():
        client = redis.Redis(port=node.port)
        try:
            memory: Any = client.info("memory")
            commands: Any = client.info("commandstats")
            out[node.port] = {
                "keys": float(client.dbsize()),
                "memory": float(memory["used_memory"]),
                "commands": float(sum(v["calls"] for v in commands.values())),
            }
        finally:
            client.close()
    return out


def reset_stats(cluster: LocalRedisCluster) -> None:
    for node in cluster.masters_now():
        client = redis.Redis(port=node.port)
        try:
            client.config_resetstat()
        finally:
            client.close()


async def send(targets: Sequence[str], pages: Sequence[Article], clients: int) -> float:
    batches = iter(range(0, len(pages), BATCH))

    async def sender(target: str) -> None:
        async with AsyncStoryDedupClient(target, timeout=120) as client:
            for start in batches:
                await client.ingest_articles(pages[start : start + BATCH])

    started = time.perf_counter()
    await asyncio.gather(*(sender(targets[i % len(targets)]) for i in range(clients)))
    return time.perf_counter() - started


@dataclasses.dataclass(frozen=True)
class Ingested:
    """One store's run: wall seconds, its server processes' CPU seconds and its Redis
    processes' (every node of a cluster, replicas included)."""

    seconds: float
    server_cpu: float
    redis_cpu: float


def ingest(
    redis_env: dict[str, str],
    redis_pids: Sequence[int],
    pages: Sequence[Article],
    args: argparse.Namespace,
    started: Callable[[], object] = lambda: None,
) -> Ingested:
    """The pages through args.replicas fresh server processes on one store, args.clients
    clients sending batches; the processes' CPU over the sending (start-up excluded).
    `started` runs once the servers are up, before the first page is sent."""
    servers = [
        ServerProcess(
            {**redis_env, "STORYDEDUP_NAMESPACE": "bench", "STORYDEDUP_LOG_LEVEL": "WARNING"}
        )
        for _ in range(args.replicas)
    ]
    try:
        for server in servers:
            server.start()
        started()
        server_before = sum(tree_cpu_seconds(server.pid) for server in servers)
        redis_before = sum(tree_cpu_seconds(pid) for pid in redis_pids)
        seconds = asyncio.run(send([s.target for s in servers], pages, args.clients))
        server_cpu = sum(tree_cpu_seconds(server.pid) for server in servers) - server_before
        redis_cpu = sum(tree_cpu_seconds(pid) for pid in redis_pids) - redis_before
    finally:
        for server in servers:
            server.stop()
    return Ingested(seconds, server_cpu, redis_cpu)


def ratio(values: Sequence[float]) -> str:
    return f"{max(values) / min(values):.2f}" if min(values) > 0 else "inf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=6000)
    parser.add_argument("--hot-stories", type=int, default=3)
    parser.add_argument("--hot-copies", type=int, default=300)
    parser.add_argument("--replicas", type=int, default=3, help="storydedup server processes")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--editions", type=int, default=1, help="source names per outlet (12 outlets)"
    )
    parser.add_argument(
        "--no-single-redis",
        action="store_true",
        help="skip the same pages on one redis-server (the single-Redis store)",
    )
    args = parser.parse_args()

    hot = min(args.hot_copies, args.articles // (2 * args.hot_stories))
    pages = stream(args.articles, args.hot_stories, hot, args.seed, args.editions)
    cluster = LocalRedisCluster().start()
    before: dict[int, dict[str, float]] = {}

    def servers_up() -> None:
        # The shards' figures count the pages, not the servers' start-up.
        before.update(shard_stats(cluster))
        reset_stats(cluster)

    try:
        on_cluster = ingest(
            {"STORYDEDUP_REDIS_URL": cluster.url, "STORYDEDUP_REDIS_CLUSTER": "true"},
            [node.process.pid for node in cluster.running() if node.process is not None],
            pages,
            args,
            servers_up,
        )
        after = shard_stats(cluster)
    finally:
        cluster.cleanup()
    on_single = None
    if not args.no_single_redis:
        single = RedisServer().start()
        try:
            assert single.process is not None
            on_single = ingest(
                {"STORYDEDUP_REDIS_URL": single.url}, [single.process.pid], pages, args
            )
        finally:
            single.cleanup()

    print(format_machine(machine_description(redis_version=None)))
    print(
        f"\n{len(pages):,} articles from {len({p.source for p in pages})} sources "
        f"({args.hot_stories} big stories × {hot} copies) through "
        f"{args.replicas} server processes on 3 masters + 3 replicas, {args.clients} clients "
        f"sending batches of {BATCH}: {len(pages) / on_cluster.seconds:,.0f} articles/s\n"
    )
    rows = {
        port: {
            "keys": after[port]["keys"],
            "memory": after[port]["memory"] - before[port]["memory"],
            "commands": after[port]["commands"],
        }
        for port in after
    }
    print("| shard | keys | memory (MiB) | commands |")
    print("| --- | ---: | ---: | ---: |")
    for port, row in sorted(rows.items()):
        print(
            f"| 127.0.0.1:{port} | {row['keys']:,.0f} | {row['memory'] / 2**20:,.2f} "
            f"| {row['commands']:,.0f} |"
        )
    columns = {
        name: [row[name] for row in rows.values()] for name in ("keys", "memory", "commands")
    }
    print(
        f"| max/min | {ratio(columns['keys'])} | {ratio(columns['memory'])} "
        f"| {ratio(columns['commands'])} |"
    )
    total_memory = sum(columns["memory"])
    total_commands = sum(columns["commands"])
    print(
        f"\nper article: {total_memory / len(pages):,.0f} bytes of Redis (masters, before "
        f"replication), {total_commands / len(pages):.1f} Redis commands, "
        f"{sum(columns['keys']) / len(pages):.2f} keys"
    )
    if on_single is not None:
        print(
            f"\nthe same pages, {args.replicas} server processes, {args.clients} clients:\n\n"
            "| store | articles/s | per server process | CPU ms per article: servers "
            "| Redis |\n| --- | ---: | ---: | ---: | ---: |"
        )
        for name, run in (("Redis Cluster", on_cluster), ("one redis-server", on_single)):
            rate = len(pages) / run.seconds
            print(
                f"| {name} | {rate:,.0f} | {rate / args.replicas:,.0f} "
                f"| {1000 * run.server_cpu / len(pages):.2f} "
                f"| {1000 * run.redis_cpu / len(pages):.2f} |"
            )
        print(
            f"\nRedis Cluster against one redis-server: articles/s "
            f"{on_single.seconds / on_cluster.seconds:.2f}, server CPU per article "
            f"{on_cluster.server_cpu / on_single.server_cpu:.2f}, Redis CPU per article "
            f"{on_cluster.redis_cpu / on_single.redis_cpu:.2f}"
        )


if __name__ == "__main__":
    main()
