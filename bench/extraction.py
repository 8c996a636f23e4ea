"""Main-text and title extraction from news HTML: accuracy and speed.

Runs trafilatura and resiliparse in several configurations, a combination of
the two, and storydedup's own `extract_article` on the 181 real pages of the
article-extraction-benchmark (https://github.com/scrapinghub/article-extraction-benchmark)
and scores each output against the ground-truth article body the way the
benchmark's evaluate.py does: tokens are runs of word characters, a page's
precision and recall count its 4-token shingles (as a bag), and precision and
recall are averaged over pages before F1 is taken from the two means; F1 is
given with its bootstrap standard deviation. Also reported: the mean of the
per-page F1 over single tokens (bag of words), the share of pages whose
shingle F1 is at least 0.9, the share reproduced exactly, and the worst pages.

Speed is single-process wall time per page (time.perf_counter), the minimum
of `--repeats` interleaved runs so that other load on the machine counts as
little as possible; mean, 95th percentile and pages/s follow from it.

Titles have no ground truth in the benchmark; for each method the table
gives how often one is found, how often the site's name is left in it, the
share of the URL slug's words it contains, and its cost.

Run from the repository root:

    uv run python bench/extraction.py [--data DIR] [--repeats N] [--worst N] [--dump FILE]

`--data` defaults to $STORYDEDUP_BENCH_DATA/raw/article-extraction-benchmark (the data root
defaulting to /work/shared/data). A run takes about 8 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import trafilatura
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree
from storydedup.cleaning.html import HtmlExtractionError, extract_article

# The project's benchmark data root, as bench/corpus.py reads it.
DEFAULT_DATA = (
    Path(os.environ.get("STORYDEDUP_BENCH_DATA", "/work/shared/data"))
    / "raw"
    / "article-extraction-benchmark"
)
SHINGLE = 4  # evaluate.py's ngram_n
GOOD_F1 = 0.9
BOOTSTRAP_SAMPLES = 1000
FALLBACK_RATIOS = (0.3, 0.4, 0.5, 0.6, 0.7)

_TOKEN = re.compile(r"\w+")  # evaluate.py's tokenizer
_SEPARATOR = re.compile(r"\s+(?:\||::|-|–|—|·|•|»|:)\s+")
_NON_ALNUM = re.compile(r"[\W_]+")

Extract = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Page:
    id: str
    url: str
    html: str
    body: str


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    extract: Extract


@dataclass(frozen=True, slots=True)
class PageScore:
    precision: float
    recall: float
    f1: float
    token_f1: float
    exact: bool


@dataclass(frozen=True, slots=True)
class Result:
    method: str
    outputs: dict[str, str]
    scores: dict[str, PageScore]
    seconds: dict[str, float]


# --- extractors ---------------------------------------------------------------------------


def _trafilatura(
    *,
    comments: bool = False,
    precision: bool = False,
    recall: bool = False,
    tables: bool = True,
    fast: bool = False,
) -> Extract:
    def run(html: str) -> str:
        text = trafilatura.extract(
            html,
            include_comments=comments,
            favor_precision=precision,
            favor_recall=recall,
            include_tables=tables,
            fast=fast,
        )
        return text or ""

    return run


def _resiliparse(
    *,
    formatting: bool = True,
    extras: bool = True,
    comments: bool = True,
    post_meta: bool = True,
) -> Extract:
    def run(html: str) -> str:
        return extract_plain_text(
            html,
            preserve_formatting=formatting,
            main_content=True,
            # Alt texts and list bullets are on by default and in no ground truth;
            # link targets (links=True) are off by default and stay off.
            alt_texts=extras,
            links=False,
            list_bullets=extras,
            comments=comments,
            post_meta=post_meta,
        )

    return run


_trafilatura_precision = _trafilatura(precision=True)
_resiliparse_tuned = _resiliparse(extras=False, comments=False, post_meta=False)


def _word_count(text: str) -> int:
    return len(_TOKEN.findall(text))


def _combine(first: Extract) -> Extract:
    def run(html: str) -> str:
        # `first`'s text unless it has fewer than half of resiliparse's words.
        text, resilient = first(html), _resiliparse_tuned(html)
        return resilient if _word_count(text) < 0.5 * _word_count(resilient) else text

    return run


def _storydedup(html: str) -> str:
    try:
        return extract_article(html).text
    except HtmlExtractionError:
        return ""


METHODS: tuple[Method, ...] = (
    Method("trafilatura defaults (comments in)", _trafilatura(comments=True)),
    Method("trafilatura no comments", _trafilatura()),
    Method("trafilatura favor_precision", _trafilatura_precision),
    Method("trafilatura favor_recall", _trafilatura(recall=True)),
    Method("trafilatura no tables", _trafilatura(tables=False)),
    Method("trafilatura fast", _trafilatura(fast=True)),
    Method("trafilatura favor_precision fast", _trafilatura(precision=True, fast=True)),
    Method("resiliparse main_content", _resiliparse()),
    Method("resiliparse -alt_texts -bullets", _resiliparse(extras=False)),
    Method("resiliparse ... -comments", _resiliparse(extras=False, comments=False)),
    Method("resiliparse ... -comments -post_meta", _resiliparse_tuned),
    Method(
        "resiliparse ... no preserve_formatting",
        _resiliparse(formatting=False, extras=False, comments=False, post_meta=False),
    ),
    Method("combined (traf. precision, resil. if <50%)", _combine(_trafilatura_precision)),
    Method(
        "combined fast (traf. precision fast, ...)",
        _combine(_trafilatura(precision=True, fast=True)),
    ),
    Method("storydedup extract_article", _storydedup),
)
PRECISION_NAME = "trafilatura favor_precision"
RESILIPARSE_NAME = "resiliparse ... -comments -post_meta"
COMBINED_NAME = "combined (traf. precision, resil. if <50%)"
COMBINED_FAST_NAME = "combined fast (traf. precision fast, ...)"
SHIPPED_NAME = "storydedup extract_article"


# --- scoring (evaluate.py) ----------------------------------------------------------------


def _shingles(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    # As evaluate.py: a text shorter than n tokens is one short shingle, none is none.
    if not tokens:
        return Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))


def _precision_recall(
    true: Counter[tuple[str, ...]], pred: Counter[tuple[str, ...]]
) -> tuple[float, float]:
    # evaluate.py's tp/fp/fn over bags; an empty side scores 0, both empty 1.
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    if fp == fn == 0:
        return 1.0, 1.0
    precision = 0.0 if tp == fp == 0 else tp / (tp + fp)
    recall = 0.0 if tp == fn == 0 else tp / (tp + fn)
    return precision, recall


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def score_page(true: str, pred: str) -> PageScore:
    true_tokens, pred_tokens = _TOKEN.findall(true), _TOKEN.findall(pred)
    precision, recall = _precision_recall(
        _shingles(true_tokens, SHINGLE), _shingles(pred_tokens, SHINGLE)
    )
    token_precision, token_recall = _precision_recall(
        _shingles(true_tokens, 1), _shingles(pred_tokens, 1)
    )
    return PageScore(
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        token_f1=_f1(token_precision, token_recall),
        exact=true_tokens == pred_tokens,
    )


def benchmark_f1(scores: Sequence[PageScore]) -> tuple[float, float, float]:
    """Mean precision, mean recall and the F1 of the two, as evaluate.py."""
    precision = statistics.mean(s.precision for s in scores)
    recall = statistics.mean(s.recall for s in scores)
    return precision, recall, _f1(precision, recall)


def bootstrap_std(
    scores: Sequence[PageScore],
    other: Sequence[PageScore] | None = None,
    samples: int = BOOTSTRAP_SAMPLES,
) -> tuple[float, float]:
    """Mean and std of F1 (or of F1 minus `other`'s F1 on the same resampled pages)."""
    rng = random.Random(0)
    values = []
    for _ in range(samples):
        picks = [rng.randrange(len(scores)) for _ in scores]
        value = benchmark_f1([scores[i] for i in picks])[2]
        if other is not None:
            value -= benchmark_f1([other[i] for i in picks])[2]
        values.append(value)
    return statistics.mean(values), statistics.stdev(values)


# --- titles -------------------------------------------------------------------------------


def _meta(tree: HTMLTree, selector: str) -> str:
    root = tree.document
    node = root.query_selector(selector) if root is not None else None
    return (node.getattr("content") or "") if node is not None else ""


def title_tag(html: str) -> str:
    return " ".join((HTMLTree.parse(html).title or "").split())


def og_title(html: str) -> str:
    return " ".join(_meta(HTMLTree.parse(html), 'meta[property="og:title"]').split())


def trafilatura_title(html: str) -> str:
    metadata = trafilatura.extract_metadata(html)
    return (metadata.title or "") if metadata is not None else ""


def storydedup_title(html: str) -> str:
    try:
        return extract_article(html).title
    except HtmlExtractionError:
        return ""


TITLE_METHODS: tuple[tuple[str, Extract], ...] = (
    ("<title>", title_tag),
    ("og:title", og_title),
    ("trafilatura metadata", trafilatura_title),
    ("storydedup extract_article (title and body)", storydedup_title),
)


def _key(text: str) -> str:
    return _NON_ALNUM.sub("", text.casefold())


def site_keys(page: Page) -> set[str]:
    """Names of the site: host labels of the page URL and its og:site_name."""
    host = (urlsplit(page.url).hostname or "").removeprefix("www.")
    names = [
        host,
        *host.split(".")[:-1],
        _meta(HTMLTree.parse(page.html), 'meta[property="og:site_name"]'),
    ]
    return {key for key in map(_key, names) if len(key) >= 3}


def names_site(title: str, sites: set[str]) -> bool:
    """Whether the title's last separated segment is the site's name."""
    parts = _SEPARATOR.split(title)
    if len(parts) < 2:
        return False
    tail = _key(parts[-1])
    return len(tail) >= 3 and any(tail == s or s in tail or tail in s for s in sites)


def slug_words(url: str) -> list[str]:
    """Words of the URL's last path segment, if it reads like a headline slug."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if not segments:
        return []
    slug = re.sub(r"\.(html?|php|aspx?)$", "", segments[-1].casefold())
    words = [w for w in re.split(r"[-_+]", slug) if w.isalpha() and len(w) >= 2]
    return words if len(words) >= 3 else []


# --- running ------------------------------------------------------------------------------


def load_pages(data: Path) -> list[Page]:
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, item in sorted(truth.items()):
        with gzip.open(data / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as f:
            html = f.read()
        pages.append(Page(page_id, item.get("url", ""), html, item["articleBody"]))
    return pages


def run_methods(
    pages: Sequence[Page], methods: Sequence[tuple[str, Extract]], repeats: int
) -> dict[str, tuple[dict[str, str], dict[str, float]]]:
    """Outputs of a first (warm-up) pass and per-page minimum seconds of `repeats` more."""
    outputs: dict[str, dict[str, str]] = {name: {} for name, _ in methods}
    seconds: dict[str, dict[str, float]] = {name: {} for name, _ in methods}
    for attempt in range(repeats + 1):
        # Interleaved, so that drift in the machine's load hits every method alike.
        for page in pages:
            for name, extract in methods:
                start = time.perf_counter()
                text = extract(page.html)
                elapsed = time.perf_counter() - start
                if attempt == 0:
                    outputs[name][page.id] = text
                else:
                    best = seconds[name].get(page.id, elapsed)
                    seconds[name][page.id] = min(best, elapsed)
        print(f"  pass {attempt + 1}/{repeats + 1} done", file=sys.stderr, flush=True)
    return {name: (outputs[name], seconds[name]) for name, _ in methods}


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def machine() -> str:
    fields: dict[str, str] = {}
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                break  # the first processor is enough
            name, _, value = line.partition(":")
            fields.setdefault(name.strip(), value.strip())
    # A virtual machine's "Xeon Processor" says little without family, model and clock.
    model = (
        f"{fields.get('model name', 'unknown')} (family {fields.get('cpu family', '?')}, "
        f"model {fields.get('model', '?')}, {fields.get('cpu MHz', '?')} MHz)"
    )
    with open("/proc/loadavg", encoding="utf-8") as f:
        load = " ".join(f.read().split()[:3])
    libraries = ", ".join(
        f"{name} {version(name)}" for name in ("trafilatura", "resiliparse", "lxml")
    )
    return (
        f"{os.cpu_count()} cores, {model}; Python {platform.python_version()} "
        f"({platform.machine()}, {platform.system()}); {libraries}; load average {load}"
    )


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    print(line(header))
    print(
        "|"
        + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths))
        + "|"
    )
    for row in rows:
        print(line(row))


def report_bodies(pages: Sequence[Page], results: dict[str, Result], worst: int) -> None:
    print(f"\n## Article body (n = {len(pages)} pages)\n")
    header = (
        "method",
        "precision",
        "recall",
        "F1 ± std",
        "token F1",
        "F1>=0.9",
        "exact",
        "empty",
        "mean ms",
        "p95 ms",
        "pages/s",
    )
    rows = []
    for name, result in results.items():
        scores = [result.scores[p.id] for p in pages]
        seconds = [result.seconds[p.id] for p in pages]
        precision, recall, f1 = benchmark_f1(scores)
        _, std = bootstrap_std(scores)
        mean_ms = 1000 * statistics.mean(seconds)
        rows.append(
            (
                name,
                f"{precision:.3f}",
                f"{recall:.3f}",
                f"{f1:.3f} ± {std:.3f}",
                f"{statistics.mean(s.token_f1 for s in scores):.3f}",
                f"{sum(s.f1 >= GOOD_F1 for s in scores) / len(scores):.1%}",
                f"{sum(s.exact for s in scores) / len(scores):.1%}",
                str(sum(not result.outputs[p.id].strip() for p in pages)),
                f"{mean_ms:.2f}",
                f"{1000 * percentile(seconds, 0.95):.2f}",
                f"{1000 / mean_ms:.0f}",
            )
        )
    print_table(header, rows)

    print("\n## Paired bootstrap: F1 difference on the same resampled pages\n")
    pairs = [
        (COMBINED_NAME, PRECISION_NAME),
        (COMBINED_NAME, "trafilatura no comments"),
        (COMBINED_NAME, COMBINED_FAST_NAME),
        (COMBINED_FAST_NAME, PRECISION_NAME),
        (PRECISION_NAME, "trafilatura no comments"),
        (PRECISION_NAME, RESILIPARSE_NAME),
        (SHIPPED_NAME, COMBINED_NAME),
    ]
    diff_rows = []
    for a, b in pairs:
        first = [results[a].scores[p.id] for p in pages]
        second = [results[b].scores[p.id] for p in pages]
        mean, std = bootstrap_std(first, second)
        diff_rows.append((f"{a}  minus  {b}", f"{mean:+.3f} ± {std:.3f}"))
    print_table(("comparison", "F1 difference"), diff_rows)

    print("\n## Combined strategy: resiliparse replaces trafilatura below a word ratio\n")
    precise, resilient = results[PRECISION_NAME].outputs, results[RESILIPARSE_NAME].outputs
    sweep_rows = []
    for ratio in FALLBACK_RATIOS:
        switched = {
            p.id for p in pages if _word_count(precise[p.id]) < ratio * _word_count(resilient[p.id])
        }
        scores = [
            score_page(p.body, resilient[p.id] if p.id in switched else precise[p.id])
            for p in pages
        ]
        precision, recall, f1 = benchmark_f1(scores)
        sweep_rows.append(
            (
                f"{ratio:.1f}",
                str(len(switched)),
                f"{precision:.3f}",
                f"{recall:.3f}",
                f"{f1:.3f}",
                f"{sum(s.f1 >= GOOD_F1 for s in scores) / len(scores):.1%}",
            )
        )
    print_table(("ratio", "pages switched", "precision", "recall", "F1", "F1>=0.9"), sweep_rows)

    shown = (SHIPPED_NAME, PRECISION_NAME, RESILIPARSE_NAME)
    print(f"\n## {worst} worst pages of {SHIPPED_NAME} (F1 precision/recall per method)\n")
    shipped = results[SHIPPED_NAME].scores
    worst_rows = []
    for page in sorted(pages, key=lambda p: shipped[p.id].f1)[:worst]:
        cells = [f"{page.url[:70]}"]
        for name in shown:
            s = results[name].scores[page.id]
            cells.append(f"{s.f1:.2f} ({s.precision:.2f}/{s.recall:.2f})")
        worst_rows.append(cells)
    print_table(("page", *shown), worst_rows)

    all_fail = [p for p in pages if max(r.scores[p.id].f1 for r in results.values()) < GOOD_F1]
    print(f"\nPages where no method reaches F1 {GOOD_F1}: {len(all_fail)}")
    for page in all_fail:
        best = max(results.values(), key=lambda r: r.scores[page.id].f1)
        print(f"  {page.url[:90]}  best {best.scores[page.id].f1:.3f} ({best.method})")


def report_titles(pages: Sequence[Page], repeats: int) -> None:
    print("\n## Titles (no ground truth: found, site name left in, URL-slug words covered)\n")
    timed = run_methods(pages, TITLE_METHODS, repeats)
    sites = {p.id: site_keys(p) for p in pages}
    slugs = {p.id: slug_words(p.url) for p in pages}
    with_slug = [p for p in pages if slugs[p.id]]
    rows = []
    for name, (titles, seconds) in timed.items():
        found = [p for p in pages if titles[p.id]]
        leaked = sum(names_site(titles[p.id], sites[p.id]) for p in found)
        coverage = statistics.mean(
            len(set(slugs[p.id]) & set(_TOKEN.findall(titles[p.id].casefold())))
            / len(set(slugs[p.id]))
            for p in with_slug
        )
        rows.append(
            (
                name,
                f"{len(found) / len(pages):.1%}",
                f"{leaked / max(1, len(found)):.1%}",
                f"{coverage:.1%}",
                f"{1000 * statistics.mean(seconds.values()):.2f}",
            )
        )
    print_table(("method", "found", "site name left", "slug words", "mean ms"), rows)
    print(f"\n(slug words: mean over the {len(with_slug)} pages whose URL ends in a 3+ word slug)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmark folder")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes after warm-up")
    parser.add_argument("--worst", type=int, default=12, help="worst pages to list")
    parser.add_argument("--dump", type=Path, help="write every output here as JSON")
    args = parser.parse_args(argv)

    pages = load_pages(args.data)
    print(f"# Extraction benchmark: {len(pages)} pages from {args.data}\n")
    print(f"Machine: {machine()}")
    print(f"Timing: single process, per-page minimum of {args.repeats} runs after a warm-up run")
    print("Scoring: article-extraction-benchmark evaluate.py (\\w+ tokens, 4-token shingles)")

    methods = [(m.name, m.extract) for m in METHODS]
    timed = run_methods(pages, methods, args.repeats)
    results = {
        name: Result(
            method=name,
            outputs=outputs,
            scores={p.id: score_page(p.body, outputs[p.id]) for p in pages},
            seconds=seconds,
        )
        for name, (outputs, seconds) in timed.items()
    }
    report_bodies(pages, results, args.worst)
    report_titles(pages, args.repeats)
    print(f"\nLoad average at the end: {machine().rsplit('load average ', 1)[1]}")
    if args.dump:
        dump = {name: result.outputs for name, result in results.items()}
        args.dump.write_text(json.dumps(dump, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
