"""Lead and prefix sketches start at the story text, not at leftover chrome."""

from __future__ import annotations

from storydedup.clustering.policy import MatchPolicy, compare, is_match
from storydedup.fingerprints.fingerprint import Fingerprinter, FingerprintSettings, lead_offset

from tests.support import articles


def test_lead_offset_skips_timestamps_and_credited_captions() -> None:
    text = (
        "| November 18, 2019 12:01 PM\n\n"
        "More than 4,000 people are expected to receive notice (Credit: iStock)\n\n"
        "More than a third of the company's employees will likely receive notice this week."
    )
    # Words as fingerprints count them: "2019 12 01 pm" are four.
    assert lead_offset(text) == 6 + 12
    assert lead_offset("A first paragraph that is long enough to be story prose.") == 0


def test_lead_offset_is_zero_when_nothing_reads_as_story() -> None:
    assert lead_offset("Menu\n\nHome\n\nNews") == 0


def test_truncated_copy_under_a_leftover_caption_matches_its_story() -> None:
    fingerprinter = Fingerprinter(FingerprintSettings())
    story = articles.story(5, paragraphs=12)
    full = articles.text(story)
    caption = "Crowds gather outside the court on Monday. [File: Reuters]"
    truncated = caption + "\n\n" + articles.text(story[:2])
    a, b = fingerprinter.probe(full), fingerprinter.probe(truncated)
    sim = compare(a.signature, b.signature, a.shingle_count, b.shingle_count, a.prefix, b.prefix)
    assert sim.prefix == 1.0
    assert is_match(MatchPolicy(), sim, a.shingle_count, b.shingle_count)


def test_lead_offset_skips_a_breadcrumb_and_a_timestamp_in_any_language() -> None:
    breadcrumb = "Classificação NASCAR | Autoracing | F1 | Indy | MotoGP | StockCar"
    stamp = "sexta-feira, 22 de outubro de 2010 às 20:13"
    story = (
        "Nesta página você terá sempre a classificação atualizada da NASCAR até a última corrida!"
    )
    text = f"{breadcrumb}\n\n{stamp}\n\n{story}"
    # Words as fingerprints count them: seven in the breadcrumb (its pipes are none), ten in
    # the timestamp ("sexta feira", "20 13").
    assert lead_offset(text) == 7 + 10
    # A sentence of story that mentions a time is not a timestamp.
    told = "The polls closed at 20:00 and the count began at once in every district of the city."
    assert lead_offset(told) == 0
