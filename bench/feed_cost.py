"""What the story feed costs Redis on one Redis: the time of the ingest scripts with the event
log off and on, and the bytes of the event log and the cluster index.

    uv run python bench/feed_cost.py               # 4,000 articles, 3 rounds each way (~1 min)
    uv run python bench/feed_cost.py --articles 20000 --rounds 2

It ingests the same articles (synthetic stories of tests/support/articles.py, 30% of them copies
of an earlier story) through RedisStore in this process, in batches of 200, into a fresh
namespace per round, alternating events off and on. Redis's own time per command (INFO
commandstats: EVALSHA is gather.lua and commit.lua) is what the scripts cost, and it does not
move with other processes' load as process CPU does on a shared machine; on one Redis events add
no work in the server process (they are written by commit.lua). Then MEMORY USAGE of the feed's
keys after the last round.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path
from typing import Any

import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storydedup.clustering.policy import MatchPolicy
from storydedup.fingerprints.fingerprint import Fingerprinter, FingerprintSettings
from storydedup.store.base import IngestItem
from storydedup.store.redis_store import RedisStore, key_prefix

from bench.machine import format_machine, machine_description
from tests.support import articles
from tests.support.redis_server import RedisServer

BATCH = 200


def corpus(n: int, fp: Fingerprinter) -> list[IngestItem]:
    rng = random.Random(20240501)
    stories: list[list[str]] = []
    items = []
    for i in range(n):
        if stories and rng.random() < 0.3:
            story = rng.choice(stories)
            body = articles.text(story[: rng.choice((3, 5, len(story)))])
        else:
            story = articles.story(10_000 + i, paragraphs=6)
            stories.append(story)
            body = articles.text(story)
        items.append(
            IngestItem(
                article_id=f"https://news.example/{i:08d}",
                digest=xxhash.xxh3_64_digest(body.encode()),
                probe=fp.probe(body),
                published_ms=1.714e12 + i * 1000.0,
                # About what convert.metadata keeps of a title, URL and source.
                metadata=bytes(rng.getrandbits(8) for _ in range(94)),
            )
        )
    return items


async def one_round(url: str, namespace: str, items: list[IngestItem], events: int, fp: Any) -> int:
    store = RedisStore.from_url(url, namespace, MatchPolicy(), events_max_len=events)
    await store.open(fp.settings.store_settings())
    await store.client.config_resetstat()
    for i in range(0, len(items), BATCH):
        await store.ingest(items[i : i + BATCH])
    stats: dict[str, Any] = await store.client.info("commandstats")
    await store.close()
    return int(stats["cmdstat_evalsha"]["usec"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    fp = Fingerprinter(FingerprintSettings())
    items = corpus(args.articles, fp)
    server = RedisServer().start()
    usec: dict[str, list[int]] = {"off": [], "on": []}
    try:
        for r in range(args.rounds):
            for state, events in (("off", 0), ("on", 100_000)):
                usec[state].append(await one_round(server.url, f"{state}{r}", items, events, fp))
                print(
                    f"round {r + 1} events {state}: {usec[state][-1] / len(items):.1f} us/article"
                )
        admin = RedisStore.from_url(server.url, "x", MatchPolicy()).client
        p = key_prefix(f"on{args.rounds - 1}")
        clusters = await admin.zcard(p + "xf")
        events = await admin.xlen(p + "x")
        sizes = {k: await admin.memory_usage(p + k, samples=0) or 0 for k in ("xf", "xl", "x")}
        await admin.aclose()
    finally:
        server.cleanup()
    print(format_machine(machine_description()))
    n = len(items)
    off, on = (sum(usec[s]) / len(usec[s]) / n for s in ("off", "on"))
    print(f"\n{n:,} articles, {clusters:,} clusters, {events:,} events; batches of {BATCH}")
    print(
        f"Redis EVALSHA time per article: events off {off:.1f} us, on {on:.1f} us "
        f"({on / off - 1:+.1%})"
    )
    for kind, size in sizes.items():
        per = f"{size / clusters:.0f} B/cluster" if kind != "x" else f"{size / events:.0f} B/event"
        print(f"  {kind}: {size:,} B = {size / n:.0f} B/article, {per}")


if __name__ == "__main__":
    asyncio.run(main())
