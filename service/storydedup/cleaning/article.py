"""What of an article is fingerprinted: the story text, without page chrome.

HTML input goes through main-content extraction first (resiliparse's, fast;
trafilatura's on the few pages where too little of that survives cleaning);
both kinds then lose
the lines learned as their source's chrome (cleaning/chrome.py) and go
through the page-text cleaner, which leaves a clean body essentially as it
is and strips menus, teasers, datelines, bylines and trailers from pages.
The title is kept apart: syndicators rewrite headlines.
"""

from __future__ import annotations

from dataclasses import dataclass

from storydedup.cleaning.chrome import line_keys
from storydedup.cleaning.chrome_state import ChromeLines
from storydedup.cleaning.html import ExtractedPage, HtmlExtractionError, extract_article
from storydedup.cleaning.page_text import clean_page_lines, clean_page_text, word_count


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
    keys = line_keys(lines)
    known = chrome.chrome_keys(source, keys) if chrome is not None and source else set()
    if known:
        # The lines go to the cleaner as they are, not joined into a text to be split again.
        cleaned = clean_page_lines(
            [line for line, key in zip(lines, keys, strict=True) if key not in known], title
        )
    else:
        cleaned = clean_page_text(text, title)
    return StoryText(
        title=title,
        text="\n\n".join(cleaned.paragraphs),
        line_keys=keys,
        chrome_keys=frozenset(known),
    )


# Main-content extraction sometimes takes in the host's own text around a short story (a
# column of other posts after it, a pull quote before it), where the page's visible text, cleaned,
# keeps the story alone: the page-text cleaner sees the headings and dates that separate them.
# When the cleaned visible text is under _NARROWER_SHARE of the cleaned extracted text (in
# characters) and at least _NARROWER_CONTAINED of it is paragraphs of that text, it is the story.
_NARROWER_SHARE = 0.5
_NARROWER_CONTAINED = 0.8


# resiliparse's main content (~2 ms a page) keeps the short chrome lines that trafilatura drops
# (~25 ms), and the cleaning below drops them as it does from page text: on the quality corpus
# the end result clusters as well (docs/extraction.md). Where it fails, it fails by taking a
# heading or a teaser for the article; when the story it leaves has fewer than this many words,
# trafilatura's extraction is tried instead (3% of the corpus's pages, mostly short stories).
_MIN_FAST_STORY_WORDS = 50


def story_from_html(
    html: str, title: str = "", source: str = "", chrome: ChromeLines | None = None
) -> StoryText:
    try:
        page = extract_article(html, with_page_text=True, fast=True)
    except HtmlExtractionError:
        fast_story = None
    else:
        fast_story = _story_from_page(page, title, source, chrome)
        if _words(fast_story.text) >= _MIN_FAST_STORY_WORDS:
            return fast_story
    try:
        precise = extract_article(html, with_page_text=fast_story is None)
    except HtmlExtractionError as error:
        if fast_story is not None:
            return fast_story
        raise NoStoryTextError(str(error)) from error
    if fast_story is not None:
        # The visible text comes from the same parse either way; no need to extract it twice.
        precise = ExtractedPage(title=page.title, text=precise.text, page_text=page.page_text)
    return _story_from_page(precise, title, source, chrome)


def _words(text: str) -> int:
    return sum(word_count(paragraph) for paragraph in text.split("\n\n") if paragraph)


def _story_from_page(
    page: ExtractedPage, title: str, source: str, chrome: ChromeLines | None
) -> StoryText:
    title = title or page.title
    story = story_from_text(page.text, title, source, chrome)
    if not page.page_text:
        return story
    visible = story_from_text(page.page_text, title, source, chrome)
    # The source's chrome is learned from every visible line, as from page-text input, not only
    # from what extraction kept: a host's teaser that extraction leaves out of most of its pages
    # but takes in above a short story is then known, and dropped there, once it has been seen
    # in a few stories' pages (HTML truncated-copy recall 0.940 -> 0.966, docs/matching.md).
    line_keys = tuple(dict.fromkeys(visible.line_keys + story.line_keys))
    chrome_keys = visible.chrome_keys | story.chrome_keys
    text = visible.text if _is_narrower(visible.text, story.text) else story.text
    return StoryText(title=title, text=text, line_keys=line_keys, chrome_keys=chrome_keys)


def _is_narrower(visible: str, extracted: str) -> bool:
    """Whether `visible` is a small part of `extracted`: the story without the host's text.
    Compared by paragraphs (cheap; both come out of the same cleaner)."""
    if not visible or len(visible) >= _NARROWER_SHARE * len(extracted):
        return False
    paragraphs = set(extracted.split("\n\n"))
    shared = sum(len(p) for p in visible.split("\n\n") if p in paragraphs)
    return shared >= _NARROWER_CONTAINED * len(visible)
