"""The Redis store: index, records and clusters in Redis, through redis-py.

Every write is one Lua script call (store/lua/), so each article is indexed
and assigned to its cluster atomically, in one round trip, and a batch is a
single pipeline of such calls that Redis runs in order. All keys of a
namespace carry its hash tag (`sd:{news}:...`), so a Redis Cluster keeps a
namespace on one slot and the scripts stay legal there.

Key layout (P = `sd:{<namespace>}:`):
    P i:<group>     hash   48 bits of an article ID's SHA1 (12 hex digits) ->
                           packed u32 article numbers (one, unless two IDs
                           share those bits: the records tell them apart);
                           the group is 24 further bits mod 2**id_group_bits
    P n             string last article number handed out
    P a:<number>    string the article record (store/records.py)
    P b:<3 bytes>   hash   3-byte bucket field -> packed u32 numbers of the
                           newest BUCKET_MEMBERS articles in the bucket
    P c:<cluster>   zset   member numbers (4-byte big-endian) by publication
                           time; absent for a cluster that is its lone founder
    P t:<start>:<len> string packed numbers of the articles ingested in that
                           time slot (ms since the epoch, slot length in ms)
    P slots         zset   those slot strings, scored by the end of their slot
    P meta          hash   fingerprint settings the namespace was made with
Article numbers are integers so that bucket entries cost 4 bytes instead of
an article ID; buckets are grouped into 2**bucket_group_bits hashes (a
namespace setting, sized to the retention window) so that each stays a
compact listpack instead of one key per bucket.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis

from storydedup.clustering.policy import MatchPolicy, estimate
from storydedup.store.base import (
    ClusterView,
    DeleteOutcome,
    IngestItem,
    IngestOutcome,
    MatchInfo,
    Probe,
    SimilarOutcome,
    StoreSettings,
)
from storydedup.store.consistency import check_redis_namespace
from storydedup.store.memory import DEFAULT_EXPIRY_SLOT_MS, wall_clock_ms
from storydedup.store.records import ArticleRecord
from storydedup.store.scripts import LuaScript, call, pipelined
from storydedup.store.unavailable import REDIS_UNAVAILABLE, unavailable_on

T = TypeVar("T")


def key_prefix(namespace: str) -> str:
    return f"sd:{{{namespace}}}:"


def _script(name: str) -> LuaScript:
    common, own = LuaScript.read("common.lua"), LuaScript.read(f"{name}.lua")
    return LuaScript(common.source + "\n" + own.source)


def id_group_bits(bucket_group_bits: int) -> int:
    """Article IDs are kept in 2**bits hashes: a sixteenth as many as bucket
    groups, since an article has one ID and 20 buckets, so that both stay
    compact listpacks up to the same index size. One hash of all IDs cost 77
    bytes per article (a hashtable entry, key and value); an entry of a
    listpack costs about 20: the field is 48 bits of the ID's SHA1 in hex,
    not the ID, which may be longer than a listpack value may be (64 bytes)."""
    return max(bucket_group_bits - 4, 0)


def _member_number(raw: bytes) -> int:
    number: int = struct.unpack(">I", raw)[0]
    return number


class RedisStore:
    def __init__(
        self,
        client: aioredis.Redis,
        namespace: str,
        policy: MatchPolicy,
        clock_ms: Callable[[], float] = wall_clock_ms,
        expiry_slot_ms: float = DEFAULT_EXPIRY_SLOT_MS,
    ) -> None:
        self._client = client
        self._slot_ms = expiry_slot_ms
        self._prefix = key_prefix(namespace)
        # The slot's key for calls that concern no article ID.
        self._meta_key = self._prefix + "meta"
        self._id_group_bits = 0
        self._policy = policy
        self._clock_ms = clock_ms
        self._num_perm = 0
        self._ingest = _script("ingest")
        self._delete = _script("delete")
        self._expire = _script("expire")
        self._view = _script("view")
        self._scripts = (self._ingest, self._delete, self._expire, self._view)

    @classmethod
    def from_url(
        cls,
        url: str,
        namespace: str,
        policy: MatchPolicy,
        clock_ms: Callable[[], float] = wall_clock_ms,
        expiry_slot_ms: float = DEFAULT_EXPIRY_SLOT_MS,
        **options: Any,
    ) -> RedisStore:
        client = aioredis.Redis.from_url(url, **options)
        return cls(client, namespace, policy, clock_ms, expiry_slot_ms)

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

        async def bind() -> dict[bytes, bytes]:
            async with self._client.pipeline(transaction=True) as pipe:
                for name, value in wanted.items():
                    pipe.hsetnx(self._meta_key, name, value)
                pipe.hgetall(self._meta_key)
                results: list[Any] = await pipe.execute()
            stored: dict[bytes, bytes] = results[-1]
            return stored

        settings.check_stored(await self._call(bind), self._prefix)
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

    def _policy_args(self) -> list[Any]:
        p = self._policy
        return [
            repr(p.min_jaccard),
            repr(p.min_containment),
            p.min_containment_shingles,
            repr(p.merge_jaccard),
            p.max_candidates,
        ]

    def _script_args(
        self,
        mode: str,
        now: float,
        limit: int,
        article_id: str,
        digest: bytes,
        probe: Probe,
        published_ms: float,
        metadata: bytes,
    ) -> list[Any]:
        p = self._policy
        return [
            self._prefix,
            mode,
            repr(now),
            *self._policy_args(),
            limit,
            article_id,
            digest,
            probe.signature,
            probe.shingle_count,
            b"".join(probe.bucket_refs),
            repr(published_ms),
            metadata,
            repr(self._slot_ms),
            probe.prefix,
            repr(p.min_prefix),
            repr(p.min_containment_jaccard),
            p.min_prefix_shingles,
        ]

    async def ingest(self, items: Sequence[IngestItem]) -> list[IngestOutcome]:
        if not items:
            return []
        now = self._clock_ms()

        async def run() -> list[Any]:
            # Not a MULTI: each script is atomic on its own and Redis runs the
            # pipeline's calls in order, so later articles see earlier ones.
            return await pipelined(
                self._client,
                [
                    self._ingest.command(
                        [self.id_key(item.article_id)],
                        *self._script_args(
                            "ingest",
                            now,
                            self._policy.max_matches,
                            item.article_id,
                            item.digest,
                            item.probe,
                            item.published_ms,
                            item.metadata,
                        ),
                    )
                    for item in items
                ],
                self._scripts,
            )

        replies = await self._call(run)
        return [
            self._outcome(item.article_id, item.probe, reply)
            for item, reply in zip(items, replies, strict=True)
        ]

    def _matches(self, probe: Probe, reply: list[Any]) -> tuple[MatchInfo, ...]:
        values = len(probe.signature)
        matches = []
        for i in range(int(reply[4])):
            article_id, cluster, equal, shingles, level, prefix_equal = reply[
                5 + 6 * i : 11 + 6 * i
            ]
            # Same arithmetic as the script's, so the figures are the ones it judged.
            sim = estimate(
                int(equal),
                values,
                probe.shingle_count,
                int(shingles),
                int(level),
                int(prefix_equal),
            )
            matches.append(
                MatchInfo(article_id.decode("utf-8"), int(cluster), sim.jaccard, sim.containment)
            )
        return tuple(matches)

    def _outcome(self, article_id: str, probe: Probe, reply: list[Any]) -> IngestOutcome:
        return IngestOutcome(
            article_id=article_id,
            cluster=int(reply[0]),
            duplicate=bool(reply[1]),
            canonical_article_id=reply[2].decode("utf-8"),
            matches=self._matches(probe, reply),
            unchanged=bool(reply[3]),
        )

    async def similar(self, probe: Probe, limit: int) -> SimilarOutcome:
        args = self._script_args("probe", self._clock_ms(), limit, "", b"", probe, 0.0, b"")

        async def run() -> list[Any]:
            reply: list[Any] = await call(
                self._client, self._ingest.command([self._meta_key], *args), self._scripts
            )
            return reply

        reply = await self._call(run)
        cluster = int(reply[0])
        return SimilarOutcome(self._matches(probe, reply), cluster or None)

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
                self._delete.command([self.id_key(article_id)], self._prefix, article_id),
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
                ),
                self._scripts,
            )
            return removed

        return await self._call(run)

    async def check(self) -> list[str]:
        async def run() -> list[str]:
            # The checker may run on a store that was not opened (storydedup-admin):
            # the ID groups follow the namespace's own settings.
            bits: Any = await self._client.hget(self._meta_key, "bucket_group_bits")
            if bits is not None:
                self._id_group_bits = id_group_bits(int(bits))
            return await check_redis_namespace(self._client, self._prefix, self.id_entry)

        return await self._call(run)
