"""What of an article is fingerprinted: the story text, without page chrome.

HTML input goes through main-content extraction first; both kinds then go
through the page-text cleaner, which leaves a clean body essentially as it
is and strips menus, teasers, datelines, bylines and trailers from pages.
The title is kept apart: syndicators rewrite headlines.
"""

from __future__ import annotations

from dataclasses import dataclass

from storydedup.cleaning.html import HtmlExtractionError, extract_article
from storydedup.cleaning.page_text import clean_page_text


@dataclass(frozen=True, slots=True)
class StoryText:
    title: str
    text: str


class NoStoryTextError(ValueError):
    """Nothing of the input reads as story text."""


def story_from_text(text: str, title: str = "") -> StoryText:
    cleaned = clean_page_text(text, title)
    return StoryText(title=title, text="\n\n".join(cleaned.paragraphs))


def story_from_html(html: str, title: str = "") -> StoryText:
    try:
        page = extract_article(html)
    except HtmlExtractionError as error:
        raise NoStoryTextError(str(error)) from error
    story = story_from_text(page.text, title or page.title)
    return StoryText(title=title or page.title, text=story.text)
