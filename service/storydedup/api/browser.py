"""The story browser: a small read-only web page for people, on an HTTP port
of its own (--browser-port), beside the gRPC service.

`/` ranks the stories of the last hours (`?hours=`, default 24) by size,
with their outlet count and a timeline of when copies were published;
`/story/c<id>` lists a story's members, the canonical article first, and
for each copy how much of it recurs in the canonical article. It reads
through the same store calls as ListClusters and GetCluster, and renders
on the server: no JavaScript at all, and a Content-Security-Policy that
forbids any, so that a title holding markup stays text even if escaping
were missed. Everything that came from an article goes through html.escape.

It is deliberately tiny (HTTP/1.0-style: one GET per connection) and has no
authentication: serve it on a loopback or internal address.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from storydedup.api.convert import cluster_id, parse_cluster_id, read_metadata
from storydedup.api.errors import ApiError
from storydedup.clustering.policy import compare_records
from storydedup.fingerprints.passages import sentence_count
from storydedup.store.base import ClusterView, IndexStore, StoreUnavailableError
from storydedup.store.listing import MAX_PAGE_SIZE, ClusterQuery, list_clusters
from storydedup.store.memory import wall_clock_ms
from storydedup.store.records import ArticleRecord

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000.0
# Requests larger than this (request line and headers) are refused.
MAX_REQUEST_BYTES = 8192
_HEADERS = (
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src 'self'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cache-Control: no-store\r\n"
    "Connection: close\r\n"
)
_STYLE = """
body{font:15px/1.4 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}
table{border-collapse:collapse;width:100%}td,th{padding:.3em .5em;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top}th{font-weight:600}.n{text-align:right}
.line{position:relative;height:12px;width:160px;background:#f0f0f0}
.tick{position:absolute;top:0;width:2px;height:12px;background:#c33}
.canonical{background:#fff8e0}small{color:#666}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _time(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _link(url: str, text: str) -> str:
    # Only web links: a stored javascript: or data: URL is shown, not linked.
    if urlsplit(url).scheme in ("http", "https"):
        return f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(text)}</a>'
    return _e(text)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def timeline(times: Sequence[float], start: float, end: float) -> str:
    """A bar with a tick at each publication time between start and end."""
    span = max(end - start, 1.0)
    ticks = "".join(
        f'<span class=tick style="left:{min(max((t - start) / span, 0.0), 1.0) * 158:.0f}px">'
        "</span>"
        for t in times
    )
    return f'<div class=line title="copies by publication time">{ticks}</div>'


class StoryBrowser:
    def __init__(self, store: IndexStore, host: str, port: int, reuse_port: bool = False) -> None:
        # reuse_port: the processes of a --workers pool share the port, as they share gRPC's.
        self._reuse_port = reuse_port
        self._store = store
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, reuse_port=self._reuse_port or None
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("story browser on http://%s:%d/", self._host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                head = await reader.readuntil(b"\r\n\r\n")
            status, body = await self._answer(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            status, body = "400 Bad Request", _page("Bad request", "<h1>Bad request</h1>")
        payload = body.encode("utf-8")
        writer.write(
            f"HTTP/1.1 {status}\r\n{_HEADERS}Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _answer(self, head: bytes) -> tuple[str, str]:
        if len(head) > MAX_REQUEST_BYTES:
            return "431 Request Header Fields Too Large", _page("Too large", "<h1>Too large</h1>")
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        if len(parts) != 3 or parts[0] != "GET":
            return "405 Method Not Allowed", _page("Not allowed", "<h1>Read only</h1>")
        target = urlsplit(parts[1])
        try:
            if target.path == "/":
                return "200 OK", await self.front_page(parse_qs(target.query).get("hours", [""])[0])
            if target.path.startswith("/story/"):
                page = await self.story_page(target.path.removeprefix("/story/"))
                if page is not None:
                    return "200 OK", page
            return "404 Not Found", _page("Not found", "<h1>Not found</h1><a href=/>Stories</a>")
        except ApiError as error:
            return "400 Bad Request", _page("Bad request", f"<h1>{_e(error.message)}</h1>")
        except StoreUnavailableError:
            return "503 Service Unavailable", _page("Unavailable", "<h1>Store unreachable</h1>")

    async def front_page(self, hours_arg: str = "") -> str:
        hours = float(hours_arg) if hours_arg.replace(".", "", 1).isdigit() else 24.0
        hours = min(max(hours, 0.1), 24.0 * 60)
        now = wall_clock_ms()
        query = ClusterQuery(
            since_ms=now - hours * HOUR_MS,
            until_ms=None,
            by_first=False,
            by_size=True,
            min_size=1,
            source_key=None,
            page_size=MAX_PAGE_SIZE,
        )
        page = await list_clusters(self._store, query, "", now)
        rows = []
        for rank, summary in enumerate(page.clusters, 1):
            view = await self._store.cluster(summary.cluster)
            times = [m.published_ms for m in view.members] if view else []
            title = read_metadata(summary.canonical.metadata).title or summary.canonical.article_id
            outlets = len(summary.source_keys - {0})
            rows.append(
                f"<tr class=story><td class=n>{rank}</td>"
                f'<td><a href="/story/{cluster_id(summary.cluster)}">{_e(title)}</a><br>'
                f"<small>{_e(read_metadata(summary.canonical.metadata).source)} · first "
                f"{_time(summary.first_ms)}</small></td>"
                f"<td class=n>{summary.size}</td><td class=n>{outlets}</td>"
                f"<td>{timeline(times, summary.first_ms, max(summary.last_ms, now))}</td></tr>"
            )
        table = (
            "<table><tr><th>#</th><th>Story</th><th class=n>Articles</th><th class=n>Outlets</th>"
            "<th>Copies over time</th></tr>" + "".join(rows) + "</table>"
            if rows
            else "<p>No stories in this window.</p>"
        )
        return _page(
            "Stories",
            f"<h1>Stories of the last {hours:g} hours</h1>"
            f"<p><small>Biggest first; as of {_time(now)}</small></p>{table}",
        )

    async def story_page(self, key: str) -> str | None:
        view = await self._store.cluster(parse_cluster_id(key))
        if view is None:
            return None
        return _page(f"Story {cluster_id(view.cluster)}", _members_table(view))


def _recurrence(member: ArticleRecord, canonical: ArticleRecord) -> str:
    """How much of a copy recurs in the canonical article: the MinHash
    estimates and the copy's sampled sentences (one in four) found there."""
    sim = compare_records(member, canonical)
    sampled = sentence_count(member.passages)
    runs: list[list[int]] = []
    for i in sim.recurring:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    sentences = ", ".join(f"{a + 1}" if a == b else f"{a + 1}-{b + 1}" for a, b in runs) or "none"
    return (
        f"resemblance {sim.jaccard:.2f}, containment {sim.containment:.2f}<br>"
        f"<small>sampled sentences recurring: {len(sim.recurring)} of {sampled} "
        f"(#{_e(sentences)})</small>"
    )


def _members_table(view: ClusterView) -> str:
    canonical = view.members[0]
    rows = []
    for record in view.members:
        meta = read_metadata(record.metadata)
        is_canonical = record is canonical
        rows.append(
            f"<tr class='member{' canonical' if is_canonical else ''}'>"
            f"<td>{_e(meta.source)}</td><td>{_time(record.published_ms)}</td>"
            f"<td>{_link(meta.url, meta.title or record.article_id)}<br>"
            f"<small>{_e(record.article_id)}</small></td>"
            f"<td>{'canonical article' if is_canonical else _recurrence(record, canonical)}</td>"
            "</tr>"
        )
    title = read_metadata(canonical.metadata).title or canonical.article_id
    return (
        f"<p><a href=/>All stories</a></p><h1>{_e(title)}</h1>"
        f"<p>{len(view.members)} articles · story {cluster_id(view.cluster)}</p>"
        "<table><tr><th>Outlet</th><th>Published</th><th>Title</th>"
        "<th>Matched against the canonical article</th></tr>" + "".join(rows) + "</table>"
    )
