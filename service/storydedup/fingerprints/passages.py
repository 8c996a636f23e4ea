"""Passage sketches: which sentences of one article recur in another.

Whole-text resemblance cannot tell a wire write-thru from a sibling dispatch
of the same event: a brief and its later write-thru share only 20-40% of
their word 4-grams once the top is rewritten, the dateline changed and verbs
put into the past tense, and a sidebar that shares a background paragraph and
a quote can share as many. Read side by side, the write-thru carries most of
the brief's *sentences* over, each verbatim or lightly edited; the sidebar
carries one or two. So each sentence gets a small sketch of its own, and two
articles are compared sentence by sentence (clustering/policy.py decides
from how much of the shorter one is carried over, and how much of the longer
one that is).

A sentence's sketch is SENTENCE_VALUES MinHash values of its word 3-grams,
8 bits each; two sentences *recur* when at least SENTENCE_AGREE of the values
are equal. For sentences whose 3-gram sets resemble each other at 0.77 (one
word changed in a 25-word sentence) that happens with probability 0.96; at
0.3 (a shared quote inside two different sentences) 0.35; two unrelated
sentences agree by chance with probability ~1e-4.

A live file, a digest or a newsletter prints its entries one after another,
split by separator lines ("___", "* * *"): a mark between the sentences of
two entries (SEGMENT_MARK, in the place of a sentence's values) keeps where
they were split, so that a text that is one entry of such a file is told
from a copy of the file (clustering/policy.py).

Some sentences are also indexed (their refs go into the LSH buckets beside
the bands) so that pairs far below the bands' resemblance range are still
candidates: a sentence is indexed when its first 32-bit value falls in a
fixed quarter of the hash range, which both copies of a sentence decide
alike (consistent sampling), at most MAX_PASSAGE_REFS an article.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xxhash

from storydedup.cleaning.page_text import SEPARATOR
from storydedup.fingerprints.lsh import SENTENCE_SEEDS, value_ref
from storydedup.fingerprints.minhash import fmix32
from storydedup.fingerprints.shingles import shingle_hashes_of, word_hashes
from storydedup.fingerprints.text import (
    DEFAULT_TOKENIZER,
    Tokenize,
    Tokenizer,
    tokenize_parts,
    words_and_ngrams,
)

# Sentences shorter than this many words are datelines, bylines or labels.
MIN_SENTENCE_WORDS = 6
SENTENCE_SHINGLE = 3
SENTENCE_VALUES = 4
SENTENCE_AGREE = 2
# Sentences sketched per article (the first ones): 4 bytes each.
MAX_SENTENCES = 96
# Sentences indexed per article, and the share of the hash range that is.
MAX_PASSAGE_REFS = 12
_SAMPLE_MASK = 0x3  # one sentence in four
# A sentence ends at ., ! or ? (possibly before a closing quote or bracket)
# followed by space, or at 。！？; in text without such punctuation, long
# unended lines are the passages (MIN_UNENDED_WORDS). Found from the
# punctuation (a character class the regex engine scans for) rather than as
# the space after it (a look-behind tried at every character, 10x slower):
# the first group is the space a sentence ends at, or there is none and it
# ends right after the match.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]?(\s+)|[。！？]")
_ENDS_LIKE_A_SENTENCE = re.compile(r"[.!?。！？…][\"'”’)\]]*\s*$")
# Unended lines of at least this many words are prose all the same (text
# without sentence punctuation).
MIN_UNENDED_WORDS = 12
# In a sentence sketch, in the place of a sentence's values, the mark of a
# separator between two entries; read apart by split_sketch. (A sentence
# whose four values are all 0xFF is read as a mark: one in 2**32.)
SEGMENT_MARK = b"\xff" * 4
_SEED_BASE = 0x5E17


def _sentence_seeds() -> npt.NDArray[np.uint32]:
    return np.array(
        [xxhash.xxh32_intdigest(b"passage", seed=_SEED_BASE + i) for i in range(SENTENCE_VALUES)],
        dtype=np.uint32,
    )


_SEEDS = _sentence_seeds()


def _split_sentences(paragraph: str) -> list[str]:
    """The paragraph cut at every sentence end, the space there left out."""
    pieces: list[str] = []
    at = 0
    for end in _SENTENCE_END.finditer(paragraph):
        if end.lastindex:
            start, stop = end.span(1)
        else:
            start = stop = end.end()
        pieces.append(paragraph[at:start])
        at = stop
    pieces.append(paragraph[at:])
    return pieces


def _pieces(text: str) -> list[tuple[int, str, bool]]:
    """(paragraph number, text, whether a separator) of each sentence or separator paragraph;
    between them in `text` is only space, or nothing after a "。", "！" or "？"."""
    out: list[tuple[int, str, bool]] = []
    for number, paragraph in enumerate(text.split("\n\n")):
        if SEPARATOR.match(paragraph.strip()):
            out.append((number, paragraph, True))
        else:
            out.extend((number, piece, False) for piece in _split_sentences(paragraph))
    return out


def _passages(
    pieces: list[tuple[int, str, bool]], tokens_of: Sequence[list[bytes]]
) -> tuple[list[tuple[int, list[bytes]]], list[int]]:
    """sentences() of the pieces, and where each one's tokens start among all the pieces'."""
    out: list[tuple[int, list[bytes]]] = []
    starts: list[int] = []
    at = 0
    for (number, sentence, separator), tokens in zip(pieces, tokens_of, strict=True):
        if separator:
            out.append((number, []))
            starts.append(at)
        elif len(tokens) >= MIN_SENTENCE_WORDS and (
            len(tokens) >= MIN_UNENDED_WORDS or _ENDS_LIKE_A_SENTENCE.search(sentence)
        ):
            out.append((number, tokens))
            starts.append(at)
        at += len(tokens)
    return out, starts


def sentences(text: str, tokenize: Tokenize = words_and_ngrams) -> list[tuple[int, list[bytes]]]:
    """The paragraph and words of each sentence of `text` long enough to be
    a passage, in text order (paragraphs are separated by blank lines). A
    line that does not end like a sentence is a passage only when it is
    long: timestamps, headings and labels a cleaned page keeps are not, and
    would shift where the story starts. A separator paragraph is given as
    (its paragraph, []): where the text's entries are split."""
    pieces = _pieces(text)
    return _passages(pieces, [[] if sep else tokenize(piece) for _, piece, sep in pieces])[0]


@dataclass(frozen=True, slots=True)
class TextWords:
    """A text's tokens and its sentences' (`sentences`), from one tokenising pass."""

    tokens: list[bytes]
    sentences: list[tuple[int, list[bytes]]]
    # Where each sentence's tokens start in `tokens`; None when a sentence's are not the
    # tokens there (see tokenize_parts).
    starts: list[int] | None


def text_words(text: str, tokenizer: Tokenizer = DEFAULT_TOKENIZER) -> TextWords:
    """The tokens of `text` (tokenizer(name)(text)) and sentences(text, tokenizer(name)),
    tokenised sentence by sentence in one pass: a text is its sentences and separator
    paragraphs with only space between them."""
    pieces = _pieces(text)
    whole, tokens_of, aligned = tokenize_parts(text, [piece for _, piece, _ in pieces], tokenizer)
    found, starts = _passages(pieces, tokens_of)
    return TextWords(whole, found, starts if aligned else None)


@dataclass(frozen=True, slots=True)
class PassageSketch:
    # SENTENCE_VALUES 8-bit values per sentence, in text order.
    values: bytes
    # The first 32-bit value of every sentence (for passage_refs).
    first_values: list[int]
    # The paragraph of every sentence.
    paragraphs: tuple[int, ...]


def passage_sketch(text: str, tokenize: Tokenize = words_and_ngrams) -> PassageSketch:
    """The sentences of `text` (its first MAX_SENTENCES), sketched, with a
    SEGMENT_MARK between two that a separator splits."""
    return sketch_sentences(sentences(text, tokenize))


def sketch_sentences(
    found_sentences: list[tuple[int, list[bytes]]],
    hashes_at: tuple[npt.NDArray[np.uint32], list[int]] | None = None,
) -> PassageSketch:
    """passage_sketch of a text whose `sentences` are these; `hashes_at`, when given, is the
    word hashes of the whole text and where each sentence starts among them (TextWords)."""
    numbered: list[tuple[int, list[bytes]]] = []
    first_words: list[int] = []
    marks: list[int] = []  # sentences that start an entry after a separator
    for position, (number, tokens) in enumerate(found_sentences):
        if not tokens:
            if numbered and (not marks or marks[-1] != len(numbered)):
                marks.append(len(numbered))
        elif len(numbered) < MAX_SENTENCES:
            numbered.append((number, tokens))
            first_words.append(position)
    marks = [m for m in marks if m < len(numbered)]
    if not numbered:
        return PassageSketch(b"", [], ())
    found = [tokens for _, tokens in numbered]
    # Every sentence's 3-grams from one array of word hashes: the 3-grams
    # starting in a sentence's last two words cross into the next one and
    # are dropped. (Sentences have at least MIN_SENTENCE_WORDS words.)
    lengths = np.array([len(tokens) for tokens in found])
    if hashes_at is None:
        hashes = word_hashes([token for tokens in found for token in tokens])
    else:
        # The sentences' words are runs of the text's, in order: a mask over its hashes.
        # (No two sentences start, or end, at one word.)
        text_hashes, sentence_starts = hashes_at
        bounds = np.zeros(len(text_hashes) + 1, dtype=np.int8)
        first = np.array([sentence_starts[p] for p in first_words])
        bounds[first] += 1
        bounds[first + lengths] -= 1
        hashes = text_hashes[np.cumsum(bounds[:-1]) > 0]
    grams = shingle_hashes_of(hashes, SENTENCE_SHINGLE)
    ends = np.cumsum(lengths)
    keep = np.ones(len(grams), dtype=bool)
    for back in range(1, SENTENCE_SHINGLE):
        crossing = ends[:-1] - back
        keep[crossing[crossing < len(keep)]] = False
    starts = np.concatenate(([0], ends[:-1] - (SENTENCE_SHINGLE - 1) * np.arange(1, len(ends))))
    mixed = fmix32(grams[keep][:, None] ^ _SEEDS[None, :])
    values = np.minimum.reduceat(mixed, starts, axis=0)
    sketched = (values & 0xFF).astype(np.uint8).tobytes()
    if marks:
        parts, at = [], 0
        for m in marks:
            parts += [sketched[at * SENTENCE_VALUES : m * SENTENCE_VALUES], SEGMENT_MARK]
            at = m
        sketched = b"".join([*parts, sketched[at * SENTENCE_VALUES :]])
    return PassageSketch(
        sketched,
        [int(v) for v in values[:, 0]],
        tuple(number for number, _ in numbered),
    )


def split_sketch(sketch: bytes) -> tuple[bytes, tuple[int, ...]]:
    """A sentence sketch without its marks, and the entry (segment) of each
    sentence; () when the text is one entry."""
    if SEGMENT_MARK not in sketch:
        return sketch, ()
    words = np.frombuffer(sketch, dtype="<u4")
    marked = words == 0xFFFFFFFF
    if not marked.any():
        return sketch, ()
    segment = np.cumsum(marked)[~marked]
    return words[~marked].tobytes(), tuple(segment.tolist())


def passage_refs(first_values: list[int], group_bits: int) -> list[bytes]:
    """Bucket refs of the sampled sentences (lowest values first, at most
    MAX_PASSAGE_REFS), in the same ref space as the LSH bands."""
    sampled = sorted({v for v in first_values if (v >> 8) & _SAMPLE_MASK == 0})
    return [value_ref(value, SENTENCE_SEEDS, group_bits) for value in sampled[:MAX_PASSAGE_REFS]]


# A text's start may be another's start below a new top of this many
# sentences (a re-topped copy, a write-thru's new lede).
LEAD_SLACK = 2


@dataclass(frozen=True, slots=True)
class Recurrence:
    """Sentences of two texts, a and b, that recur in the other."""

    a_in_b: int
    b_in_a: int
    # Sentences of a among b's first len(a) + LEAD_SLACK sentences, and the
    # other way round.
    a_in_b_lead: int
    b_in_a_lead: int
    # Which sentences of a recur in b (their positions), and of b in a
    # (when asked for: recurring_many's `positions_of`).
    a_recurring: tuple[int, ...] = ()
    b_recurring: tuple[int, ...] = ()


def recurring_many(
    a: bytes, others: Sequence[bytes], positions_of: Sequence[int] = ()
) -> list[Recurrence]:
    """How the sentences of `a` and of each of `others` recur in each other,
    compared in one pass (a new article against all its candidates); for the
    others numbered in `positions_of`, also which of their sentences recur."""
    if not a or not others:
        return [Recurrence(0, 0, 0, 0) for _ in others]
    x = np.frombuffer(a, dtype=np.uint8).reshape(-1, SENTENCE_VALUES)
    # One row per value, so that each comparison below is of a column of x
    # against a contiguous row (a reduction over a (len(x), len(y), 4) array's
    # last axis took 70 times as long).
    y = np.frombuffer(b"".join(others), dtype=np.uint8).reshape(-1, SENTENCE_VALUES).T.copy()
    votes = (x[:, 0, None] == y[0]).view(np.uint8)
    for k in range(1, SENTENCE_VALUES):
        votes += (x[:, k, None] == y[k]).view(np.uint8)
    agree = votes >= SENTENCE_AGREE
    # Each of `others` is a block of columns; every block has a sentence.
    sizes = np.array([len(other) // SENTENCE_VALUES for other in others])
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    block_of = np.repeat(np.arange(len(others)), sizes)
    position = np.arange(agree.shape[1]) - starts[block_of]
    in_b = np.logical_or.reduceat(agree, starts, axis=1)
    in_b_lead = np.logical_or.reduceat(
        agree & (position < len(x) + LEAD_SLACK)[None, :], starts, axis=1
    )
    in_a = agree.any(axis=0)
    # A sentence of b recurs among a's first len(b) + LEAD_SLACK sentences
    # when its first agreeing sentence of a is one of them.
    in_a_lead = in_a & (agree.argmax(axis=0) < sizes[block_of] + LEAD_SLACK)
    b_in_a = np.add.reduceat(in_a.astype(np.int64), starts)
    b_in_a_lead = np.add.reduceat(in_a_lead.astype(np.int64), starts)
    wanted = set(positions_of)
    return [
        Recurrence(
            int(column.sum()),
            int(b_in_a[k]),
            int(in_b_lead[:, k].sum()),
            int(b_in_a_lead[k]),
            tuple(np.flatnonzero(column).tolist()),
            tuple(np.flatnonzero(in_a[starts[k] : starts[k] + sizes[k]]).tolist())
            if k in wanted
            else (),
        )
        for k, column in enumerate(in_b.T)
    ]


def sentence_count(sketch: bytes) -> int:
    return len(split_sketch(sketch)[0]) // SENTENCE_VALUES


def paragraph_runs(
    recurring: tuple[int, ...], paragraphs: tuple[int, ...]
) -> tuple[tuple[int, int], ...]:
    """The paragraphs of the recurring sentences, as runs of consecutive
    paragraphs (first, last)."""
    numbers = sorted({paragraphs[i] for i in recurring if i < len(paragraphs)})
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return tuple(runs)
