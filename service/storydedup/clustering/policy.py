"""When two articles are copies of one story, and which cluster a new
article joins.

The index only proposes candidates; this decides, for every store
(clustering/assign.py applies it to a new article's candidates and chooses
its cluster; the stores only read and write).

Two articles are copies of one story when
- they resemble each other (Jaccard of shingle sets), as edited copies and
  wire updates with a rewritten top do; or
- the shorter one's start is the longer one's start for at least half of
  the shorter one (prefix sketches), as truncated copies and briefs are; or
- the shorter one is contained in the longer one (estimated from the
  resemblance and the set sizes), with enough resemblance for the estimate
  to mean something; or
- most of the shorter one's sentences recur in the longer one, verbatim or
  lightly edited, and they are a fair part of the longer one too (passage
  evidence, fingerprints/passages.py): a brief and its later write-thru
  with a rewritten top, a new dateline and verbs in the past tense. A
  sibling dispatch shares a quote or a background paragraph, not most of
  its sentences; a brief inside a digest or a live file is most of the
  brief but a small part of the digest.
A roundup quoting the lead of a story is none of these: its start is not
the story's start beyond the quote, and the quote is a small part of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from storydedup.fingerprints.passages import (
    SENTENCE_VALUES,
    Recurrence,
    recurring_many,
    split_sketch,
)
from storydedup.store.base import PREFIX_LEVELS, PREFIX_VALUES, Probe

if TYPE_CHECKING:
    from storydedup.store.records import ArticleRecord


@dataclass(frozen=True, slots=True)
class MatchPolicy:
    """Thresholds of the verification step (see docs/matching.md)."""

    # Resemblance at or above which two articles are copies.
    min_jaccard: float = 0.4
    # Share of equal prefix-sketch values at or above which two starts are
    # the same text, when the shorter text has at least min_prefix_shingles
    # (a shared first sentence is a quote or boilerplate, not a copy). 13 of
    # 16: at 12 a roundup opening with another story's short lead, or a
    # caption that is a second story's lead, passed for a truncated copy.
    min_prefix: float = 0.8125
    min_prefix_shingles: int = 24
    # Containment of the smaller text in the larger at or above which it is
    # a copy of it, provided the resemblance is at least min_containment_jaccard
    # (below it the containment estimate is mostly noise)...
    min_containment: float = 0.8
    min_containment_jaccard: float = 0.25
    # ...and the smaller text has at least this many distinct shingles.
    min_containment_shingles: int = 60
    # A new article merges clusters only when it is a near-full copy of a
    # member of each (resemblance at or above this); otherwise it joins the
    # best one. This is what keeps roundups from chaining stories together:
    # resemblance m to both means the two members share at least (2m - 1) of
    # the new article's shingles, 20% at 0.6.
    merge_jaccard: float = 0.6
    # Passage evidence: at least this share of the shorter text's sentences
    # recur in the longer one, and they are at least min_carried_back of the
    # longer one's sentences, the shorter text having at least
    # min_passage_sentences sentences (docs/matching.md).
    min_carried: float = 0.5
    min_carried_back: float = 0.3
    min_carried_lead: float = 0.8
    min_passage_sentences: int = 4
    # Pages of two sources under one headline: at least this share of the
    # shorter one's sentences recur in the longer (excerpt_under_headline).
    min_headline_carried: float = 0.8
    # Two pages of one source share its chrome, and the cleaner learns a
    # source's chrome only from pages in three clusters: before that, and
    # for good once the pages sharing it were joined into one cluster by it,
    # resemblance, containment and shared sentences between them may all be
    # chrome. So they are one story only when they start alike (under one
    # headline, or where either has none: a truncated copy) or resemble each
    # other at least this much (a re-post, a corrected version). 0.6, 0.7
    # and 0.8 were measured (docs/matching.md).
    min_same_source_jaccard: float = 0.7
    # Candidates verified per article, most bucket hits first.
    max_candidates: int = 64
    # Matches returned per article.
    max_matches: int = 10


@dataclass(frozen=True, slots=True)
class Similarity:
    jaccard: float
    # Of the smaller text in the larger; the larger of the estimate from the
    # resemblance and the share of the smaller text its matching prefix covers.
    containment: float
    # Share of equal values of the prefix sketches at the longest prefix both
    # texts have (prefix_length shingles), 0 when either is too short.
    prefix: float = 0.0
    prefix_length: int = 0
    # Sentences of the shorter text (by shingles) that recur in the longer,
    # of how many, and sentences of the longer that recur in the shorter.
    carried: int = 0
    short_sentences: int = 0
    carried_back: int = 0
    long_sentences: int = 0
    # Sentences of the shorter text among the longer one's first sentences
    # (as many as the shorter has, and passages.LEAD_SLACK more).
    carried_lead: int = 0
    # Which sentences of the new article recur in the other, and which of the
    # other's recur in the new article (similarities).
    recurring: tuple[int, ...] = ()
    their_recurring: tuple[int, ...] = ()
    # Both are pages of one source (`similarities`).
    same_source: bool = False
    # Pages under one headline (`similarities`).
    same_headline: bool = False
    # Pages of one source, each with a headline, under two (`similarities`).
    headlines_differ: bool = False
    # When the shorter text's recurring sentences all lie in one entry of the
    # longer, a text of several entries: the longer one's sentences in its
    # other entries (entry_elsewhere); else 0.
    elsewhere: int = 0
    # Entries of each text (0 for a text of one entry) and the entries of the
    # longer that hold the shorter one's recurring sentences.
    short_entries: int = 0
    long_entries: int = 0
    entries_spanned: int = 0


def estimate(
    equal: int,
    values: int,
    shingles_a: int,
    shingles_b: int,
    prefix_level: int = 0,
    prefix_equal: int = 0,
) -> Similarity:
    """Similarity from counts of equal signature values."""
    jaccard = equal / values
    smaller = min(shingles_a, shingles_b)
    if smaller <= 0:
        return Similarity(jaccard, 0.0)
    intersection = jaccard * (shingles_a + shingles_b) / (1.0 + jaccard)
    containment = min(1.0, intersection / smaller)
    if prefix_level == 0:
        return Similarity(jaccard, containment)
    prefix = prefix_equal / PREFIX_VALUES
    length = PREFIX_LEVELS[prefix_level - 1]
    containment = max(containment, min(1.0, prefix * length / smaller))
    return Similarity(jaccard, containment, prefix, length)


def compare(
    signature_a: bytes,
    signature_b: bytes,
    shingles_a: int,
    shingles_b: int,
    prefix_a: bytes = b"",
    prefix_b: bytes = b"",
) -> Similarity:
    """Similarity of two fingerprints by their 8-bit signature and prefix
    values (with_passages adds the sentences)."""
    a = np.frombuffer(signature_a, dtype=np.uint8)
    b = np.frombuffer(signature_b, dtype=np.uint8)
    if len(a) != len(b) or len(a) == 0:
        return Similarity(0.0, 0.0)
    level = min(len(prefix_a), len(prefix_b)) // PREFIX_VALUES
    prefix_equal = 0
    if level:
        start = (level - 1) * PREFIX_VALUES
        pa = np.frombuffer(prefix_a[start : start + PREFIX_VALUES], dtype=np.uint8)
        pb = np.frombuffer(prefix_b[start : start + PREFIX_VALUES], dtype=np.uint8)
        prefix_equal = int(np.count_nonzero(pa == pb))
    return estimate(
        int(np.count_nonzero(a == b)), len(a), shingles_a, shingles_b, level, prefix_equal
    )


# Entries (separated by "___" lines and the like: passages.split_sketch) from
# which a text is a live file, a digest or a newsletter rather than a story.
FILE_ENTRIES = 3


def entry_elsewhere(held: set[int], segments: tuple[int, ...], entries: int) -> int:
    """When the sentences of a shorter text that recur in a longer one all
    lie in one entry of it (`held`: the entries holding them), the longer
    being a text of FILE_ENTRIES or more `entries` (a live file, a digest, a
    newsletter; `segments`: the entry of each of its sentences), the longer
    one's sentences in its other entries; else 0."""
    if entries < FILE_ENTRIES or len(held) != 1:
        return 0
    [entry] = held
    return sum(1 for s in segments if s != entry)


def with_passages(
    sim: Similarity,
    a_shorter: bool,
    a_sentences: int,
    b_sentences: int,
    r: Recurrence,
    longer_segments: tuple[int, ...] = (),
    shorter_segments: tuple[int, ...] = (),
) -> Similarity:
    """`sim` with the sentences of a and b that recur in each other, seen
    from the shorter text (by shingles), which of a's recur, and whether the
    shorter is one entry of the longer (`longer_segments`: the entry of each
    of the longer text's sentences, split_sketch)."""
    recurring, theirs = r.a_recurring, r.b_recurring
    in_longer = theirs if a_shorter else recurring
    # The longer text's entries that hold the shorter one's recurring sentences.
    held = {longer_segments[i] for i in in_longer if i < len(longer_segments)}
    long_entries = len(set(longer_segments))
    if not a_shorter:
        a_sentences, b_sentences = b_sentences, a_sentences
        r = Recurrence(r.b_in_a, r.a_in_b, r.b_in_a_lead, r.a_in_b_lead)
    return dataclasses.replace(
        sim,
        carried=r.a_in_b,
        short_sentences=a_sentences,
        carried_back=r.b_in_a,
        long_sentences=b_sentences,
        carried_lead=r.a_in_b_lead,
        recurring=recurring,
        their_recurring=theirs,
        elsewhere=entry_elsewhere(held, longer_segments, long_entries),
        short_entries=len(set(shorter_segments)),
        long_entries=long_entries,
        entries_spanned=len(held),
    )


def similarities(probe: Probe, records: Sequence[ArticleRecord]) -> list[Similarity]:
    """Similarity of a new article to each of `records`. Sentences are not
    compared between two pages of one source: they share its chrome
    (teasers, promos, the outlet's own prose around the story), whole
    sentences carried from page to page, which is no evidence that the
    stories are one; such pairs are marked `same_source` (is_match). Under
    one headline they are: an outlet that updates its own story keeps the
    headline, and two of its stories that share its chrome have two."""
    sims = [
        compare(
            probe.signature,
            r.signature,
            probe.shingle_count,
            r.shingle_count,
            probe.prefix,
            r.prefix,
        )
        for r in records
    ]
    same_source = [bool(probe.source_key) and probe.source_key == r.source_key for r in records]
    for i, r in enumerate(records):
        both = bool(probe.headline_key and r.headline_key)
        one_headline = both and probe.headline_key == r.headline_key
        # Most pairs are of two sources under two headlines: nothing to mark.
        if same_source[i]:
            sims[i] = dataclasses.replace(
                sims[i],
                same_source=True,
                headlines_differ=both and not one_headline,
                same_headline=one_headline,
            )
        elif one_headline:
            sims[i] = dataclasses.replace(sims[i], same_headline=True)
    compared = [
        i
        for i, r in enumerate(records)
        if r.passages and (not same_source[i] or sims[i].same_headline)
    ]
    if not probe.passages or not compared:
        return sims
    own, own_segments = split_sketch(probe.passages)
    theirs = [split_sketch(records[i].passages) for i in compared]
    shorter = [probe.shingle_count <= records[i].shingle_count for i in compared]
    # Which sentences of each candidate recur: where a candidate of several
    # entries holds the new article (entry_elsewhere), and which block of a
    # candidate the new article quotes (assign.revealed_composites).
    recurrences = recurring_many(own, [sketch for sketch, _ in theirs], range(len(theirs)))
    sentences = len(own) // SENTENCE_VALUES
    for k, (i, recurrence) in enumerate(zip(compared, recurrences, strict=True)):
        sketch, segments = theirs[k]
        sims[i] = with_passages(
            sims[i],
            shorter[k],
            sentences,
            len(sketch) // SENTENCE_VALUES,
            recurrence,
            segments if shorter[k] else own_segments,
            own_segments if shorter[k] else segments,
        )
    return sims


def carries_passages(policy: MatchPolicy, sim: Similarity) -> bool:
    """Passage evidence: most of the shorter text's sentences recur in the
    longer, and they are a fair part of the longer; or nearly all of them
    are the longer one's first sentences, below a new top of at most
    passages.LEAD_SLACK sentences (a truncated copy whose verbs were put into
    the past tense, which the prefix sketches no longer see as the same
    start)."""
    if sim.short_sentences < policy.min_passage_sentences:
        return False
    return (
        sim.carried >= policy.min_carried * sim.short_sentences
        and sim.carried_back >= policy.min_carried_back * sim.long_sentences
    ) or sim.carried_lead >= policy.min_carried_lead * sim.short_sentences


def excerpt_under_headline(policy: MatchPolicy, sim: Similarity) -> bool:
    """An excerpt under the story's headline: two pages under one headline
    (of two outlets, or of one, whose sentences are compared only then:
    `similarities`), nearly all of the shorter one's sentences (at least one)
    recurring in the longer. A paragraph or two of a long story is too small
    a part of it for the passage rule, and a shared first sentence is no
    evidence on its own; under the headline the wire gave it, it is the
    story's excerpt. A gallery or a sidebar under the story's headline
    carries few of its own sentences over."""
    return (
        sim.same_headline
        and sim.short_sentences >= 1
        and sim.carried >= policy.min_headline_carried * sim.short_sentences
    )


def shorter_mostly_carried(policy: MatchPolicy, sim: Similarity) -> bool:
    """The shorter text has enough sentences to tell, and most of them recur
    in the longer."""
    return (
        sim.short_sentences >= policy.min_passage_sentences
        and sim.carried >= policy.min_carried * sim.short_sentences
    )


def mostly_each_other(policy: MatchPolicy, sim: Similarity) -> bool:
    """Most sentences of each text recur in the other: two versions of one
    dispatch (a write-thru that at most doubles it, an edited copy), not a
    story and a longer text that holds it among others."""
    return (
        shorter_mostly_carried(policy, sim)
        and sim.carried_back >= policy.min_carried * sim.long_sentences
    )


def starts_alike(policy: MatchPolicy, sim: Similarity, shingles_a: int, shingles_b: int) -> bool:
    """The prefix rule: the shorter text's start is the longer one's start
    for at least half of the shorter text."""
    smaller = min(shingles_a, shingles_b)
    return (
        sim.prefix >= policy.min_prefix
        and 2 * sim.prefix_length >= smaller
        and smaller >= policy.min_prefix_shingles
    )


def one_entry_of(policy: MatchPolicy, sim: Similarity) -> bool:
    """Whether the shorter text is one entry of the longer, a text of several
    entries with at least min_passage_sentences sentences in its others: a
    standalone story printed as one entry of a live file, or collected into
    a digest or a newsletter, is another story than the file; a snapshot or
    a truncated copy of the file holds parts of several entries, and a story
    whose trailer follows a separator ("___", a contributor line) has too
    few sentences after it. Only a near-full copy is one story with it."""
    return sim.elsewhere >= policy.min_passage_sentences and sim.jaccard < policy.merge_jaccard


def snapshots_of_one_file(policy: MatchPolicy, sim: Similarity) -> bool:
    """Two snapshots of one live file: both texts of several entries, most
    of the shorter one's sentences recurring in the longer, across two of
    its entries or more. A live file's entries come and go (new ones on top,
    old ones dropped at the bottom), so its snapshots resemble each other
    less than copies do; a story one of its entries quotes, or a digest that
    holds one of them, shares one entry with it."""
    return (
        sim.short_entries >= FILE_ENTRIES
        and sim.long_entries >= FILE_ENTRIES
        and sim.entries_spanned >= 2
        and shorter_mostly_carried(policy, sim)
    )


def is_match(policy: MatchPolicy, sim: Similarity, shingles_a: int, shingles_b: int) -> bool:
    if one_entry_of(policy, sim):
        return False
    if sim.same_source:
        if sim.headlines_differ:
            # Two of its pages under different headlines that start alike
            # share the host's chrome above two stories (a block of its own
            # prose, a print header), not a story.
            return sim.jaccard >= policy.min_same_source_jaccard
        return (
            sim.jaccard >= policy.min_same_source_jaccard
            or (sim.same_headline and carries_passages(policy, sim))
            or starts_alike(policy, sim, shingles_a, shingles_b)
            or (
                # A truncated copy longer than the prefix sketches reach:
                # as far as they go it starts alike, and the rest is held.
                sim.prefix >= policy.min_prefix
                and sim.prefix_length == PREFIX_LEVELS[-1]
                and sim.containment >= policy.min_containment
            )
        )
    if sim.jaccard >= policy.min_jaccard:
        return True
    if starts_alike(policy, sim, shingles_a, shingles_b):
        return True
    smaller = min(shingles_a, shingles_b)
    if (
        sim.jaccard >= policy.min_containment_jaccard
        and sim.containment >= policy.min_containment
        and smaller >= policy.min_containment_shingles
    ):
        return True
    return carries_passages(policy, sim) or excerpt_under_headline(policy, sim)


def judge(policy: MatchPolicy, probe: Probe, record: ArticleRecord) -> tuple[Similarity, bool]:
    """Similarity of a new article's fingerprint to a stored article, and
    whether it is a match."""
    [sim] = similarities(probe, [record])
    return sim, is_match(policy, sim, probe.shingle_count, record.shingle_count)


def record_probe(record: ArticleRecord) -> Probe:
    """A stored article's fingerprint, as a new article's would be."""
    return Probe(
        record.signature,
        record.shingle_count,
        record.bucket_refs,
        record.prefix,
        record.passages,
        record.source_key,
        record.headline_key,
    )


def compare_records(a: ArticleRecord, b: ArticleRecord) -> Similarity:
    """Similarity of two stored articles."""
    [sim] = similarities(record_probe(a), [b])
    return sim


def match_records(policy: MatchPolicy, a: ArticleRecord, b: ArticleRecord) -> bool:
    """Whether two stored articles match each other."""
    return is_match(policy, compare_records(a, b), a.shingle_count, b.shingle_count)


# Members (earliest published first) looked at to find a cluster's longest
# member when a join needs confirming; bounds the work per ingest.
CONFIRM_MEMBERS = 32
# The longest member confirms a join when it matches the new article or
# resembles it at least this much. A wire update with a rewritten top sits
# at 0.36-0.45 against the full story, just under min_jaccard; a roundup
# against a story whose lead it quotes at 0.15-0.21 (docs/matching.md).
CONFIRM_JACCARD = 0.3


def part_of(policy: MatchPolicy, sim: Similarity, shingles: int, member_shingles: int) -> bool:
    """Whether the new article (`shingles`) is part of a matched member: not
    longer than it, and contained in it or its start (a copy, a truncated
    copy, a brief). Joining through such a member needs no confirmation; a
    roundup made mostly of one story's lead resembles that story's truncated
    copy at 0.43 but is neither contained in it nor starts like it.

    Containment counts only with a resemblance of at least min_jaccard: below
    it the containment estimate is the weakest evidence the rules take (a
    Boston Globe story that is one entry of an AP live blog is estimated 0.85
    contained in one version of the blog at resemblance 0.38), so a match by
    the containment rule alone needs the cluster's longest member to agree."""
    return member_shingles >= shingles and (
        (sim.containment >= policy.min_containment and sim.jaccard >= policy.min_jaccard)
        or starts_alike(policy, sim, shingles, member_shingles)
        or excerpt_under_headline(policy, sim)
    )


def confirms(policy: MatchPolicy, sim: Similarity, shingles_a: int, shingles_b: int) -> bool:
    """Whether a cluster's longest member, with this similarity to the new
    article, confirms joining the cluster through another member. The longest
    member objects also when it is shorter than the new article: a live blog
    that holds a brief whole does not hold the brief's full story, which it
    would if it were a later version of that story."""
    return sim.jaccard >= CONFIRM_JACCARD or is_match(policy, sim, shingles_a, shingles_b)
