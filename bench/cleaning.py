"""Measure clean_page_text on real pages: how much story it keeps and how much chrome it drops.

Run by hand:  uv run python bench/cleaning.py [--ablate] [--worst N] [--page INDEX]
  --ablate     also switch each heuristic off in turn and print the change it makes
  --worst N    list the N pages with the lowest recall and precision
  --page I     show what was kept and dropped on page I (LOST = dropped body text)

Corpus: the article-extraction-benchmark (181 real news pages from 126 sites, with the true article
body of each), read at run time from shared/data. For each page we make the *visible text* the way
a scraper would (the whole page, menus, sidebars and footers included, one block per line) and
score the cleaner's output against the true body with word 3-gram shingles:

- recall: share of the body's shingles that the cleaned text keeps;
- precision: share of the cleaned text's shingles that belong to the body.

Rows:
- "visible text": the page text as sent by the pipeline (the baseline, nothing dropped);
- "prose lines >= 12 words": the simple heuristic from shared/NOTES.md, for reference;
- "clean_page_text": this module;
- "... on true bodies": the cleaner applied to the clean body itself (should keep ~everything).
Two scrapers are simulated: innerText-like (no list bullets, no alt texts) and resiliparse's
defaults (list bullets and image alt texts), since pipelines differ in such details.
Timing is per page, best of five runs (other processes on the machine inflate single runs),
each with the cleaner's line cache empty (a page's lines all unseen).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from resiliparse.extract.html2text import extract_plain_text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storydedup.cleaning import page_text
from storydedup.cleaning.page_text import clean_page_text

from bench.machine import format_machine, machine_description

CORPUS = Path(
    os.environ.get(
        "STORYDEDUP_EXTRACTION_BENCHMARK",
        "/work/shared/data/raw/article-extraction-benchmark",
    )
)
SHINGLE_WORDS = 3
# CJK scripts are not space-separated: each character is a token, as search engines do.
_TOKEN_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W_]+")
_SENTENCE_END_RE = re.compile(r"[.!?][\"'”’)\]]*$")


@dataclass(frozen=True, slots=True)
class Page:
    page_id: str
    url: str
    html: str
    body: str


@dataclass(frozen=True, slots=True)
class Score:
    recall: float
    precision: float
    kept_tokens: int


@dataclass(slots=True)
class Row:
    name: str
    scores: list[Score]
    seconds: list[float]


def load_pages(corpus: Path) -> Iterator[Page]:
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    for page_id in sorted(truth):
        raw = gzip.decompress((corpus / "html" / f"{page_id}.html.gz").read_bytes())
        yield Page(
            page_id=page_id,
            url=truth[page_id]["url"],
            html=raw.decode("utf-8", errors="replace"),
            body=truth[page_id]["articleBody"],
        )


def visible_text_inner(html: str) -> str:
    """What a browser's innerText gives: visible text, one block per line."""
    return str(extract_plain_text(html, main_content=False, list_bullets=False, alt_texts=False))


def visible_text_bullets(html: str) -> str:
    """resiliparse's defaults: list items get bullets and images their alt texts."""
    return str(extract_plain_text(html, main_content=False))


def tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(unicodedata.normalize("NFKC", text).casefold())


def shingles(text: str) -> set[tuple[str, ...]]:
    words = tokens(text)
    if len(words) < SHINGLE_WORDS:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def score(kept: str, body_shingles: set[tuple[str, ...]]) -> Score:
    kept_shingles = shingles(kept)
    common = len(kept_shingles & body_shingles)
    recall = common / len(body_shingles) if body_shingles else 1.0
    precision = common / len(kept_shingles) if kept_shingles else 0.0
    return Score(recall, precision, len(tokens(kept)))


def prose_lines_baseline(text: str) -> str:
    """NOTES.md's simple heuristic: lines of >= 12 words ending in sentence punctuation."""
    return "\n".join(
        line
        for line in (raw.strip() for raw in text.splitlines())
        if len(line.split()) >= 12 and _SENTENCE_END_RE.search(line)
    )


def cleaned(text: str) -> str:
    return "\n\n".join(clean_page_text(text).paragraphs)


def run_row(
    name: str,
    pages: list[Page],
    make_input: Callable[[Page], str],
    transform: Callable[[str], str],
    bodies: dict[str, set[tuple[str, ...]]],
) -> Row:
    row = Row(name, [], [])
    for page in pages:
        text = make_input(page)
        started = time.perf_counter()
        output = transform(text)
        row.seconds.append(time.perf_counter() - started)
        row.scores.append(score(output, bodies[page.page_id]))
    return row


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def print_table(rows: list[Row], words_per_page: list[int]) -> None:
    header = (
        f"{'input / method':<44} {'recall':>7} {'p10 rec':>7} {'rec>.99':>7} {'prec':>6}"
        f" {'p10 prec':>8} {'empty':>5} {'ms mean':>8} {'ms p95':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        recalls = [s.recall for s in row.scores]
        precisions = [s.precision for s in row.scores]
        empty = sum(1 for s in row.scores if s.kept_tokens == 0)
        ms = [seconds * 1000 for seconds in row.seconds]
        nearly_all = sum(1 for recall in recalls if recall >= 0.99) / len(recalls)
        print(
            f"{row.name:<44} {statistics.fmean(recalls):>7.3f} {percentile(recalls, 0.1):>7.3f}"
            f" {nearly_all:>7.0%} {statistics.fmean(precisions):>6.3f}"
            f" {percentile(precisions, 0.1):>8.3f} {empty:>5} {statistics.fmean(ms):>8.3f}"
            f" {percentile(ms, 0.95):>7.3f}"
        )
    print(
        "(rec>.99: share of pages with recall >= 0.99; ms: a single run per page, see the\n"
        " timing below for best-of-5 figures)\n"
        f"visible text per page: median {statistics.median(words_per_page):.0f} words, "
        f"p95 {percentile([float(w) for w in words_per_page], 0.95):.0f}"
    )


def print_worst(pages: list[Page], row: Row, count: int) -> None:
    print(f"\nworst {count} pages by recall, then by precision ({row.name}):")
    by_recall = sorted(range(len(pages)), key=lambda i: row.scores[i].recall)[:count]
    by_precision = sorted(range(len(pages)), key=lambda i: row.scores[i].precision)[:count]
    for index in by_recall + by_precision:
        s = row.scores[index]
        print(f"  {index:3d} rec {s.recall:.2f} prec {s.precision:.2f}  {pages[index].url[:90]}")


def time_pages(texts: list[str], repeats: int = 5) -> tuple[list[float], float]:
    """Per-page seconds (best of `repeats`, which filters out other processes' interference)
    and the best total over the corpus. Each run of a page starts with the cleaner's line cache
    empty: these pages come from different sites, so in a real stream few of their lines would
    have been read before, and a repeat run must not find them all remembered."""
    best_per_page = [float("inf")] * len(texts)
    best_total = float("inf")
    for _ in range(repeats):
        total = 0.0
        for position, text in enumerate(texts):
            page_text.clear_caches()
            started = time.perf_counter()
            clean_page_text(text)
            elapsed = time.perf_counter() - started
            total += elapsed
            best_per_page[position] = min(best_per_page[position], elapsed)
        best_total = min(best_total, total)
    return best_per_page, best_total


def print_timing(texts: list[str]) -> None:
    words = [len(text.split()) for text in texts]
    seconds, total = time_pages(texts)
    ms = [value * 1000 for value in seconds]
    typical = [value for value, count in zip(ms, words, strict=True) if 800 <= count <= 1200]
    print(
        f"\ntiming (visible text, best of 5 runs per page): mean {statistics.fmean(ms):.3f} ms, "
        f"p95 {percentile(ms, 0.95):.3f} ms, max {max(ms):.3f} ms per page"
    )
    print(
        f"  pages of 800-1,200 words ({len(typical)}): mean {statistics.fmean(typical):.3f} ms, "
        f"p95 {percentile(typical, 0.95):.3f} ms"
    )
    print(
        f"  throughput: {total / sum(words) * 1e6:.3f} ms per 1,000 words "
        f"({sum(words) / total / 1e6:.2f} M words/s, one core)"
    )


# Each ablation switches one heuristic off by replacing module attributes of page_text.
def _keep_everything(scores: list[float]) -> tuple[int, int]:
    return 0, len(scores)


def _never(*_: object) -> bool:
    return False


def _nothing(*_: object) -> None:
    return None


def _no_reason(*_: object) -> str:
    return ""


def _same_line(line: str, *_: object) -> str:
    return line


def _same_region(_: object, start: int, end: int) -> tuple[int, int]:
    return start, end


def _same_lines(lines: list[object], _: object) -> list[object]:
    return lines


ABLATIONS: dict[str, Mapping[str, object]] = {
    "region search (keep all prose and labels)": {"_best_region": _keep_everything},
    "teasers (ellipsis leads, glued cards)": {"_is_teaser": _never, "_is_glued_headline": _never},
    "glued headline+lead cards only": {"_is_glued_headline": _never},
    "paywall-cut exception for teasers": {"_unmark_paywall_cuts": _nothing},
    "section / comment / timestamp lines": {"_structural_kind": _nothing},
    "comment-thread discount": {"_COMMENT_PROSE_WEIGHT": 1.0},
    "isolated-lead and card discounts": {"_ISOLATED_PROSE_WEIGHT": 1.0, "_CARD_LEAD_WEIGHT": 1.0},
    "list / table extension": {"_extend_over_lists": _same_region},
    "clean-tail extension": {"_is_clean_tail": _never},
    "tag-cloud rule for long lines": {"_has_inner_sentence_end": lambda _: True},
    "boilerplate wording (bylines, trailers...)": {
        "_boilerplate_reason": _no_reason,
        "_strip_dateline": _same_line,
        "_strip_trailing_credits": _same_line,
    },
    "duplicate removal": {"_drop_duplicates": _same_lines},
}


@contextmanager
def patched(module: ModuleType, replacements: Mapping[str, object]) -> Iterator[None]:
    originals = {name: getattr(module, name) for name in replacements}
    try:
        for name, value in replacements.items():
            setattr(module, name, value)
        yield
    finally:
        for name, value in originals.items():
            setattr(module, name, value)


def mean_scores(texts: list[str], bodies: list[set[tuple[str, ...]]]) -> tuple[float, float]:
    scores = [score(cleaned(text), body) for text, body in zip(texts, bodies, strict=True)]
    return (
        statistics.fmean(s.recall for s in scores),
        statistics.fmean(s.precision for s in scores),
    )


def print_ablations(pages: list[Page], inner: list[str]) -> None:
    bodies = [shingles(page.body) for page in pages]
    clean = [page.body for page in pages]
    base_page = mean_scores(inner, bodies)
    base_body = mean_scores(clean, bodies)
    print("\nablations: mean change when one heuristic is switched off (innerText-like pages)")
    print(f"{'heuristic switched off':<44} {'recall':>7} {'prec':>7} {'body recall':>12}")
    for name, replacements in ABLATIONS.items():
        with patched(page_text, replacements):
            recall, precision = mean_scores(inner, bodies)
            body_recall, _ = mean_scores(clean, bodies)
        print(
            f"{name:<44} {recall - base_page[0]:>+7.3f} {precision - base_page[1]:>+7.3f}"
            f" {body_recall - base_body[0]:>+12.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages")
    parser.add_argument("--page", type=int, help="show the cleaning of one page (by index)")
    parser.add_argument("--ablate", action="store_true", help="measure each heuristic's share")
    args = parser.parse_args()

    pages = list(load_pages(args.corpus))
    if args.page is not None:
        show_page(pages[args.page])
        return
    bodies = {page.page_id: shingles(page.body) for page in pages}
    inner = {page.page_id: visible_text_inner(page.html) for page in pages}
    bullets = {page.page_id: visible_text_bullets(page.html) for page in pages}
    words_per_page = [len(text.split()) for text in inner.values()]

    def inner_of(page: Page) -> str:
        return inner[page.page_id]

    def bullets_of(page: Page) -> str:
        return bullets[page.page_id]

    def body_of(page: Page) -> str:
        return page.body

    def unchanged(text: str) -> str:
        return text

    rows = [
        run_row("visible text (innerText-like), raw", pages, inner_of, unchanged, bodies),
        run_row("  prose lines >= 12 words", pages, inner_of, prose_lines_baseline, bodies),
        run_row("  clean_page_text", pages, inner_of, cleaned, bodies),
        run_row("visible text (bullets + alt texts), raw", pages, bullets_of, unchanged, bodies),
        run_row("  clean_page_text", pages, bullets_of, cleaned, bodies),
        run_row("true bodies, raw", pages, body_of, unchanged, bodies),
        run_row("  prose lines >= 12 words", pages, body_of, prose_lines_baseline, bodies),
        run_row("  clean_page_text", pages, body_of, cleaned, bodies),
    ]
    print(format_machine(machine_description()))
    print(f"corpus: {len(pages)} pages, word {SHINGLE_WORDS}-gram shingles, per-page means\n")
    print_table(rows, words_per_page)
    print_timing(list(inner.values()))
    if args.ablate:
        print_ablations(pages, [inner[page.page_id] for page in pages])
    if args.worst:
        print_worst(pages, rows[2], args.worst)
        print_worst(pages, rows[7], args.worst)


def show_page(page: Page) -> None:
    result = clean_page_text(visible_text_inner(page.html))
    body = shingles(page.body)
    print(page.url)
    for paragraph in result.paragraphs:
        inside = shingles(paragraph)
        share = len(inside & body) / len(inside) if inside else 0.0
        print(f"KEEP {share:4.2f} {paragraph[:150]}")
    for line, reason in result.dropped:
        inside = shingles(line)
        share = len(inside & body) / len(inside) if inside else 0.0
        marker = "LOST" if share > 0.5 else "drop"
        print(f"{marker} {share:4.2f} {reason:<12} {line[:130]}")


if __name__ == "__main__":
    main()
