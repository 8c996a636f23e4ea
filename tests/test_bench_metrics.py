"""Tests of bench/metrics.py on small, hand-computed examples."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

# bench/ is a directory of scripts, not an installed package: import it from the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.metrics import (
    PairCounts,
    adjusted_rand_index,
    evaluate,
    mixed_clusters,
    pair_counts,
    roundups_merged,
    truncated_recall,
)

# Stories: s1 = {a, b, c}, s2 = {d, e}, s3 = {f}. Clusters: {a, b}, {c, d}, {e, f}.
TRUTH = {"a": "s1", "b": "s1", "c": "s1", "d": "s2", "e": "s2", "f": "s3"}
PRED = {"a": "c1", "b": "c1", "c": "c2", "d": "c2", "e": "c3", "f": "c3"}


def test_pair_counts_by_hand() -> None:
    # 15 pairs; true: ab ac bc de; predicted: ab cd ef.
    counts = pair_counts(TRUTH, PRED)
    assert counts == PairCounts(tp=1, fp=2, fn=3, tn=9)
    assert counts.precision == pytest.approx(1 / 3)
    assert counts.recall == pytest.approx(1 / 4)
    assert counts.f1 == pytest.approx(2 / 7)


def test_ari_by_hand_and_both_formulas_agree() -> None:
    # Contingency: index 1, sum over stories 4, over clusters 3, expected 4*3/15 = 0.8,
    # maximum 3.5: (1 - 0.8) / (3.5 - 0.8) = 2/27.
    assert adjusted_rand_index(TRUTH, PRED) == pytest.approx(2 / 27)
    assert pair_counts(TRUTH, PRED).ari == pytest.approx(2 / 27)


def test_ari_formulas_agree_on_random_partitions() -> None:
    rng = random.Random(3)
    for _ in range(50):
        ids = [f"x{i}" for i in range(rng.randint(2, 40))]
        truth = {i: f"s{rng.randint(0, 5)}" for i in ids}
        pred = {i: f"c{rng.randint(0, 7)}" for i in ids}
        assert pair_counts(truth, pred).ari == pytest.approx(adjusted_rand_index(truth, pred))


def test_perfect_and_degenerate_clusterings() -> None:
    perfect = {a: f"k-{s}" for a, s in TRUTH.items()}
    assert pair_counts(TRUTH, perfect).f1 == 1.0
    assert adjusted_rand_index(TRUTH, perfect) == pytest.approx(1.0)
    singletons = {a: a for a in TRUTH}
    counts = pair_counts(TRUTH, singletons)
    assert (counts.precision, counts.recall, counts.f1) == (1.0, 0.0, 0.0)
    assert adjusted_rand_index(TRUTH, singletons) == pytest.approx(0.0)
    one_cluster = dict.fromkeys(TRUTH, "all")
    assert pair_counts(TRUTH, one_cluster).precision == pytest.approx(4 / 15)


def test_excluded_pairs_leave_the_counts() -> None:
    # (d, c) was a false positive; given in either order it disappears.
    counts = pair_counts(TRUTH, PRED, excluded=[("d", "c")])
    assert counts == PairCounts(tp=1, fp=1, fn=3, tn=9)
    assert counts.precision == pytest.approx(1 / 2)
    # An excluded true negative and an excluded false negative.
    assert pair_counts(TRUTH, PRED, excluded=[("a", "f"), ("c", "a")]) == PairCounts(
        tp=1, fp=2, fn=2, tn=8
    )


def test_mixed_clusters() -> None:
    assert mixed_clusters(TRUTH, PRED) == 2  # {c, d} and {e, f}
    assert mixed_clusters(TRUTH, PRED, excluded=[("c", "d")]) == 1
    assert mixed_clusters(TRUTH, {a: f"k-{s}" for a, s in TRUTH.items()}) == 0


def test_roundups_merged() -> None:
    truth = {**TRUTH, "r1": "R1", "r2": "R2"}
    pred = {**PRED, "r1": "c2", "r2": "c1"}  # r1 sits with c (s1) and d (s2); r2 with s1 only
    assert roundups_merged(truth, pred, ["r1", "r2"]) == 1
    assert roundups_merged(truth, {**pred, "r1": "alone"}, ["r1", "r2"]) == 0


def test_truncated_recall() -> None:
    truth = {"o": "s", "c1": "s", "c2": "s", "t1": "s", "t2": "s", "p": "u", "q": "u", "tu": "u"}
    kinds = {
        "o": "original",
        "c1": "copy",
        "c2": "copy",
        "t1": "truncated",
        "t2": "truncated",
        "p": "original",
        "q": "copy",
        "tu": "truncated",
    }
    # Story s: home X (o, c1 against c2 in Y): t1 in X hits, t2 in Y misses.
    # Story u: tie between Z (the original's) and Q: home is Z, not the smaller id; tu in Z hits.
    pred = {"o": "X", "c1": "X", "c2": "Y", "t1": "X", "t2": "Y", "p": "Z", "q": "Q", "tu": "Z"}
    assert truncated_recall(truth, pred, kinds) == (2, 3)
    assert truncated_recall(truth, {**pred, "tu": "Q"}, kinds) == (1, 3)


def test_evaluate_collects_everything_and_checks_ids() -> None:
    kinds = dict.fromkeys(TRUTH, "copy")
    scores = evaluate(TRUTH, PRED, kinds)
    assert scores.pairs.f1 == pytest.approx(2 / 7)
    assert (scores.mixed_clusters, scores.clusters, scores.articles) == (2, 3, 6)
    assert scores.truncated == 0
    with pytest.raises(ValueError, match="missing"):
        evaluate(TRUTH, {k: v for k, v in PRED.items() if k != "a"}, kinds)
