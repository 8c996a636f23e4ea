"""The key and record layout of the Redis Cluster store
(store/cluster_store.py documents it), shared with its consistency check."""

from __future__ import annotations

import dataclasses
import hashlib
import struct

from storydedup.store.records import ArticleRecord

REF_BYTES = 8
PENDING, COMMITTED = 0, 1
# state (1 byte), cluster ID (6 bytes, big-endian), then the record layout
# of store/records.py with its own cluster field unused.
_HEAD = struct.Struct(">B6s")


def article_ref(article_id: str) -> bytes:
    return hashlib.blake2b(article_id.encode("utf-8"), digest_size=REF_BYTES).digest()


def hash_tag(two: bytes) -> bytes:
    """`{xxxx}`: keys with the same two bytes share a Redis Cluster slot."""
    return b"{" + two.hex().encode() + b"}"


@dataclasses.dataclass(frozen=True, slots=True)
class StoredArticle:
    """A record as the cluster layout keeps it."""

    ref: bytes
    state: int
    cluster: int
    record: ArticleRecord
    raw: bytes

    @classmethod
    def unpack(cls, ref: bytes, raw: bytes) -> StoredArticle:
        state, cluster = _HEAD.unpack_from(raw)
        record = ArticleRecord.unpack(raw[_HEAD.size :])
        return cls(ref, state, int.from_bytes(cluster, "big"), record, raw)

    @staticmethod
    def pack(state: int, cluster: int, record: ArticleRecord) -> bytes:
        return _HEAD.pack(state, cluster.to_bytes(6, "big")) + record.pack()

    @property
    def committed(self) -> bool:
        return self.state == COMMITTED

    def order(self) -> tuple[float, float, bytes]:
        """Publication order, ties by ingestion: what the other stores use."""
        return (self.record.published_ms, self.record.ingested_ms, self.ref)


class ClusterKeys:
    def __init__(self, namespace: str) -> None:
        self.p = f"sd:{namespace}:".encode()
        # The story feed's keys share one slot (lua/cluster/feed.lua).
        self._feed = self.p + b"feed{" + namespace.encode() + b"}:"

    def record(self, ref: bytes) -> bytes:
        return self.p + b"a" + hash_tag(ref[:2]) + ref[2:]

    def article_lock(self, ref: bytes) -> bytes:
        return self.p + b"k" + hash_tag(ref[:2]) + ref[2:]

    # A bucket ref is a 3-byte group, of which only the low bits vary, and a
    # 3-byte field (fingerprints/lsh.py); the slot is chosen by two bytes of
    # the field, which are uniform, so buckets spread over every shard.
    def bucket(self, bucket_ref: bytes) -> tuple[bytes, bytes]:
        return self.p + b"b" + hash_tag(bucket_ref[3:5]), bucket_ref[:3] + bucket_ref[5:]

    def bucket_lock(self, bucket_ref: bytes) -> bytes:
        return self.p + b"l" + hash_tag(bucket_ref[3:5]) + bucket_ref[:3] + bucket_ref[5:]

    def cluster(self, cluster: int) -> list[bytes]:
        tag = hash_tag((cluster & 0xFFFF).to_bytes(2, "big"))
        name = cluster.to_bytes(6, "big")
        return [self.p + kind + tag + name for kind in (b"c", b"f", b"g")]

    def expiry(self, partition: int) -> tuple[bytes, bytes, bytes]:
        tag = hash_tag(bytes((partition, 0)))
        return self.p + b"s" + tag, self.p + b"t" + tag, self.p + b"e" + tag

    def feed(self) -> list[bytes]:
        """The event stream and the cluster index by first publication, last
        publication and size."""
        return [self._feed + kind for kind in (b"events", b"first", b"last", b"size")]

    @property
    def listings(self) -> bytes:
        """The prefix of kept listing orders (store/listing.py)."""
        return self._feed + b"q:"

    @property
    def meta(self) -> bytes:
        return self.p + b"meta"
