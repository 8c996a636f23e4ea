"""`storydedup-admin`: operations on a Redis namespace.

    storydedup-admin check --redis-url redis://localhost:6379/0 --namespace news
    storydedup-admin check --redis-cluster --redis-url redis://node1:6379 --namespace news
    storydedup-admin stats --redis-url redis://localhost:6379/0 --namespace news [--json]

`check` reports orphan index entries, articles without clusters and
clusters listing missing articles; it exits 1 when it finds any. On a Redis
Cluster it also counts the leftovers of interrupted writes, which readers
ignore and expiry removes (store/cluster_consistency.py).

`stats` prints articles and clusters in the retention window, the biggest
clusters, the bytes the namespace's keys take in Redis and the learned
chrome per source (top N; sources appear by their key, the xxh64 of the
name, as Redis holds them). It scans the namespace (store/stats.py), a
Redis of one node only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

from storydedup.clustering.policy import MatchPolicy
from storydedup.config import mask_url
from storydedup.store.base import StoreUnavailableError
from storydedup.store.cluster_consistency import ClusterCheck
from storydedup.store.cluster_store import RedisClusterStore
from storydedup.store.redis_store import RedisStore, key_prefix
from storydedup.store.stats import NamespaceStats, redis_namespace_stats
from storydedup.store.unavailable import REDIS_UNAVAILABLE, unavailable_on


async def check(url: str, namespace: str, cluster: bool = False) -> ClusterCheck:
    if cluster:
        cluster_store = RedisClusterStore.from_url(
            url, namespace, MatchPolicy(), socket_connect_timeout=5
        )
        try:
            return await cluster_store.inspect()
        finally:
            await cluster_store.close()
    store = RedisStore.from_url(url, namespace, MatchPolicy(), socket_connect_timeout=5)
    try:
        return ClusterCheck(findings=await store.check())
    finally:
        await store.close()


async def stats(url: str, namespace: str, top: int) -> NamespaceStats:
    client = RedisStore.from_url(url, namespace, MatchPolicy(), socket_connect_timeout=5).client
    try:
        with unavailable_on(REDIS_UNAVAILABLE, "Redis"):
            return await redis_namespace_stats(
                client, key_prefix(namespace), top=top, with_bytes=True
            )
    finally:
        await client.aclose()


def stats_text(namespace: str, found: NamespaceStats) -> str:
    lines = [
        f"namespace {namespace!r}",
        f"articles in the window: {found.articles:,}",
        f"clusters in the window: {found.clusters:,}",
        f"bytes in Redis: {found.redis_bytes or 0:,}",
        f"learned chrome lines: {found.chrome_lines:,}",
        f"biggest clusters (top {len(found.biggest_clusters)}):",
        *(f"  c{cluster}  {size:,} articles" for cluster, size in found.biggest_clusters),
        f"learned chrome by source key (top {len(found.chrome_by_source)}):",
        *(f"  {source}  {lines:,} lines" for source, lines in found.chrome_by_source),
    ]
    return "\n".join(lines)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis-url", default=os.environ.get("STORYDEDUP_REDIS_URL"))
    parser.add_argument("--namespace", default=os.environ.get("STORYDEDUP_NAMESPACE", "default"))
    parser.add_argument(
        "--redis-cluster",
        action="store_true",
        default=os.environ.get("STORYDEDUP_REDIS_CLUSTER", "").lower()
        in ("1", "true", "yes", "on"),
        help="--redis-url is a node of a Redis Cluster",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="storydedup-admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _common(commands.add_parser("check", help="check a namespace's consistency"))
    stats_parser = commands.add_parser("stats", help="what a namespace holds")
    _common(stats_parser)
    stats_parser.add_argument("--top", type=int, default=10, help="clusters and sources listed")
    stats_parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error("--redis-url (or STORYDEDUP_REDIS_URL) is required")
    if args.command == "stats":
        return _stats_command(args)
    try:
        result = asyncio.run(check(args.redis_url, args.namespace, args.redis_cluster))
    except StoreUnavailableError as error:
        print(f"storydedup-admin: {mask_url(args.redis_url)}: {error}", file=sys.stderr)
        return 2
    for finding in result.findings:
        print(finding)
    for kind, count in sorted(result.leftovers.items()):
        print(f"leftovers of interrupted writes: {count} {kind}", file=sys.stderr)
    print(f"{len(result.findings)} findings in namespace {args.namespace!r}", file=sys.stderr)
    return 1 if result.findings else 0


def _stats_command(args: argparse.Namespace) -> int:
    if args.redis_cluster:
        print("storydedup-admin: stats reads a Redis of one node, not a cluster", file=sys.stderr)
        return 2
    try:
        found = asyncio.run(stats(args.redis_url, args.namespace, args.top))
    except StoreUnavailableError as error:
        print(f"storydedup-admin: {mask_url(args.redis_url)}: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"namespace": args.namespace, **found.as_dict()}))
    else:
        print(stats_text(args.namespace, found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
