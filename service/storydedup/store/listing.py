"""Cluster listings (ListClusters), a page at a time, on any store.

The stores keep an index of their clusters by first and by last publication
time (IndexStore.cluster_window); this module pages through it, the same
way on every store.

- Most recent first by first publication: a page reads the window below the
  position where the previous page stopped, a cursor (time, cluster) kept
  in the page token, with ZRANGE BYSCORE LIMIT: a page costs its own size.
  A new copy does not move a cluster's first publication (it is published
  later), so under ingest no cluster is listed twice or passed over. (Only
  a copy published before the story's canonical article, or the removal of
  that article, moves a cluster.)
- Most recent first by last publication, and biggest first: every new copy
  moves a cluster's last publication and size, so no cursor over them is
  stable. The first page reads the window (its MAX_SNAPSHOT most recent
  clusters), orders it and keeps that order in the store for
  LISTING_TTL_MS; later pages read their slice of it, with current sizes.
  Every cluster of the window at the first page is listed once, unless it
  is gone (merged, deleted, expired) when its page is read.
The window's end is fixed by the first page. A filter (minimum size, source)
may leave a page short: a page scans at most MAX_SCAN clusters, and the
listing ends when the token is empty.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from storydedup.store.base import ClusterSummary, IndexStore

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# Window entries one page may read past its filters (most recent first).
MAX_SCAN = 2_000
# The order of a listing by last publication or by size is kept for the
# most recent this many clusters of its window (one ZRANGE, and one size
# read each when by size, on the first page only).
MAX_SNAPSHOT = 10_000
LISTING_TTL_MS = 10 * 60_000.0


class BadPageTokenError(ValueError):
    """The page token is not one this listing made."""


class ListingExpiredError(Exception):
    """The kept order of a biggest-first listing expired."""


@dataclass(frozen=True, slots=True)
class ClusterQuery:
    since_ms: float
    # None: the time of the first page.
    until_ms: float | None
    by_first: bool
    by_size: bool
    min_size: int
    # fingerprint.source_key of the source; None: any source.
    source_key: int | None
    page_size: int

    def fingerprint(self) -> str:
        """What a page token is bound to: the query but its page size."""
        parts = (
            self.since_ms,
            self.until_ms,
            self.by_first,
            self.by_size,
            self.min_size,
            self.source_key,
        )
        return hashlib.sha1(repr(parts).encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class ClusterPage:
    clusters: list[ClusterSummary]
    # "" when the listing is complete.
    next_token: str


def _encode(state: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def _decode(token: str, query: ClusterQuery) -> dict[str, object]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise BadPageTokenError("not a page token of this service") from None
    if not isinstance(state, dict) or state.get("q") != query.fingerprint():
        raise BadPageTokenError("made by a listing with other arguments; send the same ones")
    return state


def _number(state: dict[str, object], name: str) -> float:
    value = state.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BadPageTokenError("not a page token of this service")
    return float(value)


def _wanted(summary: ClusterSummary | None, query: ClusterQuery) -> bool:
    if summary is None or summary.size < query.min_size:
        return False
    return query.source_key is None or query.source_key in summary.source_keys


async def list_clusters(
    store: IndexStore, query: ClusterQuery, token: str, now_ms: float
) -> ClusterPage:
    state = _decode(token, query) if token else {}
    until = _number(state, "u") if state else (query.until_ms or now_ms)
    if query.by_size or not query.by_first:
        return await _kept_order(store, query, state, until)
    return await _by_cursor(store, query, state, until)


async def _by_cursor(
    store: IndexStore, query: ClusterQuery, state: dict[str, object], until: float
) -> ClusterPage:
    high = _number(state, "t") if state else until
    after = int(_number(state, "c")) if state else None
    found: list[ClusterSummary] = []
    scanned, offset, last = 0, 0, None
    step = min(2 * query.page_size, 500)
    exhausted = False
    while True:
        batch = await store.cluster_window(query.by_first, query.since_ms, high, offset, step)
        offset += len(batch)
        # Entries at the cursor's time up to the cursor's cluster were listed.
        fresh = [e for e in batch if after is None or e[0] < high or e[1] < after]
        # Sizes first: they are cheap, a summary reads the cluster's members.
        sizes = await store.cluster_sizes([c for _, c in fresh])
        big = [c for (_, c), size in zip(fresh, sizes, strict=True) if size >= query.min_size]
        summaries = dict(zip(big, await store.cluster_summaries(big), strict=True))
        stopped = False
        for entry in fresh:
            scanned += 1
            last = entry
            summary = summaries.get(entry[1])
            if summary is not None and _wanted(summary, query):
                found.append(summary)
            if len(found) == query.page_size or scanned >= MAX_SCAN:
                stopped = True
                break
        if stopped:
            break
        if len(batch) < step:
            exhausted = True
            break
    if exhausted or last is None:
        return ClusterPage(found, "")
    next_state = {"q": query.fingerprint(), "u": until, "t": last[0], "c": last[1]}
    return ClusterPage(found, _encode(next_state))


async def _kept_order(
    store: IndexStore, query: ClusterQuery, state: dict[str, object], until: float
) -> ClusterPage:
    if state:
        name = state.get("o")
        if not isinstance(name, str):
            raise BadPageTokenError("not a page token of this service")
        offset = int(_number(state, "i"))
    else:
        window = await store.cluster_window(query.by_first, query.since_ms, until, 0, MAX_SNAPSHOT)
        if query.by_size:
            sizes = await store.cluster_sizes([c for _, c in window])
            ordered = [
                c
                for size, _, c in sorted(
                    ((size, t, c) for (t, c), size in zip(window, sizes, strict=True)),
                    reverse=True,
                )
                if size >= query.min_size
            ]
        else:
            ordered = [c for _, c in window]
        name = await store.save_listing(ordered, LISTING_TTL_MS)
        offset = 0
    found: list[ClusterSummary] = []
    while len(found) < query.page_size and offset < MAX_SNAPSHOT:
        clusters = await store.read_listing(name, offset, query.page_size - len(found))
        if clusters is None:
            raise ListingExpiredError("the listing expired; list again from the first page")
        if not clusters:
            return ClusterPage(found, "")
        offset += len(clusters)
        summaries = await store.cluster_summaries(clusters)
        found.extend(s for s in summaries if s is not None and _wanted(s, query))
    next_state = {"q": query.fingerprint(), "u": until, "o": name, "i": offset}
    return ClusterPage(found, _encode(next_state))
