"""The index store port: what the service needs from wherever the index and
the clusters live. Two adapters implement it with the same behaviour: an
in-process one (store/memory.py) and Redis (store/redis_store.py); the
contract tests run every behaviour against both."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from storydedup.store.records import ArticleRecord


class StoreUnavailableError(Exception):
    """The backing store cannot be reached or did not answer; retryable."""


class StoreFullError(Exception):
    """The store refuses writes: Redis is at its `maxmemory` under
    `noeviction`. Reads and deletes still work; a write that was refused
    wrote nothing (a script's first write is the one refused)."""


class StoreLayoutError(Exception):
    """The namespace was created with other fingerprint parameters."""


# Prefix sketches: MinHash of the first 8, 16, ... shingles of the text, so
# that a truncated copy can be recognised by its start being the start of the
# story, which holds however short the copy is (a resemblance or containment
# estimate from whole-text signatures is noise when one text is a tenth of
# the other).
PREFIX_LEVELS = (8, 16, 32, 64, 128, 256)
PREFIX_VALUES = 16

# An LSH bucket lists the newest this-many articles that fell into it. A
# big story's copies share their buckets: unbounded, those lists grow with
# the story, and a Redis hash of buckets holding a value over 64 bytes
# (hash-max-listpack-value) leaves the compact listpack encoding for good;
# at 100,000 articles 5% of the bucket hashes had, costing ~70 B per
# article. 15 of a story's copies are as good a set of candidates as all of
# them (max_candidates are verified anyway), and the newest are the last to
# expire. Mirrored in lua/common.lua and lua/cluster/bucket.lua.
BUCKET_MEMBERS = 15


@dataclass(frozen=True, slots=True)
class Probe:
    """The fingerprint of an article, as the store needs it."""

    # 8-bit slices of the MinHash values of the whole text.
    signature: bytes
    shingle_count: int
    bucket_refs: tuple[bytes, ...]
    # PREFIX_VALUES 8-bit values per prefix level the text is long enough for.
    prefix: bytes = b""
    # Sentence sketches (fingerprints/passages.py).
    passages: bytes = b""
    # The publishing source (fingerprint.source_key); 0 when unknown.
    source_key: int = 0
    # The page's headline (fingerprint.headline_key); 0 when it has none.
    headline_key: int = 0
    # The paragraph of each sketched sentence (not stored: for Match
    # passages of the new article).
    sentence_paragraphs: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class IngestItem:
    article_id: str
    digest: bytes
    probe: Probe
    # 0 when the caller sent none: the store uses its own clock.
    published_ms: float
    metadata: bytes

    def record(
        self, cluster: int, now_ms: float, joined: bool, composite: bool = False
    ) -> ArticleRecord:
        """The record a store keeps of this article, ingested at `now_ms`
        (`composite`: Matches.composite)."""
        probe = self.probe
        return ArticleRecord(
            article_id=self.article_id,
            cluster=cluster,
            published_ms=self.published_ms or now_ms,
            ingested_ms=now_ms,
            shingle_count=probe.shingle_count,
            joined_existing=joined,
            digest=self.digest,
            bucket_refs=probe.bucket_refs,
            signature=probe.signature,
            metadata=self.metadata,
            prefix=probe.prefix,
            passages=probe.passages,
            source_key=probe.source_key,
            headline_key=probe.headline_key,
            composite=composite,
        )


@dataclass(frozen=True, slots=True)
class MatchInfo:
    article_id: str
    cluster: int
    jaccard: float
    containment: float
    # Paragraphs of the new article whose sentences recur in this one, as
    # runs (first, last); see passages.paragraph_runs.
    passages: tuple[tuple[int, int], ...] = ()
    # The two are pages of different sources under one headline.
    same_headline: bool = False


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    article_id: str
    cluster: int
    duplicate: bool
    canonical_article_id: str
    matches: tuple[MatchInfo, ...]
    # The article was already stored with this content; nothing changed.
    unchanged: bool
    # Other clusters the article's cluster took in (it linked their stories).
    merged: int = 0


@dataclass(frozen=True, slots=True)
class SimilarOutcome:
    matches: tuple[MatchInfo, ...]
    # The cluster the article would join, None for a new story.
    cluster: int | None


@dataclass(frozen=True, slots=True)
class ClusterView:
    cluster: int
    # Ordered by publication time, earliest (the canonical article) first.
    members: tuple[ArticleRecord, ...]


@dataclass(frozen=True, slots=True)
class DeleteOutcome:
    cluster: int
    remaining: int


# What a setting that a namespace does not store means: namespaces created
# before the setting existed were all written that way.
_UNSTORED = {"tokenizer": b"words"}


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Fingerprint parameters a namespace is bound to, and its limits."""

    num_perm: int
    shingle_size: int
    seed: int
    body_bands: int
    body_rows: int
    lead_bands: int
    lead_rows: int
    lead_shingles: int
    # Bucket references name one of 2**bucket_group_bits bucket groups.
    bucket_group_bits: int
    # What stored values mean (records.LAYOUT_VERSION: e.g. the width of
    # signature values); a namespace written with another layout is refused.
    layout: int
    # How text is cut into shingle units (fingerprints.text.TOKENIZERS).
    tokenizer: str

    def as_fields(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in self.__dataclass_fields__}

    def check_stored(self, stored: Mapping[bytes, bytes], namespace: str) -> None:
        """Raises StoreLayoutError when a namespace's stored settings (a
        Redis hash, field -> value) differ from these."""
        found = {
            name: stored.get(name.encode(), _UNSTORED.get(name, b"")).decode()
            for name in self.__dataclass_fields__
        }
        differing = {
            name: found[name] for name, value in self.as_fields().items() if found[name] != value
        }
        if differing:
            raise StoreLayoutError(
                f"namespace {namespace!r} was created with other fingerprint settings "
                f"({', '.join(f'{k}={v}' for k, v in sorted(differing.items()))}); "
                "use those settings or another namespace"
            )


# -- the story feed -----------------------------------------------------------

# A namespace's event log keeps about this many of its latest events
# (--events-max-len); a watcher further behind gets EventsTrimmedError.
DEFAULT_EVENTS_MAX_LEN = 100_000


class EventsTrimmedError(Exception):
    """Events after the resume point were trimmed from the log."""


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    """One change to one cluster, as the stores log it."""

    # "<ms>-<seq>", increasing in commit order (a Redis stream entry ID).
    event_id: str
    # "created", "grew", "merged_into", "removed" (deleted, or re-ingested
    # with other content), "expired" or "split" (the article left for a
    # cluster of its own, `into`: clustering/assign.py revealed_composites).
    kind: str
    cluster: int
    article_id: str
    # Members after the change (of `into` for merged_into; of `cluster`,
    # which the article left, for split).
    size: int
    into: int = 0

    @property
    def time_ms(self) -> float:
        return float(parse_event_id(self.event_id)[0])


def parse_event_id(value: str) -> tuple[int, int]:
    """An event ID as (ms, seq); ValueError when it is not one."""
    ms, _, seq = value.partition("-")
    if not (ms.isdigit() and (seq.isdigit() or not seq)) or len(value) > 41:
        raise ValueError(f"{value[:80]!r} is not an event ID (like '1714563600000-0')")
    return int(ms), int(seq or 0)


# A cluster's distinct sources are counted over its first this-many members
# (by publication), so that a listing's page costs a bounded number of reads
# however big its stories are; a story carried by more outlets than this
# shows at most this many.
SOURCE_SCAN = 500


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """What a cluster listing shows of one cluster."""

    cluster: int
    canonical: ArticleRecord
    size: int
    first_ms: float
    last_ms: float
    # Source keys (fingerprint.source_key) of its first SOURCE_SCAN members,
    # 0 for members without a source.
    source_keys: frozenset[int]


class IndexStore(Protocol):
    """Every method is atomic: a reader never sees half an article."""

    async def open(self, settings: StoreSettings) -> None:
        """Connects and binds to the namespace; raises StoreLayoutError when
        the namespace was made with other settings."""

    async def ingest(self, items: Sequence[IngestItem]) -> list[IngestOutcome]:
        """Indexes the articles in order, each assigned to a cluster."""

    async def similar(self, probe: Probe, limit: int) -> SimilarOutcome:
        """Verified matches of an unindexed fingerprint; changes nothing."""

    async def article(self, article_id: str) -> ArticleRecord | None: ...

    async def cluster_of_article(self, article_id: str) -> ClusterView | None: ...

    async def cluster(self, cluster: int) -> ClusterView | None: ...

    async def delete(self, article_id: str) -> DeleteOutcome | None: ...

    async def expire(self, cutoff_ms: float, budget: int) -> int:
        """Deletes up to `budget` articles ingested before `cutoff_ms`;
        returns how many went."""

    # -- the story feed (store/listing.py reads the cluster index) ----------

    async def events(self, after: str, count: int) -> list[ClusterEvent]:
        """Up to `count` events logged after event `after` ("0": from the
        oldest kept), oldest first; EventsTrimmedError when events after it
        were trimmed."""

    async def last_event_id(self) -> str:
        """The ID of the latest event, "0" when none is logged."""

    async def wait_events(self, after: str, timeout_s: float) -> None:
        """Returns when events after `after` may have been logged, or after
        `timeout_s`."""

    async def cluster_window(
        self, by_first: bool, low_ms: float, high_ms: float, offset: int, count: int
    ) -> list[tuple[float, int]]:
        """(time, cluster) of the clusters whose first (or last) publication
        is in [low_ms, high_ms], latest first, ties by higher cluster first;
        `count` of them from `offset`."""

    async def cluster_sizes(self, clusters: Sequence[int]) -> list[int]:
        """Members of each cluster; 0 for one that no longer exists."""

    async def cluster_summaries(self, clusters: Sequence[int]) -> list[ClusterSummary | None]:
        """A summary of each cluster; None for one that no longer exists."""

    async def save_listing(self, clusters: Sequence[int], ttl_ms: float) -> str:
        """Keeps a listing's order for `ttl_ms`; returns its name."""

    async def read_listing(self, name: str, offset: int, count: int) -> list[int] | None:
        """`count` clusters of a kept listing from `offset`; None when it
        expired."""

    async def check(self) -> list[str]:
        """Consistency findings (orphans, dangling references); [] when sound."""

    async def ping(self) -> None:
        """Raises StoreUnavailableError when the store cannot serve."""

    async def close(self) -> None: ...

    @property
    def persistent(self) -> bool: ...
