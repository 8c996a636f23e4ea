"""Word shingles, hashed to 32 bits.

A shingle's hash is derived from per-word hashes so that a whole article's
shingles are hashed with a few numpy operations instead of one hash call per
shingle. `shingle_hash` computes the same value for one shingle given as
bytes, which is what datasketch's `MinHash(hashfunc=...)` needs: the two
paths give identical MinHash signatures (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import xxhash

# Odd multiplier of the polynomial that folds word hashes into a shingle
# hash modulo 2**32 (FNV's 32-bit prime).
_FOLD = np.uint32(0x01000193)

Hashes = npt.NDArray[np.uint32]


def word_hashes(tokens: Sequence[bytes]) -> Hashes:
    """32-bit xxHash of each word, in order."""
    return np.fromiter(map(xxhash.xxh32_intdigest, tokens), dtype=np.uint32, count=len(tokens))


def shingle_hashes(tokens: Sequence[bytes], size: int) -> Hashes:
    """Hashes of the word `size`-grams of `tokens`, in text order (with
    repeats). A text shorter than `size` words is one shingle of all of them."""
    return shingle_hashes_of(word_hashes(tokens), size)


def shingle_hashes_of(per_word: Hashes, size: int) -> Hashes:
    """shingle_hashes from the words' hashes."""
    if len(per_word) == 0:
        return per_word
    width = min(size, len(per_word))
    count = len(per_word) - width + 1
    folded = per_word[:count].copy()
    for offset in range(1, width):
        folded *= _FOLD
        folded += per_word[offset : offset + count]
    return folded


def shingle_texts(tokens: Sequence[bytes], size: int) -> list[bytes]:
    """The shingles themselves, as space-joined UTF-8 bytes (the input form
    of datasketch's `MinHash.update`)."""
    if not tokens:
        return []
    width = min(size, len(tokens))
    return [b" ".join(tokens[i : i + width]) for i in range(len(tokens) - width + 1)]


def shingle_hash(shingle: bytes) -> int:
    """The hash `shingle_hashes` gives one shingle, from its bytes."""
    value = 0
    for token in shingle.split(b" "):
        value = (value * int(_FOLD) + xxhash.xxh32_intdigest(token)) & 0xFFFFFFFF
    return value


def distinct_count(hashes: Hashes) -> int:
    """How many different values `hashes` holds. Sorting and counting steps
    is ~20x cheaper than numpy's hash-based `unique` on a few hundred values."""
    if len(hashes) == 0:
        return 0
    ordered = np.sort(hashes)
    return 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))
