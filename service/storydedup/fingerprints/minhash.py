"""MinHash signatures, bit-identical to datasketch's "affine32" scheme.

datasketch's `MinHash.update_batch` hashes every shingle with a Python call
and then applies the permutations; here the shingle hashes come from
`shingles.shingle_hashes` as one array, and the permutations (taken from
datasketch itself, so seed and parameters mean the same thing) are applied
with the same uint32 arithmetic. `datasketch.MinHash(num_perm, seed,
hashfunc=shingle_hash)` fed the same shingles gives the same hash values.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from datasketch import MinHash

Signature = npt.NDArray[np.uint32]

_EMPTY = np.uint32(0xFFFFFFFF)
# Texts of up to this many shingles are permuted with flat, contiguous numpy
# operations against pre-tiled parameters, 2-3x faster than broadcasting an
# outer product (numpy's inner loops then run long and vectorised); longer
# texts, rare in news, take the broadcasting path.
_TILED_ROWS = 2048


def fmix32(values: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    # MurmurHash3's finalizer, as datasketch applies before permuting.
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


class MinHasher:
    """Computes `num_perm`-value signatures of shingle-hash sets."""

    def __init__(self, num_perm: int, seed: int) -> None:
        reference = MinHash(num_perm=num_perm, seed=seed, scheme="affine32")
        a, b = reference.permutations
        self.num_perm = num_perm
        self.seed = seed
        self._a = np.asarray(a, dtype=np.uint32)
        self._b = np.asarray(b, dtype=np.uint32)
        self._a_tiled = np.tile(self._a, _TILED_ROWS)
        self._b_tiled = np.tile(self._b, _TILED_ROWS)

    def permuted(self, shingle_hashes: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
        """The (shingles x permutations) matrix whose column minima are the
        signature; exposed so that a prefix of the rows gives the signature
        of a prefix of the text without hashing it again."""
        mixed = fmix32(shingle_hashes.astype(np.uint32, copy=False))
        rows = len(mixed)
        if rows > _TILED_ROWS:
            product: npt.NDArray[np.uint32] = np.multiply.outer(mixed, self._a)
            product += self._b
            return product
        size = rows * self.num_perm
        flat: npt.NDArray[np.uint32] = np.repeat(mixed, self.num_perm)
        flat *= self._a_tiled[:size]
        flat += self._b_tiled[:size]
        return flat.reshape(rows, self.num_perm)

    def signature(self, shingle_hashes: npt.NDArray[np.uint32]) -> Signature:
        """The MinHash signature of the set of `shingle_hashes`."""
        if len(shingle_hashes) == 0:
            return np.full(self.num_perm, _EMPTY, dtype=np.uint32)
        result: Signature = self.permuted(shingle_hashes).min(axis=0)
        return result
