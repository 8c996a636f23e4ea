"""Soak: minutes of mixed load from several clients against two server
processes sharing one Redis, with Redis restarted in the middle.

Prints requests served, errors by status code and the consistency checker's
findings (expected: none). Redis runs with an append-only file fsynced on
every write, so the restart loses nothing that was acknowledged.

    uv run python bench/soak.py                  # 3 minutes, 6 clients
    uv run python bench/soak.py --seconds 60 --clients 4

Everything runs on 127.0.0.1; the load loops stop at the deadline.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc
from storydedup_client import Article, StoryDedupClient, StoryDedupError

from bench.machine import format_machine, machine_description
from tests.support import articles
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess

NAMESPACE = "soak"


def client_loop(
    worker: int, target: str, deadline: float, counts: Counter[str], lock: threading.Lock
) -> None:
    rng = random.Random(worker)
    ingested: list[str] = []
    with StoryDedupClient(target, timeout=10) as client:
        step = 0
        while time.monotonic() < deadline:
            step += 1
            story = rng.randrange(400)
            paragraphs = articles.story(story, paragraphs=6)
            if rng.random() < 0.3:
                paragraphs = paragraphs[: rng.randint(3, 5)]
            roll = rng.random()
            try:
                if roll < 0.55:
                    article_id = f"w{worker}-{step}"
                    client.ingest_article(
                        Article(
                            id=article_id, text=articles.text(paragraphs), source=f"s{story % 7}"
                        )
                    )
                    ingested.append(article_id)
                    kind = "IngestArticle"
                elif roll < 0.7:
                    batch = [
                        Article(
                            id=f"w{worker}-{step}-{i}",
                            text=articles.text(articles.story(rng.randrange(400), paragraphs=5)),
                        )
                        for i in range(10)
                    ]
                    client.ingest_articles(batch)
                    ingested.extend(a.id for a in batch)
                    kind = "IngestArticles"
                elif roll < 0.85 and ingested:
                    client.get_cluster(article_id=rng.choice(ingested))
                    kind = "GetCluster"
                elif roll < 0.95:
                    client.find_similar(Article(text=articles.text(paragraphs[:3])))
                    kind = "FindSimilar"
                elif ingested:
                    client.delete_article(ingested.pop(rng.randrange(len(ingested))))
                    kind = "DeleteArticle"
                else:
                    continue
                with lock:
                    counts[f"ok {kind}"] += 1
            except StoryDedupError as error:
                with lock:
                    counts[f"error {error.code.name}"] += 1
                if error.code == grpc.StatusCode.UNAVAILABLE:
                    time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()

    redis = RedisServer(appendonly=True, appendfsync="always").start()
    env = {"STORYDEDUP_REDIS_URL": redis.url, "STORYDEDUP_NAMESPACE": NAMESPACE}
    servers = [ServerProcess(env).start(), ServerProcess(env).start()]
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + args.seconds
    try:
        threads = [
            threading.Thread(
                target=client_loop,
                args=(i, servers[i % 2].target, deadline, counts, lock),
                daemon=True,
            )
            for i in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        time.sleep(args.seconds / 2)
        print(f"[{time.monotonic() - started:5.1f}s] restarting Redis (SIGKILL, then start)")
        redis.kill()
        time.sleep(2.0)
        redis.start()
        print(f"[{time.monotonic() - started:5.1f}s] Redis back")
        for thread in threads:
            thread.join(timeout=args.seconds + 30)
        time.sleep(1.5)  # let calls in flight finish before the check
        check = subprocess.run(
            [
                sys.executable,
                "-m",
                "storydedup.admin",
                "check",
                "--redis-url",
                redis.url,
                "--namespace",
                NAMESPACE,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        for server in servers:
            server.stop()
        redis.cleanup()

    print(
        f"\nsoak: {args.seconds:.0f} s, {args.clients} clients, 2 server processes, "
        f"Redis (AOF, appendfsync always) SIGKILLed and restarted at {args.seconds / 2:.0f} s"
    )
    print(format_machine(machine_description()) + "\n")
    print(f"{'outcome':<28}{'count':>10}")
    for outcome, count in sorted(counts.items()):
        print(f"{outcome:<28}{count:>10}")
    served = sum(v for k, v in counts.items() if k.startswith("ok "))
    print(f"{'requests served':<28}{served:>10}")
    findings = [line for line in check.stdout.splitlines() if line.strip()]
    print(f"\nconsistency check: {len(findings)} findings (exit {check.returncode})")
    for line in findings[:20]:
        print("  " + line)
    bad = {k for k in counts if k.startswith("error ") and k not in ("error UNAVAILABLE",)}
    return 1 if findings or check.returncode or bad else 0


if __name__ == "__main__":
    sys.exit(main())
