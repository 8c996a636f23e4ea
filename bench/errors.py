"""Error listing for `bench/quality.py --in-process --errors`: what the scores count against
storydedup, with the cleaned texts and the pair similarities the matching rules saw.

- mixed clusters: every member (arrival index, story, kind, source, shingles, title, start of
  its cleaned text), the cross-story pairs with their similarity, and the links that could
  have joined them (pairs that match, or resemble at >= 0.25);
- missed truncated copies: the copy's cleaned text and its similarity to every member of its
  story's cluster, whether that member shares an LSH bucket with it (a candidate or not) and
  whether it arrived before or after the copy;
- missed pairs: the stories with the most same-story pairs split over clusters, each with its
  clusters' sizes and the best similarity across them.

Similarities are recomputed from the fingerprints the pipeline indexed (`policy.compare`).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import TextIO

from storydedup.clustering.policy import MatchPolicy, Similarity, compare, is_match
from storydedup.store.base import Probe

from bench.corpus import BenchArticle, Corpus

# Articles' cleaned text shown per line, in characters.
SHOW_CHARS = 200


def _similarity(a: Probe, b: Probe) -> tuple[Similarity, bool]:
    sim = compare(a.signature, b.signature, a.shingle_count, b.shingle_count, a.prefix, b.prefix)
    return sim, is_match(MatchPolicy(), sim, a.shingle_count, b.shingle_count)


def _fmt(sim: Similarity, matched: bool) -> str:
    return (
        f"J={sim.jaccard:.2f} C={sim.containment:.2f} P={sim.prefix:.2f}@{sim.prefix_length}"
        f" match={'yes' if matched else 'no'}"
    )


def _line(text: str) -> str:
    return text[:SHOW_CHARS].replace("\n\n", " | ").replace("\n", " ")


def _home_clusters(
    articles: Sequence[BenchArticle], predicted: Mapping[str, str]
) -> dict[str, str]:
    """Each story's cluster as bench/metrics.py's truncated recall defines it."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    original: dict[str, str] = {}
    for a in articles:
        if a.kind == "truncated":
            continue
        votes[a.story_id][predicted[a.article_id]] += 1
        if a.kind == "original":
            original[a.story_id] = predicted[a.article_id]
    home: dict[str, str] = {}
    for story, counter in votes.items():
        best = max(counter.values())
        tied = sorted(c for c, n in counter.items() if n == best)
        home[story] = original[story] if original.get(story) in tied else tied[0]
    return home


def report(
    corpus: Corpus,
    predicted: Mapping[str, str],
    texts: Mapping[str, str],
    probes: Mapping[str, Probe],
    out: TextIO,
    missed_stories: int = 15,
) -> None:
    articles = corpus.articles
    by_id = {a.article_id: a for a in articles}
    order = {a.article_id: i for i, a in enumerate(articles)}
    excluded: frozenset[tuple[str, str]] = frozenset()  # the read labels exclude nothing
    members: dict[str, list[str]] = defaultdict(list)
    for a in articles:
        members[predicted[a.article_id]].append(a.article_id)

    def key(x: str, y: str) -> tuple[str, str]:
        return (x, y) if x < y else (y, x)

    def describe(aid: str, indent: str = "  ") -> None:
        a = by_id[aid]
        print(
            f"{indent}[{order[aid]}] {a.story_id} {a.kind} {a.source}"
            f" sh={probes[aid].shingle_count} title={a.title[:60]!r}",
            file=out,
        )
        print(f"{indent}    {_line(texts[aid])}", file=out)

    print("\n===== MIXED CLUSTERS", file=out)
    for cluster, ids in members.items():
        stories = Counter(by_id[a].story_id for a in ids)
        if len(stories) < 2:
            continue
        cross = [
            (x, y)
            for x, y in itertools.combinations(sorted(ids, key=order.__getitem__), 2)
            if by_id[x].story_id != by_id[y].story_id and key(x, y) not in excluded
        ]
        if not cross:
            continue
        print(f"\n--- cluster {cluster}: {dict(stories)}; {len(cross)} cross pairs", file=out)
        for aid in sorted(ids, key=order.__getitem__):
            describe(aid)
        for x, y in cross[:12]:
            print(
                f"  cross [{order[x]}]-[{order[y]}] {_fmt(*_similarity(probes[x], probes[y]))}",
                file=out,
            )
        ordered = sorted(ids, key=order.__getitem__)
        for i, y in enumerate(ordered):
            for x in ordered[:i]:
                sim, matched = _similarity(probes[y], probes[x])
                if matched or sim.jaccard >= 0.25:
                    label = (
                        "excluded"
                        if key(x, y) in excluded
                        else "same"
                        if by_id[x].story_id == by_id[y].story_id
                        else "DIFFERENT"
                    )
                    print(
                        f"    link [{order[y]}]->[{order[x]}] {label} {_fmt(sim, matched)}"
                        f" sh {probes[y].shingle_count}/{probes[x].shingle_count}",
                        file=out,
                    )

    print("\n===== MISSED TRUNCATED COPIES", file=out)
    home = _home_clusters(articles, predicted)
    for a in articles:
        if a.kind != "truncated" or a.story_id not in home:
            continue
        aid = a.article_id
        if predicted[aid] == home[a.story_id]:
            continue
        mates = [
            by_id[m].story_id + ":" + by_id[m].kind for m in members[predicted[aid]] if m != aid
        ]
        print(f"\n--- in cluster of {mates}", file=out)
        describe(aid, "")
        print(f"    true body: {_line(a.body)}", file=out)
        refs = set(probes[aid].bucket_refs)
        for m in sorted(members[home[a.story_id]], key=order.__getitem__):
            shared = len(refs & set(probes[m].bucket_refs))
            when = "before" if order[m] < order[aid] else "after"
            print(
                f"  vs [{order[m]}] {by_id[m].kind} sh={probes[m].shingle_count}"
                f" {_fmt(*_similarity(probes[aid], probes[m]))} buckets={shared} {when}",
                file=out,
            )
            print(f"      {_line(texts[m])}", file=out)

    print("\n===== MISSED PAIRS (stories with the most same-story pairs split)", file=out)
    by_story: dict[str, list[str]] = defaultdict(list)
    for a in articles:
        by_story[a.story_id].append(a.article_id)
    missed: list[tuple[int, str]] = []
    for story, ids in by_story.items():
        n = sum(
            1
            for x, y in itertools.combinations(ids, 2)
            if predicted[x] != predicted[y] and key(x, y) not in excluded
        )
        if n:
            missed.append((n, story))
    missed.sort(reverse=True)
    print(f"{sum(n for n, _ in missed)} missed pairs in {len(missed)} stories", file=out)
    for n, story in missed[:missed_stories]:
        ids = by_story[story]
        parts: dict[str, list[str]] = defaultdict(list)
        for aid in ids:
            parts[predicted[aid]].append(aid)
        sizes = sorted((len(v) for v in parts.values()), reverse=True)
        best: tuple[float, str] = (-1.0, "")
        for x, y in itertools.combinations(ids, 2):
            if predicted[x] == predicted[y] or key(x, y) in excluded:
                continue
            sim, matched = _similarity(probes[x], probes[y])
            if sim.jaccard > best[0]:
                best = (sim.jaccard, f"[{order[x]}]-[{order[y]}] {_fmt(sim, matched)}")
        print(f"  {story}: {n} pairs missed; clusters {sizes}; best across: {best[1]}", file=out)
