"""The story browser in a real browser: headless Chromium (Debian's
`chromium`, installed by .ci/run) loads the pages of a server holding an
ingested fixture set; the rendered DOM is checked, and a screenshot of each
page is kept under the test's temp dir."""

from __future__ import annotations

import asyncio
import html
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storydedup_client import Article, AsyncStoryDedupClient

from tests.conftest import running_server
from tests.support import articles
from tests.support.redis_server import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOW = datetime.now(UTC).replace(microsecond=0)
HOSTILE = "<script>document.title='owned'</script> Storm <b>closes</b> ports"


def chromium(*args: str) -> list[str]:
    if CHROMIUM is None:
        raise pytest.UsageError("chromium is required by the browser tests (.ci/run installs it)")
    return [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        *args,
    ]


async def render(url: str, screenshot: Path) -> str:
    """The DOM of the page after Chromium loaded it, and a screenshot of it."""
    for extra in (["--dump-dom"], [f"--screenshot={screenshot}", "--window-size=1100,700"]):
        process = await asyncio.create_subprocess_exec(
            *chromium(*extra, url),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0
        if extra == ["--dump-dom"]:
            dom = out.decode()
    return dom


async def response_head(port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    return head.decode("latin-1")


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


async def test_the_browser_ranks_stories_and_lists_members(tmp_path: Path, namespace: str) -> None:
    storm, budget = articles.story(1, paragraphs=8), articles.story(2, paragraphs=8)
    port = free_port()
    raw = {"port": "0", "namespace": namespace, "browser_port": str(port)}
    async with (
        running_server(raw) as server,
        AsyncStoryDedupClient(f"127.0.0.1:{server.port}") as client,
    ):
        fixture = [
            ("s1", storm, 90, "wire.example", HOSTILE, "https://wire.example/storm"),
            ("s2", storm[:5], 60, "daily.example", "Ports shut as storm nears", "javascript:x"),
            ("s3", storm, 30, "herald.example", "Storm closes ports", "https://herald.example/3"),
            ("b1", budget, 20, "wire.example", "Budget vote delayed", "https://wire.example/b"),
        ]
        results = await client.ingest_articles(
            [
                Article(
                    id=aid,
                    text=articles.text(story),
                    source=source,
                    title=title,
                    url=url,
                    published_at=NOW - timedelta(minutes=minutes),
                )
                for aid, story, minutes, source, title, url in fixture
            ]
        )
        storm_cluster = results[0].cluster_id
        base = f"http://127.0.0.1:{port}"
        front = await render(base + "/", tmp_path / "stories.png")
        story = await render(f"{base}/story/{storm_cluster}", tmp_path / "story.png")
        head = await response_head(port, "/")
        missing = await response_head(port, "/story/c999999")
        bad = await response_head(port, "/story/nonsense")
    assert head.startswith("HTTP/1.1 200")
    assert "Content-Security-Policy: default-src 'none'" in head
    assert missing.startswith("HTTP/1.1 404") and bad.startswith("HTTP/1.1 400")
    for shot in ("stories.png", "story.png"):
        assert (tmp_path / shot).stat().st_size > 1000

    # Ranked: the storm (3 articles, 3 outlets) above the budget story.
    ranked = re.findall(r"<tr class=\"story\">(.*?)</tr>", front, re.S)
    assert len(ranked) == 2
    first, second = (text_of(row).split() for row in ranked)
    assert first[0] == "1" and first[-2:] == ["3", "3"]
    assert "Budget" in second and second[-2:] == ["1", "1"]
    # The hostile title is text, not markup: no script ran, no element was made.
    assert HOSTILE in text_of(ranked[0])
    assert "<script" not in front and "<b>" not in front
    assert "owned" not in re.search(r"<title>(.*?)</title>", front).group(1)  # type: ignore[union-attr]

    members = re.findall(r"<tr class=\"member[^\"]*\">(.*?)</tr>", story, re.S)
    assert [text_of(m).split()[0] for m in members] == [
        "wire.example",
        "daily.example",
        "herald.example",
    ]
    assert "canonical article" in text_of(members[0])
    assert "containment" in text_of(members[1])
    assert 'href="https://herald.example/3"' in members[2]
    assert (
        "javascript:" not in members[1].split("<br>")[0].split("href")[-1]
        or "href" not in members[1]
    )
    assert "<script" not in story
