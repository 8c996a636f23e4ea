"""What of an article is fingerprinted: the story text, without page chrome.

HTML input goes through main-content extraction first; both kinds then lose
the lines known as their source's chrome (cleaning/chrome.py) and go
through the page-text cleaner, which leaves a clean body essentially as it
is and strips menus, teasers, datelines, bylines and trailers from pages.
The title is kept apart: syndicators rewrite headlines.
"""

from __future__ import annotations

from dataclasses import dataclass

from storydedup.cleaning.chrome import line_key
from storydedup.cleaning.html import HtmlExtractionError, extract_article
from storydedup.cleaning.page_text import clean_page_text


@dataclass(frozen=True, slots=True)
class StoryText:
    title: str
    text: str
    # Keys of the input's lines, for learning the source's chrome once the
    # article's cluster is known.
    line_keys: tuple[int, ...] = ()


class NoStoryTextError(ValueError):
    """Nothing of the input reads as story text."""


def story_from_text(
    text: str, title: str = "", chrome_lines: frozenset[int] = frozenset()
) -> StoryText:
    """`chrome_lines`: the line keys known as chrome of the article's source."""
    lines = text.splitlines()
    keys = tuple(line_key(line) for line in lines)
    if not chrome_lines.isdisjoint(keys):
        text = "\n".join(
            line for line, key in zip(lines, keys, strict=True) if key not in chrome_lines
        )
    cleaned = clean_page_text(text, title)
    return StoryText(title=title, text="\n\n".join(cleaned.paragraphs), line_keys=keys)


def story_from_html(
    html: str, title: str = "", chrome_lines: frozenset[int] = frozenset()
) -> StoryText:
    try:
        page = extract_article(html)
    except HtmlExtractionError as error:
        raise NoStoryTextError(str(error)) from error
    story = story_from_text(page.text, title or page.title, chrome_lines)
    return StoryText(title=title or page.title, text=story.text, line_keys=story.line_keys)
