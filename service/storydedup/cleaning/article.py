"""What of an article is fingerprinted: the story text, without page chrome.

HTML input goes through main-content extraction first; both kinds then lose
the lines learned as their source's chrome (cleaning/chrome.py) and go
through the page-text cleaner, which leaves a clean body essentially as it
is and strips menus, teasers, datelines, bylines and trailers from pages.
The title is kept apart: syndicators rewrite headlines.
"""

from __future__ import annotations

from dataclasses import dataclass

from storydedup.cleaning.chrome import line_key
from storydedup.cleaning.chrome_state import ChromeLines
from storydedup.cleaning.html import HtmlExtractionError, extract_article
from storydedup.cleaning.page_text import clean_page_text


@dataclass(frozen=True, slots=True)
class StoryText:
    title: str
    text: str
    # Keys of the input's lines, for learning the source's chrome once the
    # article's cluster is known.
    line_keys: tuple[int, ...] = ()
    # Which of them were left out as the source's learned chrome.
    chrome_keys: frozenset[int] = frozenset()


class NoStoryTextError(ValueError):
    """Nothing of the input reads as story text."""


def story_from_text(
    text: str, title: str = "", source: str = "", chrome: ChromeLines | None = None
) -> StoryText:
    lines = text.splitlines()
    keys = tuple(line_key(line) for line in lines)
    known = chrome.chrome_keys(source, keys) if chrome is not None and source else set()
    if known:
        text = "\n".join(line for line, key in zip(lines, keys, strict=True) if key not in known)
    cleaned = clean_page_text(text, title)
    return StoryText(
        title=title,
        text="\n\n".join(cleaned.paragraphs),
        line_keys=keys,
        chrome_keys=frozenset(known),
    )


def story_from_html(
    html: str, title: str = "", source: str = "", chrome: ChromeLines | None = None
) -> StoryText:
    try:
        page = extract_article(html)
    except HtmlExtractionError as error:
        raise NoStoryTextError(str(error)) from error
    story = story_from_text(page.text, title or page.title, source, chrome)
    return StoryText(
        title=title or page.title,
        text=story.text,
        line_keys=story.line_keys,
        chrome_keys=story.chrome_keys,
    )
