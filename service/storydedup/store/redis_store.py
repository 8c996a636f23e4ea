"""The Redis store: index, records and clusters in Redis, through redis-py.

An ingest is two script calls (store/lua/): gather.lua reads the candidates
and their clusters' first members, Python decides (clustering/assign.py, the
same code as every store), and commit.lua writes the article and its cluster
atomically, provided nothing changed the namespace since the read or the
same reads give the same result; otherwise the article is read and decided
again. A batch runs its articles one after the other, so later articles see
earlier ones. All keys of a
namespace carry its hash tag (`sd:{news}:...`), so a Redis Cluster keeps a
namespace on one slot and the scripts stay legal there.

Key layout (P = `sd:{<namespace>}:`):
    P i:<group>     hash   48 bits of an article ID's SHA1 (12 hex digits) ->
                           packed u32 article numbers (one, unless two IDs
                           share those bits: the records tell them apart);
                           the group is 24 further bits mod 2**id_group_bits
    P n             string last article number handed out
    P v             string the namespace's version, moved by every script
                           that changes what an ingest decision reads
                           (lua/common.lua changed)
    P a:<number>    string the article record (store/records.py)
    P b:<3 bytes>   hash   3-byte bucket field -> packed u32 numbers of the
                           newest BUCKET_MEMBERS articles in the bucket
    P c:<cluster>   zset   member numbers (4-byte big-endian) by publication
                           time; absent for a cluster that is its lone founder
    P t:<start>:<len> string packed numbers of the articles ingested in that
                           time slot (ms since the epoch, slot length in ms)
    P slots         zset   those slot strings, scored by the end of their slot
    P meta          hash   fingerprint settings the namespace was made with
    P x             stream the event log: one entry per cluster change, written
                           by the script that makes the change (redis_feed.py)
    P xf, P xl      zset   clusters (packed u32) by first and by last
                           publication time, kept by the same scripts
    P xq<name>      string a biggest-first listing's order (store/listing.py),
                           packed 6-byte cluster numbers, for ten minutes
Article numbers are integers so that bucket entries cost 4 bytes instead of
an article ID; buckets are grouped into 2**bucket_group_bits hashes (a
namespace setting, sized to the retention window) so that each stays a
compact listpack instead of one key per bucket.
"""

from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis

from storydedup.clustering.assign import (
    CONFIRM_MEMBERS,
    Candidate,
    ClusterChoice,
    Matches,
    Member,
    choose,
    reported,
    verify,
)
from storydedup.clustering.policy import MatchPolicy
from storydedup.store import redis_feed
from storydedup.store.base import (
    DEFAULT_EVENTS_MAX_LEN,
    SOURCE_SCAN,
    ClusterEvent,
    ClusterSummary,
    ClusterView,
    DeleteOutcome,
    IngestItem,
    IngestOutcome,
    Probe,
    SimilarOutcome,
    StoreSettings,
    StoreUnavailableError,
)
from storydedup.store.consistency import check_redis_namespace
from storydedup.store.memory import DEFAULT_EXPIRY_SLOT_MS, wall_clock_ms
from storydedup.store.records import HEADER_BYTES, ArticleRecord, shingle_count_of
from storydedup.store.scripts import LuaScript, bind_namespace, call
from storydedup.store.unavailable import REDIS_UNAVAILABLE, unavailable_on

T = TypeVar("T")


def key_prefix(namespace: str) -> str:
    return f"sd:{{{namespace}}}:"


def _script(name: str) -> LuaScript:
    parts = (LuaScript.read(part).source for part in ("event_log.lua", "common.lua", f"{name}.lua"))
    return LuaScript("\n".join(parts))


def id_group_bits(bucket_group_bits: int) -> int:
    """Article IDs are kept in 2**bits hashes: a sixteenth as many as bucket
    groups, since an article has one ID and 20 buckets, so that both stay
    compact listpacks up to the same index size. One hash of all IDs cost 77
    bytes per article (a hashtable entry, key and value); an entry of a
    listpack costs about 20: the field is 48 bits of the ID's SHA1 in hex,
    not the ID, which may be longer than a listpack value may be (64 bytes)."""
    return max(bucket_group_bits - 4, 0)


# Shingle counts kept (_shingle_counts): about 100 bytes each.
KNOWN_SHINGLE_COUNTS = 100_000

# An ingest reads, decides in Python and commits only if what it read did
# not change in between (lua/commit.lua); with other writers busy on the
# same buckets it tries again, this many times at most.
MAX_COMMIT_ATTEMPTS = 100


class _Changed(Exception):
    """What an ingest read changed before it could decide."""


@dataclass(frozen=True, slots=True)
class _Gathered:
    """What lua/gather.lua read for one article."""

    # What commit.lua checks: the namespace's version and a digest of everything read.
    digest: bytes
    # The contents of the article's buckets, which commit.lua appends to.
    buckets: bytes
    existing: tuple[int, ArticleRecord] | None
    # The canonical article of the existing article's cluster ("" if none).
    existing_canonical: str
    candidates: list[Candidate[int]]
    # Each candidate cluster's first members (numbers, earliest first).
    members: dict[int, list[int]]

    @classmethod
    def parse(cls, reply: list[Any]) -> _Gathered:
        digest, buckets, existing_number, existing_raw, canonical, count = reply[:6]
        existing = (
            (int(existing_number), ArticleRecord.unpack(existing_raw))
            if int(existing_number)
            else None
        )
        candidates = []
        at = 6
        for _ in range(int(count)):
            number, raw = int(reply[at]), reply[at + 1]
            record = ArticleRecord.unpack(raw)
            candidates.append(Candidate(number, record, record.cluster, number))
            at += 2
        members: dict[int, list[int]] = {}
        clusters = int(reply[at])
        at += 1
        for _ in range(clusters):
            cluster, size = int(reply[at]), int(reply[at + 1])
            at += 2
            members[cluster] = [int(n) for n in reply[at : at + size]]
            at += size
        return cls(
            bytes(digest),
            bytes(buckets),
            existing,
            bytes(canonical).decode("utf-8"),
            candidates,
            members,
        )


class RedisStore:
    def __init__(
        self,
        client: aioredis.Redis,
        namespace: str,
        policy: MatchPolicy,
        clock_ms: Callable[[], float] = wall_clock_ms,
        expiry_slot_ms: float = DEFAULT_EXPIRY_SLOT_MS,
        events_max_len: int = DEFAULT_EVENTS_MAX_LEN,
    ) -> None:
        self._client = client
        self._events_max_len = events_max_len
        self._slot_ms = expiry_slot_ms
        self._prefix = key_prefix(namespace)
        # The slot's key for calls that concern no article ID.
        self._meta_key = self._prefix + "meta"
        self._id_group_bits = 0
        self._policy = policy
        self._clock_ms = clock_ms
        self._num_perm = 0
        # Shingle counts of the articles whose counts were read, by number
        # (_shingle_counts), the oldest read going first.
        self._shingles: OrderedDict[int, int] = OrderedDict()
        self._gather_script = _script("gather")
        self._commit_script = _script("commit")
        self._delete = _script("delete")
        self._expire = _script("expire")
        self._view = _script("view")
        self._feed = _script("feed")
        self._scripts = (
            self._gather_script,
            self._commit_script,
            self._delete,
            self._expire,
            self._view,
            self._feed,
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        namespace: str,
        policy: MatchPolicy,
        clock_ms: Callable[[], float] = wall_clock_ms,
        expiry_slot_ms: float = DEFAULT_EXPIRY_SLOT_MS,
        events_max_len: int = DEFAULT_EVENTS_MAX_LEN,
        **options: Any,
    ) -> RedisStore:
        client = aioredis.Redis.from_url(url, **options)
        return cls(client, namespace, policy, clock_ms, expiry_slot_ms, events_max_len)

    @property
    def client(self) -> aioredis.Redis:
        return self._client

    @property
    def persistent(self) -> bool:
        return True

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        with unavailable_on(REDIS_UNAVAILABLE, "Redis"):
            return await operation()

    async def open(self, settings: StoreSettings) -> None:
        wanted = settings.as_fields()

        stored = await self._call(lambda: bind_namespace(self._client, self._meta_key, wanted))
        settings.check_stored(stored, self._prefix)
        self._num_perm = settings.num_perm
        self._id_group_bits = id_group_bits(settings.bucket_group_bits)

    def id_entry(self, article_id: str) -> tuple[str, str]:
        """The hash and the field that hold this article ID (lua/common.lua
        id_key_of and id_field)."""
        digest = hashlib.sha1(article_id.encode("utf-8")).hexdigest()
        group = int(digest[:6], 16) % (1 << self._id_group_bits)
        return f"{self._prefix}i:{group}", digest[6:18]

    def id_key(self, article_id: str) -> str:
        return self.id_entry(article_id)[0]

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> None:
        await self._call(self._client.ping)

    # -- ingest -------------------------------------------------------------

    async def _gather(self, article_id: str, probe: Probe) -> _Gathered:
        reply: list[Any] = await call(
            self._client,
            self._gather_script.command(
                [self.id_key(article_id) if article_id else self._meta_key],
                self._prefix,
                article_id,
                b"".join(probe.bucket_refs),
                self._policy.max_candidates,
                CONFIRM_MEMBERS,
            ),
            self._scripts,
        )
        return _Gathered.parse(reply)

    async def _record(self, number: int) -> ArticleRecord:
        raw: Any = await self._client.get(f"{self._prefix}a:{number}")
        if raw is None:
            # Deleted since it was read: the commit, reading again, refuses.
            raise _Changed
        return ArticleRecord.unpack(raw)

    async def _shingle_counts(self, numbers: Sequence[int], in_hand: dict[int, int]) -> list[int]:
        """The shingle counts of these articles: from `in_hand` (records the
        read returned), else read (their records' headers, in one round trip)
        only for those not known yet: an article's number names its content,
        so a count once read holds."""
        known = self._shingles
        missing = [n for n in numbers if n not in in_hand and n not in known]
        if missing:
            pipe = self._client.pipeline(transaction=False)
            for n in missing:
                pipe.getrange(f"{self._prefix}a:{n}", 0, HEADER_BYTES - 1)
            headers: list[Any] = await pipe.execute()
            for n, header in zip(missing, headers, strict=True):
                if len(header) < HEADER_BYTES:
                    raise _Changed  # deleted since it was read: read again
                known[n] = shingle_count_of(header)
            while len(known) > KNOWN_SHINGLE_COUNTS:
                known.popitem(last=False)
        return [in_hand[n] if n in in_hand else known[n] for n in numbers]

    async def _decide(
        self, probe: Probe, gathered: _Gathered
    ) -> tuple[Matches[int], ClusterChoice[int]]:
        matches = verify(self._policy, probe, gathered.candidates)
        in_hand = {c.key: c.record.shingle_count for c in gathered.candidates}

        async def first_members(cluster: int) -> list[Member[int]]:
            numbers = gathered.members.get(cluster, [])
            counts = await self._shingle_counts(numbers, in_hand)
            return [Member(n, count, n) for n, count in zip(numbers, counts, strict=True)]

        async def read_record(number: int) -> ArticleRecord:
            return await self._record(number)

        return matches, await choose(self._policy, probe, matches, first_members, read_record)

    async def ingest(self, items: Sequence[IngestItem]) -> list[IngestOutcome]:
        now = self._clock_ms()

        async def run() -> list[IngestOutcome]:
            # In order, so that later articles of a batch see earlier ones;
            # each commit also reads for the next article.
            outcomes = []
            ahead: _Gathered | None = None
            for i, item in enumerate(items):
                following = items[i + 1] if i + 1 < len(items) else None
                outcome, ahead = await self._ingest_one(item, now, ahead, following)
                outcomes.append(outcome)
            return outcomes

        return await self._call(run)

    async def _ingest_one(
        self,
        item: IngestItem,
        now: float,
        gathered: _Gathered | None,
        following: IngestItem | None,
    ) -> tuple[IngestOutcome, _Gathered | None]:
        """The article's outcome, and what was read for `following` if the
        commit read it."""
        for _ in range(MAX_COMMIT_ATTEMPTS):
            if gathered is None:
                gathered = await self._gather(item.article_id, item.probe)
            existing = gathered.existing
            if existing is not None and existing[1].digest == item.digest:
                matches = verify(self._policy, item.probe, gathered.candidates)
                return IngestOutcome(
                    article_id=item.article_id,
                    cluster=existing[1].cluster,
                    duplicate=existing[1].joined_existing,
                    canonical_article_id=gathered.existing_canonical,
                    matches=tuple(m.info for m in matches[: self._policy.max_matches]),
                    unchanged=True,
                ), None
            try:
                decided, choice = await self._decide(item.probe, gathered)
            except _Changed:
                gathered = None
                continue
            record = item.record(
                0, now, joined=choice.join is not None, composite=decided.composite
            )
            keys = [self.id_key(item.article_id)]
            if following is not None:
                keys.append(self.id_key(following.article_id))
            reply: list[Any] = await call(
                self._client,
                self._commit_script.command(
                    keys,
                    self._prefix,
                    gathered.digest,
                    item.article_id,
                    existing[0] if existing is not None else 0,
                    choice.join or 0,
                    b"".join(struct.pack(">I", c) for c in choice.merge),
                    record.pack(),
                    repr(record.published_ms),
                    repr(now),
                    repr(self._slot_ms),
                    self._policy.max_candidates,
                    CONFIRM_MEMBERS,
                    following.article_id if following is not None else "",
                    b"".join(following.probe.bucket_refs) if following is not None else b"",
                    self._events_max_len,
                    b"".join(struct.pack(">I", n) for n in choice.detach),
                    b"".join(struct.pack(">I", c.key) for c in gathered.candidates),
                    gathered.buckets,
                ),
                self._scripts,
            )
            if not int(reply[0]):
                gathered = None  # what it was decided from changed
                continue
            cluster = int(reply[1])
            detached = [int(c) for c in reply[5 : 5 + int(reply[4])]]
            ahead = reply[5 + len(detached) :]
            return IngestOutcome(
                article_id=item.article_id,
                cluster=cluster,
                duplicate=choice.join is not None,
                merged=len(choice.merge),
                canonical_article_id=reply[2].decode("utf-8"),
                matches=reported(decided, choice, cluster, self._policy.max_matches, detached),
                unchanged=False,
            ), (_Gathered.parse(ahead) if ahead else None)
        raise StoreUnavailableError(
            f"article {item.article_id!r}: the index changed under {MAX_COMMIT_ATTEMPTS} "
            "attempts to commit it; retry"
        )

    async def similar(self, probe: Probe, limit: int) -> SimilarOutcome:
        async def run() -> SimilarOutcome:
            while True:
                try:
                    matches, choice = await self._decide(probe, await self._gather("", probe))
                except _Changed:
                    continue
                return SimilarOutcome(tuple(m.info for m in matches[:limit]), choice.join)

        return await self._call(run)

    # -- reads --------------------------------------------------------------

    async def _read(self, what: str, key: str) -> list[Any] | None:
        id_key = self._meta_key if what == "cluster" else self.id_key(key)

        async def run() -> list[Any] | None:
            reply: list[Any] | None = await call(
                self._client,
                self._view.command([id_key], self._prefix, what, key),
                self._scripts,
            )
            return reply

        return await self._call(run)

    async def article(self, article_id: str) -> ArticleRecord | None:
        reply = await self._read("article", article_id)
        return None if not reply else ArticleRecord.unpack(reply[1])

    def _cluster_view(self, reply: list[Any] | None) -> ClusterView | None:
        if not reply:
            return None
        return ClusterView(int(reply[0]), tuple(ArticleRecord.unpack(r) for r in reply[1:] if r))

    async def cluster_of_article(self, article_id: str) -> ClusterView | None:
        return self._cluster_view(await self._read("cluster_of", article_id))

    async def cluster(self, cluster: int) -> ClusterView | None:
        if not 0 < cluster < 2**32:
            return None  # cluster numbers here are u32 (store/records.py)
        return self._cluster_view(await self._read("cluster", str(cluster)))

    # -- removal ------------------------------------------------------------

    async def delete(self, article_id: str) -> DeleteOutcome | None:
        async def run() -> list[Any] | None:
            reply: list[Any] | None = await call(
                self._client,
                self._delete.command(
                    [self.id_key(article_id)], self._prefix, article_id, self._events_max_len
                ),
                self._scripts,
            )
            return reply

        reply = await self._call(run)
        return None if not reply else DeleteOutcome(int(reply[0]), int(reply[1]))

    async def expire(self, cutoff_ms: float, budget: int) -> int:
        async def run() -> int:
            removed: int = await call(
                self._client,
                self._expire.command(
                    [self._meta_key],
                    self._prefix,
                    repr(cutoff_ms),
                    budget,
                    self._id_group_bits,
                    self._events_max_len,
                ),
                self._scripts,
            )
            return removed

        return await self._call(run)

    # -- the story feed -----------------------------------------------------

    async def events(self, after: str, count: int) -> list[ClusterEvent]:
        stream = self._prefix + "x"
        return await self._call(lambda: redis_feed.read_events(self._client, stream, after, count))

    async def last_event_id(self) -> str:
        return await self._call(lambda: redis_feed.last_event_id(self._client, self._prefix + "x"))

    async def wait_events(self, after: str, timeout_s: float) -> None:
        stream = self._prefix + "x"
        await self._call(lambda: redis_feed.wait_events(self._client, stream, after, timeout_s))

    async def cluster_window(
        self, by_first: bool, low_ms: float, high_ms: float, offset: int, count: int
    ) -> list[tuple[float, int]]:
        key = self._prefix + ("xf" if by_first else "xl")
        return await self._call(
            lambda: redis_feed.read_cluster_window(
                self._client, key, low_ms, high_ms, offset, count
            )
        )

    async def _feed_read(self, op: str, clusters: Sequence[int]) -> list[Any]:
        async def run() -> list[Any]:
            reply: list[Any] = await call(
                self._client,
                self._feed.command([self._meta_key], self._prefix, op, SOURCE_SCAN, *clusters),
                self._scripts,
            )
            return reply

        return await self._call(run) if clusters else []

    async def cluster_sizes(self, clusters: Sequence[int]) -> list[int]:
        return [int(size) for size in await self._feed_read("sizes", clusters)]

    async def cluster_summaries(self, clusters: Sequence[int]) -> list[ClusterSummary | None]:
        summaries: list[ClusterSummary | None] = []
        for cluster, entry in zip(
            clusters, await self._feed_read("summaries", clusters), strict=True
        ):
            if not int(entry[0]):
                summaries.append(None)
                continue
            canonical = ArticleRecord.unpack(entry[1])
            packed = bytes(entry[3])
            summaries.append(
                ClusterSummary(
                    cluster=cluster,
                    canonical=canonical,
                    size=int(entry[0]),
                    first_ms=canonical.published_ms,
                    last_ms=float(entry[2]) if entry[2] else canonical.published_ms,
                    source_keys=frozenset(k for (k,) in struct.iter_unpack("<I", packed)),
                )
            )
        return summaries

    async def save_listing(self, clusters: Sequence[int], ttl_ms: float) -> str:
        prefix = self._prefix + "xq"
        return await self._call(
            lambda: redis_feed.save_listing(self._client, prefix, clusters, ttl_ms)
        )

    async def read_listing(self, name: str, offset: int, count: int) -> list[int] | None:
        prefix = self._prefix + "xq"
        return await self._call(
            lambda: redis_feed.read_listing(self._client, prefix, name, offset, count)
        )

    async def check(self) -> list[str]:
        async def run() -> list[str]:
            # The checker may run on a store that was not opened (storydedup-admin):
            # the ID groups follow the namespace's own settings.
            bits: Any = await self._client.hget(self._meta_key, "bucket_group_bits")
            if bits is not None:
                self._id_group_bits = id_group_bits(int(bits))
            return await check_redis_namespace(self._client, self._prefix, self.id_entry)

        return await self._call(run)
