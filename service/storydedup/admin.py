"""`storydedup-admin`: operations on a Redis namespace.

    storydedup-admin check --redis-url redis://localhost:6379/0 --namespace news
    storydedup-admin check --redis-cluster --redis-url redis://node1:6379 --namespace news

`check` reports orphan index entries, articles without clusters and
clusters listing missing articles; it exits 1 when it finds any. On a Redis
Cluster it also counts the leftovers of interrupted writes, which readers
ignore and expiry removes (store/cluster_consistency.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from storydedup.clustering.policy import MatchPolicy
from storydedup.config import mask_url
from storydedup.store.base import StoreUnavailableError
from storydedup.store.cluster_consistency import ClusterCheck
from storydedup.store.cluster_store import RedisClusterStore
from storydedup.store.redis_store import RedisStore


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="storydedup-admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    checker = commands.add_parser("check", help="check a namespace's consistency")
    checker.add_argument("--redis-url", default=os.environ.get("STORYDEDUP_REDIS_URL"))
    checker.add_argument("--namespace", default=os.environ.get("STORYDEDUP_NAMESPACE", "default"))
    checker.add_argument(
        "--redis-cluster",
        action="store_true",
        default=os.environ.get("STORYDEDUP_REDIS_CLUSTER", "").lower()
        in ("1", "true", "yes", "on"),
        help="--redis-url is a node of a Redis Cluster",
    )
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error("--redis-url (or STORYDEDUP_REDIS_URL) is required")
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


if __name__ == "__main__":
    sys.exit(main())
