"""Syndicated copies of a made-up story, as different outlets publish it:
lightly edited, truncated to its first paragraphs, or wrapped in the
outlet's own page chrome (menus, headline teasers of other stories, footer).

Teasers are short headline-like lines, as on real pages: a teaser made of
story-like sentences cannot be told from the story by anyone, and would make
a test about concurrency or faults depend on matching quality instead.
"""

from __future__ import annotations

import random

from storydedup.v1 import storydedup_pb2 as pb

from tests.support import articles

MENUS = (
    ("Home", "World", "Business", "Sport", "Opinion"),
    ("Top stories", "Politics", "Markets", "Tech"),
    ("News", "Local", "Weather", "Culture", "Travel"),
    ("Latest", "Video", "Podcasts"),
)
KINDS = 4


def headline(rng: random.Random) -> str:
    return " ".join(word.capitalize() for word in rng.sample(articles._WORDS, rng.randint(5, 8)))


def page(paragraphs: list[str], outlet: int, seed: int) -> str:
    """Scraped page text: the paragraphs inside outlet number `outlet`'s chrome."""
    rng = random.Random(seed * 7919 + outlet)
    teasers = [headline(rng) for _ in range(3)]
    return "\n".join(
        [
            *MENUS[outlet % len(MENUS)],
            f"Outlet {outlet} News",
            "",
            *paragraphs,
            "",
            "Most read",
            *teasers,
            "Subscribe to our newsletter",
            f"© {2020 + outlet % 5} Outlet {outlet}. All rights reserved.",
        ]
    )


def copy_text(paragraphs: list[str], outlet: int, seed: int) -> str:
    """Outlet `outlet`'s copy of the story: by outlet % 4, the full story with
    about 2% of its words changed; its first 3 or more paragraphs; the full
    story in the outlet's chrome; or the first 3 or more in the chrome."""
    rng = random.Random(seed * 1000 + outlet)
    kind = outlet % KINDS
    body = list(paragraphs)
    if kind in (1, 3):
        body = body[: rng.randint(3, len(body))]
    if kind == 0:
        body = articles.edited(body, seed * 1000 + outlet, 0.02)
    if kind in (2, 3):
        return page(body, outlet, seed)
    return articles.text(body)


def copy_article(article_id: str, paragraphs: list[str], outlet: int, seed: int) -> pb.Article:
    return pb.Article(
        id=article_id,
        text=copy_text(paragraphs, outlet, seed),
        source=f"outlet{outlet}.example",
        url=f"https://outlet{outlet}.example/{article_id}",
    )
