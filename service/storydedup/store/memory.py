"""The in-process store: the whole index in this process's memory.

It is what `storydedup-server` runs on when no Redis is configured, so that
a first try needs nothing else. Nothing survives a restart. It follows the
Redis store's ingest script step by step (same candidate order, same
verification, same cluster choice), which the contract tests check.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
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
    ClusterView,
    DeleteOutcome,
    IngestItem,
    IngestOutcome,
    Probe,
    SimilarOutcome,
    StoreLayoutError,
    StoreSettings,
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

    def cluster_sizes(self) -> dict[int, int]:
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

        matches = self._verified_matches(item.probe, exclude=None)
        choice = await self._choose(item.probe, matches)
        self._next_number += 1
        number = self._next_number
        cluster = number if choice.join is None else choice.join
        for other in choice.merge:
            self._merge(other, into=cluster)
        record = item.record(cluster, now, joined=choice.join is not None)
        self._records[number] = record
        self._numbers[item.article_id] = number
        for ref in record.bucket_refs:
            bucket = self._buckets.setdefault(ref, [])
            bucket.append(number)
            if len(bucket) > BUCKET_MEMBERS:
                del bucket[0]
        self._clusters.setdefault(cluster, set()).add(number)
        slot_end = (now // self._slot_ms) * self._slot_ms + self._slot_ms
        self._slots.setdefault(slot_end, []).append(number)
        return IngestOutcome(
            article_id=item.article_id,
            cluster=cluster,
            duplicate=choice.join is not None,
            merged=len(choice.merge),
            canonical_article_id=self._canonical(cluster).article_id,
            matches=reported(matches, choice, cluster, self._policy.max_matches),
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

    async def _choose(self, probe: Probe, matches: Matches[int]) -> ClusterChoice:
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
        return DeleteOutcome(cluster, len(self._clusters.get(cluster, ())))

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
                    self._remove(number)
                    removed += 1
            del numbers[:consumed]
            if not numbers:
                del self._slots[slot_end]
        return removed

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
