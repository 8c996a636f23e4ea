"""Clustering-quality metrics for the story-dedup benchmark (used by `bench/quality.py`).

Inputs are mappings article id -> story id (truth) and article id -> cluster id (prediction).
- Pair precision/recall/F1: over all pairs of articles, a true pair has one story id, a predicted
  pair one cluster id. Pairs listed as excluded (ambiguous labels) are left out.
- ARI: the adjusted Rand index (Hubert & Arabie), computed from the same pair counts, so it
  equals the textbook contingency-table formula when nothing is excluded (tested).
- Mixed clusters: predicted clusters that join articles of different stories (through at least
  one pair that is not excluded).
- Roundups merged: roundup articles whose cluster holds articles of >= 2 stories other than the
  roundup's own, i.e. the roundup glued stories it quotes.
- Truncated-copy recall: the share of truncated copies that sit in their story's cluster, the
  cluster holding most of the story's non-truncated articles (ties: the original's).

Tests: `uv run pytest tests/test_bench_metrics.py`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _sorted_pairs(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(a, b) if a < b else (b, a) for a, b in pairs if a != b}


@dataclass(frozen=True, slots=True)
class PairCounts:
    """Confusion counts over article pairs."""

    tp: int  # same story, same cluster
    fp: int  # different stories, same cluster
    fn: int  # same story, different clusters
    tn: int  # different stories, different clusters

    @property
    def precision(self) -> float:
        # No predicted pairs means nothing was wrongly joined.
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def ari(self) -> float:
        """Adjusted Rand index in its pair-counting form."""
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        denominator = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)
        if denominator == 0:
            return 1.0  # both partitions trivial and identical (all one cluster or all apart)
        return 2.0 * (tp * tn - fn * fp) / denominator


def _check_same_ids(truth: Mapping[str, str], predicted: Mapping[str, str]) -> None:
    if truth.keys() != predicted.keys():
        missing = len(truth.keys() - predicted.keys())
        extra = len(predicted.keys() - truth.keys())
        raise ValueError(f"prediction has {missing} articles missing and {extra} unknown")


def pair_counts(
    truth: Mapping[str, str],
    predicted: Mapping[str, str],
    excluded: Collection[tuple[str, str]] = (),
) -> PairCounts:
    """Pair confusion counts, leaving out the `excluded` pairs (in either order)."""
    _check_same_ids(truth, predicted)
    # Counting through the contingency table is linear in the articles; only the (few)
    # excluded pairs are looked at one by one.
    both = Counter((truth[a], predicted[a]) for a in truth)
    tp = sum(_pairs(n) for n in both.values())
    same_truth = sum(_pairs(n) for n in Counter(truth.values()).values())
    same_pred = sum(_pairs(n) for n in Counter(predicted.values()).values())
    fn = same_truth - tp
    fp = same_pred - tp
    tn = _pairs(len(truth)) - tp - fn - fp
    for a, b in _sorted_pairs(excluded):
        if a not in truth or b not in truth:
            continue
        same_story = truth[a] == truth[b]
        same_cluster = predicted[a] == predicted[b]
        if same_story and same_cluster:
            tp -= 1
        elif same_story:
            fn -= 1
        elif same_cluster:
            fp -= 1
        else:
            tn -= 1
    return PairCounts(tp, fp, fn, tn)


def adjusted_rand_index(truth: Mapping[str, str], predicted: Mapping[str, str]) -> float:
    """ARI from the contingency table (the textbook formula; no exclusions)."""
    _check_same_ids(truth, predicted)
    n = len(truth)
    index = sum(_pairs(c) for c in Counter((truth[a], predicted[a]) for a in truth).values())
    sum_truth = sum(_pairs(c) for c in Counter(truth.values()).values())
    sum_pred = sum(_pairs(c) for c in Counter(predicted.values()).values())
    total = _pairs(n)
    expected = sum_truth * sum_pred / total if total else 0.0
    maximum = (sum_truth + sum_pred) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def _members(predicted: Mapping[str, str]) -> dict[str, list[str]]:
    clusters: dict[str, list[str]] = defaultdict(list)
    for article, cluster in predicted.items():
        clusters[cluster].append(article)
    return clusters


def mixed_clusters(
    truth: Mapping[str, str],
    predicted: Mapping[str, str],
    excluded: Collection[tuple[str, str]] = (),
) -> int:
    """Clusters joining different stories through at least one non-excluded pair."""
    _check_same_ids(truth, predicted)
    excluded_cross: Counter[str] = Counter()
    for a, b in _sorted_pairs(excluded):
        if a in truth and b in truth and truth[a] != truth[b] and predicted[a] == predicted[b]:
            excluded_cross[predicted[a]] += 1
    mixed = 0
    for cluster, members in _members(predicted).items():
        stories = Counter(truth[a] for a in members)
        if len(stories) < 2:
            continue
        cross = _pairs(len(members)) - sum(_pairs(n) for n in stories.values())
        if cross > excluded_cross[cluster]:
            mixed += 1
    return mixed


def roundups_merged(
    truth: Mapping[str, str], predicted: Mapping[str, str], roundups: Iterable[str]
) -> int:
    """Roundups whose cluster holds articles of two or more other stories."""
    _check_same_ids(truth, predicted)
    members = _members(predicted)
    merged = 0
    for roundup in roundups:
        others = {truth[a] for a in members[predicted[roundup]]} - {truth[roundup]}
        if len(others) >= 2:
            merged += 1
    return merged


def truncated_recall(
    truth: Mapping[str, str], predicted: Mapping[str, str], kinds: Mapping[str, str]
) -> tuple[int, int]:
    """(truncated copies in their story's cluster, truncated copies with a story to join).

    A story's cluster is the one holding most of its non-truncated articles; ties go to the
    cluster of the story's original, then to the smallest cluster id (deterministic).
    """
    _check_same_ids(truth, predicted)
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    original_cluster: dict[str, str] = {}
    for article, story in truth.items():
        if kinds.get(article) == "truncated":
            continue
        votes[story][predicted[article]] += 1
        if kinds.get(article) == "original":
            original_cluster[story] = predicted[article]
    home: dict[str, str] = {}
    for story, counter in votes.items():
        best = max(counter.values())
        tied = sorted(c for c, n in counter.items() if n == best)
        home[story] = original_cluster[story] if original_cluster.get(story) in tied else tied[0]
    hits = total = 0
    for article, story in truth.items():
        if kinds.get(article) != "truncated" or story not in home:
            continue
        total += 1
        hits += predicted[article] == home[story]
    return hits, total


@dataclass(frozen=True, slots=True)
class Scores:
    """Everything the quality table prints for one system on one input kind."""

    pairs: PairCounts
    mixed_clusters: int
    clusters: int
    roundups_merged: int
    roundups: int
    truncated_hits: int
    truncated: int
    articles: int

    @property
    def truncated_recall(self) -> float:
        return self.truncated_hits / self.truncated if self.truncated else float("nan")


def evaluate(
    truth: Mapping[str, str],
    predicted: Mapping[str, str],
    kinds: Mapping[str, str],
    excluded: Collection[tuple[str, str]] = (),
) -> Scores:
    """All metrics at once; `kinds` maps article id -> kind ("roundup", "truncated", ...)."""
    roundups = [a for a in truth if kinds.get(a) == "roundup"]
    hits, total = truncated_recall(truth, predicted, kinds)
    return Scores(
        pairs=pair_counts(truth, predicted, excluded),
        mixed_clusters=mixed_clusters(truth, predicted, excluded),
        clusters=len(set(predicted.values())),
        roundups_merged=roundups_merged(truth, predicted, roundups),
        roundups=len(roundups),
        truncated_hits=hits,
        truncated=total,
        articles=len(truth),
    )


def fmt_score(value: float) -> str:
    """A score in the benchmark tables: three decimals, "n/a" for NaN."""
    return "  n/a" if math.isnan(value) else f"{value:.3f}"


def fmt_count(value: float) -> str:
    """A count in the benchmark tables, or a mean of counts to one decimal."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
