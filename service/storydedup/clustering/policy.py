"""When two articles are copies of one story, and which cluster a new
article joins.

The index only proposes candidates; this decides. The Redis store runs the
same rules inside its ingest script (store/lua/ingest.lua) so that candidate
lookup, verification and cluster assignment are one atomic step; the two
implementations are held together by the store contract tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """Thresholds of the verification step (see docs/matching.md)."""

    # Resemblance at or above which two articles are copies.
    min_jaccard: float = 0.5
    # Containment of the smaller text in the larger at or above which it is
    # a truncated copy or brief of it...
    min_containment: float = 0.75
    # ...provided the smaller text has at least this many distinct shingles
    # (about two paragraphs): one shared paragraph is a quote, not a copy.
    min_containment_shingles: int = 60
    # A new article merges clusters only when it is a near-full copy of a
    # member of each (resemblance at or above this); otherwise it joins the
    # best one. This is what keeps roundups from chaining stories together:
    # resemblance m to both means the two members share at least (2m - 1) of
    # the new article's shingles, 30% at 0.65.
    merge_jaccard: float = 0.65
    # Candidates verified per article, most bucket hits first.
    max_candidates: int = 64
    # Matches returned per article.
    max_matches: int = 10


@dataclass(frozen=True, slots=True)
class Similarity:
    jaccard: float
    containment: float


def estimate(jaccard: float, shingles_a: int, shingles_b: int) -> Similarity:
    """Containment of the smaller set from the resemblance and the set sizes:
    |A∩B| = J·(|A|+|B|)/(1+J)."""
    smaller = min(shingles_a, shingles_b)
    if smaller <= 0:
        return Similarity(jaccard, 0.0)
    intersection = jaccard * (shingles_a + shingles_b) / (1.0 + jaccard)
    return Similarity(jaccard, min(1.0, intersection / smaller))


def similarity(
    signature_a: bytes, signature_b: bytes, shingles_a: int, shingles_b: int
) -> Similarity:
    """Resemblance from the share of equal (16-bit) signature values."""
    a = np.frombuffer(signature_a, dtype="<u2")
    b = np.frombuffer(signature_b, dtype="<u2")
    if len(a) != len(b) or len(a) == 0:
        return Similarity(0.0, 0.0)
    return estimate(float(np.count_nonzero(a == b)) / len(a), shingles_a, shingles_b)


def is_match(policy: MatchPolicy, sim: Similarity, shingles_a: int, shingles_b: int) -> bool:
    if sim.jaccard >= policy.min_jaccard:
        return True
    return (
        sim.containment >= policy.min_containment
        and min(shingles_a, shingles_b) >= policy.min_containment_shingles
    )


@dataclass(frozen=True, slots=True)
class ClusterChoice:
    """Where a new article goes: `join` (None for a new cluster) and the
    other clusters to fold into it."""

    join: int | None
    merge: tuple[int, ...]


def choose_cluster(
    policy: MatchPolicy, best_by_cluster: Sequence[tuple[int, Similarity]]
) -> ClusterChoice:
    """`best_by_cluster` holds each matched cluster with its best match,
    best first (containment, then resemblance)."""
    if not best_by_cluster:
        return ClusterChoice(None, ())
    strong = sorted(c for c, sim in best_by_cluster if sim.jaccard >= policy.merge_jaccard)
    if len(strong) >= 2:
        # The oldest cluster keeps its ID so that IDs handed out stay valid
        # for as many members as possible.
        return ClusterChoice(strong[0], tuple(strong[1:]))
    return ClusterChoice(best_by_cluster[0][0], ())
