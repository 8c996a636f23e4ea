"""The server as a real process: the README's start command, restarts on
Redis, signals, and the CLI against it."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from storydedup_client import Article, StoryDedupClient

from tests.support import articles
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess

STORY = articles.story(21, paragraphs=8)
OTHER = articles.story(22, paragraphs=8)


def page(paragraphs: list[str], chrome: int) -> str:
    """A scraped page: the story inside one outlet's menus and sidebars."""
    menus = [["Home", "World", "Business", "Sport"], ["Top stories", "Politics", "Markets"]][chrome]
    teasers = [
        articles.paragraph(random.Random(100 * chrome + i), 1)[:120] + "..." for i in range(4)
    ]
    return "\n".join([*menus, "", *paragraphs, "", "TRENDING", *teasers, "© Outlet"])


def cli(target: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storydedup_client.cli", "--target", target, *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        check=False,
    )


@pytest.fixture
def redis_aof() -> Iterator[RedisServer]:
    server = RedisServer(appendonly=True, appendfsync="always").start()
    yield server
    server.cleanup()


def test_start_without_redis_serves_on_the_in_process_store(tmp_path: Path) -> None:
    server = ServerProcess().start()
    try:
        assert "NOT persistent" in server.log()
        with StoryDedupClient(server.target) as client:
            first = client.ingest_article(Article(id="a", text=articles.text(STORY)))
            second = client.ingest_article(Article(id="b", text=articles.text(STORY[:4])))
        assert second.duplicate and second.cluster_id == first.cluster_id
        config_line = next(line for line in server.log().splitlines() if "configuration:" in line)
        assert '"port": ' in config_line and '"redis_url": null' in config_line
    finally:
        server.stop()


def test_cli_ingests_files_and_shows_the_cluster(tmp_path: Path) -> None:
    (tmp_path / "outlet-one.txt").write_text(page(STORY, chrome=0))
    (tmp_path / "outlet-two.txt").write_text(page(STORY, chrome=1))
    (tmp_path / "other.txt").write_text(page(OTHER, chrome=0))
    server = ServerProcess().start()
    try:
        one = cli(server.target, "--json", "ingest", str(tmp_path / "outlet-one.txt"))
        assert one.returncode == 0, one.stderr
        rest = cli(
            server.target,
            "--json",
            "ingest",
            str(tmp_path / "outlet-two.txt"),
            str(tmp_path / "other.txt"),
        )
        assert rest.returncode == 0, rest.stderr
        first = json.loads(one.stdout)
        second, other = (json.loads(line) for line in rest.stdout.splitlines())
        assert not first["duplicate"]
        assert second["duplicate"] and second["cluster_id"] == first["cluster_id"]
        assert not other["duplicate"] and other["cluster_id"] != first["cluster_id"]
        shown = cli(server.target, "cluster", first["article_id"])
        assert shown.returncode == 0
        assert "2 articles" in shown.stdout
        assert "outlet-one.txt" in shown.stdout and "outlet-two.txt" in shown.stdout
        by_id = cli(server.target, "--json", "cluster", first["cluster_id"])
        assert json.loads(by_id.stdout)["size"] == 2
        similar = cli(server.target, "similar", str(tmp_path / "outlet-two.txt"))
        assert f"would join cluster {first['cluster_id']}" in similar.stdout
        # Where the match is: the file's paragraphs that recur, with their first words.
        opening = " ".join(STORY[0].split()[:12])
        assert f"paragraphs 1-{len(STORY)}: {opening}..." in similar.stdout, similar.stdout
        headline = "Council votes on the harbour budget"
        jsonl = json.dumps(
            {"id": "j1", "text": articles.text(OTHER), "source": "x.example", "title": headline}
        )
        piped = cli(server.target, "ingest", stdin=jsonl + "\n")
        assert piped.returncode == 0 and "duplicate" in piped.stdout
        # A paragraph of it under its headline, from another outlet: its excerpt.
        (tmp_path / "excerpt.txt").write_text(OTHER[5])
        excerpt = str(tmp_path / "excerpt.txt")
        under = cli(server.target, "similar", excerpt, "--source", "y.example", "--title", headline)
        assert "same headline" in under.stdout and "paragraph 1:" in under.stdout, under.stdout
        assert "new story" in cli(server.target, "similar", excerpt, "--source", "y.example").stdout
        assert cli(server.target, "delete", "j1").returncode == 0
        missing = cli(server.target, "article", "j1")
        assert missing.returncode == 3 and "NOT_FOUND" in missing.stderr
        bad = cli(server.target, "ingest", str(tmp_path / "nope.txt"))
        assert bad.returncode == 2 and "nope.txt" in bad.stderr
    finally:
        server.stop()
    down = cli(server.target, "--timeout", "2", "article", "x")
    assert down.returncode == 4


def test_clusters_survive_a_restart_on_redis(redis_aof: RedisServer) -> None:
    env = {"STORYDEDUP_REDIS_URL": redis_aof.url, "STORYDEDUP_NAMESPACE": "restart"}
    server = ServerProcess(env).start()
    try:
        with StoryDedupClient(server.target) as client:
            first = client.ingest_article(Article(id="a", text=page(STORY, 0)))
            client.ingest_article(Article(id="b", text=page(STORY, 1)))
    finally:
        server.stop()
    redis_aof.restart()  # and Redis too: the append-only file brings it back
    server = ServerProcess(env).start()
    try:
        with StoryDedupClient(server.target) as client:
            cluster = client.get_cluster(article_id="b")
            assert cluster.cluster_id == first.cluster_id
            assert [m.article_id for m in cluster.members] == ["a", "b"]
            third = client.ingest_article(Article(id="c", text=articles.text(STORY[:3])))
            assert third.cluster_id == first.cluster_id
    finally:
        server.stop()


def start_refused(*flags: str) -> subprocess.CompletedProcess[str]:
    """storydedup-server with these flags, expected to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "storydedup.api.main", *flags],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_bad_configuration_exits_with_a_message() -> None:
    bad = start_refused("--namespace", "has space")
    assert bad.returncode == 2
    assert re.search(r"--namespace: .* must be", bad.stderr)


def test_workers_share_the_port_and_stop_together(redis_aof: RedisServer) -> None:
    env = {
        "STORYDEDUP_REDIS_URL": redis_aof.url,
        "STORYDEDUP_NAMESPACE": "workers",
        "STORYDEDUP_WORKERS": "2",
    }
    server = ServerProcess(env).start()
    try:
        assert "started 2 worker processes" in server.log()
        # Health answered SERVING from one worker; the other may still be
        # opening the store (a connection it accepts meanwhile gets
        # UNAVAILABLE, retryable). Both ready before the calls:
        deadline = time.monotonic() + 30
        while server.full_log().count("index store reachable: serving") < 2:
            assert time.monotonic() < deadline, server.full_log()[-2000:]
            time.sleep(0.1)
        # Several channels: the kernel spreads connections over the workers,
        # and both answer from the one shared index.
        ids = []
        for i in range(6):
            with StoryDedupClient(server.target) as client:
                ids.append(client.ingest_article(Article(id=f"w{i}", text=page(STORY, i % 2))))
        assert len({r.cluster_id for r in ids}) == 1
        assert sum(r.duplicate for r in ids) == 5
        pattern = re.compile(r"serving storydedup\.v1 on \S+ \(pid (\d+)\)")
        deadline = time.monotonic() + 30
        pids: set[str] = set()
        while len(pids) < 2 and time.monotonic() < deadline:
            pids = set(pattern.findall(server.full_log()))
            time.sleep(0.1)
        assert len(pids) == 2
    finally:
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert server.health() is None


def test_workers_need_redis() -> None:
    bad = start_refused("--workers", "2")
    assert bad.returncode == 2
    assert "--workers" in bad.stderr and "--redis-url" in bad.stderr
