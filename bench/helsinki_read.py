"""Reading aid for labelling the Helsinki part by hand (docs/quality-corpus.md, "Read labels").

The texts are read at run time from the shared data (they carry no licence and are not stored in
the repository); only ids and verdicts go into bench/helsinki_reading.json.

    uv run python bench/helsinki_read.py worklist > /tmp/worklist.json
        # unit pairs to read: rule groups (and lone articles) whose closest articles share
        # at least --min-containment of the shorter one's word 5-grams, with that closest pair
    uv run python bench/helsinki_read.py pair 10043 2522
        # two articles, every paragraph numbered; for each paragraph of the shorter one, the
        # paragraph of the longer one that carries most of its word 3-grams
    uv run python bench/helsinki_read.py group 10043
        # the members of the rule group holding article 10043, with their direct containments
    uv run python bench/helsinki_read.py article 10043
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import (
    DEFAULT_DATA_DIR,
    HELSINKI_EXCLUDED_PUBLISHERS,
    HelsinkiItem,
    HelsinkiLabels,
    label_helsinki,
    load_helsinki,
    norm_words,
    shingles,
)


def _items(data_dir: Path) -> dict[str, HelsinkiItem]:
    return {
        it.csv_id: it
        for it in load_helsinki(data_dir)
        if it.publisher not in HELSINKI_EXCLUDED_PUBLISHERS
    }


def _words(item: HelsinkiItem) -> int:
    return sum(len(p.split()) for p in item.paragraphs)


def _header(item: HelsinkiItem) -> str:
    return (
        f"[{item.csv_id}] {item.publisher} {item.scraped_at:%Y-%m-%d %H:%M} UTC, "
        f"{_words(item)} words, {len(item.paragraphs)} paragraphs\n  TITLE: {item.title}"
    )


def show_article(item: HelsinkiItem) -> str:
    lines = [_header(item)]
    lines += [f"  {n:>2}. {p}" for n, p in enumerate(item.paragraphs, 1)]
    return "\n".join(lines)


def show_pair(a: HelsinkiItem, b: HelsinkiItem, labels: HelsinkiLabels) -> str:
    short, long_ = sorted((a, b), key=_words)
    pair = (min(a.csv_id, b.csv_id), max(a.csv_id, b.csv_id))
    out = [
        f"5-gram containment of the shorter in the longer: "
        f"{labels.pair_containment.get(pair, 0.0):.2f}; rule groups "
        f"{labels.group_of[a.csv_id]} / {labels.group_of[b.csv_id]}",
        "SHORTER " + show_article(short),
        "LONGER " + show_article(long_),
        "ALIGNMENT (shorter paragraph -> longer paragraph carrying most of its word 3-grams):",
    ]
    long_grams = [shingles(norm_words(p), 3) for p in long_.paragraphs]
    for n, paragraph in enumerate(short.paragraphs, 1):
        grams = shingles(norm_words(paragraph), 3)
        if not grams:
            continue
        best, share = 0, 0.0
        for m, other in enumerate(long_grams, 1):
            s = len(grams & other) / len(grams)
            if s > share:
                best, share = m, s
        out.append(f"  {n:>2} -> {best if share else '-':>2}  {share:.2f}")
    return "\n".join(out)


def show_group(group: str, items: dict[str, HelsinkiItem], labels: HelsinkiLabels) -> str:
    members = sorted(i for i, g in labels.group_of.items() if g == group)
    out = [f"rule group {group}: {len(members)} articles"]
    for i in members:
        it = items[i]
        out.append(_header(it))
        # Scraped pages often open with weather boxes, bylines and captions: show prose.
        prose = [p for p in it.paragraphs if len(p.split()) >= 12] or list(it.paragraphs)
        out += [f"     {p[:300]}" for p in prose[:3]]
    out.append("direct 5-gram containments within the group (pairs at >= 0.1):")
    for x, y in itertools.combinations(members, 2):
        c = labels.pair_containment.get((x, y), 0.0)
        if c >= 0.1:
            out.append(f"  {x} {y} {c:.2f}")
    return "\n".join(out)


def worklist(
    labels: HelsinkiLabels, min_containment: float, sample_below: float, sample: int, seed: int
) -> list[dict[str, object]]:
    """Unit pairs (rule groups, lone articles counting as groups of one) with their closest
    article pair: all at or above `min_containment`, plus `sample` drawn at random from
    [sample_below, min_containment)."""
    closest: dict[tuple[str, str], tuple[float, str, str]] = {}
    for (a, b), c in labels.pair_containment.items():
        ga, gb = labels.group_of[a], labels.group_of[b]
        if ga == gb or c < sample_below:
            continue
        key = (min(ga, gb), max(ga, gb))
        if key not in closest or c > closest[key][0]:
            closest[key] = (c, a, b)
    size: dict[str, int] = defaultdict(int)
    for g in labels.group_of.values():
        size[g] += 1
    rows = [
        {"a": a, "b": b, "containment": round(c, 3), "group_sizes": [size[ga], size[gb]]}
        for (ga, gb), (c, a, b) in sorted(closest.items())
    ]
    high = [r for r in rows if float(str(r["containment"])) >= min_containment]
    low = [r for r in rows if float(str(r["containment"])) < min_containment]
    rng = random.Random(seed)
    return high + sorted(rng.sample(low, min(sample, len(low))), key=lambda r: str(r["a"]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pair")
    p.add_argument("a")
    p.add_argument("b")
    g = sub.add_parser("group")
    g.add_argument("article")
    a = sub.add_parser("article")
    a.add_argument("article")
    w = sub.add_parser("worklist")
    w.add_argument("--min-containment", type=float, default=0.15)
    w.add_argument("--sample-below", type=float, default=0.1)
    w.add_argument("--sample", type=int, default=60)
    w.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    items = _items(args.data)
    labels = label_helsinki(list(items.values()))
    if args.command == "pair":
        print(show_pair(items[args.a], items[args.b], labels))
    elif args.command == "group":
        print(show_group(labels.group_of[args.article], items, labels))
    elif args.command == "article":
        print(show_article(items[args.article]))
    else:
        rows = worklist(labels, args.min_containment, args.sample_below, args.sample, args.seed)
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
