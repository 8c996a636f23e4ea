"""The plain datasketch baseline: what most people would build first.

Word 5-gram MinHash (num_perm=128) of the whole input text, MinHashLSH at threshold 0.5, and
clusters as the union of candidates: each article is queried against the index, joined
(union-find) with every candidate returned, then inserted. No verification, no cleaning.
The shingles can be swapped (`shingler=`): the multilingual table (bench/multilingual.py) also
runs it on character 5-grams, which need no word boundaries (Chinese, Japanese, Thai).

Used by `bench/quality.py`; run it alone on a text file per article with
`uv run python bench/baseline.py FILE...` (prints the cluster of each file).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

from datasketch import MinHash, MinHashLSH

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")

Shingler = Callable[[str], list[bytes]]


def word_shingles(text: str, size: int = 5) -> list[bytes]:
    """Lower-cased word `size`-grams; a shorter text is one shingle of all its words."""
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        return [" ".join(words).encode()]
    return [" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)]


def char_shingles(text: str, size: int = 5) -> list[bytes]:
    """Character `size`-grams of the NFKC, case-folded text with all whitespace removed (so
    spaced and unspaced scripts alike, and a re-wrapped line changes nothing); a shorter text
    is one shingle of all its characters."""
    chars = _SPACE.sub("", unicodedata.normalize("NFKC", text).casefold())
    if len(chars) <= size:
        return [chars.encode()]
    return [chars[i : i + size].encode() for i in range(len(chars) - size + 1)]


class DatasketchBaseline:
    """MinHash + MinHashLSH + union of candidates, kept across `ingest` calls."""

    def __init__(
        self,
        num_perm: int = 128,
        threshold: float = 0.5,
        shingle_size: int = 5,
        shingler: Shingler | None = None,
    ):
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        # The shingles of one input; default: word `shingle_size`-grams.
        self.shingler: Shingler = shingler or (lambda text: word_shingles(text, shingle_size))
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._parent: dict[str, str] = {}
        self._rank: dict[str, int] = {}  # ingestion order

    def _find(self, item: str) -> str:
        root = item
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[item] != root:  # path compression
            self._parent[item], item = root, self._parent[item]
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            # The earlier-ingested root stays the cluster id, so ids are stable over time.
            early, late = sorted((ra, rb), key=self._rank.__getitem__)
            self._parent[late] = early

    def ingest(self, items: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Ingest (article id, text) pairs in order; return the cluster of every article
        ingested so far (a later union can move an earlier article's cluster)."""
        for article_id, text in items:
            signature = MinHash(num_perm=self.num_perm)
            signature.update_batch(self.shingler(text))
            self._rank[article_id] = len(self._rank)
            self._parent[article_id] = article_id
            for candidate in self._lsh.query(signature):
                self._union(article_id, candidate)
            self._lsh.insert(article_id, signature)
        return {article: self._find(article) for article in self._parent}


def main(argv: Sequence[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    clusters = DatasketchBaseline().ingest(
        [(str(p), p.read_text(encoding="utf-8", errors="replace")) for p in paths]
    )
    for path, cluster in clusters.items():
        print(f"{cluster}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
