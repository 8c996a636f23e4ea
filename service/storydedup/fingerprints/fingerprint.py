"""From cleaned story text to what the index stores: shingles → MinHash →
LSH buckets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import xxhash

from storydedup.fingerprints.lsh import (
    HEADLINE_SEEDS,
    MAX_GROUP_BITS,
    Banding,
    bucket_refs,
    value_ref,
)
from storydedup.fingerprints.minhash import MinHasher
from storydedup.fingerprints.passages import passage_refs, sketch_sentences, text_words
from storydedup.fingerprints.shingles import distinct_count, shingle_hashes_of, word_hashes
from storydedup.fingerprints.text import (
    DEFAULT_TOKENIZER,
    Tokenize,
    Tokenizer,
    tokenizer,
    words_and_ngrams,
)
from storydedup.store.base import PREFIX_LEVELS, PREFIX_VALUES, Probe, StoreSettings
from storydedup.store.records import LAYOUT_VERSION


class EmptyTextError(ValueError):
    """The text has no words left to fingerprint."""


# The lead and prefix sketches start after the leading lines that are not
# story text: leftover chrome such as a timestamp ("| November 18, 2019
# 12:01 PM") or a photo caption with its credit ("... (Credit: iStock)")
# before the first paragraph would otherwise shift every prefix, and a
# truncated copy would no longer start where its story starts. Both texts of
# a pair skip the same kind of lines, so their starts still agree.
# Shorter paragraphs are labels, timestamps or credits; 8 was best of 5, 8
# and 12 on the quality benchmark (docs/matching.md).
_MAX_JUNK_WORDS = 8
_CREDIT_ENDS = (")", "]")
# A line with a clock time is a timestamp up to this many words, in any
# language ("sexta-feira, 22 de outubro de 2010 às 20:13").
_MAX_TIMESTAMP_WORDS = 12
_CLOCK_RE = re.compile(r"\b\d{1,2}:\d{2}\b")
# Longer paragraphs are prose (12 words run to ~80 characters): not tokenised.
_MAX_JUNK_CHARS = 200
# At most this many leading paragraphs are skipped.
_MAX_SKIPPED_PARAGRAPHS = 4


def _junk_words(paragraph: str, tokenize: Tokenize) -> int | None:
    """The words of a leading-junk paragraph, None for story text."""
    stripped = paragraph.rstrip()
    credited = stripped.endswith(_CREDIT_ENDS)
    if not credited and len(stripped) > _MAX_JUNK_CHARS:
        return None
    # Words as the shingles see them: a breadcrumb's "|" separators are not words.
    count = len(tokenize(stripped))
    if (
        credited
        or count < _MAX_JUNK_WORDS
        or (count <= _MAX_TIMESTAMP_WORDS and _CLOCK_RE.search(stripped) is not None)
    ):
        return count
    return None


def lead_offset(text: str, tokenize: Tokenize = words_and_ngrams) -> int:
    """Words before the first paragraph of `text` (paragraphs are separated by
    blank lines) that is not leading junk; 0 when the first few all are."""
    skipped = 0
    for paragraph in text.split("\n\n", _MAX_SKIPPED_PARAGRAPHS)[:_MAX_SKIPPED_PARAGRAPHS]:
        junk = _junk_words(paragraph, tokenize)
        if junk is None:
            return skipped
        skipped += junk
    return 0


@dataclass(frozen=True, slots=True)
class FingerprintSettings:
    """Defaults chosen on the quality benchmark (docs/matching.md)."""

    num_perm: int = 128
    shingle_size: int = 4
    seed: int = 1
    # The lead sketch covers the first this-many shingles (about the first
    # paragraph): what truncated copies and briefs keep of a story.
    lead_shingles: int = 40
    # 14 body bands and 6 lead bands: with 16 and 4, a short truncated copy
    # whose lead sketch holds 27 of its story's first 40 shingles (lead
    # resemblance ~0.68) was no candidate one time in 11; with 6, one in 38.
    # Two body bands fewer keep 20 buckets an article (its index memory),
    # and a pair at resemblance 0.4 still shares one with probability 0.91
    # (docs/matching.md: the same figures on every input but that copy).
    banding: Banding = field(default_factory=lambda: Banding(14, 2, 6, 2))
    # Buckets are kept in 2**bits groups (one Redis hash each). Each group is
    # a compact listpack while it holds at most ~500 buckets, so the right
    # size follows the articles kept in the retention window (20 buckets
    # each): 14 bits suits up to ~400,000 articles, 22 bits ~100 million.
    # Fewer groups cost less fixed memory, more cost less Redis CPU per lookup.
    bucket_group_bits: int = 14
    tokenizer: Tokenizer = DEFAULT_TOKENIZER

    def __post_init__(self) -> None:
        b = self.banding
        if b.body_bands * b.body_rows > self.num_perm or b.lead_values > self.num_perm:
            raise ValueError("bands x rows must not exceed num_perm")
        if not 1 <= self.bucket_group_bits <= MAX_GROUP_BITS:
            raise ValueError(f"bucket_group_bits must be 1 to {MAX_GROUP_BITS}")

    def store_settings(self) -> StoreSettings:
        b = self.banding
        return StoreSettings(
            num_perm=self.num_perm,
            shingle_size=self.shingle_size,
            seed=self.seed,
            body_bands=b.body_bands,
            body_rows=b.body_rows,
            lead_bands=b.lead_bands,
            lead_rows=b.lead_rows,
            lead_shingles=self.lead_shingles,
            bucket_group_bits=self.bucket_group_bits,
            layout=LAYOUT_VERSION,
            tokenizer=self.tokenizer,
        )


class Fingerprinter:
    def __init__(self, settings: FingerprintSettings) -> None:
        self.settings = settings
        self._hasher = MinHasher(settings.num_perm, settings.seed)
        self._tokenize = tokenizer(settings.tokenizer)

    def probe(self, text: str, source: str = "", title: str = "") -> Probe:
        """The fingerprint of cleaned story text published by `source` (an
        outlet's domain, "" when unknown) under `title`; raises EmptyTextError
        when it has no words."""
        # The text is tokenised once, sentence by sentence: the passages' tokens and the
        # shingles' are the same words.
        split = text_words(text, self.settings.tokenizer)
        tokens = split.tokens
        if not tokens:
            raise EmptyTextError("text has no words")
        s = self.settings
        per_word = word_hashes(tokens)
        ordered = shingle_hashes_of(per_word, s.shingle_size)
        # One permutation product serves all sketches: the minimum over a
        # text's shingle positions is the minimum over its shingle set.
        rows = self._hasher.permuted(ordered)
        body = rows.min(axis=0)
        start = lead_offset(text, self._tokenize)
        if start >= len(ordered):
            start = 0
        lead = rows[start : start + s.lead_shingles, : s.banding.lead_values].min(axis=0)
        running_min = np.minimum.accumulate(
            rows[start : start + PREFIX_LEVELS[-1], :PREFIX_VALUES], axis=0
        )
        levels = [length for length in PREFIX_LEVELS if length <= len(ordered) - start]
        headline = headline_key(title, self._tokenize)
        passages = sketch_sentences(
            split.sentences, None if split.starts is None else (per_word, split.starts)
        )
        return Probe(
            # Verification compares 8-bit slices of the values: a quarter of
            # the memory, and the 1/256 chance of a false equal raises an
            # estimated resemblance by at most 0.004, noise next to MinHash's
            # own sampling error (0.04 at 128 values).
            signature=(body & 0xFF).astype(np.uint8).tobytes(),
            shingle_count=distinct_count(ordered),
            bucket_refs=tuple(
                bucket_refs(s.banding, body, lead, s.bucket_group_bits)
                + passage_refs(passages.first_values, s.bucket_group_bits)
                + headline_refs(headline, s.bucket_group_bits)
            ),
            # 8-bit slices suffice: prefixes are compared for near-equality.
            prefix=b"".join(
                (running_min[length - 1] & 0xFF).astype(np.uint8).tobytes() for length in levels
            ),
            passages=passages.values,
            source_key=source_key(source),
            headline_key=headline,
            sentence_paragraphs=passages.paragraphs,
        )


def source_key(source: str) -> int:
    """32 bits naming a source: pages of one outlet share its chrome, so
    the passage rule does not count between them (clustering/policy.py).
    0 for an unknown source."""
    normalized = source.strip().casefold()
    return xxhash.xxh32_intdigest(normalized.encode("utf-8")) | 1 if normalized else 0


# Separators between a page title's headline and the site's name
# ("Headline | Site", "Site - Headline", "Headline — Section — Site").
_TITLE_PARTS = re.compile(r"\s+[|\u2013\u2014\u00b7-]\s+|\s+::\s+")
# A headline of fewer words (or character n-grams) is a label ("Print",
# "Live updates", "Home").
MIN_HEADLINE_WORDS = 4


def headline_key(title: str, tokenize: Tokenize = words_and_ngrams) -> int:
    """32 bits naming a page's headline: the longest part of its title
    between site-name separators, as the namespace's tokenizer cuts it (NFKC,
    case-folded, without punctuation). Wire copies keep the wire's headline
    more often than not, and an excerpt under a story's headline is that
    story (clustering/policy.py). 0 when the title has no headline of
    MIN_HEADLINE_WORDS units."""
    words = max((tokenize(part) for part in _TITLE_PARTS.split(title)), key=len, default=[])
    if len(words) < MIN_HEADLINE_WORDS:
        return 0
    return xxhash.xxh32_intdigest(b" ".join(words)) | 1


def headline_refs(key: int, group_bits: int) -> list[bytes]:
    """The bucket of a headline (none without one), in the same ref space as
    the LSH bands: an excerpt of a long story shares no band with it and may
    have no sampled sentence, but under the story's headline the two are
    candidates."""
    return [value_ref(key, HEADLINE_SEEDS, group_bits)] if key else []
