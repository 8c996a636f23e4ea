"""The in-process store: the whole index in this process's memory.

It is what `storydedup-server` runs on when no Redis is configured, so that
a first try needs nothing else. Nothing survives a restart. It follows the
Redis store's ingest script step by step (same candidate order, same
verification, same cluster choice), which the contract tests check.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from storydedup.clustering.assign import (
    CONFIRM_MEMBERS,
    Candidate,
    Matches,
    Member,
    choose,
    reported,
    verify,
)
from storydedup.clustering.policy import MatchPolicy
from storydedup.store.base import (
    BUCKET_MEMBERS,
    DEFAULT_EVENTS_MAX_LEN,
    SOURCE_SCAN,
    ClusterEvent,
    ClusterSummary,
    ClusterView,
    DeleteOutcome,
    EventsTrimmedError,
    IngestItem,
    IngestOutcome,
    Probe,
    SimilarOutcome,
    StoreLayoutError,
    StoreSettings,
    parse_event_id,
)
from storydedup.store.records import ArticleRecord

if TYPE_CHECKING:
    from storydedup.clustering.assign import ClusterChoice

# Articles are expired by slot of ingest time; a slot is at most an hour,
# and a hundredth of the retention window when that is shorter.
DEFAULT_EXPIRY_SLOT_MS = 3_600_000.0


def expiry_slot_ms(retention_ms: float) -> float:
    return float(round(max(1000.0, min(DEFAULT_EXPIRY_SLOT_MS, retention_ms / 100))))


def wall_clock_ms() -> float:
    return time.time() * 1000.0


class MemoryStore:
    def __init__(
        self,
        policy: MatchPolicy,
        clock_ms: Callable[[], float] = wall_clock_ms,
        expiry_slot_ms: float = DEFAULT_EXPIRY_SLOT_MS,
        events_max_len: int = DEFAULT_EVENTS_MAX_LEN,
    ) -> None:
        self._policy = policy
        self._slot_ms = expiry_slot_ms
        self._clock_ms = clock_ms
        self._settings: StoreSettings | None = None
        self._next_number = 0
        self._numbers: dict[str, int] = {}
        self._records: dict[int, ArticleRecord] = {}
        self._buckets: dict[bytes, list[int]] = {}
        self._clusters: dict[int, set[int]] = {}
        # End of an ingest-time slot -> numbers of the articles ingested in it.
        self._slots: dict[float, list[int]] = {}
        # The event log, as a Redis stream of the same length would keep it
        # (store/redis_store.py): the latest events_max_len; 0 logs none.
        self._events_max_len = events_max_len
        self._events: deque[ClusterEvent] = deque()
        self._last_event = (0, 0)
        # The ID of the latest event trimmed from the log.
        self._trimmed = (0, 0)
        self._logged = asyncio.Event()
        # Kept listing orders (store/listing.py): name -> (expiry, clusters).
        self._listings: dict[str, tuple[float, list[int]]] = {}

    def all_cluster_sizes(self) -> dict[int, int]:
        """Articles per cluster (store/stats.py)."""
        return {cluster: len(members) for cluster, members in self._clusters.items()}

    @property
    def persistent(self) -> bool:
        return False

    async def open(self, settings: StoreSettings) -> None:
        if self._settings is not None and self._settings != settings:
            raise StoreLayoutError("store already bound to other fingerprint settings")
        self._settings = settings

    async def close(self) -> None:
        pass

    async def ping(self) -> None:
        pass

    # -- ingest -------------------------------------------------------------

    async def ingest(self, items: Sequence[IngestItem]) -> list[IngestOutcome]:
        now = self._clock_ms()
        return [await self._ingest_one(item, now) for item in items]

    async def similar(self, probe: Probe, limit: int) -> SimilarOutcome:
        matches = self._verified_matches(probe, exclude=None)
        choice = await self._choose(probe, matches)
        return SimilarOutcome(tuple(m.info for m in matches[:limit]), choice.join)

    async def _ingest_one(self, item: IngestItem, now: float) -> IngestOutcome:
        number = self._numbers.get(item.article_id)
        if number is not None:
            stored = self._records[number]
            if stored.digest == item.digest:
                matches = self._verified_matches(item.probe, exclude=number)
                return IngestOutcome(
                    article_id=item.article_id,
                    cluster=stored.cluster,
                    duplicate=stored.joined_existing,
                    canonical_article_id=self._canonical(stored.cluster).article_id,
                    matches=tuple(m.info for m in matches[: self._policy.max_matches]),
                    unchanged=True,
                )
            self._remove(number)
            old = stored.cluster
            self._log("removed", old, item.article_id, len(self._clusters.get(old, ())))

        matches = self._verified_matches(item.probe, exclude=None)
        choice = await self._choose(item.probe, matches)
        detached = [self._detach(composite) for composite in choice.detach]
        self._next_number += 1
        number = self._next_number
        cluster = number if choice.join is None else choice.join
        for other in choice.merge:
            self._merge(other, into=cluster)
        record = item.record(
            cluster, now, joined=choice.join is not None, composite=matches.composite
        )
        self._records[number] = record
        self._numbers[item.article_id] = number
        for ref in record.bucket_refs:
            bucket = self._buckets.setdefault(ref, [])
            bucket.append(number)
            if len(bucket) > BUCKET_MEMBERS:
                del bucket[0]
        self._clusters.setdefault(cluster, set()).add(number)
        size = len(self._clusters[cluster])
        for other in choice.merge:
            self._log("merged_into", other, item.article_id, size, into=cluster)
        self._log("created" if choice.join is None else "grew", cluster, item.article_id, size)
        slot_end = (now // self._slot_ms) * self._slot_ms + self._slot_ms
        self._slots.setdefault(slot_end, []).append(number)
        return IngestOutcome(
            article_id=item.article_id,
            cluster=cluster,
            duplicate=choice.join is not None,
            merged=len(choice.merge),
            canonical_article_id=self._canonical(cluster).article_id,
            matches=reported(matches, choice, cluster, self._policy.max_matches, detached),
            unchanged=False,
        )

    def _verified_matches(self, probe: Probe, exclude: int | None) -> Matches[int]:
        hits: Counter[int] = Counter()
        for ref in probe.bucket_refs:
            hits.update(self._buckets.get(ref, ()))
        if exclude is not None:
            hits.pop(exclude, None)
        candidates = sorted(hits, key=lambda n: (-hits[n], n))[: self._policy.max_candidates]
        return verify(
            self._policy,
            probe,
            (Candidate(n, self._records[n], self._records[n].cluster, n) for n in candidates),
        )

    async def _choose(self, probe: Probe, matches: Matches[int]) -> ClusterChoice[int]:
        async def first_members(cluster: int) -> list[Member[int]]:
            members = sorted(
                self._clusters[cluster], key=lambda n: (self._records[n].published_ms, n)
            )[:CONFIRM_MEMBERS]
            return [Member(n, self._records[n].shingle_count, n) for n in members]

        async def read_record(number: int) -> ArticleRecord:
            return self._records[number]

        return await choose(self._policy, probe, matches, first_members, read_record)

    # -- clusters -----------------------------------------------------------

    def _canonical_number(self, cluster: int) -> int:
        members = self._clusters[cluster]
        return min(members, key=lambda n: (self._records[n].published_ms, n))

    def _canonical(self, cluster: int) -> ArticleRecord:
        return self._records[self._canonical_number(cluster)]

    def _merge(self, source: int, into: int) -> None:
        for number in self._clusters.pop(source):
            record = self._records[number]
            self._records[number] = dataclasses.replace(record, cluster=into)
            self._clusters.setdefault(into, set()).add(number)

    def _detach(self, number: int) -> int:
        """A composite leaves its cluster for one of its own (assign.choose);
        returns that cluster."""
        record = self._records[number]
        old = record.cluster
        self._next_number += 1
        cluster = self._next_number
        self._records[number] = dataclasses.replace(record, cluster=cluster, composite=True)
        self._clusters[old].discard(number)
        self._clusters[cluster] = {number}
        self._log("split", old, record.article_id, len(self._clusters[old]), into=cluster)
        self._log("created", cluster, record.article_id, 1)
        return cluster

    def _view(self, cluster: int) -> ClusterView | None:
        members = self._clusters.get(cluster)
        if not members:
            return None
        ordered = sorted(members, key=lambda n: (self._records[n].published_ms, n))
        return ClusterView(cluster, tuple(self._records[n] for n in ordered))

    async def article(self, article_id: str) -> ArticleRecord | None:
        number = self._numbers.get(article_id)
        return None if number is None else self._records[number]

    async def cluster_of_article(self, article_id: str) -> ClusterView | None:
        number = self._numbers.get(article_id)
        return None if number is None else self._view(self._records[number].cluster)

    async def cluster(self, cluster: int) -> ClusterView | None:
        return self._view(cluster)

    # -- removal ------------------------------------------------------------

    async def delete(self, article_id: str) -> DeleteOutcome | None:
        number = self._numbers.get(article_id)
        if number is None:
            return None
        cluster = self._records[number].cluster
        self._remove(number)
        remaining = len(self._clusters.get(cluster, ()))
        self._log("removed", cluster, article_id, remaining)
        return DeleteOutcome(cluster, remaining)

    def _remove(self, number: int) -> None:
        record = self._records.pop(number)
        del self._numbers[record.article_id]
        for ref in record.bucket_refs:
            bucket = self._buckets.get(ref, [])
            if number in bucket:  # not when newer articles pushed it out
                bucket.remove(number)
                if not bucket:
                    del self._buckets[ref]
        members = self._clusters[record.cluster]
        members.discard(number)
        if not members:
            del self._clusters[record.cluster]

    async def expire(self, cutoff_ms: float, budget: int) -> int:
        removed = 0
        for slot_end in sorted(self._slots):
            if slot_end > cutoff_ms or removed >= budget:
                break
            numbers = self._slots[slot_end]
            consumed = 0
            for number in numbers:
                if removed >= budget:
                    break
                consumed += 1
                if number in self._records:
                    record = self._records[number]
                    self._remove(number)
                    size = len(self._clusters.get(record.cluster, ()))
                    self._log("expired", record.cluster, record.article_id, size)
                    removed += 1
            del numbers[:consumed]
            if not numbers:
                del self._slots[slot_end]
        return removed

    # -- the story feed -----------------------------------------------------

    def _log(self, kind: str, cluster: int, article_id: str, size: int, into: int = 0) -> None:
        if not self._events_max_len:
            return
        # IDs as lua/event_log.lua makes them: ms of the clock, then the
        # count of events ever logged.
        ms = max(int(self._clock_ms()), self._last_event[0])
        self._last_event = (ms, self._last_event[1] + 1)
        event_id = f"{self._last_event[0]}-{self._last_event[1]}"
        self._events.append(ClusterEvent(event_id, kind, cluster, article_id, size, into))
        while len(self._events) > self._events_max_len:
            self._trimmed = parse_event_id(self._events.popleft().event_id)
        self._logged.set()
        self._logged = asyncio.Event()

    async def events(self, after: str, count: int) -> list[ClusterEvent]:
        if after == "0":
            return list(itertools.islice(self._events, count))
        position = parse_event_id(after)
        if position < self._trimmed:
            raise EventsTrimmedError(f"events after {after} were trimmed")
        # The log is short enough in a dev store to be searched from its end.
        newer = [e for e in self._events if parse_event_id(e.event_id) > position]
        return newer[:count]

    async def last_event_id(self) -> str:
        return self._events[-1].event_id if self._events else "0"

    async def wait_events(self, after: str, timeout_s: float) -> None:
        if after == "0" and self._events:
            return
        if self._events and parse_event_id(self._events[-1].event_id) > parse_event_id(after):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._logged.wait(), timeout_s)

    def _span(self, cluster: int) -> tuple[float, float]:
        times = [self._records[n].published_ms for n in self._clusters[cluster]]
        return min(times), max(times)

    async def cluster_window(
        self, by_first: bool, low_ms: float, high_ms: float, offset: int, count: int
    ) -> list[tuple[float, int]]:
        # Every cluster, every call: the in-process store is for development.
        entries = []
        for cluster in self._clusters:
            first, last = self._span(cluster)
            t = first if by_first else last
            if low_ms <= t <= high_ms:
                entries.append((t, cluster))
        entries.sort(reverse=True)
        return entries[offset : offset + count]

    async def cluster_sizes(self, clusters: Sequence[int]) -> list[int]:
        return [len(self._clusters.get(c, ())) for c in clusters]

    async def cluster_summaries(self, clusters: Sequence[int]) -> list[ClusterSummary | None]:
        summaries: list[ClusterSummary | None] = []
        for cluster in clusters:
            view = self._view(cluster)
            if view is None:
                summaries.append(None)
                continue
            summaries.append(
                ClusterSummary(
                    cluster=cluster,
                    canonical=view.members[0],
                    size=len(view.members),
                    first_ms=view.members[0].published_ms,
                    last_ms=max(m.published_ms for m in view.members),
                    source_keys=frozenset(m.source_key for m in view.members[:SOURCE_SCAN]),
                )
            )
        return summaries

    async def save_listing(self, clusters: Sequence[int], ttl_ms: float) -> str:
        now = self._clock_ms()
        self._listings = {k: v for k, v in self._listings.items() if v[0] > now}
        name = secrets.token_hex(8)
        self._listings[name] = (now + ttl_ms, list(clusters))
        return name

    async def read_listing(self, name: str, offset: int, count: int) -> list[int] | None:
        kept = self._listings.get(name)
        if kept is None or kept[0] <= self._clock_ms():
            return None
        return kept[1][offset : offset + count]

    async def check(self) -> list[str]:
        findings: list[str] = []
        for article_id, number in self._numbers.items():
            if number not in self._records:
                findings.append(f"article {article_id!r} points at missing record {number}")
        for number, record in self._records.items():
            if number not in self._clusters.get(record.cluster, ()):
                findings.append(f"article {record.article_id!r} missing from its cluster")
        for ref, bucket in self._buckets.items():
            for number in bucket:
                if number not in self._records:
                    findings.append(f"bucket {ref.hex()} lists missing article {number}")
        for cluster, members in self._clusters.items():
            for number in members:
                if number not in self._records:
                    findings.append(f"cluster {cluster} lists missing article {number}")
        return findings
