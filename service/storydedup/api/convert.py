"""Between protobuf messages and the store's records."""

from __future__ import annotations

import re
import zlib

import xxhash
from google.protobuf.timestamp_pb2 import Timestamp

from storydedup.api.errors import InvalidArgument
from storydedup.api.validation import MAX_SECONDS, MIN_SECONDS
from storydedup.store.base import (
    ClusterEvent,
    ClusterSummary,
    ClusterView,
    IngestOutcome,
    MatchInfo,
)
from storydedup.store.records import ArticleRecord
from storydedup.v1 import storydedup_pb2 as pb

# Cluster numbers: a counter on one Redis, random 48-bit IDs on a Redis
# Cluster (store/cluster_store.py).
_CLUSTER_ID = re.compile(r"^c([1-9][0-9]{0,14})$")


def cluster_id(cluster: int) -> str:
    return f"c{cluster}"


def parse_cluster_id(value: str) -> int:
    # fullmatch: with match, "$" also matches before a final newline ("c1\n").
    found = _CLUSTER_ID.fullmatch(value)
    if not found or int(found.group(1)) >= 2**48:
        raise InvalidArgument(f"cluster_id: {value[:80]!r} is not a cluster ID (like 'c42')")
    return int(found.group(1))


def content_digest(article: pb.Article) -> bytes:
    """Identifies the content sent, so that a retry with the same content is
    recognised and changes nothing."""
    return xxhash.xxh3_64_digest(article.SerializeToString(deterministic=True))


# Metadata is mostly a URL, which repeats the source's domain and the words of
# the title. Raw deflate with a preset dictionary of common URL and headline
# pieces takes the throughput benchmark's from 143 to 94 bytes on average, and
# so most records from jemalloc's 640-byte size class to the 512-byte one
# (docs/performance.md). A leading zero byte marks it: no protobuf message
# starts with field number 0, so metadata stored plain still reads.
_DEFLATED = b"\x00"
_DICTIONARY = (
    b" in the to of for on and with after over says-the-of-in-to-and-for-on-with-"
    b"after-over-says.html/news/article/world/politics/business/sport/2025/2026/https://www."
)


def _deflate(data: bytes) -> bytes:
    # A 512-byte window and the least memory: as short an output for
    # metadata of this size, at 4.4 instead of 7 us (setting up zlib's
    # default 32 KiB window is most of the cost).
    compressor = zlib.compressobj(9, zlib.DEFLATED, -9, 1, zlib.Z_DEFAULT_STRATEGY, _DICTIONARY)
    return compressor.compress(data) + compressor.flush()


def metadata(article: pb.Article, title: str) -> bytes:
    """What is kept of the article besides its fingerprint."""
    record = pb.ArticleRecord(title=title, url=article.url, source=article.source)
    record.attributes.update(article.attributes)
    plain = record.SerializeToString(deterministic=True)
    packed = _DEFLATED + _deflate(plain)
    return packed if len(packed) < len(plain) else plain


def read_metadata(stored: bytes) -> pb.ArticleRecord:
    if stored.startswith(_DEFLATED):
        decompressor = zlib.decompressobj(-15, _DICTIONARY)
        stored = decompressor.decompress(stored[1:]) + decompressor.flush()
    return pb.ArticleRecord.FromString(stored)


def _timestamp(ms: float) -> Timestamp:
    ts = Timestamp()
    seconds, remainder = divmod(round(ms * 1000), 1_000_000)
    # Kept as float milliseconds, the last microseconds of 9999-12-31 round
    # up into year 10000, which no valid Timestamp holds: clamp to the range.
    if seconds > MAX_SECONDS:
        seconds, remainder = MAX_SECONDS, 999_999
    elif seconds < MIN_SECONDS:
        seconds, remainder = MIN_SECONDS, 0
    ts.seconds = int(seconds)
    ts.nanos = int(remainder) * 1000
    return ts


def article_record(record: ArticleRecord) -> pb.ArticleRecord:
    message = read_metadata(record.metadata)
    message.article_id = record.article_id
    message.published_at.CopyFrom(_timestamp(record.published_ms))
    message.ingested_at.CopyFrom(_timestamp(record.ingested_ms))
    message.shingle_count = record.shingle_count
    return message


def match(info: MatchInfo) -> pb.Match:
    return pb.Match(
        article_id=info.article_id,
        cluster_id=cluster_id(info.cluster),
        jaccard=info.jaccard,
        containment=info.containment,
        passages=[
            pb.PassageRange(first_paragraph=first, last_paragraph=last)
            for first, last in info.passages
        ],
        same_headline=info.same_headline,
    )


def ingest_response(outcome: IngestOutcome) -> pb.IngestArticleResponse:
    return pb.IngestArticleResponse(
        article_id=outcome.article_id,
        cluster_id=cluster_id(outcome.cluster),
        duplicate=outcome.duplicate,
        canonical_article_id=outcome.canonical_article_id,
        matches=[match(m) for m in outcome.matches],
    )


def cluster_member(record: ArticleRecord) -> pb.ClusterMember:
    meta = read_metadata(record.metadata)
    return pb.ClusterMember(
        article_id=record.article_id,
        source=meta.source,
        url=meta.url,
        title=meta.title,
        published_at=_timestamp(record.published_ms),
    )


def cluster(view: ClusterView) -> pb.Cluster:
    members = [cluster_member(record) for record in view.members]
    return pb.Cluster(
        cluster_id=cluster_id(view.cluster),
        canonical_article_id=view.members[0].article_id,
        members=members,
        size=len(members),
        first_published_at=_timestamp(view.members[0].published_ms),
        last_published_at=_timestamp(max(r.published_ms for r in view.members)),
    )


def cluster_summary(summary: ClusterSummary) -> pb.ClusterSummary:
    return pb.ClusterSummary(
        cluster_id=cluster_id(summary.cluster),
        canonical_article=cluster_member(summary.canonical),
        size=summary.size,
        # Source key 0 is a member without a source.
        source_count=len(summary.source_keys - {0}),
        first_published_at=_timestamp(summary.first_ms),
        last_published_at=_timestamp(summary.last_ms),
    )


_EVENT_KINDS = {
    "created": pb.CLUSTER_EVENT_KIND_CREATED,
    "grew": pb.CLUSTER_EVENT_KIND_GREW,
    "merged_into": pb.CLUSTER_EVENT_KIND_MERGED_INTO,
    "expired": pb.CLUSTER_EVENT_KIND_EXPIRED,
    "split": pb.CLUSTER_EVENT_KIND_SPLIT,
}


def cluster_event(event: ClusterEvent) -> pb.ClusterEvent:
    # The stores log a deletion as "removed"; whether the cluster is gone
    # with it is its size after.
    if event.kind == "removed":
        kind = pb.CLUSTER_EVENT_KIND_DELETED if event.size == 0 else pb.CLUSTER_EVENT_KIND_SHRANK
    else:
        kind = _EVENT_KINDS[event.kind]
    return pb.ClusterEvent(
        event_id=event.event_id,
        kind=kind,
        cluster_id=cluster_id(event.cluster),
        article_id=event.article_id,
        size=event.size,
        into_cluster_id=cluster_id(event.into) if event.into else "",
        time=_timestamp(event.time_ms),
    )
