"""The Redis Cluster store: the index spread over every shard of a Redis
Cluster, for when one Redis is not enough.

The single-Redis store keeps a namespace in one hash slot so that one Lua
script can do a whole ingest; on a cluster that would put all data and load
on one shard. Here every key carries a hash tag of its own (a bucket's, an
article's, a cluster's), so data and commands spread evenly, and an ingest
is a short protocol of single-slot steps, made safe across slots by locks
and a commit flag (docs/scaling.md has the argument in full):

1. Locks. The ingest of an article takes a lock on its article ref and on
   each LSH bucket it falls in (SET NX PX, all in one pipeline; on any
   conflict it lets go and takes them one by one in key order, which cannot
   deadlock). Two articles that could be each other's candidates share a
   bucket, so their ingests run one after the other, exactly as the
   single-Redis script runs them: 32 copies of a new story sent at once
   still make one cluster.
2. Reads: buckets, candidate records, the clusters they are in.
3. Verification and the cluster choice, in Python, with the same rules
   (clustering/policy.py) as the other stores.
4. Writes, in order: the record marked *pending* and its expiry entry; the
   cluster membership (a script on the cluster's slot, which also notices a
   cluster merged meanwhile) and the bucket entries; then the record marked
   committed, and the locks released.
Readers treat a pending record as absent and ignore bucket entries and
members whose record is not committed, so a reader never sees half an
article; an ingest that died half-way leaves a pending record that the next
ingest of that ID, or expiry, rolls back (it lists every entry to remove).

Clusters are merged without moving members: the merged cluster keeps its
members and points at the one it joined (a union-find forest), and the
target lists it among its kids; readers follow the pointers. Links go from
the higher cluster ID to the lower, so the forest has no cycles.

Key layout (P = `sd:<namespace>:`; `{....}` is the hash tag, 4 hex digits):
    P a{ref[0:2]}ref[2:8]   string  article record: state, cluster, record
    P k{ref[0:2]}ref[2:8]   string  lock of that article
    P b{bkt[3:5]}           hash    bkt[0:3]+bkt[5] -> packed 8-byte refs
    P l{bkt[3:5]}...        string  lock of that bucket
    P c{id&0xffff}<id>      zset    cluster members (refs) by publication time
    P f{id&0xffff}<id>      string  the cluster it was merged into
    P g{id&0xffff}<id>      set     clusters merged into it
    P s{NN00}  P t{NN00}<slot>      expiry partition NN (of 256): slots zset,
                                    packed refs ingested in each time slot
    P e{NN00}               string  lock of that partition's expiry
    P meta                  hash    fingerprint settings of the namespace
    P feed{<ns>}:events     stream  the event log (store/redis_feed.py)
    P feed{<ns>}:first|last|size    zsets of root cluster IDs (6 bytes) by
                                    first and last publication and by size
    P feed{<ns>}:q:<name>   string  a biggest-first listing's order
The feed keys share one slot, so one script writes an ingest's events and
index entries together; that step follows the commit of the change, from
the ingest that made it (docs/scaling.md says what that guarantees).
An article's ref is 8 bytes of BLAKE2b of its ID; cluster IDs are random
48-bit integers, checked free when a cluster is created.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from redis import exceptions as redis_errors
from redis.asyncio.cluster import RedisCluster

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
    BUCKET_MEMBERS,
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
from storydedup.store.cluster_consistency import ClusterCheck, inspect_cluster_namespace
from storydedup.store.cluster_layout import (
    COMMITTED,
    PENDING,
    REF_BYTES,
    ClusterKeys,
    StoredArticle,
    article_ref,
)
from storydedup.store.memory import DEFAULT_EXPIRY_SLOT_MS, wall_clock_ms
from storydedup.store.records import ArticleRecord
from storydedup.store.scripts import LuaScript, bind_namespace, load, pipelined
from storydedup.store.unavailable import CLUSTER_UNAVAILABLE, unavailable_on

T = TypeVar("T")

# Releasing or extending a lock is best effort: a lock left behind expires.
_LOCK_UPKEEP_ERRORS: tuple[type[BaseException], ...] = (
    *CLUSTER_UNAVAILABLE,
    redis_errors.RedisError,
)

EXPIRY_PARTITIONS = 256
# A lock outlives a dead holder by at most this. A live holder's locks are
# extended every third of it (however long it waits for other locks or is
# held up), so that they never lapse under it.
LOCK_TTL_MS = 6_000
# How long an ingest waits for locks held by other ingests of its story.
LOCK_WAIT_S = 10.0
EXPIRY_LOCK_TTL_MS = 30_000


# (kind, cluster, article ID) or, for merged_into, (kind, cluster, article
# ID, the cluster it went into).
_Event = tuple[str, int, str] | tuple[str, int, str, int]


class ClusterLockTimeoutError(StoreUnavailableError):
    """Locks stayed taken for LOCK_WAIT_S; retryable."""


class RedisClusterStore:
    def __init__(
        self,
        client: RedisCluster,
        namespace: str,
        policy: MatchPolicy,
        clock_ms: Callable[[], float] = wall_clock_ms,
        expiry_slot_ms: float = DEFAULT_EXPIRY_SLOT_MS,
        events_max_len: int = DEFAULT_EVENTS_MAX_LEN,
    ) -> None:
        self._client = client
        self._events_max_len = events_max_len
        self._keys = ClusterKeys(namespace)
        self._policy = policy
        self._clock_ms = clock_ms
        self._slot_ms = expiry_slot_ms
        self._scripts = {
            name: LuaScript.read("cluster", f"{name}.lua")
            for name in ("bucket", "cluster", "expiry", "release", "refresh")
        }
        self._scripts["feed"] = LuaScript(
            LuaScript.read("event_log.lua").source
            + "\n"
            + LuaScript.read("cluster", "feed.lua").source
        )
        self._expiry_next = 0

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
    ) -> RedisClusterStore:
        client = RedisCluster.from_url(url, **options)
        return cls(client, namespace, policy, clock_ms, expiry_slot_ms, events_max_len)

    @property
    def client(self) -> RedisCluster:
        return self._client

    @property
    def persistent(self) -> bool:
        return True

    # -- plumbing -----------------------------------------------------------

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        with unavailable_on(CLUSTER_UNAVAILABLE, "Redis Cluster"):
            return await operation()

    async def _run(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Commands in one pipeline (one round trip per shard, in parallel)."""
        if not commands:
            return []
        return await pipelined(self._client, commands, self._scripts.values())

    def _script(self, name: str, keys: Sequence[bytes], *args: Any) -> tuple[Any, ...]:
        return self._scripts[name].command(keys, *args)

    # -- binding ------------------------------------------------------------

    async def open(self, settings: StoreSettings) -> None:
        wanted = settings.as_fields()

        async def bind() -> dict[bytes, bytes]:
            await load(self._client, self._scripts.values())
            return await bind_namespace(self._client, self._keys.meta, wanted)

        settings.check_stored(await self._call(bind), self._keys.p.decode())

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> None:
        async def run() -> None:
            await self._client.ping(target_nodes=RedisCluster.ALL_NODES)

        await self._call(run)

    # -- locks --------------------------------------------------------------

    @asynccontextmanager
    async def _locked(self, keys: Iterable[bytes]) -> Any:
        ordered = sorted(set(keys))
        token = secrets.token_bytes(12)
        held: list[bytes] = []
        watchdog = asyncio.create_task(self._keep_alive(held, token))
        try:
            results = await self._run([("SET", k, token, "NX", "PX", LOCK_TTL_MS) for k in ordered])
            held.extend(k for k, ok in zip(ordered, results, strict=True) if ok)
            if len(held) < len(ordered):
                # Someone holds some: let go of everything and queue up in
                # key order, so that no two ingests wait on each other.
                await self._release(held, token)
                held.clear()
                deadline = asyncio.get_running_loop().time() + LOCK_WAIT_S
                for key in ordered:
                    pause = 0.001
                    while not await self._client.set(key, token, nx=True, px=LOCK_TTL_MS):
                        if asyncio.get_running_loop().time() > deadline:
                            raise ClusterLockTimeoutError(
                                "articles of this story are being ingested elsewhere; retry"
                            )
                        await asyncio.sleep(pause)
                        pause = min(pause * 2, 0.05)
                    held.append(key)
            yield token
        finally:
            watchdog.cancel()
            if held:
                # Whatever is not released expires after LOCK_TTL_MS.
                with contextlib.suppress(*_LOCK_UPKEEP_ERRORS):
                    await self._release(held, token)

    async def _keep_alive(self, held: list[bytes], token: bytes) -> None:
        while True:
            await asyncio.sleep(LOCK_TTL_MS / 3000)
            # On failure the next beat tries again; the lock expires if
            # Redis stays away.
            with contextlib.suppress(*_LOCK_UPKEEP_ERRORS):
                await self._run([self._script("refresh", [k], token, LOCK_TTL_MS) for k in held])

    async def _release(self, keys: Sequence[bytes], token: bytes) -> None:
        if keys:
            await self._run([self._script("release", [k], token) for k in keys])

    # -- reads --------------------------------------------------------------

    async def _records(self, refs: Sequence[bytes]) -> dict[bytes, StoredArticle]:
        if not refs:
            return {}
        raws = await self._run([("GET", self._keys.record(r)) for r in refs])
        return {
            r: StoredArticle.unpack(r, bytes(raw)) for r, raw in zip(refs, raws, strict=True) if raw
        }

    async def _roots(self, clusters: Iterable[int]) -> dict[int, int]:
        """The root of each cluster, following merge pointers."""
        roots: dict[int, int] = {}
        at = {c: c for c in set(clusters)}
        while at:
            heads = sorted(set(at.values()))
            pointers = await self._run([("GET", self._keys.cluster(h)[1]) for h in heads])
            moved = {h: int.from_bytes(p, "big") for h, p in zip(heads, pointers, strict=True) if p}
            for cluster, head in list(at.items()):
                if head in moved:
                    at[cluster] = moved[head]
                else:
                    roots[cluster] = head
                    del at[cluster]
        return roots

    async def _root(self, cluster: int) -> int:
        return (await self._roots([cluster]))[cluster]

    async def _tree(self, root: int) -> list[int]:
        """The root and every cluster merged into it, however deep."""
        tree, frontier = [root], [root]
        while frontier:
            kid_sets = await self._run([("SMEMBERS", self._keys.cluster(c)[2]) for c in frontier])
            pairs = [
                (parent, int.from_bytes(k, "big"))
                for parent, kids in zip(frontier, kid_sets, strict=True)
                for k in kids
            ]
            if not pairs:
                break
            # A kid listed before its merge pointer was set, or whose merge
            # failed, is not in the tree.
            pointers = await self._run([("GET", self._keys.cluster(k)[1]) for _, k in pairs])
            frontier = [
                kid
                for (parent, kid), p in zip(pairs, pointers, strict=True)
                if p and int.from_bytes(p, "big") == parent
            ]
            tree.extend(frontier)
        return tree

    async def _members(self, root: int, limit: int = -1) -> list[StoredArticle]:
        """Committed members of a cluster tree, in publication order; the
        first `limit` by publication time when limit > 0."""
        tree = await self._tree(root)
        stop = limit - 1 if limit > 0 else -1
        listed = await self._run([("ZRANGE", self._keys.cluster(c)[0], 0, stop) for c in tree])
        owner = {bytes(ref): c for c, refs in zip(tree, listed, strict=True) for ref in refs}
        records = await self._records(sorted(owner))
        members = [s for ref, s in records.items() if s.committed and s.cluster == owner[ref]]
        members.sort(key=StoredArticle.order)
        return members[:limit] if limit > 0 else members

    async def _is_root(self, cluster: int) -> bool:
        pointer = await self._client.get(self._keys.cluster(cluster)[1])
        return pointer is None

    def _view(self, root: int, members: Sequence[StoredArticle]) -> ClusterView | None:
        if not members:
            return None
        return ClusterView(
            root, tuple(dataclasses.replace(m.record, cluster=root) for m in members)
        )

    async def article(self, article_id: str) -> ArticleRecord | None:
        async def run() -> ArticleRecord | None:
            stored = await self._committed(article_id)
            if stored is None:
                return None
            root = await self._root(stored.cluster)
            return dataclasses.replace(stored.record, cluster=root)

        return await self._call(run)

    async def _committed(self, article_id: str) -> StoredArticle | None:
        ref = article_ref(article_id)
        stored = (await self._records([ref])).get(ref)
        if stored is None or not stored.committed or stored.record.article_id != article_id:
            return None
        return stored

    async def cluster_of_article(self, article_id: str) -> ClusterView | None:
        async def run() -> ClusterView | None:
            stored = await self._committed(article_id)
            if stored is None:
                return None
            root = await self._root(stored.cluster)
            return self._view(root, await self._members(root))

        return await self._call(run)

    async def cluster(self, cluster: int) -> ClusterView | None:
        async def run() -> ClusterView | None:
            if not 0 < cluster < 1 << 48 or not await self._is_root(cluster):
                return None
            return self._view(cluster, await self._members(cluster))

        return await self._call(run)

    # -- matching -----------------------------------------------------------

    async def _bucket_contents(self, probe: Probe) -> list[bytes]:
        fields = [self._keys.bucket(r) for r in probe.bucket_refs]
        packed = await self._run([("HGET", key, f) for key, f in fields])
        return [bytes(p) for p in packed if p]

    async def _verified(
        self, probe: Probe, contents: Sequence[bytes], exclude: bytes | None
    ) -> Matches[bytes]:
        """Verified matches, best first, with clusters resolved to roots."""
        hits: Counter[bytes] = Counter()
        for packed in contents:
            hits.update(packed[i : i + REF_BYTES] for i in range(0, len(packed), REF_BYTES))
        hits.pop(exclude or b"", None)
        # Most bucket hits first, as in the other stores; among equals these
        # take refs in hash order where those take the oldest articles.
        reads = sorted(hits, key=lambda r: (-hits[r], r))[: self._policy.max_candidates]
        records = [s for s in (await self._records(reads)).values() if s.committed]
        roots = await self._roots(s.cluster for s in records)
        return verify(
            self._policy,
            probe,
            (
                Candidate(s.ref, s.record, roots[s.cluster], (s.record.ingested_ms, s.ref))
                for s in records
            ),
        )

    async def _choose(self, probe: Probe, matches: Matches[bytes]) -> ClusterChoice[bytes]:
        loaded: dict[bytes, ArticleRecord] = {}

        async def first_members(cluster: int) -> list[Member[bytes]]:
            members = await self._members(cluster, CONFIRM_MEMBERS)
            loaded.update((s.ref, s.record) for s in members)
            return [
                Member(s.ref, s.record.shingle_count, (s.record.ingested_ms, s.ref))
                for s in members
            ]

        async def read_record(ref: bytes) -> ArticleRecord:
            return loaded[ref]

        return await choose(self._policy, probe, matches, first_members, read_record)

    async def similar(self, probe: Probe, limit: int) -> SimilarOutcome:
        async def run() -> SimilarOutcome:
            matches = await self._verified(probe, await self._bucket_contents(probe), None)
            choice = await self._choose(probe, matches)
            return SimilarOutcome(tuple(m.info for m in matches[:limit]), choice.join)

        return await self._call(run)

    # -- ingest -------------------------------------------------------------

    async def ingest(self, items: Sequence[IngestItem]) -> list[IngestOutcome]:
        now = self._clock_ms()

        async def run() -> list[IngestOutcome]:
            # In order, so that later articles of a batch see earlier ones.
            return [await self._ingest_one(item, now) for item in items]

        return await self._call(run)

    async def _ingest_one(self, item: IngestItem, now: float) -> IngestOutcome:
        ref = article_ref(item.article_id)
        locks = [self._keys.article_lock(ref)]
        locks += [self._keys.bucket_lock(b) for b in item.probe.bucket_refs]
        async with self._locked(locks):
            existing = (await self._records([ref])).get(ref)
            if existing is not None and existing.record.article_id != item.article_id:
                raise StoreUnavailableError(
                    "two article IDs share a 64-bit ref; this store cannot hold both"
                )
            if (
                existing is not None
                and existing.committed
                and existing.record.digest == item.digest
            ):
                return await self._unchanged(item, existing)
            events: list[_Event] = []
            if existing is not None:
                old = await self._root(existing.cluster)
                await self._remove(existing)
                events.append(("removed", old, item.article_id))
            contents = await self._bucket_contents(item.probe)
            matches = await self._verified(item.probe, contents, ref)
            choice = await self._choose(item.probe, matches)
            cluster, merged = await self._assign(choice)
            record = item.record(
                0, now, joined=choice.join is not None, composite=matches.composite
            )
            cluster = await self._write(ref, record, cluster)
            # Each detached article and its new cluster (one whose lock was
            # held elsewhere stays where it was).
            detached: dict[bytes, int] = {}
            for composite in choice.detach:
                moved = await self._detach(composite)
                events += moved
                if moved:
                    detached[composite] = moved[-1][1]
            # The root of a merge is the lowest ID, which may be any of them.
            gone = (merged | {choice.join}) - {cluster} if choice.join is not None else set()
            events += [("merged_into", m, item.article_id, cluster) for m in sorted(gone)]
            kind = "created" if choice.join is None else "grew"
            await self._publish([*events, (kind, cluster, item.article_id)])
            # A new cluster's canonical article is the article itself.
            members = await self._members(cluster, 1) if choice.join is not None else []
            return IngestOutcome(
                article_id=item.article_id,
                cluster=cluster,
                duplicate=choice.join is not None,
                merged=len(choice.merge),
                canonical_article_id=(members[0].record if members else record).article_id,
                # The merged clusters and the joined one are one tree now,
                # whose root may be any of them (the lowest ID).
                matches=reported(
                    matches,
                    ClusterChoice(
                        cluster, tuple(merged | {choice.join or cluster}), tuple(detached)
                    ),
                    cluster,
                    self._policy.max_matches,
                    tuple(detached.values()),
                ),
                unchanged=False,
            )

    async def _unchanged(self, item: IngestItem, existing: StoredArticle) -> IngestOutcome:
        contents = await self._bucket_contents(item.probe)
        matches = await self._verified(item.probe, contents, existing.ref)
        root = await self._root(existing.cluster)
        members = await self._members(root, 1)
        return IngestOutcome(
            article_id=item.article_id,
            cluster=root,
            duplicate=existing.record.joined_existing,
            canonical_article_id=(members[0].record if members else existing.record).article_id,
            matches=tuple(m.info for m in matches[: self._policy.max_matches]),
            unchanged=True,
        )

    async def _assign(self, choice: ClusterChoice[bytes]) -> tuple[int | None, set[int]]:
        """Merges the clusters the choice folds together; returns the cluster
        to join (None for a new one) and the clusters merged."""
        if choice.join is None:
            return None, set()
        into, merged = choice.join, set()
        for source in choice.merge:
            into = await self._union(source, into)
            merged.add(source)
        return into, merged

    async def _union(self, a: int, b: int) -> int:
        """Makes the trees of a and b one; returns the root."""
        while True:
            roots = await self._roots([a, b])
            ra, rb = roots[a], roots[b]
            if ra == rb:
                return ra
            into, source = min(ra, rb), max(ra, rb)
            # The target lists the kid first, so a reader never misses a
            # merged cluster; a listed kid without its pointer is ignored.
            adopted = await self._cluster_op(into, "adopt", source.to_bytes(6, "big"))
            if adopted[0] != 1:
                continue
            moved = await self._cluster_op(source, "forward", into.to_bytes(6, "big"))
            if moved[0] == 1:
                return into
            await self._cluster_op(into, "disown", source.to_bytes(6, "big"))

    async def _cluster_op(self, cluster: int, op: str, *args: Any) -> list[Any]:
        keys = self._keys.cluster(cluster)
        results = await self._run([self._script("cluster", keys, op, *args)])
        reply: list[Any] = results[0]
        return reply

    async def _write(self, ref: bytes, record: ArticleRecord, cluster: int | None) -> int:
        """Writes the article in commit order; returns its cluster's root."""
        if cluster is None:
            cluster = await self._new_cluster(ref, record)
        else:
            await self._set_pending(ref, cluster, record)
            while True:
                reply = await self._cluster_op(cluster, "join", ref, repr(record.published_ms))
                if reply[0] == 1:
                    break
                cluster = await self._root(int.from_bytes(reply[1], "big"))
        await self._run(
            [
                self._script("bucket", [key], "add", field, ref, BUCKET_MEMBERS)
                for key, field in map(self._keys.bucket, record.bucket_refs)
            ]
        )
        committed = StoredArticle.pack(COMMITTED, cluster, record)
        await self._run([("SET", self._keys.record(ref), committed)])
        return cluster

    async def _new_cluster(self, ref: bytes, record: ArticleRecord) -> int:
        while True:
            cluster = secrets.randbits(48) or 1
            await self._set_pending(ref, cluster, record)
            reply = await self._cluster_op(cluster, "create", ref, repr(record.published_ms))
            if reply[0] == 1:
                return cluster

    async def _set_pending(self, ref: bytes, cluster: int, record: ArticleRecord) -> None:
        """The pending record goes first, with its expiry entry, so that
        whatever follows can be found and undone."""
        slot_start = (record.ingested_ms // self._slot_ms) * self._slot_ms
        slot = f"{slot_start:.0f}:{self._slot_ms:.0f}".encode()
        zset, strings, _ = self._keys.expiry(ref[0])

        slot_end = repr(slot_start + self._slot_ms)
        await self._run(
            [
                ("SET", self._keys.record(ref), StoredArticle.pack(PENDING, cluster, record)),
                self._script("expiry", [zset, strings + slot], "add", slot, slot_end, ref),
            ]
        )

    async def _detach(self, ref: bytes) -> list[_Event]:
        """A composite leaves its cluster for a new one of its own, marked
        composite (clustering/assign.py revealed_composites): like a
        re-ingest that keeps its bucket entries, pending while it moves. An
        article whose own ingest, deletion or detachment holds its lock is
        left where it is; the next article of the other story it quotes
        finds it again. A process that dies while it moves leaves the record
        pending, rolled back like a half-written ingest (docs/scaling.md)."""
        stored = (await self._records([ref])).get(ref)
        lock = self._keys.article_lock(ref)
        token = secrets.token_bytes(12)
        if stored is None or not stored.committed:
            return []
        [taken] = await self._run([("SET", lock, token, "NX", "PX", LOCK_TTL_MS)])
        if not taken:
            return []
        try:
            old = await self._root(stored.cluster)
            record = dataclasses.replace(stored.record, composite=True)
            key = self._keys.record(ref)
            await self._run([("SET", key, StoredArticle.pack(PENDING, stored.cluster, record))])
            left = await self._cluster_op(stored.cluster, "leave", ref)
            await self._tidy_up(stored.cluster, left)
            while True:
                cluster = secrets.randbits(48) or 1
                await self._run([("SET", key, StoredArticle.pack(PENDING, cluster, record))])
                created = await self._cluster_op(cluster, "create", ref, repr(record.published_ms))
                if created[0] == 1:
                    break
            await self._run([("SET", key, StoredArticle.pack(COMMITTED, cluster, record))])
        finally:
            with contextlib.suppress(*_LOCK_UPKEEP_ERRORS):
                await self._release([lock], token)
        return [("split", old, record.article_id, cluster), ("created", cluster, record.article_id)]

    # -- removal ------------------------------------------------------------

    async def _remove(self, stored: StoredArticle) -> None:
        """Takes an article out: marked pending first (readers stop seeing
        it), then its cluster membership and bucket entries, then the record."""
        pending = StoredArticle.pack(PENDING, stored.cluster, stored.record)
        await self._run([("SET", self._keys.record(stored.ref), pending)])
        reply = await self._cluster_op(stored.cluster, "leave", stored.ref)
        await self._tidy_up(stored.cluster, reply)
        await self._run(
            [
                self._script("bucket", [key], "remove", field, stored.ref)
                for key, field in map(self._keys.bucket, stored.record.bucket_refs)
            ]
        )
        await self._run([self._script("release", [self._keys.record(stored.ref)], pending)])

    async def _tidy_up(self, cluster: int, reply: list[Any]) -> None:
        """An emptied merged cluster leaves its parent's kids, up the tree."""
        while len(reply) > 1:
            parent = int.from_bytes(reply[1], "big")
            reply = await self._cluster_op(parent, "disown", cluster.to_bytes(6, "big"))
            cluster = parent

    async def delete(self, article_id: str) -> DeleteOutcome | None:
        async def run() -> DeleteOutcome | None:
            ref = article_ref(article_id)
            async with self._locked([self._keys.article_lock(ref)]):
                stored = (await self._records([ref])).get(ref)
                if stored is None or stored.record.article_id != article_id:
                    return None
                root = await self._root(stored.cluster)
                await self._remove(stored)
                if not stored.committed:
                    return None
                await self._publish([("removed", root, article_id)])
                return DeleteOutcome(root, len(await self._members(root)))

        return await self._call(run)

    async def expire(self, cutoff_ms: float, budget: int) -> int:
        async def run() -> int:
            removed = 0
            for _ in range(EXPIRY_PARTITIONS):
                if removed >= budget:
                    break
                partition = self._expiry_next
                self._expiry_next = (partition + 1) % EXPIRY_PARTITIONS
                removed += await self._expire_partition(partition, cutoff_ms, budget - removed)
            return removed

        return await self._call(run)

    async def _expire_partition(self, partition: int, cutoff_ms: float, budget: int) -> int:
        zset, strings, lock = self._keys.expiry(partition)
        token = secrets.token_bytes(12)
        if not await self._client.set(lock, token, nx=True, px=EXPIRY_LOCK_TTL_MS):
            return 0  # another server is expiring this partition
        removed = 0
        try:
            while removed < budget:
                taken = await self._run(
                    [
                        self._script(
                            "expiry", [zset, strings], "take", repr(cutoff_ms), budget - removed
                        )
                    ]
                )
                if not taken[0]:
                    break
                slot, packed = bytes(taken[0][0]), bytes(taken[0][1])
                for i in range(0, len(packed), REF_BYTES):
                    removed += await self._expire_article(packed[i : i + REF_BYTES], cutoff_ms)
                consume = ("consume", slot, len(packed))
                await self._run([self._script("expiry", [zset, strings + slot], *consume)])
        finally:
            await self._release([lock], token)
        return removed

    async def _expire_article(self, ref: bytes, cutoff_ms: float) -> int:
        async with self._locked([self._keys.article_lock(ref)]):
            stored = (await self._records([ref])).get(ref)
            # Re-ingested since (a later slot lists it again), or gone.
            if stored is None or stored.record.ingested_ms >= cutoff_ms:
                return 0
            root = await self._root(stored.cluster)
            await self._remove(stored)
            if not stored.committed:
                return 0
            await self._publish([("expired", root, stored.record.article_id)])
            return 1

    # -- the story feed -----------------------------------------------------

    async def _span(self, roots: Sequence[int]) -> dict[int, tuple[float, float, int]]:
        """(first, last, size) of each root's tree; size 0 when it is gone
        or merged. Counts members still being written or removed: an
        ingest or removal in flight elsewhere may be counted early."""
        spans: dict[int, tuple[float, float, int]] = {}
        for root in roots:
            if not await self._is_root(root):
                spans[root] = (0.0, 0.0, 0)
                continue
            tree = await self._tree(root)
            reads: list[tuple[Any, ...]] = []
            for c in tree:
                members = self._keys.cluster(c)[0]
                reads += [
                    ("ZCARD", members),
                    ("ZRANGE", members, 0, 0, "WITHSCORES"),
                    ("ZRANGE", members, -1, -1, "WITHSCORES"),
                ]
            replies = await self._run(reads)
            size = sum(int(n) for n in replies[0::3])
            firsts = [float(r[0][1]) for r in replies[1::3] if r]
            lasts = [float(r[0][1]) for r in replies[2::3] if r]
            spans[root] = (min(firsts), max(lasts), size) if size else (0.0, 0.0, 0)
        return spans

    async def _publish(self, events: Sequence[_Event]) -> None:
        """Logs the events of one change and brings the index of the
        clusters they name in step, in one script on the feed's slot."""
        named = list(dict.fromkeys(e[1] for e in events))
        spans = await self._span(named)
        args: list[Any] = [self._events_max_len, len(named)]
        for cluster in named:
            first, last, size = spans[cluster]
            # 6 bytes big-endian: ties of a time sort by cluster ID (store/listing.py).
            args += [cluster.to_bytes(6, "big"), repr(first), repr(last), size]
        for kind, cluster, article_id, *into in events:
            # merged_into reports the size of the cluster it went into.
            size = spans[into[0]][2] if kind == "merged_into" else spans[cluster][2]
            args += [kind, cluster, article_id, size, into[0] if into else ""]
        await self._run([self._script("feed", self._keys.feed(), *args)])

    async def events(self, after: str, count: int) -> list[ClusterEvent]:
        stream = self._keys.feed()[0]
        return await self._call(lambda: redis_feed.read_events(self._client, stream, after, count))

    async def last_event_id(self) -> str:
        stream = self._keys.feed()[0]
        return await self._call(lambda: redis_feed.last_event_id(self._client, stream))

    async def wait_events(self, after: str, timeout_s: float) -> None:
        stream = self._keys.feed()[0]
        await self._call(lambda: redis_feed.wait_events(self._client, stream, after, timeout_s))

    async def cluster_window(
        self, by_first: bool, low_ms: float, high_ms: float, offset: int, count: int
    ) -> list[tuple[float, int]]:
        key = self._keys.feed()[1 if by_first else 2]
        return await self._call(
            lambda: redis_feed.read_cluster_window(
                self._client, key, low_ms, high_ms, offset, count
            )
        )

    async def _scores(self, key: bytes, clusters: Sequence[int]) -> list[float | None]:
        if not clusters:
            return []
        members: list[Any] = [c.to_bytes(6, "big") for c in clusters]
        scores: list[float | None] = await self._client.zmscore(key, members)
        return scores

    async def cluster_sizes(self, clusters: Sequence[int]) -> list[int]:
        key = self._keys.feed()[3]
        scores = await self._call(lambda: self._scores(key, clusters))
        return [int(s or 0) for s in scores]

    async def cluster_summaries(self, clusters: Sequence[int]) -> list[ClusterSummary | None]:
        async def run() -> list[ClusterSummary | None]:
            _, _, last_key, size_key = self._keys.feed()
            sizes = await self._scores(size_key, clusters)
            lasts = await self._scores(last_key, clusters)
            summaries: list[ClusterSummary | None] = []
            for cluster, size, last in zip(clusters, sizes, lasts, strict=True):
                members = await self._members(cluster, SOURCE_SCAN) if size else []
                if not members or last is None or size is None:
                    summaries.append(None)
                    continue
                canonical = dataclasses.replace(members[0].record, cluster=cluster)
                summaries.append(
                    ClusterSummary(
                        cluster=cluster,
                        canonical=canonical,
                        size=int(size),
                        first_ms=canonical.published_ms,
                        last_ms=last,
                        source_keys=frozenset(m.record.source_key for m in members),
                    )
                )
            return summaries

        return await self._call(run)

    async def save_listing(self, clusters: Sequence[int], ttl_ms: float) -> str:
        prefix = self._keys.listings
        return await self._call(
            lambda: redis_feed.save_listing(self._client, prefix, clusters, ttl_ms)
        )

    async def read_listing(self, name: str, offset: int, count: int) -> list[int] | None:
        prefix = self._keys.listings
        return await self._call(
            lambda: redis_feed.read_listing(self._client, prefix, name, offset, count)
        )

    # -- consistency --------------------------------------------------------

    async def check(self) -> list[str]:
        return (await self.inspect()).findings

    async def inspect(self) -> ClusterCheck:
        """Findings and the leftovers of interrupted writes."""
        return await self._call(lambda: inspect_cluster_namespace(self._client, self._keys))
