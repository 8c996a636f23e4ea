"""Cleaning and fingerprinting against a base commit's: the same output, and how much faster.

Run by hand:
    uv run python bench/against_base.py                  # identity on every real page, vs main
    uv run python bench/against_base.py --time           # plus speed ratios, taken alternately
    uv run python bench/against_base.py --base HEAD~3 --limit 300 --cache /tmp/corpus.pickle

The base commit's `service/storydedup` is taken out of git (`git archive`) into a temporary
directory as a package of another name (`storydedup_base`), so that both versions run in this
one process on the same inputs. The inputs are the real pages of the quality corpus
(bench/corpus.py) and of its multilingual part (bench/multilingual.py), in arrival order, as
page text and as HTML.

Identity: for each tokenizer, each input kind and each chrome setting (none; learned as the
server learns it, each article's lines after it is cleaned, with its story as its cluster; and
learned from one cluster, which takes every line seen before for chrome), the StoryText (title,
text, line_keys, chrome_keys) and the fingerprint probe of both versions must be equal, and so
must clean_page_text's CleanedText (paragraphs and dropped lines with their reasons) on every
page's text. Any difference is printed with the article and the field, and the exit status is 1.

Speed (--time): per input kind, with learned chrome, the two versions take turns over all the
pages (story_from_text or story_from_html, then Fingerprinter.probe), --rounds times each; each
pass's CPU time (time.thread_time, unmoved by other processes taking the core) per stage, and
the median over the rounds of the new/base ratio of each.
"""

from __future__ import annotations

import argparse
import importlib
import pickle
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "service"))
sys.path.insert(0, str(ROOT))

BASE_PACKAGE = "storydedup_base"
_IMPORT_RE = re.compile(r"\bstorydedup(?=[.\s])")
KINDS = ("page_text", "html")


@dataclass(frozen=True, slots=True)
class Page:
    article_id: str
    cluster: int  # the labelled story, as the cluster chrome is learned in
    source: str
    title: str
    page_text: str
    html: str


@dataclass(slots=True)
class Version:
    """One version's modules."""

    name: str
    article: ModuleType
    page_text: ModuleType
    chrome: ModuleType
    fingerprint: ModuleType


def base_version(ref: str, into: Path) -> Version:
    """The base commit's package, importable as BASE_PACKAGE from `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "service/storydedup"],
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.TemporaryFile() as raw:
        raw.write(archive)
        raw.seek(0)
        with tarfile.open(fileobj=raw) as tar:
            tar.extractall(into, filter="data")
    package = into / BASE_PACKAGE
    (into / "service" / "storydedup").rename(package)
    for path in package.rglob("*.py"):
        path.write_text(_IMPORT_RE.sub(BASE_PACKAGE, path.read_text("utf-8")), "utf-8")
    sys.path.insert(0, str(into))
    return load_version(BASE_PACKAGE, f"base ({ref})")


def load_version(package: str, name: str) -> Version:
    def module(path: str) -> ModuleType:
        return importlib.import_module(f"{package}.{path}")

    return Version(
        name,
        module("cleaning.article"),
        module("cleaning.page_text"),
        module("cleaning.chrome"),
        module("fingerprints.fingerprint"),
    )


def load_pages(cache: Path | None, limit: int | None) -> list[Page]:
    if cache is not None and cache.exists():
        # Kept as tuples: a pickled class of a script is found only from that script.
        pages = [Page(*fields) for fields in pickle.loads(cache.read_bytes())]
    else:
        from bench.corpus import build_corpus
        from bench.multilingual import build_multilingual

        articles = build_corpus().articles + build_multilingual().articles
        pages = [
            Page(
                a.article_id,
                zlib.crc32(a.story_id.encode()),
                a.source,
                a.title,
                a.page_text,
                a.html,
            )
            for a in articles
        ]
        if cache is not None:
            cache.write_bytes(pickle.dumps([astuple(page) for page in pages]))
    return pages[:limit] if limit is not None else pages


def story(version: Version, page: Page, kind: str, chrome: Any) -> Any:
    if kind == "page_text":
        return version.article.story_from_text(page.page_text, page.title, page.source, chrome)
    return version.article.story_from_html(page.html, page.title, page.source, chrome)


def outputs(
    version: Version, pages: list[Page], kind: str, tokenizer: str, min_clusters: int | None
) -> Iterator[tuple[Any, Any]]:
    """(StoryText, probe) of each page in order; chrome learned after each page when
    `min_clusters` is given. A page without story text gives (its error's type name, None)."""
    fingerprinter = version.fingerprint.Fingerprinter(
        version.fingerprint.FingerprintSettings(tokenizer=tokenizer)
    )
    model = None if min_clusters is None else version.chrome.ChromeModel(min_clusters)
    for page in pages:
        try:
            text = story(version, page, kind, model)
        except ValueError as error:
            yield type(error).__name__, None
            continue
        if model is not None:
            model.learn(page.source, text.line_keys, page.cluster)
        try:
            yield text, fingerprinter.probe(text.text, page.source)
        except ValueError as error:
            yield text, type(error).__name__


def as_fields(value: Any) -> dict[str, Any]:
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    return {"value": value}


def differences(old: Any, new: Any) -> list[str]:
    a, b = as_fields(old), as_fields(new)
    return [name for name in a if a[name] != b.get(name)] if a.keys() == b.keys() else ["type"]


def check(base: Version, new: Version, pages: list[Page], kinds: list[str]) -> int:
    """Compares every output; returns how many differ."""
    failures = 0
    compared = 0
    for page in pages:
        cleaned = [v.page_text.clean_page_text(page.page_text, page.title) for v in (base, new)]
        compared += 1
        if (cleaned[0].paragraphs, cleaned[0].dropped) != (
            cleaned[1].paragraphs,
            cleaned[1].dropped,
        ):
            failures += 1
            print(f"DIFF clean_page_text {page.article_id}")
    print(f"clean_page_text: {len(pages):,} pages compared")
    for tokenizer in ("ngrams", "words"):
        for kind in kinds:
            for min_clusters in (None, 3, 1):
                started = time.perf_counter()
                pairs = zip(
                    outputs(base, pages, kind, tokenizer, min_clusters),
                    outputs(new, pages, kind, tokenizer, min_clusters),
                    strict=True,
                )
                chromed = 0
                for page, ((old_story, old_probe), (new_story, new_probe)) in zip(
                    pages, pairs, strict=True
                ):
                    compared += 1
                    chromed += bool(getattr(new_story, "chrome_keys", ()))
                    diff = [f"story.{d}" for d in differences(old_story, new_story)]
                    diff += [f"probe.{d}" for d in differences(old_probe, new_probe)]
                    if diff:
                        failures += 1
                        print(
                            f"DIFF {tokenizer} {kind} chrome={min_clusters} {page.article_id}: "
                            + ", ".join(diff)
                        )
                print(
                    f"{tokenizer} {kind} chrome={'none' if min_clusters is None else min_clusters}:"
                    f" {len(pages):,} pages compared ({chromed:,} with learned chrome cut),"
                    f" {time.perf_counter() - started:.0f} s"
                )
    print(f"{compared:,} outputs compared, {failures} different")
    return failures


def timed_pass(version: Version, pages: list[Page], kind: str) -> dict[str, float]:
    """CPU seconds of cleaning and of fingerprinting over the pages, chrome learned as the
    server learns it; the line caches start empty, as in a fresh server."""
    for module in (version.page_text, version.chrome):
        clear: Callable[[], None] | None = getattr(module, "clear_caches", None)
        if clear is not None:
            clear()
    old_cache = getattr(version.page_text, "_cached_line_reading", None)
    if old_cache is not None:
        old_cache.cache_clear()
    fingerprinter = version.fingerprint.Fingerprinter(version.fingerprint.FingerprintSettings())
    model = version.chrome.ChromeModel()
    seconds = {"extraction": 0.0, "cleaning": 0.0, "fingerprinting": 0.0}
    extract = getattr(version.article, "extract_article")  # noqa: B009 (a module's global)

    def timed_extract(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return extract(*args, **kwargs)
        finally:
            seconds["extraction"] += time.thread_time() - started

    setattr(version.article, "extract_article", timed_extract)  # noqa: B010
    try:
        for page in pages:
            started = time.thread_time()
            text = story(version, page, kind, model)
            cleaned = time.thread_time()
            fingerprinter.probe(text.text, page.source)
            seconds["cleaning"] += cleaned - started
            seconds["fingerprinting"] += time.thread_time() - cleaned
            model.learn(page.source, text.line_keys, page.cluster)
    finally:
        setattr(version.article, "extract_article", extract)  # noqa: B010
    seconds["cleaning"] -= seconds["extraction"]
    seconds["cleaning+fingerprinting"] = seconds["cleaning"] + seconds["fingerprinting"]
    seconds["all"] = seconds["cleaning+fingerprinting"] + seconds["extraction"]
    return seconds


def time_versions(
    base: Version, new: Version, pages: list[Page], kinds: list[str], rounds: int
) -> None:
    print(
        f"\nCPU ms per page ({len(pages):,} pages, {rounds} alternations); speed-up = base / new,"
        " median over the rounds"
    )
    print("| input | stage | base ms | new ms | speed-up (median, min-max) |")
    print("| --- | --- | --- | --- | --- |")
    for kind in kinds:
        runs: dict[str, list[dict[str, float]]] = {"base": [], "new": []}
        for r in range(rounds):
            order = ((base, "base"), (new, "new")) if r % 2 == 0 else ((new, "new"), (base, "base"))
            for version, name in order:
                runs[name].append(timed_pass(version, pages, kind))
        stages = ["cleaning", "fingerprinting", "cleaning+fingerprinting"]
        for stage in stages + (["extraction", "all"] if kind == "html" else []):
            ratios = [
                b[stage] / max(n[stage], 1e-9)
                for b, n in zip(runs["base"], runs["new"], strict=True)
            ]
            base_ms = statistics.median(r[stage] for r in runs["base"]) / len(pages) * 1000
            new_ms = statistics.median(r[stage] for r in runs["new"]) / len(pages) * 1000
            print(
                f"| {kind} | {stage} | {base_ms:.3f} | {new_ms:.3f} | "
                f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="main", help="the commit to compare with (git ref)")
    parser.add_argument("--limit", type=int, help="the first N pages only")
    parser.add_argument(
        "--cache", type=Path, help="pickle of the pages: read if there, else written"
    )
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--time", action="store_true", help="also time both, taking turns")
    parser.add_argument("--no-check", action="store_true", help="time only")
    parser.add_argument("--rounds", type=int, default=5, help="--time: alternations")
    args = parser.parse_args(argv)
    pages = load_pages(args.cache, args.limit)
    with tempfile.TemporaryDirectory() as scratch:
        base = base_version(args.base, Path(scratch))
        new = load_version("storydedup", "working tree")
        failures = 0 if args.no_check else check(base, new, pages, args.kinds)
        if args.time:
            time_versions(base, new, pages, args.kinds, args.rounds)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
