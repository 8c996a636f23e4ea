"""`storydedup-admin stats` against a real redis-server, as a separate
process, as an operator runs it."""

from __future__ import annotations

import json
import subprocess
import sys

from storydedup.store.redis_chrome import source_ref
from storydedup_client import Article, AsyncStoryDedupClient

from tests.conftest import running_server
from tests.support import articles
from tests.support.redis_server import RedisServer

FOOTER = [
    "Subscribe to the Daily Example newsletter for the morning briefing.",
    "Copyright Daily Example Media Group. All rights reserved worldwide.",
]


def admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storydedup.admin", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def daily(seed: int, article_id: str) -> Article:
    """A story as the Daily Example prints it, with its footer."""
    return Article(
        id=article_id,
        text=articles.text([*articles.story(seed), *FOOTER]),
        source="daily.example",
    )


async def test_stats_counts_articles_clusters_and_chrome(
    redis_server: RedisServer, namespace: str
) -> None:
    async with (
        running_server(
            {"port": "0", "namespace": namespace, "redis_url": redis_server.url}
        ) as running,
        AsyncStoryDedupClient(f"127.0.0.1:{running.port}", timeout=30) as client,
    ):
        biggest = await client.ingest_article(daily(1, "a"))
        for copy in range(3):
            await client.ingest_article(daily(1, f"a-copy{copy}"))
        await client.ingest_article(daily(2, "b"))
        await client.ingest_article(daily(2, "b-copy"))
        for seed in range(3, 8):
            await client.ingest_article(daily(seed, f"alone{seed}"))

    result = admin("stats", "--redis-url", redis_server.url, "--namespace", namespace, "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["namespace"] == namespace
    assert found["articles"] == 11
    assert found["clusters"] == 7
    assert found["biggest_clusters"][:2] == [
        {"cluster": biggest.cluster_id, "articles": 4},
        {"cluster": found["biggest_clusters"][1]["cluster"], "articles": 2},
    ]
    assert found["redis_bytes"] > 0
    # The footer, seen in many clusters of the source, was learned as chrome.
    assert found["chrome_lines"] >= 2
    assert found["chrome_by_source"][0] == {
        "source_key": source_ref("daily.example").hex(),
        "lines": found["chrome_lines"],
    }

    text = admin("stats", "--redis-url", redis_server.url, "--namespace", namespace, "--top", "1")
    assert text.returncode == 0, text.stderr
    assert "articles in the window: 11" in text.stdout
    assert "clusters in the window: 7" in text.stdout
    assert f"  {biggest.cluster_id}  4 articles" in text.stdout
    assert "bytes in Redis: " in text.stdout


def test_stats_of_an_unreachable_redis_says_so() -> None:
    result = admin("stats", "--redis-url", "redis://:secretpass@127.0.0.1:1/0")
    assert result.returncode == 2
    assert "unavailable" in result.stderr and "secretpass" not in result.stderr
