"""Consistency check of a Redis namespace: every reference between keys
resolves. Run by `storydedup-admin check` and after every fault scenario in
the tests. It reads with SCAN, so run it on a quiet namespace for an exact
answer; on a busy one an article ingested mid-scan can show up as a finding.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from storydedup.store.records import ArticleRecord


async def check_redis_namespace(
    client: aioredis.Redis, prefix: str, id_entry: Callable[[str], tuple[str, str]]
) -> list[str]:
    """`id_entry`: the hash and the field that hold an article ID."""
    findings: list[str] = []
    records: dict[int, ArticleRecord] = {}
    buckets: dict[bytes, dict[Any, Any]] = {}
    clusters: dict[int, list[int]] = {}
    # (ID group key, field) -> article numbers
    ids: dict[tuple[bytes, bytes], list[int]] = {}
    # The cluster index of the story feed: by first and by last publication.
    # cluster -> its score (first or last publication, ms)
    index: dict[bytes, dict[int, float]] = {b"xf": {}, b"xl": {}}
    async for raw_key in client.scan_iter(match=prefix.replace("[", "\\[") + "*", count=1000):
        key: bytes = raw_key
        kind = key[len(prefix) :]
        if kind.startswith(b"a:"):
            raw: Any = await client.get(key)
            if raw is not None:
                records[int(kind[2:])] = ArticleRecord.unpack(bytes(raw))
        elif kind.startswith(b"b:"):
            buckets[kind[2:]] = await client.hgetall(key)
        elif kind.startswith(b"c:"):
            members: list[Any] = await client.zrange(key, 0, -1)
            clusters[int(kind[2:])] = [struct.unpack(">I", m)[0] for m in members]
        elif kind in index:
            clusters_listed: list[Any] = await client.zrange(key, 0, -1, withscores=True)
            index[kind] = {struct.unpack(">I", m)[0]: score for m, score in clusters_listed}
        elif kind.startswith(b"i:"):
            entries: dict[Any, Any] = await client.hgetall(key)
            for name, packed in entries.items():
                ids[key, name] = [n for (n,) in struct.iter_unpack(">I", packed)]

    indexed: set[int] = set()
    for (key, name), numbers in ids.items():
        for number in numbers:
            record = records.get(number)
            if record is None:
                findings.append(f"article ID entry {name!r} points at missing record {number}")
            elif tuple(s.encode() for s in id_entry(record.article_id)) != (key, name):
                findings.append(f"article ID entry {name!r} points at the record of another ID")
            else:
                indexed.add(number)
    listed: dict[bytes, list[int]] = {}
    for group, fields in buckets.items():
        for field, packed in fields.items():
            numbers = [n for (n,) in struct.iter_unpack(">I", packed)]
            listed[group + field] = numbers
            for number in numbers:
                if number not in records:
                    findings.append(
                        f"bucket {(group + field).hex()} lists missing article {number}"
                    )
    for cluster, members in clusters.items():
        if len(members) == 1 and members[0] == cluster:
            findings.append(f"cluster {cluster} keeps a member set for its lone founder")
        for number in members:
            record = records.get(number)
            if record is None:
                findings.append(f"cluster {cluster} lists missing article {number}")
            elif record.cluster != cluster:
                findings.append(
                    f"cluster {cluster} lists article {number} of cluster {record.cluster}"
                )
    published: dict[int, list[float]] = {}
    for record in records.values():
        published.setdefault(record.cluster, []).append(record.published_ms)
    for kind, in_index in index.items():
        pick = min if kind == b"xf" else max
        for cluster in sorted(in_index.keys() - published.keys()):
            findings.append(f"the cluster index {kind.decode()} lists cluster {cluster}, now empty")
        for cluster, times in sorted(published.items()):
            if cluster not in in_index:
                findings.append(f"the cluster index {kind.decode()} misses cluster {cluster}")
            elif in_index[cluster] != pick(times):
                findings.append(
                    f"the cluster index {kind.decode()} gives cluster {cluster} "
                    f"{in_index[cluster]!r}, its members say {pick(times)!r}"
                )
    for number, record in sorted(records.items()):
        if number not in indexed:
            findings.append(f"record {number} ({record.article_id!r}) has no article ID entry")
        for ref in record.bucket_refs:
            bucket = listed.get(ref, [])
            # A bucket keeps its newest BUCKET_MEMBERS articles (numbers grow
            # with ingestion): one not listed was pushed out by a later one.
            if bucket.count(number) > 1 or (
                number not in bucket and not any(other > number for other in bucket)
            ):
                findings.append(
                    f"article {record.article_id!r} not listed once in its bucket {ref.hex()}"
                )
        members_of = clusters.get(record.cluster)
        if members_of is None:
            if record.cluster != number:
                findings.append(
                    f"article {record.article_id!r} is in cluster {record.cluster}, "
                    "which has no member set"
                )
        elif number not in members_of:
            findings.append(f"article {record.article_id!r} missing from cluster {record.cluster}")
    return findings
