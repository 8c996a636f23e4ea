"""Cleaning processes (--clean-processes): one server cleaning and
fingerprinting in processes of its own gives the answers the cleaning thread
gives, refuses bad articles by field, and outlives a cleaning process that
dies."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from storydedup_client import Article, StoryDedupClient, StoryDedupError

from tests.support import articles
from tests.support.server_process import ServerProcess

STORY = articles.story(31, paragraphs=8)
OTHER = articles.story(32, paragraphs=8)
CHROME = ["Home", "World", "Business", "Sport", "", "Sign up for our newsletter", ""]


def batch() -> list[Article]:
    """One outlet's pages: the story, its truncated and its edited copy, and
    another story, all in the outlet's chrome; then an HTML page of the story."""
    pages = [
        ("a", STORY),
        ("b", STORY[:4]),
        ("c", [p.replace(" the ", " a ", 1) for p in STORY]),
        ("d", OTHER),
    ]
    out = [
        Article(id=i, text="\n".join([*CHROME, *paragraphs, "", "© Outlet"]), source="outlet.test")
        for i, paragraphs in pages
    ]
    body = "".join(f"<p>{p}</p>" for p in STORY)
    html = f"<html><head><title>Story</title></head><body><article>{body}</article></body></html>"
    out.append(Article(id="e", html=html, source="other.test"))
    return out


def clusters(server: ServerProcess) -> dict[str, str]:
    with StoryDedupClient(server.target) as client:
        results = client.ingest_articles(batch())
        similar = client.find_similar(Article(text=articles.text(STORY[:5])))
    found = {r.article_id: r.cluster_id for r in results}
    found["similar"] = similar.cluster_id or ""
    return found


@pytest.fixture
def pooled() -> Iterator[ServerProcess]:
    server = ServerProcess({"STORYDEDUP_CLEAN_PROCESSES": "2"}).start()
    yield server
    server.stop()


def partition(found: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for key, cluster in found.items():
        groups.setdefault(cluster, set()).add(key)
    return {frozenset(g) for g in groups.values()}


def test_processes_cluster_as_the_thread_does(pooled: ServerProcess) -> None:
    threaded = ServerProcess().start()
    try:
        expected = clusters(threaded)
    finally:
        threaded.stop()
    found = clusters(pooled)
    assert partition(found) == partition(expected)
    # The story's copies, its HTML page and the lookup are one story; the other is apart.
    assert found["a"] == found["b"] == found["c"] == found["e"] == found["similar"]
    assert found["d"] != found["a"]


def test_a_bad_article_is_refused_by_field_and_nothing_is_indexed(pooled: ServerProcess) -> None:
    bad = [Article(id="x", text=articles.text(STORY)), Article(id="y", text="... --- ...")]
    with StoryDedupClient(pooled.target) as client:
        with pytest.raises(StoryDedupError) as caught:
            client.ingest_articles(bad)
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "articles[1].text" in caught.value.message
        with pytest.raises(StoryDedupError) as missing:
            client.get_article("x")
        assert missing.value.code == grpc.StatusCode.NOT_FOUND


def cleaning_processes(server: ServerProcess) -> list[int]:
    """The server's children that multiprocessing spawned to clean."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = next(line for line in status.splitlines() if line.startswith("PPid:"))
        if int(parent.split()[1]) == server.pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_dead_cleaning_process_is_replaced(pooled: ServerProcess) -> None:
    with StoryDedupClient(pooled.target) as client:
        client.ingest_article(Article(id="before", text=articles.text(STORY)))
        victims = cleaning_processes(pooled)
        assert victims, "no cleaning process found"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        codes = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                result = client.ingest_article(Article(id="after", text=articles.text(STORY)))
                break
            except StoryDedupError as error:
                # Refused as retryable while the pool is replaced; never INTERNAL.
                codes.append(error.code)
                time.sleep(0.2)
        else:
            pytest.fail(f"no ingest succeeded after the cleaning processes died: {codes}")
        assert set(codes) <= {grpc.StatusCode.UNAVAILABLE}
        assert len(codes) <= 1
        assert result.cluster_id == client.get_article("before").cluster_id
        assert set(cleaning_processes(pooled)).isdisjoint(victims)


def alive(pid: int) -> bool:
    """Running, not exited (a zombie waits only for whoever reaps orphans)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_cleaning_processes_go_when_the_server_is_killed() -> None:
    server = ServerProcess({"STORYDEDUP_CLEAN_PROCESSES": "2"}).start()
    try:
        children = cleaning_processes(server)
        assert len(children) == 2
    finally:
        server.kill()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in children):
        if time.monotonic() > deadline:
            pytest.fail(f"cleaning processes {children} outlived the killed server")
        time.sleep(0.2)
