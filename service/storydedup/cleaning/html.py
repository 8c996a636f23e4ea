"""Main article text and title from a news page's HTML.

The configuration is the one `bench/extraction.py` picked on the 181 pages of
the article-extraction-benchmark (numbers in docs/extraction.md): trafilatura
with `favor_precision` and no comments, replaced by resiliparse's main-content
extractor when trafilatura finds nothing or fewer than half the words that
resiliparse finds (trafilatura then has lost most of the article). With
`fast=True`, resiliparse's main-content extractor alone, for callers that clean
its chrome lines away themselves (the service: cleaning/article.py).

Hostile input either gives an `ExtractedPage` or raises `HtmlExtractionError`,
in bounded time: both libraries have inputs on which they go quadratic or
worse, so each is only handed documents it is known to finish quickly on.
"""

from __future__ import annotations

import logging
import re
import traceback
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import trafilatura
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from resiliparse.parse.html import HTMLTree

__all__ = [
    "MAX_HTML_CHARS",
    "ExtractedPage",
    "HtmlExtractionError",
    "extract_article",
    "without_unsafe_chars",
]

_log = logging.getLogger(__name__)

# Same bound as trafilatura's own MAX_FILE_SIZE; the largest page of the
# benchmark is 1.5 MB, so anything this big is not an article page.
MAX_HTML_CHARS = 20_000_000

# trafilatura's cost grows faster than linearly with the number of elements
# (200,000 sibling <div>s took 17 s, 100,000 links 22 s). The benchmark's
# biggest page has ~3,200 '<'; above this bound only resiliparse runs (under
# 1 s for those same documents). Counting '<' is a C-speed upper bound on tags.
_MAX_TRAFILATURA_TAGS = 20_000

# trafilatura runs regular expressions over every class and id value, at
# ~2 s per MB of them (one 4 MB class attribute: 5 s). Real pages carry at
# most ~50 KB; a document cannot carry more than its own length, so only
# large documents are measured (one XPath, ~1 ms).
_MAX_CLASS_ID_CHARS = 250_000
_MEASURE_ATTRIBUTES_ABOVE = 250_000

# resiliparse's main-content pass is quadratic in nesting depth of <div> and
# <article> (4,000 levels: 0.35 s; 100,000 levels: >9 min). Real pages stay
# below ~60 levels; libxml2, under trafilatura, gives up at 256 as well.
_MAX_DEPTH = 256
# A chain of child combinators matches only an element with _MAX_DEPTH - 1
# element ancestors: lexbor answers it in well under a millisecond, where
# walking the DOM from Python costs ~3 ms per page.
_TOO_DEEP_SELECTOR = " > ".join(["*"] * _MAX_DEPTH)

# Below this share of resiliparse's words, trafilatura has dropped most of the
# article (on the benchmark: 0.4-0.6 all work; 0.5 was best, see the docs).
_FALLBACK_WORD_RATIO = 0.5

# A longer "title" is a broken page, not a headline; keep it bounded.
_MAX_TITLE_CHARS = 1_000

_WORD = re.compile(r"\w+")
# C0 controls (tab, LF and CR stay) and lone surrogates: lxml rejects strings
# with them and resiliparse refuses surrogates outright.
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# Looked for in the text's UTF-8 bytes, where a byte below 0x80 is always that character:
# deleting every other byte value leaves them, in one pass in C, where the regular expression
# steps through a page a character at a time. Lone surrogates are what UTF-8 cannot encode.
_SAFE_BYTES = b"\t\n\r" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
# The spaced separators sites put between headline and site name; a bare
# colon or hyphen is part of many headlines ("Fact Check: ...", "4-door").
_TITLE_SEPARATOR = re.compile(r"\s+(?:\||::|-|–|—|·|•|»|«|›|‹|~)\s+")
_NON_ALNUM = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    """The parts of a page that story clustering uses."""

    title: str
    """Page title without the site name; "" if the page has none."""
    text: str
    """Main article text, one paragraph per block, separated by "\\n\\n"."""
    page_text: str = ""
    """The whole page's visible text as a scraper dumps it (resiliparse without main-content
    extraction, one block per line), when asked for; "" otherwise."""


class HtmlExtractionError(ValueError):
    """The document has no article text that could be extracted."""


_HUGE_TAG = re.compile(r"<([A-Za-z][\w:.-]{0,63})\s[^<>]{8000,}>")
# What such a tag spans at least, from its "<" to its ">": its name, a space, the attributes.
_HUGE_TAG_SPAN = 8003


def without_unsafe_chars(text: str) -> str:
    """`text` without C0 controls (tab, LF and CR stay), DEL and lone surrogates, which the
    parsers refuse; looked for before anything is copied, as nearly every page has none."""
    return _safe_with_bytes(text)[0]


def _safe_with_bytes(text: str) -> tuple[str, bytes | None]:
    """without_unsafe_chars(text), and its UTF-8 bytes when it is `text` itself
    (None when something was removed)."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return _UNSAFE_CHARS.sub("", text), None
    if _has_unsafe_ascii(data):
        return _UNSAFE_CHARS.sub("", text), None
    return text, data


def _has_unsafe_ascii(data: bytes) -> bool:
    """Whether UTF-8 `data` holds a C0 control other than tab, LF and CR, or DEL."""
    return bool(data.translate(None, _SAFE_BYTES))


def _may_hold_huge_tag(data: bytes) -> bool:
    """Whether UTF-8 `data` has a "<" followed by a ">", with neither between them,
    _HUGE_TAG_SPAN bytes after it or more, as a huge tag's are (a character is one byte or
    more): on nearly every page none is (a long script or text lies between a ">" and a "<"),
    and _HUGE_TAG, which reads every tag's attributes, need not run."""
    codes = np.frombuffer(data, dtype=np.uint8)
    marks = np.flatnonzero((codes == 0x3C) | (codes == 0x3E))
    kinds = codes[marks]
    spans = np.diff(marks)[(kinds[:-1] == 0x3C) & (kinds[1:] == 0x3E)]
    return bool(len(spans)) and int(spans.max()) >= _HUGE_TAG_SPAN


def extract_article(
    html: str | bytes, *, with_page_text: bool = False, fast: bool = False
) -> ExtractedPage:
    """The title and main text of the news page `html`, and with `with_page_text` the page's
    whole visible text (from the same parse, ~1 ms).

    With `fast`, the main text is resiliparse's main-content extraction alone (~2 ms a page
    instead of ~25 ms): it finds the article as completely as trafilatura but keeps short
    chrome lines ("Advertisement", photo credits, share bars), which suits a caller that
    cleans the text afterwards (cleaning/article.py).

    Bytes are decoded as UTF-8 when they are valid UTF-8, otherwise by the
    encoding the page declares or that is detected, with undecodable bytes
    replaced. Raises `HtmlExtractionError` when there is no article text.
    """
    if len(html) > MAX_HTML_CHARS:
        unit = "bytes" if isinstance(html, bytes) else "characters"
        raise HtmlExtractionError(
            f"HTML document too large: {len(html):,} {unit}, the limit is {MAX_HTML_CHARS:,}"
        )
    document = _decode(html) if isinstance(html, bytes) else html
    document, data = _safe_with_bytes(document)
    if not document.strip():
        raise HtmlExtractionError("HTML document is empty")
    # Both parsers take time quadratic in the attributes of one element
    # (50,000 attributes: 89 s); no real tag comes near this length, so its
    # attributes go and the element stays.
    if data is None or _may_hold_huge_tag(data):
        document = _HUGE_TAG.sub(r"<\1>", document)

    title, read = _read_tree(document, fast=fast, with_page_text=with_page_text)
    # trafilatura runs once the resiliparse tree is gone from every frame:
    # the exceptions it logs keep their frames' callers alive in a log
    # handler that keeps records (pytest's, a queue's), and a tree dropped
    # later on another thread is refused by resiliparse and leaks.
    text = _main_text(document, read)
    if _WORD.search(text) is None:
        raise HtmlExtractionError("no article text found in the HTML document")
    return ExtractedPage(title=title, text=text, page_text=read.page_text)


@dataclass(frozen=True, slots=True)
class _TreeReading:
    """What the resiliparse tree gave: main content (`fallback`), or with
    `whole` the text to use as it is (the whole page's text for a tree too
    deep for main content, or the fast path's main content); nothing when
    lexbor could not parse the document."""

    fallback: str = ""
    whole: bool = False
    page_text: str = ""


def _read_tree(document: str, *, fast: bool, with_page_text: bool) -> tuple[str, _TreeReading]:
    tree = _parse(document)
    if tree is None:
        return "", _TreeReading()
    try:
        title = _title(tree)
        deep = _too_deep(tree)
        fallback = _paragraphs(_resiliparse_text(tree, main_content=not deep))
        # The page text is read whether or not the article is found, which
        # is known only after trafilatura (~1 ms, and only when asked for).
        page_text = _visible_text(tree) if with_page_text else ""
    except BaseException as error:
        traceback.clear_frames(error.__traceback__)
        raise
    finally:
        # resiliparse frees a tree only on the thread that parsed it. A
        # traceback kept in a reference cycle (a caller's saved exception)
        # would hold it until a garbage collection run by any thread (the
        # metrics server's): the tree goes now, and the frames below lose it.
        tree = None
    return title, _TreeReading(fallback=fallback, whole=deep or fast, page_text=page_text)


def _decode(data: bytes) -> str:
    try:
        # Valid UTF-8 is almost never anything else, and encoding detection
        # gets it wrong: on 2 of the 181 benchmark pages it says cp1252.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        encoding = detect_encoding(data, from_html_meta=True) or "utf-8"
        return bytes_to_str(data, encoding, errors="replace")
    except (LookupError, UnicodeError, MemoryError):
        return data.decode("utf-8", errors="replace")


def _parse(document: str) -> HTMLTree | None:
    try:
        return HTMLTree.parse(document)
    except Exception as error:
        # Third-party C parser fed hostile input: without a tree we still
        # have trafilatura, which parses with lxml on its own.
        _log_failure("lexbor could not parse the document", error)
        return None


def _main_text(document: str, read: _TreeReading) -> str:
    if read.whole:
        # Too deep for either main-content extractor (see _MAX_DEPTH): all
        # its visible text is the best that can be had. Or the fast path:
        # resiliparse's main content alone.
        return read.fallback
    if document.count("<") > _MAX_TRAFILATURA_TAGS:
        return read.fallback
    text = _paragraphs(_trafilatura_text(document))
    if len(_WORD.findall(text)) < _FALLBACK_WORD_RATIO * len(_WORD.findall(read.fallback)):
        return read.fallback
    return text


def _too_deep(tree: HTMLTree) -> bool:
    root = tree.document
    return root is not None and root.query_selector(_TOO_DEEP_SELECTOR) is not None


def _trafilatura_text(document: str) -> str:
    try:
        # Parsed here, as trafilatura.extract would, to look at it first.
        tree = trafilatura.load_html(document)
        if tree is None:
            return ""
        if len(document) > _MEASURE_ATTRIBUTES_ABOVE:
            class_id_chars = sum(map(len, tree.xpath("//@class | //@id")))
            if class_id_chars > _MAX_CLASS_ID_CHARS:
                return ""
        text = trafilatura.extract(tree, include_comments=False, favor_precision=True)
    except Exception as error:
        # A library bug on one odd page must not fail the request: the
        # resiliparse text is there to fall back on.
        _log_failure("trafilatura failed on the document", error)
        return ""
    return text or ""


def _resiliparse_text(tree: HTMLTree, *, main_content: bool) -> str:
    try:
        return extract_plain_text(
            tree,
            preserve_formatting=True,
            main_content=main_content,
            list_bullets=False,
            alt_texts=False,
            links=False,
            comments=False,
            post_meta=False,
        )
    except Exception as error:
        _log_failure("resiliparse failed on the document", error)
        return ""


def _log_failure(message: str, error: Exception) -> None:
    # The traceback as text, not the exception: a log handler that keeps
    # records (pytest's, a queue's) would keep its frames, and through
    # their callers' frames the resiliparse tree, and drop it on its own
    # thread, which resiliparse refuses (the tree then leaks).
    if _log.isEnabledFor(logging.DEBUG):
        _log.debug("%s\n%s", message, "".join(traceback.format_exception(error)))


def _visible_text(tree: HTMLTree) -> str:
    try:
        # resiliparse's defaults, as the scrapers whose page text the service also takes.
        return without_unsafe_chars(extract_plain_text(tree, main_content=False))
    except Exception as error:
        _log_failure("resiliparse failed on the document", error)
        return ""


def _paragraphs(text: str) -> str:
    # Character references ("&#4;") bring back what was cleaned from the input.
    text = without_unsafe_chars(text)
    # Each line is a block: trafilatura ends every <p>, heading, list item and
    # <br> with one newline, resiliparse separates blocks with a blank line.
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n\n".join(line for line in lines if line)


def _title(tree: HTMLTree) -> str:
    brands = _brand_keys(tree)
    for selector in (
        'meta[property="og:title"]',
        'meta[name="og:title"]',
        'meta[name="twitter:title"]',
        'meta[itemprop="headline"]',
    ):
        title = _clean_title(_meta_content(tree, selector))
        if title:
            # og:title is usually the bare headline; strip only a suffix that
            # names the site ("... – TechCrunch"), never a general tail.
            return _strip_site_suffix(title, brands, any_short_tail=False)
    title = _clean_title(tree.title or "")
    return _strip_site_suffix(title, brands, any_short_tail=True)


def _meta_content(tree: HTMLTree, selector: str) -> str:
    root = tree.document
    node = root.query_selector(selector) if root is not None else None
    return (node.getattr("content") or "") if node is not None else ""


def _clean_title(title: str) -> str:
    title = without_unsafe_chars(title[: _MAX_TITLE_CHARS * 2])
    return " ".join(title.split())[:_MAX_TITLE_CHARS]


def _brand_keys(tree: HTMLTree) -> set[str]:
    # The page does not come with its URL, but usually states it (og:url,
    # canonical link) and its name (og:site_name, application-name).
    names = [
        _meta_content(tree, 'meta[property="og:site_name"]'),
        _meta_content(tree, 'meta[name="application-name"]'),
    ]
    root = tree.document
    canonical = root.query_selector('link[rel="canonical"]') if root is not None else None
    urls = [
        _meta_content(tree, 'meta[property="og:url"]'),
        (canonical.getattr("href") or "") if canonical is not None else "",
    ]
    for url in urls:
        try:
            host = urlsplit(url.strip()).hostname or ""
        except ValueError:
            continue
        host = host.removeprefix("www.")
        names.append(host)
        names.extend(label for label in host.split(".")[:-1] if len(label) >= 3)
    return {key for key in map(_name_key, names) if len(key) >= 3}


def _name_key(name: str) -> str:
    # "Sportsnet.ca", "sportsnet.ca" and "SportsNet CA" are the same name.
    return _NON_ALNUM.sub("", name.casefold())


def _strip_site_suffix(title: str, brands: set[str], *, any_short_tail: bool) -> str:
    # Repeatedly, as in "Headline | World | News | Express".
    while True:
        separators = list(_TITLE_SEPARATOR.finditer(title))
        if not separators:
            return title
        last = separators[-1]
        head, tail = title[: last.start()].strip(), title[last.end() :].strip()
        if not head:
            return title
        tail_words = len(tail.split())
        if _names_site(tail, brands) and tail_words <= 6:
            title = head
        elif any_short_tail and tail_words <= 4 and len(tail) <= 40 and len(head) > len(tail):
            # <title> nearly always ends with the site or section name, and a
            # short tail after a long head is one; a headline's own dash
            # ("Nadal - Federer rivalry renewed") leaves a shorter head.
            title = head
        else:
            return title


def _names_site(segment: str, brands: set[str]) -> bool:
    key = _name_key(segment)
    if len(key) < 3:
        return False
    # "BBC News" names bbc.com, "Sportsnet" names sportsnet.ca; a very short
    # tail ("US") inside a brand would be a coincidence.
    return any(key == brand or brand in key or (len(key) >= 4 and key in brand) for brand in brands)
