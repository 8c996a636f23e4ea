"""Made-up news-like articles for tests: prose paragraphs of random
sentences, so that different seeds are different stories and the cleaner
reads them as prose."""

from __future__ import annotations

import random

_WORDS = (
    "the government said on monday that it would review the plan after officials in the capital "
    "warned of rising costs for families and businesses across the region while opposition "
    "leaders called for an inquiry into the contract awarded last year to a company linked to "
    "senior ministers police arrested several people during protests outside parliament where "
    "thousands gathered to demand new elections and an end to corruption analysts expect the "
    "central bank to raise interest rates again next month as inflation remains above target "
    "exports fell sharply in the third quarter according to figures published by the statistics "
    "office the minister told reporters that talks with neighbouring countries would continue "
    "despite the dispute over fishing rights and energy supplies farmers say drought has cut the "
    "harvest by a third forcing prices higher in markets and shops the hospital confirmed that "
    "two patients were in a serious condition after the crash on the motorway near the border "
    "scientists found evidence that the river had flooded the valley thousands of years ago "
    "researchers published the study in a journal on tuesday the company reported record profit "
    "and announced plans to hire workers at factories in the north the court ruled that the law "
    "was unconstitutional and ordered a new hearing the team won the final after extra time "
    "coach praised players for their courage fans celebrated in the streets until dawn"
).split()


def paragraph(rng: random.Random, sentences: int = 4) -> str:
    out = []
    for _ in range(sentences):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(12, 22))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


def story(seed: int, paragraphs: int = 8) -> list[str]:
    """The paragraphs of story number `seed`."""
    rng = random.Random(seed)
    return [paragraph(rng) for _ in range(paragraphs)]


def text(paragraphs: list[str]) -> str:
    return "\n\n".join(paragraphs)


def edited(paragraphs: list[str], seed: int, share: float) -> list[str]:
    """A copy with about `share` of its words replaced."""
    rng = random.Random(seed)
    out = []
    for p in paragraphs:
        words = p.split()
        for i in range(len(words)):
            if rng.random() < share:
                words[i] = rng.choice(_WORDS)
        out.append(" ".join(words))
    return out
