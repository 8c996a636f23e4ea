"""`storydedup-admin`: operations on a Redis namespace.

    storydedup-admin check --redis-url redis://localhost:6379/0 --namespace news

`check` reports orphan index entries, articles without clusters and
clusters listing missing articles; it exits 1 when it finds any.
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
from storydedup.store.redis_store import RedisStore


async def check(url: str, namespace: str) -> list[str]:
    store = RedisStore.from_url(url, namespace, MatchPolicy(), socket_connect_timeout=5)
    try:
        return await store.check()
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
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error("--redis-url (or STORYDEDUP_REDIS_URL) is required")
    try:
        findings = asyncio.run(check(args.redis_url, args.namespace))
    except StoreUnavailableError as error:
        print(f"storydedup-admin: {mask_url(args.redis_url)}: {error}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    print(f"{len(findings)} findings in namespace {args.namespace!r}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
