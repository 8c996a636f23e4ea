"""When two articles are copies of one story, and which cluster a new
article joins.

The index only proposes candidates; this decides. The Redis store runs the
same rules inside its ingest script (store/lua/ingest.lua) so that candidate
lookup, verification and cluster assignment are one atomic step; the two
implementations are held together by the store contract tests.

Two articles are copies of one story when
- they resemble each other (Jaccard of shingle sets), as edited copies and
  wire updates with a rewritten top do; or
- the shorter one's start is the longer one's start for at least half of
  the shorter one (prefix sketches), as truncated copies and briefs are; or
- the shorter one is contained in the longer one (estimated from the
  resemblance and the set sizes), with enough resemblance for the estimate
  to mean something.
A roundup quoting the lead of a story is none of these: its start is not
the story's start beyond the quote, and the quote is a small part of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from storydedup.store.base import PREFIX_LEVELS, PREFIX_VALUES, Probe

if TYPE_CHECKING:
    from storydedup.store.records import ArticleRecord


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """Thresholds of the verification step (see docs/matching.md)."""

    # Resemblance at or above which two articles are copies.
    min_jaccard: float = 0.4
    # Share of equal prefix-sketch values at or above which two starts are
    # the same text, when the shorter text has at least min_prefix_shingles
    # (a shared first sentence is a quote or boilerplate, not a copy). 13 of
    # 16: at 12 a roundup opening with another story's short lead, or a
    # caption that is a second story's lead, passed for a truncated copy.
    min_prefix: float = 0.8125
    min_prefix_shingles: int = 24
    # Containment of the smaller text in the larger at or above which it is
    # a copy of it, provided the resemblance is at least min_containment_jaccard
    # (below it the containment estimate is mostly noise)...
    min_containment: float = 0.8
    min_containment_jaccard: float = 0.25
    # ...and the smaller text has at least this many distinct shingles.
    min_containment_shingles: int = 60
    # A new article merges clusters only when it is a near-full copy of a
    # member of each (resemblance at or above this); otherwise it joins the
    # best one. This is what keeps roundups from chaining stories together:
    # resemblance m to both means the two members share at least (2m - 1) of
    # the new article's shingles, 20% at 0.6.
    merge_jaccard: float = 0.6
    # Candidates verified per article, most bucket hits first.
    max_candidates: int = 64
    # Matches returned per article.
    max_matches: int = 10


@dataclass(frozen=True, slots=True)
class Similarity:
    jaccard: float
    # Of the smaller text in the larger; the larger of the estimate from the
    # resemblance and the share of the smaller text its matching prefix covers.
    containment: float
    # Share of equal values of the prefix sketches at the longest prefix both
    # texts have (prefix_length shingles), 0 when either is too short.
    prefix: float = 0.0
    prefix_length: int = 0


def estimate(
    equal: int,
    values: int,
    shingles_a: int,
    shingles_b: int,
    prefix_level: int = 0,
    prefix_equal: int = 0,
) -> Similarity:
    """Similarity from counts of equal signature values. The Lua script does
    the same arithmetic in the same order, so both stores judge alike."""
    jaccard = equal / values
    smaller = min(shingles_a, shingles_b)
    if smaller <= 0:
        return Similarity(jaccard, 0.0)
    intersection = jaccard * (shingles_a + shingles_b) / (1.0 + jaccard)
    containment = min(1.0, intersection / smaller)
    if prefix_level == 0:
        return Similarity(jaccard, containment)
    prefix = prefix_equal / PREFIX_VALUES
    length = PREFIX_LEVELS[prefix_level - 1]
    containment = max(containment, min(1.0, prefix * length / smaller))
    return Similarity(jaccard, containment, prefix, length)


def compare(
    signature_a: bytes,
    signature_b: bytes,
    shingles_a: int,
    shingles_b: int,
    prefix_a: bytes = b"",
    prefix_b: bytes = b"",
) -> Similarity:
    """Similarity of two fingerprints (8-bit signature and prefix values)."""
    a = np.frombuffer(signature_a, dtype=np.uint8)
    b = np.frombuffer(signature_b, dtype=np.uint8)
    if len(a) != len(b) or len(a) == 0:
        return Similarity(0.0, 0.0)
    level = min(len(prefix_a), len(prefix_b)) // PREFIX_VALUES
    prefix_equal = 0
    if level:
        start = (level - 1) * PREFIX_VALUES
        pa = np.frombuffer(prefix_a[start : start + PREFIX_VALUES], dtype=np.uint8)
        pb = np.frombuffer(prefix_b[start : start + PREFIX_VALUES], dtype=np.uint8)
        prefix_equal = int(np.count_nonzero(pa == pb))
    return estimate(
        int(np.count_nonzero(a == b)), len(a), shingles_a, shingles_b, level, prefix_equal
    )


def starts_alike(policy: MatchPolicy, sim: Similarity, shingles_a: int, shingles_b: int) -> bool:
    """The prefix rule: the shorter text's start is the longer one's start
    for at least half of the shorter text."""
    smaller = min(shingles_a, shingles_b)
    return (
        sim.prefix >= policy.min_prefix
        and 2 * sim.prefix_length >= smaller
        and smaller >= policy.min_prefix_shingles
    )


def is_match(policy: MatchPolicy, sim: Similarity, shingles_a: int, shingles_b: int) -> bool:
    if sim.jaccard >= policy.min_jaccard:
        return True
    if starts_alike(policy, sim, shingles_a, shingles_b):
        return True
    smaller = min(shingles_a, shingles_b)
    return (
        sim.jaccard >= policy.min_containment_jaccard
        and sim.containment >= policy.min_containment
        and smaller >= policy.min_containment_shingles
    )


def judge(policy: MatchPolicy, probe: Probe, record: ArticleRecord) -> tuple[Similarity, bool]:
    """Similarity of a new article's fingerprint to a stored article, and
    whether it is a match."""
    sim = compare(
        probe.signature,
        record.signature,
        probe.shingle_count,
        record.shingle_count,
        probe.prefix,
        record.prefix,
    )
    return sim, is_match(policy, sim, probe.shingle_count, record.shingle_count)


# Members (earliest published first) looked at to find a cluster's longest
# member when a join needs confirming; bounds the work per ingest.
CONFIRM_MEMBERS = 32
# The longest member confirms a join when it matches the new article or
# resembles it at least this much. A wire update with a rewritten top sits
# at 0.36-0.45 against the full story, just under min_jaccard; a roundup
# against a story whose lead it quotes at 0.15-0.21 (docs/matching.md).
CONFIRM_JACCARD = 0.3


def part_of(policy: MatchPolicy, sim: Similarity, shingles: int, member_shingles: int) -> bool:
    """Whether the new article (`shingles`) is part of a matched member: not
    longer than it, and contained in it or its start (a copy, a truncated
    copy, a brief). Joining through such a member needs no confirmation; a
    roundup made mostly of one story's lead resembles that story's truncated
    copy at 0.43 but is neither contained in it nor starts like it.

    Containment counts only with a resemblance of at least min_jaccard: below
    it the containment estimate is the weakest evidence the rules take (a
    Boston Globe story that is one entry of an AP live blog is estimated 0.85
    contained in one version of the blog at resemblance 0.38), so a match by
    the containment rule alone needs the cluster's longest member to agree."""
    return member_shingles >= shingles and (
        (sim.containment >= policy.min_containment and sim.jaccard >= policy.min_jaccard)
        or starts_alike(policy, sim, shingles, member_shingles)
    )


def confirms(policy: MatchPolicy, sim: Similarity, shingles_a: int, shingles_b: int) -> bool:
    """Whether a cluster's longest member, with this similarity to the new
    article, confirms joining the cluster through another member. The longest
    member objects also when it is shorter than the new article: a live blog
    that holds a brief whole does not hold the brief's full story, which it
    would if it were a later version of that story."""
    return sim.jaccard >= CONFIRM_JACCARD or is_match(policy, sim, shingles_a, shingles_b)


@dataclass(frozen=True, slots=True)
class ClusterChoice:
    """Where a new article goes: `join` (None for a new cluster) and the
    other clusters to fold into it."""

    join: int | None
    merge: tuple[int, ...]


def choose_cluster(
    policy: MatchPolicy,
    best_by_cluster: Sequence[tuple[int, Similarity]],
    confirmed: Callable[[int], bool],
) -> ClusterChoice:
    """`best_by_cluster` holds each matched cluster with its best match,
    best first (containment, then resemblance).

    A cluster is joined through a partial match (below merge_jaccard) only
    if `confirmed`: unless the new article is `part_of` a member it matched
    (any of them: the best match by containment may be a copy that starts
    differently while another member holds the new article as its start), the
    cluster's longest member (among its first CONFIRM_MEMBERS) must match it
    or confirm it (`confirms`), whether longer or shorter than the new
    article. A roundup that quotes a story's brief matches the brief but not
    the full story, and so stays out; so does a live blog that holds a brief
    whole but not the longer versions of the brief's story.
    """
    if not best_by_cluster:
        return ClusterChoice(None, ())
    strong = sorted(c for c, sim in best_by_cluster if sim.jaccard >= policy.merge_jaccard)
    if len(strong) >= 2:
        # The oldest cluster keeps its ID so that IDs handed out stay valid
        # for as many members as possible.
        return ClusterChoice(strong[0], tuple(strong[1:]))
    for cluster, sim in best_by_cluster:
        if sim.jaccard >= policy.merge_jaccard or confirmed(cluster):
            return ClusterChoice(cluster, ())
    return ClusterChoice(None, ())
