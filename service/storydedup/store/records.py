"""The binary article record kept in the index store.

One string per article holds everything the ingest script needs to verify a
candidate and to undo the article later (its bucket references), so that a
candidate costs one GET and an article one key. The layout is read by the
Lua scripts too (store/lua/common.lua parse: cluster, times, shingles,
bucket references, ID); keep the two in step.

    offset  size  field
    0       1     layout version (3)
    1       4     cluster number (u32)
    5       8     published_at, ms since the epoch (f64)
    13      8     ingested_at, ms since the epoch (f64)
    21      4     distinct shingles (u32)
    25      1     flags (bit 0: joined an existing cluster when ingested;
                  bit 1: holds passages of two stories, clustering/assign.py)
    26      8     content digest
    34      1     number of bucket references
    35      2     signature length in bytes (u16)
    37      2     article ID length in bytes (u16)
    39      1     prefix sketch length in bytes
    40      2     passage sketch length in bytes (u16)
    42      4     source key (u32; fingerprint.source_key)
    46      4     headline key (u32; fingerprint.headline_key)
    50      ...   bucket references, signature, prefix sketch, passage
                  sketch, article ID, metadata
All integers little-endian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from storydedup.fingerprints.lsh import BUCKET_REF_BYTES

# 5: the header names the headline.
# 4: a passage sketch (fingerprints/passages.py) follows the prefix sketch,
# and the header names the source.
# 3: on one Redis, article IDs are kept in hash groups by their SHA1
# (store/redis_store.py id_key), not in one hash. 2: signature values are
# 8-bit slices (1: 16-bit); bucket references are a 3-byte group and a
# 3-byte field (1: 2 and 4).
LAYOUT_VERSION = 5
_HEADER = struct.Struct("<BIddIB8sBHHBHII")
HEADER_BYTES = _HEADER.size
FLAG_JOINED = 1
FLAG_COMPOSITE = 2


def shingle_count_of(header: bytes) -> int:
    """The shingle count of the record that starts with this header (its
    first HEADER_BYTES bytes)."""
    return int(_HEADER.unpack_from(header)[4])


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """What the store keeps of one article."""

    article_id: str
    cluster: int
    published_ms: float
    ingested_ms: float
    shingle_count: int
    joined_existing: bool
    digest: bytes
    bucket_refs: tuple[bytes, ...]
    signature: bytes
    metadata: bytes
    prefix: bytes = b""
    passages: bytes = b""
    source_key: int = 0
    headline_key: int = 0
    # Holds passages of two stories side by side (a roundup, a digest):
    # found so when ingested or by a later article (clustering/assign.py
    # Matches.composite, revealed_composites).
    composite: bool = False

    def pack(self) -> bytes:
        article_id = self.article_id.encode("utf-8")
        header = _HEADER.pack(
            LAYOUT_VERSION,
            self.cluster,
            self.published_ms,
            self.ingested_ms,
            self.shingle_count,
            (FLAG_JOINED if self.joined_existing else 0)
            | (FLAG_COMPOSITE if self.composite else 0),
            self.digest,
            len(self.bucket_refs),
            len(self.signature),
            len(article_id),
            len(self.prefix),
            len(self.passages),
            self.source_key,
            self.headline_key,
        )
        return b"".join(
            (
                header,
                *self.bucket_refs,
                self.signature,
                self.prefix,
                self.passages,
                article_id,
                self.metadata,
            )
        )

    @classmethod
    def unpack(cls, raw: bytes) -> ArticleRecord:
        (
            version,
            cluster,
            published,
            ingested,
            shingles,
            flags,
            digest,
            nrefs,
            siglen,
            idlen,
            prefixlen,
            passageslen,
            source_key,
            headline_key,
        ) = _HEADER.unpack_from(raw)
        if version != LAYOUT_VERSION:
            raise ValueError(f"unknown article record layout {version}")
        refs_end = HEADER_BYTES + nrefs * BUCKET_REF_BYTES
        sig_end = refs_end + siglen
        prefix_end = sig_end + prefixlen
        passages_end = prefix_end + passageslen
        id_end = passages_end + idlen
        return cls(
            article_id=raw[passages_end:id_end].decode("utf-8"),
            cluster=cluster,
            published_ms=published,
            ingested_ms=ingested,
            shingle_count=shingles,
            joined_existing=bool(flags & FLAG_JOINED),
            digest=digest,
            bucket_refs=tuple(
                raw[i : i + BUCKET_REF_BYTES]
                for i in range(HEADER_BYTES, refs_end, BUCKET_REF_BYTES)
            ),
            signature=raw[refs_end:sig_end],
            metadata=raw[id_end:],
            prefix=raw[sig_end:prefix_end],
            passages=raw[prefix_end:passages_end],
            source_key=source_key,
            headline_key=headline_key,
            composite=bool(flags & FLAG_COMPOSITE),
        )
