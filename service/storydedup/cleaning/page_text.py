"""Cold-start cleaning of scraped page text: keep the story, drop the chrome.

Ingestion pipelines send the *visible text* of a page, one block per line. Roughly half of it is
chrome (menus, "Latest News" sidebars with the leads of other stories, comment threads, footers)
and it must go before fingerprinting: chrome shared by one outlet makes different stories look
alike, and chrome that differs between outlets makes copies of one story look different.

There is no per-source history here, so everything is decided from the page itself:

1. lines recognised by their wording are cut: bylines, "Updated:" lines, credits and copyright
   trailers, cookie and newsletter notices; datelines are cut off the front of a paragraph and
   "(Additional reporting by …)" off its end;
2. every other line gets a score: prose (sentences of ordinary words) scores its word count,
   chrome scores a cost - small for short labels, larger for timestamps and "Related" headers,
   larger still for teasers (truncated leads of other stories, ending in "...");
3. the story is the run of lines with the highest total score (Kadane's maximum subarray), so
   captions, sub-headings and list items *inside* a story are kept while menus and sidebars
   around it are not. Leads in lists of other stories (isolated one-paragraph "cards") and the
   prose of comment threads are discounted, so that they do not outweigh a short story. The
   run then grows over the table rows or list items that close a story;
4. repeated paragraphs (the lead printed again in a summary box, a pull quote, the headline
   shown twice) are dropped.

Each threshold below was set by measurement with bench/cleaning.py. All of it is linear in the
input and cheap per line: string methods and word sets screen the lines, and the few regular
expressions run only on short lines or on bounded slices of long ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from operator import itemgetter

from storydedup.cleaning.line_cache import LineCache

__all__ = ["CleanedText", "clean_page_lines", "clean_page_text", "word_count"]


@dataclass(frozen=True, slots=True)
class CleanedText:
    """The story paragraphs of a page, and what was left out.

    `dropped` holds (line or part of a line, reason) in page order. Reasons: "menu", "short",
    "teaser", "sidebar" (prose outside the story), "section" ("Related", "Most Read"), "meta"
    (timestamps, "jane says:"), "comments", "duplicate", "title", "dateline", "byline",
    "updated-line", "trailer", "notice" (cookies, newsletters, log-in prompts), "caption"
    (photo captions, by their credit or their agency wording).
    """

    paragraphs: tuple[str, ...]
    dropped: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


# --- thresholds -------------------------------------------------------------------------------

# Fewer words than this and a "sentence" is as likely a button ("Back to top.") as story text.
_MIN_PROSE_WORDS = 7
# Lines this long are prose without closing punctuation (<br>-broken or cut paragraphs), if
# a sentence ends inside them; tag clouds and keyword lists have none.
_LONG_LINE_WORDS = 30
# Headlines and menus capitalise most words; prose rarely exceeds ~40%, even with many names.
_MAX_CAPITALISED_SHARE = 0.6

# Costs of chrome in the region search, in words of prose they cancel. A menu is a run of 1-3
# word lines; list items and sub-headings inside a story are longer, and cheap to bridge.
_SHORT_LABEL_COST = 3.0
_MEDIUM_LABEL_COST = 1.5
_LONG_LABEL_COST = 0.5
_TITLE_CASE_EXTRA_COST = 1.0
# Timestamps ("2 hours ago", "Nov 19, 2019 at 6:34 am") and "jane says:" separate the items of
# story lists and comment threads; inside a story they are rare.
_META_COST = 12.0
# "Related", "Most Popular", "More in World": a list of other stories follows.
_SECTION_COST = 20.0
# A teaser costs its words, and at least this much.
_MIN_TEASER_COST = 10.0

# A one-paragraph lead between non-prose lines (headline above, byline below) is shaped like a
# card in a list of other stories, and counts for less; a lead right after a timestamp even
# less. Long paragraphs are story text even when isolated, e.g. between two photo captions.
_ISOLATED_PROSE_WEIGHT = 0.5
_MAX_ISOLATED_LEAD_WORDS = 40
_CARD_LEAD_WEIGHT = 0.25
_CARD_LOOKBEHIND_LINES = 3
# Prose under a comment thread's header is worth this share of its words, once the page has
# had this many words of prose above the header. The header must be followed by commenter or
# timestamp lines: a bare "12 Comments" button near the byline must not devalue the story.
_COMMENT_PROSE_WEIGHT = 0.1
_MIN_WORDS_BEFORE_COMMENTS = 40
_THREAD_LOOKAHEAD_LINES = 6

# List items and table rows right after a story are kept if they have this many words and
# figures in them, or this many words and the story introduced them with a colon.
_MIN_LIST_ITEM_WORDS = 4
_MIN_INTRODUCED_ITEM_WORDS = 2

# Share of a line's words that must be repeated elsewhere for the line to be a duplicate.
_DUPLICATE_SHARE = 0.9
# Sentences shorter than this are too generic ("He said no.") to prove a duplicate.
_MIN_DUPLICATE_SENTENCE_WORDS = 5

# Boilerplate wording is looked for in lines of bounded length only (long lines are paragraphs),
# and only in a bounded head or tail of a line, which keeps the work per line bounded.
_MAX_BYLINE_WORDS = 12
_MAX_UPDATED_WORDS = 25
_MAX_SHORT_NOTICE_WORDS = 12
_MAX_NOTICE_WORDS = 40
_MAX_SHORT_TRAILER_WORDS = 6
_MAX_HEADER_WORDS = 8
_MAX_PLAIN_SHORT_WORDS = 3
# A dateline opens a paragraph: "WASHINGTON (Reuters) - The ..." has at least this many spaces.
_MIN_DATELINE_SPACES = 4
_DATELINE_CHARS = 80
_HEAD_CHARS = 200
_TAIL_CHARS = 400
_GLUED_SEARCH_CHARS = 150
_CJK_COUNT_CHARS = 20_000


class _Kind(Enum):
    PROSE = "prose"
    LABEL = "label"
    TEASER = "teaser"
    META = "meta"
    SECTION = "section"
    COMMENTS = "comments"
    BOILERPLATE = "boilerplate"


@dataclass(slots=True)
class _Line:
    index: int  # position among the non-empty lines of the input
    text: str
    words: int
    kind: _Kind
    reason: str  # why the line would be dropped; "" for prose
    capitalised: float  # share of capitalised words; computed for lines of 4 to 29 words
    key: str = ""  # _loose_key(text), when the line was read from a page


def _with_punctuation_variants(*words: str) -> frozenset[str]:
    """The words as str.split() may return them: bare, or with punctuation stuck to them."""
    suffixes = ("", ":", ".", ",", "|", ")", "...", "…", "?", "!")
    return frozenset(word + suffix for word in words for suffix in suffixes)


# --- text normalisation -----------------------------------------------------------------------

# A paragraph of punctuation only ("___", "* * *", "•••", "---"): where the entries of a live
# file, a digest or a newsletter are split (fingerprints/passages.py marks them between the
# entries' sentences). Kept wherever it stands in the story, whatever the page shows around it.
SEPARATOR = re.compile(r"^[^\w\s]{2,}$|^_{2,}$|^(?:[^\w\s] ){1,}[^\w\s]$")
# Characters that str.split() does not treat as space but that must not reach the fingerprints:
# C0/C1 controls become spaces, zero-width and soft-hyphen characters vanish (they hide words).
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
# Bullets some scrapers put before list items carry no story text (numbers do: "1. Eat early").
_BULLET_CHARS = frozenset("•·▪◦‣∙●■*-–—>")
_BULLET_RE = re.compile(r"(?:[•·▪◦‣∙●■*>]|[-–—](?=\s))\s*")
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# Thai and Lao: no spaces between words (a space ends a phrase) and no
# sentence punctuation, so prose is told from headlines by length alone: the
# 335 Thai headlines of the multilingual data (docs/quality-corpus.md) are
# at most 180 characters long, and more than half of the paragraphs longer.
_UNPUNCTUATED_RE = re.compile(r"[\u0e00-\u0eff]")
_MIN_UNPUNCTUATED_PROSE_CHARS = 200
_KEY_STRIP = " \t\"'“”‘’«»()[]{}.,;:!?-–—…*"

# --- datelines and credits --------------------------------------------------------------------

_AGENCIES = (
    r"Reuters|AP|AFP|Associated Press|Bloomberg|UPI|dpa|DPA|IANS|PTI|ANI|Xinhua|CNN|AAP|EFE|"
    r"Yonhap|Kyodo|Interfax|TASS|RIA Novosti|ANSA|Agence France-Presse|Thomson Reuters|"
    r"Bernama|Anadolu|SPA|WAM|KUNA|MENA|APA|CNA|CP|NNA|AA|BBC|TNS|WENN|KYODO|XINHUA|REUTERS"
)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]{0,6}\.?"
_DATE = r"(?:" + _MONTH + r"\s+\d{1,2}(?:,\s*\d{4})?|\d{1,2}\s+" + _MONTH + r"(?:\s+\d{4})?)"
# "(Reuters) -", "(AP) —", "(Xinhua) --": the agency in brackets and a dash, after the place.
_AGENCY_TAG_RE = re.compile(
    r"\((?:" + _AGENCIES + r")(?:[ /][A-Za-z]{1,20}){0,2}\)\s*(?:[-—–:]+\s*|(?=[A-Z\"“]))"
)
# The place of a plain "WASHINGTON —" dateline must be upper case ("NEW YORK/LONDON",
# "ST. AUSTELL, Cornwall") or "Town, St.", so that "Nobody - not even his aides - knew"
# keeps its first word. Before an agency tag any capitalised place will do.
_UPPER_PLACE = (
    r"[A-Z][A-Z.'’\-]{1,25}(?:[ /][A-Z][A-Z.'’\-]{0,25}){0,3}"
    r"(?:,\s*[A-Z][A-Za-z.]{1,15}(?: [A-Z][A-Za-z.]{1,15})?)?"
)
_TOWN_STATE = r"[A-Z][a-z.'’\-]{1,25}(?: [A-Z][a-z.'’\-]{1,25}){0,2},\s*[A-Z][A-Za-z.]{1,12}"
_ANY_PLACE = r"[A-Z][A-Za-z.'’\-]{1,25}(?: [A-Z][A-Za-z.'’\-]{1,25}){0,2}"
_PLACE_DATE = r"(?:,\s*" + _DATE + r")?,?"
_AGENCY_PLACE_RE = re.compile(
    r"(?:" + _UPPER_PLACE + "|" + _TOWN_STATE + "|" + _ANY_PLACE + ")" + _PLACE_DATE
)
_PLAIN_PLACE_RE = re.compile(r"(?:" + _UPPER_PLACE + "|" + _TOWN_STATE + ")" + _PLACE_DATE)
_DATELINE_DASH_RE = re.compile(r"\s*(?:[—–]{1,2}|-{1,2})\s+")
# A trailing "(Additional reporting by …; Editing by …)" glued to the last paragraph.
_TRAILING_CREDITS_RE = re.compile(
    r"\s*\((?:additional\s+)?(?:reporting|writing|editing|edited|compiled|written|research|"
    r"translated|graphics|photos?)\b[^()]{0,600}\)\s*$",
    re.IGNORECASE,
)

# --- boilerplate lines ------------------------------------------------------------------------

# "By Jane Doe", "By Reuters Staff", "By JANE DOE, Associated Press", "By admin | 2018-09-16".
_BYLINE_PREFIXES = ("by ", "by:", "written by", "words by", "story by", "posted by", "author:")
_TRAILER_PREFIXES = (
    *("©", "(c) ", "copyright"),
    *("(additional reporting", "additional reporting", "(reporting", "reporting by"),
    *("(writing", "writing by", "(editing", "editing by", "(compiled", "compiled by"),
    *("(corrects", "(refiles", "(updates"),
    *("this story has been", "this article has been", "this story was", "this article was"),
    *("this article first", "this story first", "this article originally"),
    "this story originally",
)
_SHORT_TRAILER_PREFIXES = (
    *("source:", "sources:", "via ", "photo:", "image:", "credit:", "photo credit"),
)
# "Reuters | Updated: 25-10-2020 07:05 IST", "Published 11:11 PM EST Nov 19, 2019",
# "Last updated on ...", "Posted on March 30, 2015 by Admin", "Published 1 day ago".
# Screening by whole words is much cheaper than a regular-expression search of every line.
_UPDATED_TOKENS = _with_punctuation_variants(
    "updated", "published", "created", "posted", "modified", "update", "publish"
)
# The keyword opens the line or follows a separator ("The findings were published today in
# Nature" is a sentence), or carries a colon.
_UPDATED_RE = re.compile(
    r"(?:^|(?:[|•·–—]|\s-)\s*)(?:last\s+)?(?:updated|published|created|posted|modified)"
    r"(?:\s+on|\s+at)?\s*[:|]?\s*(?:\d|" + _MONTH.lower() + r"\s+\d|\d{1,2}\s+[a-z]|today|"
    r"yesterday|an?\s+\w+\s+ago|[a-z]+day\b)"
    r"|\b(?:updated|published|created|posted|modified)\s*:"
)
_NOTICE_TOKENS = _with_punctuation_variants(
    *("cookie", "cookies", "newsletter", "newsletters", "sign", "subscribe", "privacy"),
    *("terms", "javascript", "browser", "click", "follow", "share", "download", "customer"),
    *("contact", "log", "login", "subscriber", "subscribers", "blocker", "adblock"),
    "continuing",
)
# Confirms a keyword hit with word boundaries ("design in" is no "sign in"). In a short line
# any of these marks a notice or a link; a sentence of a story may well say "privacy", so
# longer lines need one of the unmistakable phrases.
_SHORT_NOTICE_RE = re.compile(
    r"\b(?:cookies?|newsletters?|sign up|subscribe|privacy|terms (?:of|and)|javascript"
    r"|your browser|click (?:here|to)|follow us|share (?:this|on)|download (?:our|the|it|now)"
    r"|customer service|contact us|log ?in|sign in|already a subscriber|subscribers? only"
    r"|ad ?blocker|by continuing)\b"
)
_LONG_NOTICE_RE = re.compile(
    r"\b(?:sign up (?:for|to) (?:our|the|a)\b|subscribe (?:to|for) (?:our|the)\b"
    r"|(?:enable|turn on|disabled?) javascript|your browser (?:does not|doesn't|is not)"
    r"|click here to|by continuing to|ad ?blocker|already a subscriber"
    r"|log ?in to (?:read|continue)|privacy policy|terms of (?:use|service)|follow us on)"
)
# Cookie banners run long; they are recognised at any length.
_COOKIE_RE = re.compile(
    r"\b(?:we|this (?:web)?site|our (?:web)?site|website) (?:uses?|stores?|places?) cookies"
    r"|\bcookies? (?:policy|settings|preferences|consent)\b|\baccept (?:all )?cookies\b"
    r"|\b(?:our|the) use of cookies\b"
)
# So do reprint notices ("This copy is for your personal, non-commercial use only.
# Distribution and use of this material are governed by our Subscriber Agreement and by
# copyright law..."): at a page's foot, as prose, they stretch the story region over the
# footer between.
_RIGHTS_RE = re.compile(
    r"\b(?:personal,? non-?commercial use|subscriber agreement"
    r"|(?:order|request) (?:multiple copies|reprints))\b"
)

# --- photo captions ---------------------------------------------------------------------------

# A caption ends in its photo credit, "(Elias Funez/The Union via AP)", "(Credit: iStock)",
# "[File: Reuters]", "Jaafar ASHTIYEH / AFP", "Markus Schreiber AP Photo", or opens the way
# agencies write them, "In this Nov. 11, 2017 file photo,",
# "FILE - In this ..."; gallery captions carry their position glued on, "1of4A shopper looks".
# Captions repeat on a page (once per gallery slide) and come and go between copies of one
# story, so they are dropped wherever they are: inside a story they are noise for matching,
# and before it they hide where the story starts.
_CREDIT_TAIL_RE = re.compile(
    r"[(\[][^()\[\]]{0,80}(?:\w/\w|\bphoto\b|\bcredit\b|\bfile\b|\bgetty\b|\bistock\b"
    r"|\bshutterstock\b|\bvia (?:ap|reuters|afp|getty)\b)[^()\[\]]{0,80}[)\]]$"
)
_CREDIT_END_RE = re.compile(
    r"(?:\w ?/ ?(?:afp|ap|reuters|getty images|epa|epa-efe|xinhua|anadolu agency|dpa)"
    r"|\bap photo)$"
)
_CAPTION_HEAD_RE = re.compile(
    r"(?:file\s*[-–—]+\s*)?in this (?:[a-z]{3,9}\.? \d{1,2},? \d{4},? |\d{4},? |file |undated "
    r"|handout |aerial )*(?:photo|image|picture)\b|\d{1,2}\s*of\s*\d{1,2}[A-Z]"
)
_CAPTION_TAIL_CHARS = 170
_MAX_CAPTION_WORDS = 150


# --- line shapes ------------------------------------------------------------------------------

_OPENERS = "\"'“‘«([¿¡"
_CLOSERS = "\"'”’»)]›」』】 "
# A colon ends a paragraph that introduces a quote or a list.
_SENTENCE_END = frozenset(".!?:。！？؟।")
_ELLIPSES = ("...", "…", ". . .")
# A card's link, as its line ends once closers are stripped (lower case).
_READ_MORE_ENDINGS = tuple(
    mark + phrase
    for mark in (" ", ".", "…")
    for phrase in ("read more", "read full story", "read full article", "read full bio")
)
# A sidebar card flattened to one line: a title-case headline glued to its lead,
# "Harvick Fails To Rally Overmatched Ford In NASCAR FinaleFord v Toyota flopped...".
# The glue follows a word of 4+ lower-case letters, a figure or punctuation: names are glued
# after 1-3 letters ("McDonald", "WeWork", "iPhone", "PlayStation").
_GLUED_HEADLINE_RE = re.compile(r"(?:[a-z]{4}|[0-9?!'’”)])[A-Z][a-z]")
# "Related", "Most Popular", "More in World", "You may also like": a list of other stories.
_SECTION_FIRST_TOKENS = _with_punctuation_variants(
    *("related", "trending", "latest", "popular", "most", "top", "more", "you", "recommended"),
    *("read", "see", "also", "editor's", "editor’s", "editors'", "editors", "don't", "don’t"),
    *("dont", "in", "what", "sponsored", "promoted", "around", "from", "other", "recent"),
    *("previous", "prev", "next", "up", "watch", "further", "keep", "explore", "breaking"),
    "news",
)
_SECTION_RE = re.compile(
    r"(?:related|trending|latest|popular|most (?:popular|read|viewed|shared|commented|emailed)"
    r"|top (?:stories|news|headlines|videos|picks)|more\b"
    r"|you (?:may|might|will|could) (?:also )?(?:like|love|enjoy|be interested)"
    r"|recommended|read (?:more|next|also)|see also|also (?:read|see|on)"
    r"|editor'?s? (?:picks?|choice)|don'?t miss|in case you missed|what to read next"
    r"|sponsored|promoted|around the web|from (?:the web|our partners)|other (?:stories|news)"
    r"|recent (?:posts|stories|news|articles)"
    r"|(?:previous|next|prev)\b(?: \w+)? (?:post|article|story|news)|up next|watch next"
    r"|further reading|keep reading|explore more|more coverage|breaking news|news feed)\b"
)
# The start of a comment thread: "34 responses to “…”", "Leave a Reply", "Comments (12)",
# "comments powered by Disqus".
_COMMENT_TOKENS = _with_punctuation_variants(
    *("comment", "comments", "response", "responses", "reply", "replies", "thoughts"),
    *("discussion", "conversation"),
)
_COMMENTS_RE = re.compile(
    r"\d[\d,.]*k?\s+(?:comments?|responses?|replies|thoughts)(?:\s+(?:to|on)\b.*)?$"
    r"|(?:comments?|responses?|replies|reader comments|user comments)(?:\s*\(\d+\)|\s*:)?$"
    r"|(?:leave|post|add|write|submit) (?:a|your) (?:reply|comment|response)"
    r"|join the (?:conversation|discussion)|(?:show|view|read|see) (?:all )?\d*\s*comments"
    r"|comments? (?:are|is) closed|(?:discussion|conversation)\s*$"
    r"|comments? (?:powered|provided) by\b"
)
# Timestamps and commenters' names on a line of their own.
_META_FIRST_TOKENS = frozenset(
    (
        *("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        *("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
    )
)
_META_RE = re.compile(
    r"(?:\d+\s*(?:s|m|h|d|w|mo|y|secs?|mins?|minutes?|hours?|hrs?|days?|weeks?|months?|years?)"
    r"\s+ago\b"
    r"|(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]{0,6},?\s+)?(?:" + _MONTH.lower() + r"\s+\d{1,2}"
    r"(?:st|nd|rd|th)?,?\s+\d{4}|\d{1,2}(?:st|nd|rd|th)?\s+" + _MONTH.lower() + r",?\s+\d{4})"
    r"|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
    r"|\d{1,2}:\d{2}\s*(?:[ap]\.?m\.?)?)"
)
_COMMENTER_RE = re.compile(r"\b(?:says|said|wrote|writes|replied)\s*:$")
_AGO_RE = re.compile(r"\d\s*\w{0,7}\s+ago\b")

# Everything a short line must lack to be a plain menu item (see _is_plain_short).
_SPECIAL_TOKENS = (
    _UPDATED_TOKENS
    | _NOTICE_TOKENS
    | _COMMENT_TOKENS
    | _SECTION_FIRST_TOKENS
    | _with_punctuation_variants("by", "ago", "rights", "says", "said", "wrote")
)
# The first words of the trailer, credit and byline prefixes above (a set lookup is cheaper
# than trying each prefix).
_SPECIAL_FIRST_TOKENS = frozenset(
    prefix.split()[0] if " " in prefix.strip() else prefix.strip()
    for prefix in (*_TRAILER_PREFIXES, *_SHORT_TRAILER_PREFIXES, *_BYLINE_PREFIXES)
)


def clean_page_text(text: str, title: str = "") -> CleanedText:
    """Keep the story paragraphs of a scraped page's visible text and drop the chrome.

    `title`, if known, is dropped wherever it is repeated as a line (headlines are not body
    text). The result is never empty when the input holds words: if the heuristics reject
    everything, the prose lines (or failing that all lines) come back so that the caller can
    still fingerprint something.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return clean_page_lines(text.split("\n"), title)


def clean_page_lines(raw_lines: Sequence[str], title: str = "") -> CleanedText:
    """clean_page_text of the text these lines make, one a line (none holds a line break)."""
    dropped: list[tuple[int, str, str]] = []
    title_key = _loose_key(" ".join(title.split())) if title else ""
    lines: list[_Line] = []
    normalised: list[str] = []
    short = _readings.short
    for raw in raw_lines:
        known = short.get(raw, _UNREAD)
        if known is _UNREAD:
            known = _read_line(raw)
        if known is None:
            continue
        index = len(normalised)
        normal, (line, cuts, words, kind, reason, capitalised), key = known
        normalised.append(normal)
        for cut, why in cuts:
            dropped.append((index, cut, why))
        if not line:
            continue
        if kind is _Kind.BOILERPLATE:
            dropped.append((index, line, reason))
        elif title_key and key == title_key:
            dropped.append((index, line, "title"))
        else:
            lines.append(_Line(index, line, words, kind, reason, capitalised, key))
    _unmark_paywall_cuts(lines)

    kept = _drop_duplicates(_story_region(lines, dropped, _title_words(title)), dropped)
    if not kept:
        kept = _fallback(lines, normalised)
        kept_indexes = {line.index for line in kept}
        dropped = [item for item in dropped if item[0] not in kept_indexes]
    dropped.sort(key=itemgetter(0))
    return CleanedText(
        paragraphs=tuple(line.text for line in kept),
        dropped=tuple((line, reason) for _, line, reason in dropped),
    )


# What a line is, read on its own: the line without its dateline and trailing credits, what was
# cut off it (text and reason), then its word count, kind, reason and capitalised share.
_LineReading = tuple[str, tuple[tuple[str, str], ...], int, _Kind, str, float]


def _line_reading(raw: str) -> _LineReading:
    line = raw
    cuts: tuple[tuple[str, str], ...] = ()
    if line.count(" ") >= _MIN_DATELINE_SPACES:
        end = _dateline_end(line)
        if end:
            cuts = ((line[:end].strip(), "dateline"),)
            line = line[end:]
    if line.endswith(")"):
        start = _trailing_credits_start(line)
        if start:
            cuts = (*cuts, (line[start:].strip(), "trailer"))
            line = line[:start].rstrip()
    if not line:
        return line, cuts, 0, _Kind.BOILERPLATE, "", 0.0
    return (line, cuts, *_classify(line))


# Each line is normalised and read once while it is in the cache (line_cache.py), keyed by the
# line as it comes; its reading does not depend on the page around it. Learned chrome removes a
# source's lines only once they are known (article.py), so this pays in a source's first pages,
# on copies and on HTML (cleaned twice).
# A line's normalised form, its reading and its _loose_key; None for a line with nothing on it.
_Read = tuple[str, _LineReading, str] | None
_UNREAD: _Read = ("", ("", (), 0, _Kind.BOILERPLATE, "", 0.0), "")
_readings: LineCache[_Read] = LineCache(lines=1 << 15, long_lines=256)


def _reading(raw: str) -> _Read:
    line = _normalise_line(raw)
    if not line:
        return None
    reading = _line_reading(line)
    return (line, reading, _loose_key(reading[0]))


def _read_line(raw: str) -> _Read:
    """The line normalised and read (from the cache when it has been lately)."""
    return _readings.get_or_make(raw, _reading)


def clear_caches() -> None:
    """Forgets the lines read (for benchmarks that time pages with their lines all unseen)."""
    _readings.clear()
    _sentences_read.clear()


# --- splitting and normalising ----------------------------------------------------------------


def _normalise_line(raw: str) -> str:
    """The line without control characters and bullets, its whitespace collapsed ("" if
    nothing is left)."""
    # str.split() also splits on the exotic spaces and separators (NBSP, U+2028, \v, ...).
    line = " ".join(raw.split())
    if not line:
        return line
    if not line.isprintable():
        line = _remove_unprintable(line)
        if not line:
            return line
    if line[0] in _BULLET_CHARS:
        bullet = _BULLET_RE.match(line)
        if bullet:
            line = line[bullet.end() :]
    return line


def _remove_unprintable(line: str) -> str:
    line = _INVISIBLE_RE.sub("", _CONTROL_RE.sub(" ", line))
    return " ".join(line.split())


def _loose_key(text: str) -> str:
    """Case- and edge-punctuation-insensitive form of a line (its whitespace is collapsed)."""
    return text.lower().strip(_KEY_STRIP)


def word_count(line: str) -> int:
    """Words; CJK characters count as half a word each and Thai or Lao ones
    (with their vowel and tone marks) as a quarter, as they are not
    space-separated."""
    words = line.count(" ") + 1
    if len(line) > 12 * words:
        words += len(_CJK_RE.findall(line, 0, _CJK_COUNT_CHARS)) // 2
        words += len(_UNPUNCTUATED_RE.findall(line, 0, _CJK_COUNT_CHARS)) // 4
    return words


# --- datelines and credits --------------------------------------------------------------------


def _dateline_end(line: str) -> int:
    """Where "WASHINGTON (Reuters) -" or "MOSCOW, Oct 25 —" ends at the front of a paragraph
    (0: none)."""
    head = line[:_DATELINE_CHARS]
    paren = head.find("(")
    if paren >= 0:
        tag = _AGENCY_TAG_RE.match(head, paren)
        place = head[:paren].rstrip()
        if tag and (not place or _AGENCY_PLACE_RE.fullmatch(place)):
            return tag.end()
    # Menu items like "GIRF - Finance" look like plain datelines; paragraphs are longer.
    if ("—" in head or "–" in head or " -" in head) and line.count(" ") >= _MIN_PROSE_WORDS:
        dash = _DATELINE_DASH_RE.search(head, 2, 70)
        if dash and _PLAIN_PLACE_RE.fullmatch(head, 0, dash.start()):
            return dash.end()
    return 0


def _trailing_credits_start(line: str) -> int:
    """Where "(Additional reporting by …; Editing by …)" starts at the end of a paragraph (0:
    none, or the whole line)."""
    match = _TRAILING_CREDITS_RE.search(line, max(0, len(line) - _TAIL_CHARS))
    return 0 if match is None else match.start()


# --- classification ---------------------------------------------------------------------------


def _classify(line: str) -> tuple[int, _Kind, str, float]:
    """Boilerplate, structure (headers, timestamps), teaser, label or prose, cheapest first: the
    line's words, kind, reason and capitalised share."""
    words = line.count(" ") + 1
    if len(line) > 12 * words:
        words = word_count(line)  # few spaces for its length: CJK text needs counting
    low = line[:_HEAD_CHARS].lower()
    tokens = low.split()
    if words <= _MAX_PLAIN_SHORT_WORDS and _is_plain_short(low, tokens):
        # The bulk of a page: menu items. Only their cost in the region search matters.
        return (words, _Kind.LABEL, "short", 0.0)
    reason = _boilerplate_reason(line, low, tokens, words)
    if reason:
        return (words, _Kind.BOILERPLATE, reason, 0.0)
    if words <= _MAX_UPDATED_WORDS:
        kind = _structural_kind(low, tokens, words)
        if kind is not None:
            return (words, kind, kind.value, 0.0)
    if _is_teaser(line):
        return (words, _Kind.TEASER, "teaser", 0.0)
    capitalised = _capitalised_share(line) if 3 < words < _LONG_LINE_WORDS else 0.0
    reason = _label_reason(line, words, capitalised)
    if not reason and words < 2 * _LONG_LINE_WORDS and _is_glued_headline(line):
        return (words, _Kind.TEASER, "teaser", capitalised)
    kind = _Kind.LABEL if reason else _Kind.PROSE
    return (words, kind, reason, capitalised)


def _is_plain_short(low: str, tokens: list[str]) -> bool:
    """A short line with none of the words that make a line boilerplate, a header or a
    timestamp, and no ellipsis: a plain menu item."""
    return (
        _SPECIAL_TOKENS.isdisjoint(tokens)
        and not low[0].isdigit()
        and tokens[0][:3] not in _META_FIRST_TOKENS
        and tokens[0] not in _SPECIAL_FIRST_TOKENS
        and low[0] != "("
        and not low.endswith((":", ".", "…"))
        and "©" not in low
        and "ⓒ" not in low
    )


def _boilerplate_reason(line: str, low: str, tokens: list[str], words: int) -> str:
    """Why a whole line is boilerplate by its wording, or "" if it is not."""
    if low.startswith(_TRAILER_PREFIXES) and (
        words <= _MAX_NOTICE_WORDS or line.startswith(("(", "©"))
    ):
        return "trailer"
    if words <= _MAX_CAPTION_WORDS and _is_caption(line, low):
        return "caption"
    if words > _MAX_NOTICE_WORDS:
        if _is_cookie_notice(low):
            return "notice"
        marked = "commercial" in low or "agreement" in low or "copies" in low or "reprint" in low
        return "notice" if marked and _RIGHTS_RE.search(low) else ""
    if low.startswith(_BYLINE_PREFIXES) and (
        words <= _MAX_BYLINE_WORDS or (words <= _MAX_UPDATED_WORDS and "|" in low)
    ):
        return "byline"
    if "©" in low or "ⓒ" in low or "rights reserved" in low:
        return "trailer"
    if words <= _MAX_SHORT_TRAILER_WORDS and low.startswith(_SHORT_TRAILER_PREFIXES):
        return "trailer"
    if (
        words <= _MAX_UPDATED_WORDS
        and not _UPDATED_TOKENS.isdisjoint(tokens)
        and _UPDATED_RE.search(low)
    ):
        return "updated-line"
    if not _NOTICE_TOKENS.isdisjoint(tokens):
        notice_re = _SHORT_NOTICE_RE if words <= _MAX_SHORT_NOTICE_WORDS else _LONG_NOTICE_RE
        if notice_re.search(low) or _is_cookie_notice(low):
            return "notice"
    return ""


def _is_caption(line: str, low: str) -> bool:
    if line.endswith((")", "]")) and _CREDIT_TAIL_RE.search(
        line.lower(), max(0, len(line) - _CAPTION_TAIL_CHARS)
    ):
        return True
    if line[-1].isalpha() and _CREDIT_END_RE.search(line[-40:].lower()):
        return True
    if low.startswith(("in this", "file")):
        return bool(_CAPTION_HEAD_RE.match(low))
    return line[0].isdigit() and bool(_CAPTION_HEAD_RE.match(line, 0, 8))


def _structural_kind(low: str, tokens: list[str], words: int) -> _Kind | None:
    """Comment-thread headers, "Related"-style section headers, timestamps; else None.

    Word sets screen the lines first: most lines match none of these.
    """
    if not _COMMENT_TOKENS.isdisjoint(tokens) and _COMMENTS_RE.match(low.strip(_KEY_STRIP)):
        return _Kind.COMMENTS
    if words <= _MAX_HEADER_WORDS and tokens[0] in _SECTION_FIRST_TOKENS and _SECTION_RE.match(low):
        return _Kind.SECTION
    if _is_meta(low, tokens):
        return _Kind.META
    return None


def _is_meta(low: str, tokens: list[str]) -> bool:
    """A timestamp or a commenter's name line ("jane says:")."""
    if low[0].isdigit() or tokens[0][:3] in _META_FIRST_TOKENS:
        return bool(_META_RE.match(low))
    if low.endswith(":"):
        return bool(_COMMENTER_RE.search(low))
    return "ago" in tokens and bool(_AGO_RE.search(low))


def _is_cookie_notice(low: str) -> bool:
    return "cookie" in low and _COOKIE_RE.search(low) is not None


def _ends_in_ellipsis(line: str) -> bool:
    return line.rstrip(_CLOSERS).endswith(_ELLIPSES)


def _is_teaser(line: str) -> bool:
    """Sidebars truncate the leads of other stories with an ellipsis; cards (an author's bio,
    another story) end in a "Read more" link."""
    return _ends_in_ellipsis(line) or line.rstrip(_CLOSERS)[-20:].lower().endswith(
        _READ_MORE_ENDINGS
    )


def _is_glued_headline(line: str) -> bool:
    """A title-case headline run into its lead without a space (a flattened teaser card)."""
    words = line[:_GLUED_SEARCH_CHARS].split()
    # Cheap screen first: a title-case headline starts with capitalised words.
    if len(words) < 5 or not (_is_capitalised(words[1]) and _is_capitalised(words[2])):
        return False
    for position in range(3, len(words)):
        word = words[position]
        if word.islower() or word[1:].islower():
            continue
        glue = _GLUED_HEADLINE_RE.search(word)
        if glue:
            headline = " ".join(words[:position]) + " " + word[: glue.end() - 2]
            return _capitalised_share(headline) > _MAX_CAPITALISED_SHARE
    return False


def _label_reason(line: str, words: int, capitalised: float) -> str:
    """Why a line is not prose ("short", "menu"), or "" if it reads like a sentence."""
    if words < _MIN_PROSE_WORDS:
        return "short"
    if _unpunctuated(line):
        # Full stops there end abbreviations ("อปท.", "พ.ศ."), not sentences.
        return "" if len(line) >= _MIN_UNPUNCTUATED_PROSE_CHARS else "menu"
    if words >= _LONG_LINE_WORDS:
        return "" if _ends_sentence(line) or _has_inner_sentence_end(line) else "menu"
    if capitalised > _MAX_CAPITALISED_SHARE or not _ends_sentence(line):
        return "menu"
    return ""


def _ends_sentence(line: str) -> bool:
    """Ends in sentence punctuation, maybe followed by closing quotes or an emoji or two."""
    stripped = line.rstrip(_CLOSERS)
    for _ in range(3):
        if not stripped or stripped[-1] in _SENTENCE_END:
            break
        if stripped[-1].isalnum():
            return False
        stripped = stripped[:-1].rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _SENTENCE_END


def _unpunctuated(line: str) -> bool:
    """Mostly in a script written without sentence punctuation."""
    if line.isascii():
        return False
    head = min(len(line), _HEAD_CHARS)
    return 2 * len(_UNPUNCTUATED_RE.findall(line, 0, head)) >= head


def _has_inner_sentence_end(line: str) -> bool:
    return ". " in line or "? " in line or "! " in line or "。" in line


def _is_capitalised(word: str) -> bool:
    return word.lstrip(_OPENERS)[:1].isupper()


def _capitalised_share(line: str) -> float:
    """Share of words (after the first) that start with an upper-case letter."""
    alphabetic = 0
    upper = 0
    for word in line.split()[1:]:
        first = word[0]
        if first.isalpha():
            alphabetic += 1
            if first.isupper():
                upper += 1
    return upper / alphabetic if alphabetic else 0.0


def _unmark_paywall_cuts(lines: list[_Line]) -> None:
    """A truncated paragraph right next to prose is the story's own (cut by a paywall, or an
    excerpt), not a sidebar's teaser: those sit between headlines and timestamps. A card that
    ends in "Read more" stays a teaser wherever it is: right under a story it is the author's
    bio or the next story (wired.com, nationalreview.com), and a copy cut that way loses only
    its last, unfinished paragraph."""
    for position, line in enumerate(lines):
        if (
            line.kind is not _Kind.TEASER
            or line.words < _MIN_PROSE_WORDS
            or not _ends_in_ellipsis(line.text)
        ):
            continue
        before = lines[position - 1].kind if position > 0 else None
        after = lines[position + 1].kind if position + 1 < len(lines) else None
        if _Kind.PROSE in (before, after):
            line.kind = _Kind.PROSE
            line.reason = ""


# Title words (4+ letters, not the commonest) that the story region is expected to name; below
# _MIN_TITLE_HITS of them (with at least _MIN_TITLE_WORDS in the title) the next best region is
# taken if it names them and scores at least _MIN_TITLE_REGION_SCORE (prose words, net).
_TITLE_WORD_RE = re.compile(r"[^\W\d_]{4,}")
_MIN_TITLE_WORDS = 3
_MIN_TITLE_HITS = 2
_MIN_TITLE_REGION_SCORE = 20.0
# Host lines heading the story region (a promo, another story's teaser, a fact-check box) are
# dropped when they name no title word, share no distinctive word with the next
# _LEAD_CONTEXT_LINES lines, and the line after them names _MIN_TITLE_HITS title words. Up to
# _MAX_HOST_LEAD_LINES: 3 takes a quote, its verdict and a note; 4 let a page-text story lose
# its lead and join another cluster (bench/quality.py).
_MAX_HOST_LEAD_LINES = 3
# Short labels among them (at most _HOST_LABEL_WORDS words) do not count, up to this many.
_MAX_HOST_LEAD_LABELS = 4
_HOST_LABEL_WORDS = 3
_LEAD_CONTEXT_LINES = 4
_COMMON_WORDS = frozenset(
    (
        *("that", "this", "with", "from", "have", "will", "more", "after", "about", "over"),
        *("what", "when", "says", "said", "their", "they", "been", "into", "your", "than"),
        *("just", "also", "could", "would", "should", "some", "most", "here", "there", "were"),
        *("which", "while", "where", "first", "last", "year", "years", "news", "today", "week"),
        *("other", "only", "like", "make", "makes", "made", "back", "down", "does", "doesn"),
        *("update", "updated", "reuters", "video", "photos", "watch", "live", "latest", "says"),
    )
)


# --- region selection -------------------------------------------------------------------------


def _story_region(
    lines: list[_Line], dropped: list[tuple[int, str, str]], title_words: frozenset[str]
) -> list[_Line]:
    """Keep the best-scoring run of lines, minus the chrome inside it.

    A label inside the run that the page also shows outside it is chrome echoed into the
    story's frame: the headline printed again above the body, a menu repeated at the bottom.
    When the run does not name the title's words and the next best run does, the next best
    is the story: a short story on a page with a longer text of the host's own (an "about"
    blurb, a column of quotes) scores below it.
    """
    scores = _region_scores(lines)
    start, end = _best_region(scores)
    if len(title_words) >= _MIN_TITLE_WORDS and end > start:
        start, end = _title_region(lines, scores, start, end, title_words)
        start = _title_lead(lines, start, end, title_words)
    if end > start:
        start, end = _extend_over_lists(lines, start, end)
        if _is_clean_tail(lines, end):
            end = len(lines)
    # A separator the page also shows outside the run (one after the last entry) is no chrome.
    outside = {
        line.text
        for line in (*lines[:start], *lines[end:])
        if line.kind is _Kind.LABEL and not SEPARATOR.match(line.text)
    }
    kept: list[_Line] = []
    for position, line in enumerate(lines):
        if not start <= position < end or line.kind not in (_Kind.PROSE, _Kind.LABEL):
            dropped.append((line.index, line.text, line.reason or "sidebar"))
        elif line.kind is _Kind.LABEL and line.text in outside:
            dropped.append((line.index, line.text, "duplicate"))
        else:
            kept.append(line)
    return kept


def _distinctive_words(text: str) -> frozenset[str]:
    """4+ letters, case-folded, not among the commonest."""
    return frozenset(_TITLE_WORD_RE.findall(text.lower())) - _COMMON_WORDS


def _title_words(title: str) -> frozenset[str]:
    """The title's distinctive words."""
    return _distinctive_words(title) if title else frozenset()


def _title_hits(line: _Line, title_words: frozenset[str]) -> int:
    """How many of the title's words the line holds (as substrings: cheap)."""
    text = line.text.lower()
    return sum(word in text for word in title_words)


def _names_title(lines: list[_Line], start: int, end: int, title_words: frozenset[str]) -> bool:
    """Whether the lines hold _MIN_TITLE_HITS of the title's words (as substrings: cheap)."""
    missing = set(title_words)
    needed = len(missing) - _MIN_TITLE_HITS
    for line in lines[start:end]:
        text = line.text.lower()
        missing = {word for word in missing if word not in text}
        if len(missing) <= needed:
            return True
    return False


def _title_region(
    lines: list[_Line], scores: list[float], start: int, end: int, title_words: frozenset[str]
) -> tuple[int, int]:
    """The best run, or the next best when only that one names the title."""
    if _names_title(lines, start, end, title_words):
        return start, end
    masked = scores[:start] + [float("-inf")] * (end - start) + scores[end:]
    other_start, other_end = _best_region(masked)
    if (
        other_end > other_start
        and sum(masked[other_start:other_end]) >= _MIN_TITLE_REGION_SCORE
        and _names_title(lines, other_start, other_end, title_words)
    ):
        return other_start, other_end
    return start, end


def _title_lead(lines: list[_Line], start: int, end: int, title_words: frozenset[str]) -> int:
    """Where the story starts in the region: past host lines run into its top.

    A truncated copy's page often puts a promo or another story's teaser right above the
    body, where it scores as prose; left in, it shifts every prefix sketch and the copy no
    longer starts like its story. A real lead shares names and topic words with the
    paragraphs after it, even when it does not use the headline's words; a host line shares
    none, and the story's first paragraph right after it names the headline.
    """
    head: set[str] = set()
    counted = 0
    for skip in range(1, _MAX_HOST_LEAD_LINES + _MAX_HOST_LEAD_LABELS + 1):
        if start + skip >= end - 1:
            break
        line = lines[start + skip - 1]
        if _title_hits(line, title_words):
            break
        # A sharing bar's or a byline box's labels ("Email", "AddThis Sharing Buttons")
        # between a promo and the lead are passed over, not counted as host lines.
        if line.kind is not _Kind.LABEL or line.words > _HOST_LABEL_WORDS:
            counted += 1
            if counted > _MAX_HOST_LEAD_LINES:
                break
        head |= _distinctive_words(line.text)
        if _title_hits(lines[start + skip], title_words) < _MIN_TITLE_HITS:
            continue
        context: set[str] = set()
        for following in lines[start + skip : min(end, start + skip + _LEAD_CONTEXT_LINES)]:
            context |= _distinctive_words(following.text)
        return start + skip if not head & context else start
    return start


def _is_clean_tail(lines: list[_Line], end: int) -> bool:
    """Only lines of several words follow the story region: the end of a clean article body
    (a list, a closing line without a full stop) that Kadane trimmed. Pages end in footers of
    short links, one a line or a row of them between "|". (A line of several words before a
    clean body is most often its headline.)"""
    return all(
        line.kind is _Kind.LABEL and line.words > 3 and line.text.count(" | ") < 2
        for line in lines[end:]
    )


def _region_scores(lines: list[_Line]) -> list[float]:
    """Each line's score, with story cards and comment threads discounted.

    A long thread or a list of long leads can outweigh a short story. But a thread follows its
    story: once a comment header followed by commenter or timestamp lines comes after some
    prose, the prose below it counts for little.
    """
    scores: list[float] = []
    prose_words = 0
    in_comments = False
    for position, line in enumerate(lines):
        score = _line_score(line)
        if line.kind is _Kind.PROSE:
            prose_words += line.words
            if in_comments:
                score *= _COMMENT_PROSE_WEIGHT
            elif _is_isolated(lines, position):
                if _follows_timestamp(lines, position):
                    score *= _CARD_LEAD_WEIGHT
                elif line.words < _MAX_ISOLATED_LEAD_WORDS:
                    score *= _ISOLATED_PROSE_WEIGHT
        elif (
            line.kind is _Kind.COMMENTS
            and not in_comments
            and prose_words >= _MIN_WORDS_BEFORE_COMMENTS
            and _thread_follows(lines, position)
        ):
            in_comments = True
        scores.append(score)
    return scores


def _line_score(line: _Line) -> float:
    """Positive for story-like lines, negative for chrome, by how sure we are."""
    kind = line.kind
    if kind is _Kind.PROSE:
        return float(line.words)
    if kind is _Kind.LABEL:
        if line.words <= 3:
            cost = _SHORT_LABEL_COST
        elif line.words < _MIN_PROSE_WORDS:
            cost = _MEDIUM_LABEL_COST
        else:
            cost = _LONG_LABEL_COST
        if line.capitalised > _MAX_CAPITALISED_SHARE:
            cost += _TITLE_CASE_EXTRA_COST
        return -cost
    if kind is _Kind.TEASER:
        return -max(_MIN_TEASER_COST, float(line.words))
    if kind is _Kind.META:
        return -_META_COST
    if kind is _Kind.SECTION:
        return -_SECTION_COST
    return float("-inf")  # a comment-thread header: the story never runs across it


def _is_isolated(lines: list[_Line], position: int) -> bool:
    """Prose between two non-prose lines: the shape of a card (headline, lead, byline)."""
    before = lines[position - 1].kind if position > 0 else _Kind.LABEL
    after = lines[position + 1].kind if position + 1 < len(lines) else _Kind.LABEL
    return before is not _Kind.PROSE and after is not _Kind.PROSE


def _follows_timestamp(lines: list[_Line], position: int) -> bool:
    """A headline, a byline and a timestamp, then the lead: a card in a list of stories."""
    previous = lines[max(0, position - _CARD_LOOKBEHIND_LINES) : position]
    return any(line.kind is _Kind.META for line in previous)


def _thread_follows(lines: list[_Line], position: int) -> bool:
    following = lines[position + 1 : position + 1 + _THREAD_LOOKAHEAD_LINES]
    return any(line.kind is _Kind.META for line in following)


def _best_region(scores: list[float]) -> tuple[int, int]:
    """Kadane's maximum subarray: the [start, end) run of lines with the highest total."""
    best_start, best_end, best_total = 0, 0, 0.0
    run_start, total = 0, 0.0
    for index, value in enumerate(scores):
        if total <= 0.0:
            run_start, total = index, 0.0
        total += value
        if total > best_total:
            best_start, best_end, best_total = run_start, index + 1, total
    return best_start, best_end


def _extend_over_lists(lines: list[_Line], start: int, end: int) -> tuple[int, int]:
    """Grow the region over the list items or table rows that open or close a story.

    Kadane stops before them, as each costs a little. Lines with figures (tour dates, scores,
    table rows) are content; so are the items of a list the story introduced with a colon.
    Other lines of several words next to a story are mostly headlines of other stories.
    """
    introduced = lines[end - 1].text.endswith(":")
    if not introduced and end < len(lines) and _is_list_intro(lines[end]):
        end += 1
        introduced = True
    while end < len(lines) and _is_list_item(lines[end], introduced):
        end += 1
    while start > 0 and _is_list_item(lines[start - 1], introduced=False):
        start -= 1
    return start, end


def _is_list_intro(line: _Line) -> bool:
    """ "The union listed its demands:" - not "Share this:" or "Follow us:"."""
    return (
        line.kind is _Kind.LABEL
        and line.words >= _MIN_LIST_ITEM_WORDS
        and line.capitalised <= _MAX_CAPITALISED_SHARE
        and line.text.endswith(":")
    )


def _is_list_item(line: _Line, introduced: bool) -> bool:
    if line.kind is not _Kind.LABEL:
        return False
    if introduced and line.words >= _MIN_INTRODUCED_ITEM_WORDS:
        return line.capitalised <= _MAX_CAPITALISED_SHARE or _has_digit(line.text)
    return line.words >= _MIN_LIST_ITEM_WORDS and _has_digit(line.text)


def _has_digit(text: str) -> bool:
    return any(character.isdigit() for character in text[:_HEAD_CHARS])


# --- duplicates -------------------------------------------------------------------------------


def _drop_duplicates(lines: list[_Line], dropped: list[tuple[int, str, str]]) -> list[_Line]:
    """Drop repeated paragraphs: exact repeats after the first, and summaries of the body.

    A summary box repeats the lead before the body; the body is the full occurrence, so a line
    whose sentences all appear in other kept lines goes (longest first, and only while the
    sentences it repeats are still present elsewhere, so one copy always stays).
    """
    unique = _drop_exact_repeats(lines, dropped)
    sentences = [_sentence_keys(line) for line in unique]
    counts: dict[str, int] = {}
    for keys in sentences:
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
    removed: set[int] = set()
    for position in sorted(range(len(unique)), key=lambda i: -len(sentences[i])):
        keys = sentences[position]
        if keys and _is_repeated_elsewhere(keys, counts, unique[position].text):
            removed.add(position)
            for key in keys:
                counts[key] -= 1
    result: list[_Line] = []
    for position, line in enumerate(unique):
        if position in removed:
            dropped.append((line.index, line.text, "duplicate"))
        else:
            result.append(line)
    return result


def _drop_exact_repeats(lines: list[_Line], dropped: list[tuple[int, str, str]]) -> list[_Line]:
    """Only prose repeats go: a repeated sub-heading or list item may be legitimate."""
    seen: set[str] = set()
    unique: list[_Line] = []
    for line in lines:
        if line.kind is _Kind.PROSE:
            key = line.key
            if key in seen:
                dropped.append((line.index, line.text, "duplicate"))
                continue
            seen.add(key)
        unique.append(line)
    return unique


def _sentence_keys(line: _Line) -> frozenset[str]:
    if line.kind is not _Kind.PROSE:
        return frozenset()
    return _sentences_read.get_or_make(line.text, _sentences_of)


def _sentences_of(text: str) -> frozenset[str]:
    text = text.replace("? ", ". ").replace("! ", ". ").replace("。", ". ")
    return frozenset(
        key
        for key in map(_loose_key, text.split(". "))
        if key.count(" ") + 1 >= _MIN_DUPLICATE_SENTENCE_WORDS
    )


# The story's paragraphs come back on copies and in HTML's second cleaning (line_cache.py).
_sentences_read: LineCache[frozenset[str]] = LineCache(lines=1 << 13, long_lines=256)


def _is_repeated_elsewhere(keys: frozenset[str], counts: dict[str, int], text: str) -> bool:
    """Whether nearly all of a line's words sit in sentences that another line also holds."""
    repeated = sum(key.count(" ") + 1 for key in keys if counts[key] > 1)
    return repeated >= _DUPLICATE_SHARE * (text.count(" ") + 1)


# --- fallback ---------------------------------------------------------------------------------


def _fallback(lines: list[_Line], normalised: list[str]) -> list[_Line]:
    """Something to fingerprint when the heuristics rejected everything."""
    prose = [line for line in lines if line.kind is _Kind.PROSE]
    if prose:
        return prose
    if lines:
        return lines
    return [
        _Line(index, line, word_count(line), _Kind.LABEL, "", 0.0)
        for index, line in enumerate(normalised)
    ]
