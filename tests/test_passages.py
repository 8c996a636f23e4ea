"""Passage sketches: which sentences of one article recur in another."""

from __future__ import annotations

import random

import numpy as np
from storydedup.fingerprints.passages import (
    LEAD_SLACK,
    SENTENCE_AGREE,
    SENTENCE_VALUES,
    paragraph_runs,
    passage_sketch,
    recurring_many,
    sentence_count,
    sentences,
    split_sketch,
)

from tests.support import articles


def test_a_lightly_edited_sentence_recurs_and_an_unrelated_one_does_not() -> None:
    story = articles.story(21, paragraphs=6)
    edited = [p.replace(" the ", " a ", 1) for p in story]
    other = articles.story(22, paragraphs=6)
    sketch = passage_sketch(articles.text(story)).values
    [same, stranger] = recurring_many(
        sketch,
        [passage_sketch(articles.text(edited)).values, passage_sketch(articles.text(other)).values],
    )
    n = sentence_count(sketch)
    assert same.a_in_b >= 0.8 * n and same.a_recurring[:3] == (0, 1, 2)
    assert stranger.a_in_b <= 0.1 * n


def test_timestamps_and_headings_are_not_passages() -> None:
    text = "Updated 12:04 PM EST, Monday July 16 2018\n\nWorld news and more\n\n" + (
        "The summit opened on Monday with a handshake and a wink. "
        "Neither leader said what they discussed."
    )
    found = sentences(text)
    assert [number for number, _ in found] == [2, 2]
    assert passage_sketch(text).paragraphs == (2, 2)


def _one_pair(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int, tuple[int, ...]]:
    """The counts of recurring_many for one pair, written out plainly."""

    def recurs(s: np.ndarray, t: np.ndarray) -> bool:
        return int((s == t).sum()) >= SENTENCE_AGREE

    a_in_b = [i for i in range(len(a)) if any(recurs(a[i], t) for t in b)]
    b_in_a = [j for j in range(len(b)) if any(recurs(b[j], s) for s in a)]
    a_lead = [i for i in a_in_b if any(recurs(a[i], t) for t in b[: len(a) + LEAD_SLACK])]
    b_lead = [j for j in b_in_a if any(recurs(b[j], s) for s in a[: len(b) + LEAD_SLACK])]
    return len(a_in_b), len(b_in_a), len(a_lead), len(b_lead), tuple(a_in_b)


def test_one_pass_over_all_candidates_counts_as_pair_by_pair() -> None:
    rng = random.Random(5)
    # Small alphabets make agreements, leads and partial recurrences common.
    sketches = [
        bytes(rng.randrange(4) for _ in range(SENTENCE_VALUES * rng.randint(1, 12)))
        for _ in range(30)
    ]
    for _ in range(50):
        a = rng.choice(sketches)
        others = rng.sample(sketches, rng.randint(1, 10))
        x = np.frombuffer(a, dtype=np.uint8).reshape(-1, SENTENCE_VALUES)
        for got, other in zip(recurring_many(a, others), others, strict=True):
            y = np.frombuffer(other, dtype=np.uint8).reshape(-1, SENTENCE_VALUES)
            expected = _one_pair(x, y)
            assert (
                got.a_in_b,
                got.b_in_a,
                got.a_in_b_lead,
                got.b_in_a_lead,
                got.a_recurring,
            ) == expected


def test_paragraph_runs_join_consecutive_paragraphs() -> None:
    paragraphs = (0, 0, 1, 3, 4, 4, 6)
    assert paragraph_runs((0, 2, 3, 4, 6), paragraphs) == ((0, 1), (3, 4), (6, 6))
    assert paragraph_runs((), paragraphs) == ()


def test_separators_mark_where_entries_are_split() -> None:
    entries = [articles.story(30 + i, paragraphs=2) for i in range(3)]
    plain = passage_sketch(articles.text([p for entry in entries for p in entry])).values
    # "___", "* * *" and a run of dashes split entries; two separators in a
    # row, or one before any sentence, make one mark or none.
    text = "\n\n".join(["___", *entries[0], "___", "* * *", *entries[1], "-----", *entries[2]])
    marked = passage_sketch(text).values
    sketch, segments = split_sketch(marked)
    assert sketch == plain
    assert sentence_count(marked) == sentence_count(plain)
    per_entry = [sentence_count(passage_sketch(articles.text(e)).values) for e in entries]
    assert segments == tuple(k for k, n in enumerate(per_entry) for _ in range(n))
    # Without separators: no marks, the sketch as it was.
    assert split_sketch(plain) == (plain, ())
