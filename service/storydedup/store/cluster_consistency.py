"""Consistency check of a namespace in the Redis Cluster layout
(store/cluster_store.py), over every master. Run it on a quiet namespace.

Findings are what a reader could see wrong or what would never go away: a
committed article missing from its cluster or its buckets, an article no
expiry entry covers, a merged cluster its target does not list, a lock that
never expires. Leftovers are what an interrupted write leaves and readers
ignore by design (entries of a record that is pending or gone); they are
counted, not reported as findings: expiry or the next ingest of that
article removes them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio.cluster import RedisCluster

from storydedup.store.base import BUCKET_MEMBERS
from storydedup.store.cluster_layout import REF_BYTES, ClusterKeys, StoredArticle


@dataclass
class ClusterCheck:
    findings: list[str] = field(default_factory=list)
    leftovers: Counter[str] = field(default_factory=Counter)


def _name(key: bytes, prefix: bytes) -> tuple[bytes, bytes, bytes]:
    """(kind, tag, rest) of a key `prefix kind {tag} rest`."""
    body = key[len(prefix) :]
    if body == b"meta":
        return b"meta", b"", b""
    if body.startswith(b"feed{"):
        return b"feed", b"", b""
    close = body.index(b"}")
    return body[:1], body[2:close], body[close + 1 :]


async def inspect_cluster_namespace(client: RedisCluster, layout: ClusterKeys) -> ClusterCheck:
    result = ClusterCheck()
    prefix = layout.p
    keys: dict[bytes, list[tuple[bytes, bytes]]] = {}
    pattern = prefix.replace(b"[", b"\\[") + b"*"
    async for raw_key in client.scan_iter(
        match=pattern, count=1000, target_nodes=RedisCluster.PRIMARIES
    ):
        key = bytes(raw_key)
        kind, tag, rest = _name(key, prefix)
        keys.setdefault(kind, []).append((key, bytes.fromhex(tag.decode()) + rest if tag else b""))

    async def fetch(command: str, pairs: list[tuple[bytes, bytes]], *args: Any) -> dict[bytes, Any]:
        out: dict[bytes, Any] = {}
        for key, name in pairs:
            out[name] = await client.execute_command(command, key, *args)
        return out

    records = {
        ref: StoredArticle.unpack(ref, bytes(raw))
        for ref, raw in (await fetch("GET", keys.get(b"a", []))).items()
        if raw is not None
    }
    committed = {ref: s for ref, s in records.items() if s.committed}
    result.leftovers["pending records"] = len(records) - len(committed)

    members: dict[int, set[bytes]] = {}
    for name, listed in (await fetch("ZRANGE", keys.get(b"c", []), 0, -1)).items():
        members[int.from_bytes(name[2:], "big")] = {bytes(m) for m in listed}
    forwards = {
        int.from_bytes(name[2:], "big"): int.from_bytes(bytes(p), "big")
        for name, p in (await fetch("GET", keys.get(b"f", []))).items()
        if p is not None
    }
    kids = {
        int.from_bytes(name[2:], "big"): {int.from_bytes(bytes(k), "big") for k in listed}
        for name, listed in (await fetch("SMEMBERS", keys.get(b"g", []))).items()
    }

    buckets: dict[tuple[bytes, bytes], list[bytes]] = {}
    for key, _ in keys.get(b"b", []):
        values: dict[Any, Any] = await client.hgetall(key)
        for name, value in values.items():
            listed = [bytes(value[i : i + REF_BYTES]) for i in range(0, len(value), REF_BYTES)]
            buckets[key, bytes(name)] = listed
            result.leftovers["bucket entries without a committed record"] += sum(
                ref not in committed for ref in listed
            )

    def pushed_out(stored: StoredArticle, listed: list[bytes]) -> bool:
        """A bucket keeps the BUCKET_MEMBERS articles added to it last: one not
        listed was pushed out if the bucket is full, or (when some left it
        since) lists one ingested after it. Concurrent ingests add in lock
        order, not by ingest time, so a full bucket is the main sign."""
        return len(listed) >= BUCKET_MEMBERS or any(
            other not in committed
            or committed[other].record.ingested_ms >= stored.record.ingested_ms
            for other in listed
        )

    expiring: set[bytes] = set()
    for key, _ in keys.get(b"t", []):
        strung: Any = await client.get(key)
        refs = bytes(strung or b"")
        expiring.update(refs[i : i + REF_BYTES] for i in range(0, len(refs), REF_BYTES))

    for ref, stored in sorted(committed.items()):
        label = repr(stored.record.article_id)
        if ref not in members.get(stored.cluster, set()):
            result.findings.append(f"article {label} missing from its cluster {stored.cluster}")
        for bucket_ref in stored.record.bucket_refs:
            listed = buckets.get(layout.bucket(bucket_ref), [])
            if listed.count(ref) > 1 or (ref not in listed and not pushed_out(stored, listed)):
                result.findings.append(
                    f"article {label} not listed once in its bucket {bucket_ref.hex()}"
                )
        if ref not in expiring:
            result.findings.append(f"article {label} has no expiry entry")
    for cluster, listed in members.items():
        for ref in listed:
            owner = committed.get(ref)
            if owner is None or owner.cluster != cluster:
                result.leftovers["cluster members without a committed record"] += 1
    for source, target in forwards.items():
        if source not in kids.get(target, set()):
            result.findings.append(f"cluster {source} merged into {target}, which omits it")
        seen = {source}
        while target in forwards:
            if target in seen:
                result.findings.append(f"cluster {source} is on a cycle of merges")
                break
            seen.add(target)
            target = forwards[target]
    for parent, listed in kids.items():
        for kid in listed:
            if forwards.get(kid) != parent:
                result.leftovers["merged clusters listed without their pointer"] += 1
    for kind in (b"k", b"l", b"e"):
        for key, _ in keys.get(kind, []):
            if await client.pttl(key) == -1:  # -2: released since the scan
                result.findings.append(f"lock {key!r} never expires")
    result.leftovers = +result.leftovers
    return result
