"""LSH banding: which index buckets a signature falls into.

Two sketches are indexed per article:
- the body signature, banded with few rows per band so that copies with a
  resemblance around 0.4 and up (edited copies, wire updates with a new top)
  share a bucket with high probability;
- the lead signature (MinHash of the first shingles of the cleaned text),
  because truncated copies and briefs keep the lead while their resemblance
  to the full story can fall to 0.2.
Candidates from either are verified against the stored signatures before
anything is called a match, so the banding only has to make misses rare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xxhash

# Bucket references are 6 bytes: a 3-byte bucket group (one Redis hash per
# group, of which only the low bucket_group_bits vary) and a 3-byte field
# inside it. Two buckets of one group share a field with a chance of about
# 1 in 100,000 at 250 buckets a group; that only adds a candidate, and
# verification catches it.
BUCKET_REF_BYTES = 6
MAX_GROUP_BITS = 24


@dataclass(frozen=True, slots=True)
class Banding:
    """How many bands of how many rows each sketch is cut into."""

    body_bands: int
    body_rows: int
    lead_bands: int
    lead_rows: int

    @property
    def lead_values(self) -> int:
        return self.lead_bands * self.lead_rows

    @property
    def bucket_count(self) -> int:
        return self.body_bands + self.lead_bands

    def candidate_probability(self, jaccard: float, lead: bool = False) -> float:
        """Chance that two sketches of this resemblance share a bucket."""
        bands, rows = (
            (self.lead_bands, self.lead_rows) if lead else (self.body_bands, self.body_rows)
        )
        return float(1.0 - (1.0 - jaccard**rows) ** bands)


def bucket_ref(value: int, group_bits: int) -> bytes:
    """The bucket a 64-bit hash names: a group of the low `group_bits` of
    its bits 40.., and a field of its low 24 bits."""
    group = (value >> 40) & ((1 << group_bits) - 1)
    return ((group << 24) | (value & 0xFFFFFF)).to_bytes(BUCKET_REF_BYTES, "big")


# Each kind of bucket hashes its values with seeds of its own (4,096 a kind),
# so that equal values of two kinds are different buckets: body bands 0, lead
# bands 1 (bucket_refs), sampled sentences 3, the headline 4 (value_ref).
_SEED_SPACE = 4096
SENTENCE_SEEDS = 3
HEADLINE_SEEDS = 4


def value_ref(value: int, kind: int, group_bits: int) -> bytes:
    """The bucket of one 32-bit value (a sentence's, a headline's) among the
    buckets of its `kind`."""
    seed = kind * _SEED_SPACE
    return bucket_ref(xxhash.xxh64_intdigest(value.to_bytes(4, "little"), seed=seed), group_bits)


def bucket_refs(
    banding: Banding,
    body: npt.NDArray[np.uint32],
    lead: npt.NDArray[np.uint32],
    group_bits: int,
) -> list[bytes]:
    """The buckets of one article, body bands first. Each band's rows are
    hashed with the band's number and sketch so that equal values in
    different bands or sketches are different buckets."""
    refs: list[bytes] = []
    for sketch, (values, bands, rows) in enumerate(
        (
            (body, banding.body_bands, banding.body_rows),
            (lead, banding.lead_bands, banding.lead_rows),
        )
    ):
        raw = values[: bands * rows].astype("<u4").tobytes()
        width = rows * 4
        for band in range(bands):
            value = xxhash.xxh64_intdigest(
                raw[band * width : (band + 1) * width], seed=sketch * _SEED_SPACE + band
            )
            refs.append(bucket_ref(value, group_bits))
    return refs
