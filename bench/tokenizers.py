"""CPU per article of each namespace tokenizer, by language.

For every language of the multilingual part (bench/multilingual.py) and the English stories of
the main corpus (bench/corpus.py), the story bodies are fingerprinted (`Fingerprinter.probe`:
tokens, shingles, MinHash, prefix, lead and passage sketches) with each tokenizer, in the same
process, taking turns, best of several rounds; and their pages are cleaned once
(`clean_page_text`, which no tokenizer changes) for scale. Prints median shingles per article
and milliseconds per article.

Run:
    uv run python bench/tokenizers.py               # all languages, 5 rounds
    uv run python bench/tokenizers.py --rounds 9 --languages zh ja
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storydedup.cleaning.page_text import clean_page_text
from storydedup.fingerprints.fingerprint import Fingerprinter, FingerprintSettings
from storydedup.fingerprints.text import TOKENIZERS

from bench.corpus import DEFAULT_DATA_DIR, SEED, build_corpus
from bench.machine import format_machine, machine_description
from bench.multilingual import LANGUAGES, build_multilingual


def best_ms_per_item(
    works: dict[str, Callable[[str], object]], texts: Sequence[str], rounds: int
) -> dict[str, float]:
    """For each work, the fastest of `rounds` passes over `texts` in milliseconds per text;
    the works take turns within each round, so that they see the same load."""
    best = dict.fromkeys(works, float("inf"))
    for _ in range(rounds):
        for name, work in works.items():
            started = time.perf_counter()
            for text in texts:
                work(text)
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: 1000 * seconds / len(texts) for name, seconds in best.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--languages", nargs="+", choices=LANGUAGES, default=list(LANGUAGES))
    args = parser.parse_args(argv)

    bodies: dict[str, list[str]] = {}
    pages: dict[str, list[str]] = {}
    multilingual = build_multilingual(args.data, SEED, args.languages)
    for a in multilingual.articles:
        if a.kind == "original":
            lang = multilingual.lang[a.article_id]
            bodies.setdefault(lang, []).append(a.body)
            pages.setdefault(lang, []).append(a.page_text)
    english = [a for a in build_corpus(args.data, SEED).articles if a.kind == "original"]
    bodies["en"] = [a.body for a in english[:150]]
    pages["en"] = [a.page_text for a in english[:150]]

    fingerprinters = {
        name: Fingerprinter(FingerprintSettings(tokenizer=name)) for name in TOKENIZERS
    }
    header = (
        f"{'lang':5} {'articles':>8} {'chars':>6} "
        + " ".join(f"{f'shingles {n}':>15}" for n in TOKENIZERS)
        + " "
        + " ".join(f"{f'ms {n}':>9}" for n in TOKENIZERS)
        + f" {'ms cleaning':>12}"
    )
    print(format_machine(machine_description()))
    print()
    print(header)
    print("-" * len(header))
    for lang, texts in bodies.items():
        shingles = {
            name: statistics.median(fp.probe(t).shingle_count for t in texts)
            for name, fp in fingerprinters.items()
        }
        ms = best_ms_per_item(
            {name: fp.probe for name, fp in fingerprinters.items()}, texts, args.rounds
        )
        cleaning = best_ms_per_item({"": clean_page_text}, pages[lang], args.rounds)[""]
        chars = statistics.median(len(t) for t in texts)
        print(
            f"{lang:5} {len(texts):>8} {chars:>6.0f} "
            + " ".join(f"{shingles[n]:>15.0f}" for n in TOKENIZERS)
            + " "
            + " ".join(f"{ms[n]:>9.3f}" for n in TOKENIZERS)
            + f" {cleaning:>12.3f}"
        )
    print()
    print(
        "Story bodies of each language's originals (median characters); ms = fingerprinting one "
        "body (best of the rounds); cleaning = clean_page_text on its page, whatever the "
        "tokenizer."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
