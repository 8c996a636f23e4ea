"""The evaluation corpus for `bench/quality.py`: syndicated copies of real stories inside real
outlets' page chrome, roundup pages, and the real syndication of the Helsinki-summit corpus.

Everything is built at run time, deterministically (fixed seed), from the data under
/work/shared/data (override with --data or STORYDEDUP_BENCH_DATA); no article text is stored in
the repository. How it is built (details in docs/quality-corpus.md):

- Stories: the true article bodies of the article-extraction benchmark with >= 5 paragraphs and
  >= 250 words. Each story's original is its own real page, unchanged.
- Copies: each story is republished 3-6 times inside the real pages of *other* articles: the DOM
  node holding the host's own true body is emptied and filled with the copy's <p> paragraphs, the
  host's headline, <title> and description metas get the copy's, JSON-LD is dropped, everything
  else (menus, sidebars, related lists, footers) stays. Copies are edited the way syndicators
  edit (truncation, dropped/added paragraphs, word edits, typography, datelines, bylines,
  trailers, headlines, wire updates with a new lede).
- Roundups: pages made of the leads of 3-5 stories, each its own story.
- Helsinki: 612 real articles (minus the news.google.com listing pages) labelled by a containment
  rule, wrapped in one host's chrome per publisher for the page-text and HTML inputs.

Run `uv run python bench/corpus.py` to build it, self-check it and print its statistics and the
agreement of the Helsinki labelling rule with bench/helsinki_adjudication.json.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import html as html_lib
import itertools
import json
import os
import random
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree, Node, NodeType

DEFAULT_DATA_DIR = Path(os.environ.get("STORYDEDUP_BENCH_DATA", "/work/shared/data"))
ADJUDICATION_FILE = Path(__file__).resolve().parent / "helsinki_adjudication.json"
# The Helsinki part's labels by reading (docs/quality-corpus.md, "Read labels").
READING_FILE = Path(__file__).resolve().parent / "helsinki_reading.json"
SEED = 20180716

# Stories must be long enough to be truncated, edited and updated.
MIN_STORY_PARAGRAPHS = 5
MIN_STORY_WORDS = 250

# Helsinki labelling rule: containment of the shorter text's word 5-grams in the longer one.
HELSINKI_SAME = 0.8
HELSINKI_DIFFERENT = 0.3
# Google News pages are listings of many outlets' leads, not articles: no story to label.
HELSINKI_EXCLUDED_PUBLISHERS = frozenset({"news.google.com"})

# A host page is usable only if, once its article node is replaced, at most this share of its
# own body's 5-grams is still visible (a teaser box may repeat the lead; more is a second copy).
MAX_HOST_LEFTOVER = 0.1

# All synthetic stories start inside the real Helsinki scrape window, so one timeline holds both.
TIMELINE_START = datetime(2018, 7, 15, 10, 0, tzinfo=UTC)
TIMELINE_HOURS = 26.0

_BODY_MARK = "sdxqbodymarkq"
_TITLE_MARK = "sdxqtitlemarkq"
_DESC_MARK = "sdxqdescmarkq"
_SKIP_TEXT_PARENTS = frozenset({"script", "style", "noscript", "template", "title"})
# Elements that cannot hold <p> children without the parser restructuring the page.
_NOT_BLOCK_CONTAINERS = frozenset(
    {
        "p",
        "span",
        "a",
        "b",
        "i",
        "em",
        "strong",
        "font",
        "small",
        "ol",
        "ul",
        "li",
        "tbody",
        "table",
        "tr",
        "thead",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "figure",
    }
)

KINDS = ("original", "copy", "truncated", "update", "roundup", "helsinki")


@dataclass(frozen=True, slots=True)
class BenchArticle:
    """One article of the corpus, in all three input forms."""

    article_id: str
    story_id: str  # by reading (the labels the benchmark decides by)
    kind: str
    source: str
    title: str
    page_text: str
    html: str
    body: str
    published_at: datetime
    # By the Helsinki containment rule (the second score); story_id for synthetic articles.
    rule_story_id: str = ""


@dataclass(frozen=True, slots=True)
class Corpus:
    """The articles in arrival order, plus what the metrics need to know about the labels."""

    articles: list[BenchArticle]
    # Helsinki pairs the containment rule leaves ambiguous (sorted id pairs): excluded from the
    # rule labels' second score. The read labels exclude nothing.
    rule_excluded_pairs: frozenset[tuple[str, str]]
    stats: dict[str, object] = field(default_factory=dict)


# --------------------------------------------------------------------------- text utilities

_WORD = re.compile(r"\w+")
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018\u02bc`")


def norm_words(text: str) -> list[str]:
    """NFKC, case-folded words; apostrophes vanish so "Trump's" and "Trump’s" agree."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES))


def shingles(words: Sequence[str], size: int = 5) -> set[tuple[str, ...]]:
    """Word `size`-grams; a shorter text is one shingle of all its words."""
    if len(words) < size:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def containment(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    """Share of the smaller set found in the larger one."""
    small = min(len(a), len(b))
    return len(a & b) / small if small else 0.0


def _domain(url: str) -> str:
    host = urlsplit(url).hostname or "unknown"
    return host.removeprefix("www.")


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n+", text) if p.strip()]


# --------------------------------------------------------------------------- source data


@dataclass(frozen=True, slots=True)
class SourcePage:
    """A real page of the extraction benchmark with its true body."""

    page_id: str
    url: str
    domain: str
    html: str
    paragraphs: tuple[str, ...]
    title: str

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


@dataclass(frozen=True, slots=True)
class HelsinkiItem:
    """One article of the Helsinki-summit corpus (title, then body segments)."""

    csv_id: str
    publisher: str
    scraped_at: datetime
    title: str
    paragraphs: tuple[str, ...]


def _page_title(tree: HTMLTree) -> str:
    # og:title is what the outlet calls the article; <title> carries the site name as well.
    document = tree.document
    if document is None:
        return ""
    for selector in ('meta[property="og:title"]', 'meta[name="twitter:title"]'):
        meta = document.query_selector(selector)
        if meta is not None:
            content = " ".join((meta.getattr("content") or "").split())
            if content:
                return _strip_site_suffix(content)
    h1 = document.query_selector("h1")
    if h1 is not None and h1.text and h1.text.strip():
        return " ".join(h1.text.split())
    return _strip_site_suffix(" ".join((tree.title or "").split()))


def _strip_site_suffix(title: str) -> str:
    for sep in (" | ", " - ", " – ", " — "):
        head, _, tail = title.rpartition(sep)
        if head and len(tail.split()) <= 3:
            return head.strip()
    return title


def load_benchmark(data_dir: Path) -> list[SourcePage]:
    """The 181 pages of the article-extraction benchmark, sorted by id."""
    root = data_dir / "raw" / "article-extraction-benchmark"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth):
        raw = gzip.decompress((root / "html" / f"{page_id}.html.gz").read_bytes())
        html = raw.decode("utf-8", errors="replace")
        tree = HTMLTree.parse(html)
        pages.append(
            SourcePage(
                page_id=page_id,
                url=truth[page_id]["url"],
                domain=_domain(truth[page_id]["url"]),
                html=html,
                paragraphs=tuple(_paragraphs(truth[page_id]["articleBody"])),
                title=_page_title(tree),
            )
        )
    return pages


def load_helsinki(data_dir: Path) -> list[HelsinkiItem]:
    """The Helsinki articles: '###' separates title, byline/date lines and paragraphs."""
    path = data_dir / "raw" / "articlecomparisons-helsinki" / "data" / "helsinki_articles.csv"
    items = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            segments = [" ".join(s.split()) for s in row["text"].split("###")]
            segments = [s for s in segments if s]
            if not segments:
                continue
            items.append(
                HelsinkiItem(
                    csv_id=row["id"],
                    publisher=row["publisher"],
                    scraped_at=datetime.fromisoformat(row["scrape_time"]).astimezone(UTC),
                    title=segments[0],
                    paragraphs=tuple(segments[1:]) or (segments[0],),
                )
            )
    return items


# --------------------------------------------------------------------------- host chrome


@dataclass(frozen=True, slots=True)
class HostTemplate:
    """A real page with its article replaced by markers, ready to receive any story."""

    page_id: str
    domain: str
    template: str
    own_body: frozenset[tuple[str, ...]]
    leftover: float


def _walk(root: Node) -> Iterable[Node]:
    # Explicit sibling walk: indexing resiliparse's node collections is slow on big pages.
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        child = node.first_child
        while child is not None:
            stack.append(child)
            child = child.next_sibling


def _find_article_node(body: Node, own_words: list[str]) -> Node | None:
    """The smallest element holding >= 85% of the page's text that reads like its own body.

    Text nodes whose word 3-grams are mostly in the true body are weighted by their length;
    weights are summed up the ancestor chain and the deepest element above the threshold wins.
    """
    trigrams = shingles(own_words, 3)
    weight: dict[Node, int] = {}
    depth: dict[Node, int] = {}
    total = 0
    for node in _walk(body):
        if node.type != NodeType.TEXT:
            continue
        parent = node.parent
        if parent is None or (parent.tag or "") in _SKIP_TEXT_PARENTS:
            continue
        words = norm_words(node.text or "")
        if len(words) < 3:
            continue
        grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
        if sum(g in trigrams for g in grams) < 0.5 * len(grams):
            continue
        total += len(words)
        ancestor: Node | None = parent
        chain = []
        while ancestor is not None:
            chain.append(ancestor)
            weight[ancestor] = weight.get(ancestor, 0) + len(words)
            ancestor = ancestor.parent
        for level, element in enumerate(reversed(chain)):
            depth[element] = level
    if total < 0.6 * len(own_words):
        return None
    qualifying = [n for n, w in weight.items() if w >= 0.85 * total]
    if not qualifying:
        return None
    node = max(qualifying, key=lambda n: depth[n])
    while (node.tag or "") in _NOT_BLOCK_CONTAINERS and node.parent is not None:
        node = node.parent
    return node


def _is_inside(node: Node, container: Node) -> bool:
    ancestor: Node | None = node
    while ancestor is not None:
        if ancestor == container:
            return True
        ancestor = ancestor.parent
    return False


def prepare_host(page: SourcePage) -> HostTemplate | None:
    """Turn a real page into a template, or None if its article cannot be cleanly removed."""
    tree = HTMLTree.parse(page.html)
    body, document = tree.body, tree.document
    if body is None or document is None:
        return None
    own_words = norm_words(page.body)
    node = _find_article_node(body, own_words)
    if node is None or node.tag in ("body", "html"):
        return None
    own_title = set(norm_words(page.title))
    headline_replaced = False
    for h1 in list(document.query_selector_all("h1")):
        if _is_inside(h1, node):
            continue
        words = set(norm_words(h1.text or ""))
        if own_title and words and len(words & own_title) >= 0.5 * len(own_title):
            h1.text = _TITLE_MARK
            headline_replaced = True
    node.text = _BODY_MARK
    if not headline_replaced:
        # A republished story always shows its own headline above the paragraphs.
        headline = tree.create_element("h1")
        if headline is not None:
            headline.text = _TITLE_MARK
            node.insert_before(headline, node.first_child)
    title = document.query_selector("title")
    if title is not None:
        title.text = _TITLE_MARK
    metas = (
        ('meta[property="og:title"]', _TITLE_MARK),
        ('meta[name="twitter:title"]', _TITLE_MARK),
        ('meta[name="description"]', _DESC_MARK),
        ('meta[property="og:description"]', _DESC_MARK),
        ('meta[name="twitter:description"]', _DESC_MARK),
    )
    for selector, mark in metas:
        for meta in list(document.query_selector_all(selector)):
            meta.setattr("content", mark)
    # JSON-LD carries the host's own articleBody; a republisher's page would describe its copy.
    for script in list(document.query_selector_all('script[type="application/ld+json"]')):
        script.decompose()
    template = str(tree)
    if template.count(_BODY_MARK) != 1:
        return None
    own = frozenset(shingles(own_words))
    probe = HostTemplate(page.page_id, page.domain, template, own, 0.0)
    _, text = render(probe, "Probe headline", ["Probe paragraph one.", "Probe paragraph two."])
    leftover = len(own & shingles(norm_words(text))) / max(1, len(own))
    if leftover > MAX_HOST_LEFTOVER:
        return None
    return HostTemplate(page.page_id, page.domain, template, own, leftover)


def page_text(html: str) -> str:
    """The visible text of a whole page as a scraper dumps it: one block per line."""
    return extract_plain_text(html, main_content=False)


def render(host: HostTemplate, title: str, paragraphs: Sequence[str]) -> tuple[str, str]:
    """The host page carrying `paragraphs` under `title`: (HTML, visible text)."""
    body_html = "".join(f"<p>{html_lib.escape(p)}</p>" for p in paragraphs)
    description = " ".join(" ".join(paragraphs).split()[:30])
    html = (
        host.template.replace(_BODY_MARK, body_html)
        .replace(_TITLE_MARK, html_lib.escape(title))
        .replace(_DESC_MARK, html_lib.escape(description))
    )
    return html, page_text(html)


def check_transplant(host: HostTemplate, paragraphs: Sequence[str], text: str) -> None:
    """Assert that the host's own body is gone and every story paragraph is on the page."""
    words = norm_words(text)
    leftover = len(host.own_body & shingles(words)) / max(1, len(host.own_body))
    assert leftover <= MAX_HOST_LEFTOVER, (host.page_id, leftover)
    joined = f" {' '.join(words)} "
    for paragraph in paragraphs:
        needle = " ".join(norm_words(paragraph))
        assert not needle or f" {needle} " in joined, (host.page_id, paragraph[:60])


# --------------------------------------------------------------------------- syndicator edits

_AGENCIES = ("Reuters", "AP", "AFP")
_CITIES = (
    "WASHINGTON",
    "NEW YORK",
    "LONDON",
    "PARIS",
    "BRUSSELS",
    "TOKYO",
    "SAN FRANCISCO",
    "CHICAGO",
    "BERLIN",
    "SYDNEY",
    "TORONTO",
    "MADRID",
)
_NAMES = (
    "Maria Lopez",
    "David Chen",
    "Anna Novak",
    "Tom Hughes",
    "Priya Raman",
    "Jon Meyer",
    "Sara Okafor",
    "Luca Bianchi",
    "Emma Clarke",
    "Kenji Sato",
    "Hannah Roth",
    "Omar Haddad",
)
_SYNONYMS = {
    "said": "says",
    "says": "said",
    "told": "said to",
    "about": "around",
    "after": "following",
    "before": "ahead of",
    "but": "however",
    "big": "large",
    "large": "big",
    "many": "numerous",
    "show": "reveal",
    "shows": "reveals",
    "percent": "per cent",
    "would": "will",
    "will": "would",
    "nearly": "almost",
    "almost": "nearly",
    "began": "started",
    "start": "begin",
    "help": "assist",
    "also": "additionally",
    "because": "as",
    "new": "fresh",
    "more": "further",
    "people": "residents",
    "major": "key",
    "first": "initial",
    "announced": "unveiled",
    "expected": "forecast",
    "company": "firm",
    "however": "but",
}
_DATELINE = re.compile(r"^[A-Z][A-Z.,' ]{2,40}(?:\((?:AP|Reuters|AFP)\))?\s*(?:—|–|--|-)\s*")
_RELATED_LEADS = ("RELATED:", "READ MORE:", "SEE ALSO:")
_EDITOR_NOTES = (
    "This story has been updated with additional details.",
    "This article was refiled to fix a typographical error.",
    "An earlier version of this story misstated a date.",
)


@dataclass(frozen=True, slots=True)
class Wire:
    """The wire service a story is attributed to in copies."""

    agency: str
    city: str

    def dateline(self) -> str:
        if self.agency == "AFP":
            return f"{self.city.title()} (AFP) - "
        dash = "—" if self.agency == "AP" else "-"
        return f"{self.city} ({self.agency}) {dash} "

    def byline(self, rng: random.Random) -> str:
        if self.agency == "Reuters":
            return rng.choice(("By Reuters Staff", f"By {rng.choice(_NAMES)}, Reuters"))
        if self.agency == "AP":
            return rng.choice(("By The Associated Press", f"By {rng.choice(_NAMES)}, AP"))
        return "By AFP"

    def trailer(self, rng: random.Random) -> str:
        a, b = rng.sample(_NAMES, 2)
        if self.agency == "Reuters":
            return f"(Reporting by {a}; Editing by {b})"
        if self.agency == "AP":
            return f"Associated Press writer {a} contributed to this report."
        return f"{a}/{b.split()[0].lower()}"


def _typography(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        # Straight quotes and dashes, as in a plain-text wire feed.
        table = {"“": '"', "”": '"', "‘": "'", "’": "'", "—": "--", "–": "-"}
        return "".join(table.get(c, c) for c in text)
    text = re.sub(r'"([^"]*)"', "“\\1”", text)
    text = re.sub(r"(\w)'(\w)", "\\1’\\2", text)
    return text.replace(" -- ", " — ").replace(" - ", " – ")


def _word_edits(paragraphs: list[str], count: int, rng: random.Random) -> list[str]:
    out = [p.split(" ") for p in paragraphs]
    positions = [(i, j) for i, p in enumerate(out) for j, w in enumerate(p) if len(w) >= 3]
    for i, j in rng.sample(positions, min(count, len(positions))):
        word = out[i][j]
        core = word.strip(".,;:!?\"“”'’()")
        replacement = _SYNONYMS.get(core.lower())
        if replacement is not None:
            out[i][j] = word.replace(core, replacement, 1)
        else:
            out[i][j] = ""  # a dropped word
    return [" ".join(w for w in p if w) for p in out]


def _perturb(text: str, rng: random.Random) -> str:
    # Rewrites a paragraph so that no word 5-gram survives: every fourth word is swapped for a
    # synonym or dropped, as a rewritten top paragraph reads to a shingle-based matcher.
    words = text.split()
    for j in range(rng.randrange(4), len(words), 4):
        core = words[j].strip(".,;:!?\"“”'’()")
        replacement = _SYNONYMS.get(core.lower())
        words[j] = words[j].replace(core, replacement, 1) if replacement and core else ""
    return " ".join(w for w in words if w)


def _new_headline(title: str, paragraphs: Sequence[str], wire: Wire, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25:
        return f"UPDATE {rng.randint(1, 3)}-{title}"
    if roll < 0.45:
        return title.upper() if len(title) < 80 else title
    if roll < 0.65:
        return f"{title} - {wire.agency}"
    lede = paragraphs[0].split() if paragraphs else title.split()
    return " ".join(lede[: rng.randint(7, 12)]).rstrip(",;:") if lede else title


def _extra_paragraph(paragraphs: Sequence[str], other_title: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return f"{rng.choice(_RELATED_LEADS)} {other_title}"
    if roll < 0.65:
        return rng.choice(_EDITOR_NOTES)
    # A photo caption repeating words of the story, as galleries do.
    source = rng.choice(paragraphs).split()
    return "FILE PHOTO: " + " ".join(source[: rng.randint(10, 18)]) + "."


def _set_dateline(paragraphs: list[str], wire: Wire, rng: random.Random) -> list[str]:
    first = paragraphs[0]
    match = _DATELINE.match(first)
    if match:
        return [first[match.end() :], *paragraphs[1:]]  # dateline removed
    return [wire.dateline() + first, *paragraphs[1:]]


def edit_copy(
    paragraphs: Sequence[str], title: str, wire: Wire, other_title: str, rng: random.Random
) -> tuple[str, list[str]]:
    """A light-edit syndicated copy: (headline, paragraphs)."""
    out = list(paragraphs)
    if rng.random() < 0.5:
        out = _set_dateline(out, wire, rng)
    if rng.random() < 0.3 and len(out) > 4:
        del out[rng.randrange(1, len(out))]
    if rng.random() < 0.3:
        out.insert(rng.randrange(1, len(out) + 1), _extra_paragraph(out, other_title, rng))
    if rng.random() < 0.7:
        out = _word_edits(out, rng.randint(2, 5), rng)
    if rng.random() < 0.4:
        out.insert(0, wire.byline(rng))
    if rng.random() < 0.5:
        out.append(wire.trailer(rng))
    if rng.random() < 0.5:
        out = [_typography(p, rng) for p in out]
    headline = _new_headline(title, out, wire, rng) if rng.random() < 0.7 else title
    return headline, out


def truncate_copy(
    paragraphs: Sequence[str], title: str, wire: Wire, origin: str, rng: random.Random
) -> tuple[str, list[str]]:
    """A brief: the first 2-4 paragraphs, maybe with a read-more line."""
    out = list(paragraphs)
    if rng.random() < 0.4:
        out = _set_dateline(out, wire, rng)
    out = out[: rng.randint(2, 4)]
    if rng.random() < 0.3:
        out.append(f"Read the full story at {origin}.")
    if rng.random() < 0.3:
        out = [_typography(p, rng) for p in out]
    headline = _new_headline(title, out, wire, rng) if rng.random() < 0.5 else title
    return headline, out


def update_copy(
    paragraphs: Sequence[str], title: str, wire: Wire, rng: random.Random
) -> tuple[str, list[str]]:
    """A wire update: a rewritten top (new lede), later paragraphs carried over."""
    lede = _perturb(" ".join(paragraphs[:2]), rng)
    weekday = rng.choice(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"))
    fresh = _perturb(paragraphs[rng.randrange(2, len(paragraphs))], rng)
    carried = list(paragraphs[2:])
    for _ in range(rng.randint(0, 2)):
        if len(carried) > 3:
            del carried[rng.randrange(len(carried))]
    out = [f"{wire.dateline()}{lede}", f"Officials said on {weekday} that {fresh}", *carried]
    if rng.random() < 0.5:
        out.append(wire.trailer(rng))
    return f"UPDATE {rng.randint(2, 4)}-{title}", out


# --------------------------------------------------------------------------- planning


@dataclass(slots=True)
class Planned:
    """An article before rendering: text-level content and where it is published."""

    article_id: str
    story_id: str
    kind: str
    source: str
    title: str
    paragraphs: list[str]
    published_at: datetime
    arrival: datetime
    host_page: str | None  # None: the real page itself (an original) is the page
    rule_story_id: str = ""  # the Helsinki rule's group; story_id elsewhere


def _article_id(*parts: object) -> str:
    # Opaque ids: a system under test must not be able to read the story from the id.
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:16]


def _host_weights(domains: Sequence[str], rng: random.Random) -> dict[str, float]:
    # Some outlets carry much more wire copy than others (Zipf-like), so one outlet's chrome
    # recurs on many different stories, as on a real aggregator's feed.
    order = list(domains)
    rng.shuffle(order)
    return {d: 1.0 / (rank + 1) ** 0.8 for rank, d in enumerate(order)}


def _pick_domain(weights: dict[str, float], exclude: set[str], rng: random.Random) -> str:
    candidates = [d for d in sorted(weights) if d not in exclude]
    return rng.choices(candidates, weights=[weights[d] for d in candidates])[0]


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def plan_stories(
    stories: Sequence[SourcePage], hosts: dict[str, list[HostTemplate]], seed: int
) -> list[Planned]:
    """Originals, copies and roundups of the benchmark stories."""
    rng = random.Random(f"{seed}:hosts")
    weights = _host_weights(sorted(hosts), rng)
    titles = [s.title for s in stories]
    planned: list[Planned] = []
    for index, story in enumerate(stories):
        srng = random.Random(f"{seed}:story:{story.page_id}")
        story_id = f"story-{index:03d}"
        wire = Wire(srng.choice(_AGENCIES), srng.choice(_CITIES))
        t0 = TIMELINE_START + timedelta(hours=srng.uniform(0, TIMELINE_HOURS))
        late = srng.random() < 0.12  # the crawler finds the original late
        planned.append(
            Planned(
                article_id=_article_id(seed, story.page_id, "original"),
                story_id=story_id,
                kind="original",
                source=story.domain,
                title=story.title,
                paragraphs=list(story.paragraphs),
                published_at=t0,
                arrival=t0 + _minutes(srng.uniform(30, 180) if late else srng.uniform(0, 10)),
                host_page=None,
            )
        )
        used = {story.domain}
        n_copies = srng.randint(3, 6)
        kinds = ["truncated" if srng.random() < 0.85 else "copy"]
        kinds.append("update" if srng.random() < 0.5 else "copy")
        kinds += ["copy"] * (n_copies - 2)
        for k, kind in enumerate(kinds):
            domain = _pick_domain(weights, used, srng)
            used.add(domain)
            page = srng.choice([h for h in hosts[domain] if h.page_id != story.page_id])
            other_title = titles[(index + srng.randrange(1, len(titles))) % len(titles)]
            if kind == "truncated":
                title, paragraphs = truncate_copy(
                    story.paragraphs, story.title, wire, story.domain, srng
                )
                delay = srng.uniform(5, 120)
            elif kind == "update":
                title, paragraphs = update_copy(story.paragraphs, story.title, wire, srng)
                delay = srng.uniform(60, 480)
            else:
                title, paragraphs = edit_copy(
                    story.paragraphs, story.title, wire, other_title, srng
                )
                delay = srng.lognormvariate(3.5, 1.0)  # median ~33 min, tail of hours
            if kind != "update" and srng.random() < 0.1:
                delay = -srng.uniform(1, 45)  # a syndicator's clock ahead of the original
            published = t0 + _minutes(delay)
            planned.append(
                Planned(
                    article_id=_article_id(seed, story.page_id, k, kind),
                    story_id=story_id,
                    kind=kind,
                    source=domain,
                    title=title,
                    paragraphs=paragraphs,
                    published_at=published,
                    arrival=published + _minutes(srng.uniform(0, 15)),
                    host_page=page.page_id,
                )
            )
    planned += _plan_roundups(stories, planned, hosts, weights, seed)
    return planned


_ROUNDUP_SECTIONS = ("World", "Science", "Business", "Sports", "Entertainment", "Health", "Tech")


def _plan_roundups(
    stories: Sequence[SourcePage],
    planned: Sequence[Planned],
    hosts: dict[str, list[HostTemplate]],
    weights: dict[str, float],
    seed: int,
    count: int = 16,
) -> list[Planned]:
    rng = random.Random(f"{seed}:roundups")
    first_seen = {p.story_id: p.published_at for p in planned if p.kind == "original"}
    out = []
    for r in range(count):
        picks = rng.sample(range(len(stories)), rng.randint(3, 5))
        paragraphs: list[str] = []
        for i in picks:
            paragraphs.append(stories[i].title)  # the item's short heading
            paragraphs += stories[i].paragraphs[: rng.randint(1, 2)]
        heads = [stories[i].title for i in picks[:2]]
        title = f"{rng.choice(_ROUNDUP_SECTIONS)} News Roundup: {heads[0]}; {heads[1]} and more"
        latest = max(first_seen[f"story-{i:03d}"] for i in picks)
        published = latest + _minutes(rng.uniform(60, 240))
        domain = _pick_domain(weights, set(), rng)
        out.append(
            Planned(
                article_id=_article_id(seed, "roundup", r),
                story_id=f"roundup-{r:02d}",
                kind="roundup",
                source=domain,
                title=title,
                paragraphs=paragraphs,
                published_at=published,
                arrival=published + _minutes(rng.uniform(0, 15)),
                host_page=rng.choice(hosts[domain]).page_id,
            )
        )
    return out


# --------------------------------------------------------------------------- Helsinki labels


def _root(parent: dict[str, str], x: str) -> str:
    """The root of `x` in a union-find forest, halving the path on the way."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@dataclass(frozen=True, slots=True)
class HelsinkiLabels:
    """Groups by the containment rule, and the ambiguous cross-group pairs."""

    group_of: dict[str, str]  # csv id -> group id
    ambiguous: frozenset[tuple[str, str]]  # sorted csv-id pairs
    pair_containment: dict[tuple[str, str], float]  # sorted csv-id pairs with containment > 0


def label_helsinki(items: Sequence[HelsinkiItem]) -> HelsinkiLabels:
    """Groups: containment of the shorter text's 5-grams in the longer >= 0.8, closed under
    union. A pair is 'same' in one group with direct containment >= 0.3, 'different' across
    groups below 0.3, and ambiguous (excluded from the pair metrics) otherwise: across groups in
    [0.3, 0.8), or in one group only through a chain (direct containment < 0.3)."""
    grams = {it.csv_id: shingles(norm_words("\n".join(it.paragraphs))) for it in items}
    ids = [it.csv_id for it in items]
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        return _root(parent, x)

    # An inverted index keeps this at the pairs that share anything instead of all 187k pairs.
    index: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for i in ids:
        for g in grams[i]:
            index[g].append(i)
    shared: Counter[tuple[str, str]] = Counter()
    for posting in index.values():
        if len(posting) > 1:
            for a, b in itertools.combinations(sorted(posting), 2):
                shared[(a, b)] += 1
    pair_containment = {}
    for (a, b), n in shared.items():
        c = n / max(1, min(len(grams[a]), len(grams[b])))
        pair_containment[(a, b)] = c
        if c >= HELSINKI_SAME:
            parent[find(a)] = find(b)
    # Name each group by its smallest id, so labels do not depend on the union order.
    smallest: dict[str, str] = {}
    for i in sorted(ids):
        smallest.setdefault(find(i), i)
    group_of = {i: smallest[find(i)] for i in ids}
    ambiguous = {
        pair
        for pair, c in pair_containment.items()
        if HELSINKI_DIFFERENT <= c < HELSINKI_SAME and group_of[pair[0]] != group_of[pair[1]]
    }
    # Union chains glue photo galleries to the articles they ran beside and live-blog versions
    # to briefs they never contained (see the adjudication): only direct evidence says 'same'.
    members: dict[str, list[str]] = defaultdict(list)
    for i in sorted(ids):
        members[group_of[i]].append(i)
    for group in members.values():
        for pair in itertools.combinations(group, 2):
            if pair_containment.get(pair, 0.0) < HELSINKI_DIFFERENT:
                ambiguous.add(pair)
    return HelsinkiLabels(group_of, frozenset(ambiguous), pair_containment)


def rule_verdict(labels: HelsinkiLabels, a: str, b: str, *, union_only: bool = False) -> str:
    """The rule's verdict on a pair: same, different or ambiguous. `union_only` gives the
    plain union rule (any two articles of one group are the same story)."""
    same_group = labels.group_of[a] == labels.group_of[b]
    if union_only and same_group:
        return "same"
    if (min(a, b), max(a, b)) in labels.ambiguous:
        return "ambiguous"
    return "same" if same_group else "different"


@dataclass(frozen=True, slots=True)
class ReadLabels:
    """The Helsinki stories by reading: csv id -> story id, and any contradiction found."""

    story_of: dict[str, str]
    # Pairs read as different that the other verdicts put in one story (must be none).
    conflicts: tuple[tuple[str, str], ...]
    units: int
    pairs_read: int


def read_helsinki_stories(labels: HelsinkiLabels, reading: dict[str, object]) -> ReadLabels:
    """Stories by reading (READING_FILE): the rule groups, split where reading found several
    stories in one, then joined where a pair of them was read as one story. A pair read as
    'different' that ends up in one story is a conflict (reported, and resolved in the file by
    reading again)."""
    unit_of = dict(labels.group_of)
    for split in reading.get("splits", []):  # type: ignore[attr-defined]
        group = str(split["group"])
        members = {i for i, g in labels.group_of.items() if g == group}
        parts = [sorted(str(i) for i in part) for part in split["parts"]]
        listed = [i for part in parts for i in part]
        if sorted(listed) != sorted(members):
            raise ValueError(f"split of group {group} does not partition its members")
        for part in parts:
            for i in part:
                unit_of[i] = part[0]
    parent = {u: u for u in unit_of.values()}

    def find(x: str) -> str:
        return _root(parent, x)

    pairs = list(reading.get("pairs", []))  # type: ignore[call-overload]
    for pair in pairs:
        if pair["verdict"] == "same":
            parent[find(unit_of[str(pair["a"])])] = find(unit_of[str(pair["b"])])
        elif pair["verdict"] != "different":
            raise ValueError(f"unknown verdict {pair['verdict']!r} for {pair['a']}/{pair['b']}")
    conflicts = tuple(
        (str(pair["a"]), str(pair["b"]))
        for pair in pairs
        if pair["verdict"] == "different"
        and find(unit_of[str(pair["a"])]) == find(unit_of[str(pair["b"])])
    )
    # Each story is named by its smallest id, so labels do not depend on the reading order.
    smallest: dict[str, str] = {}
    for i in sorted(unit_of):
        smallest.setdefault(find(unit_of[i]), i)
    story_of = {i: smallest[find(unit_of[i])] for i in unit_of}
    return ReadLabels(story_of, conflicts, len(set(unit_of.values())), len(pairs))


def load_read_labels(labels: HelsinkiLabels) -> ReadLabels:
    reading = json.loads(READING_FILE.read_text(encoding="utf-8"))
    return read_helsinki_stories(labels, reading)


def plan_helsinki(
    items: Sequence[HelsinkiItem],
    labels: HelsinkiLabels,
    read: ReadLabels,
    hosts: dict[str, list[HostTemplate]],
    seed: int,
) -> list[Planned]:
    """Helsinki articles, each publisher wrapped in one host outlet's chrome (its source)."""
    rng = random.Random(f"{seed}:helsinki")
    domains = sorted(hosts)
    rng.shuffle(domains)
    publishers = sorted({it.publisher for it in items})
    # One distinct host outlet per publisher: every article of a publisher shares its chrome.
    host_of = {p: domains[i % len(domains)] for i, p in enumerate(publishers)}
    page_of = {p: rng.choice(hosts[host_of[p]]).page_id for p in publishers}
    return [
        Planned(
            article_id=f"hel-{it.csv_id}",
            story_id=f"hel-{read.story_of[it.csv_id]}",
            rule_story_id=f"hel-{labels.group_of[it.csv_id]}",
            kind="helsinki",
            source=host_of[it.publisher],
            title=it.title,
            paragraphs=list(it.paragraphs),
            published_at=it.scraped_at,
            arrival=it.scraped_at,
            host_page=page_of[it.publisher],
        )
        for it in items
    ]


# --------------------------------------------------------------------------- building


def build_corpus(
    data_dir: Path = DEFAULT_DATA_DIR, seed: int = SEED, limit: int | None = None
) -> Corpus:
    """Build, render and self-check the corpus; `limit` keeps the first N arrivals."""
    started = time.perf_counter()
    pages = load_benchmark(data_dir)
    by_id = {p.page_id: p for p in pages}
    templates = [t for t in map(prepare_host, pages) if t is not None]
    hosts: dict[str, list[HostTemplate]] = defaultdict(list)
    for t in templates:
        hosts[t.domain].append(t)
    host_by_page = {t.page_id: t for t in templates}
    stories = [
        p
        for p in pages
        if len(p.paragraphs) >= MIN_STORY_PARAGRAPHS
        and len(" ".join(p.paragraphs).split()) >= MIN_STORY_WORDS
    ]
    helsinki_all = load_helsinki(data_dir)
    helsinki = [it for it in helsinki_all if it.publisher not in HELSINKI_EXCLUDED_PUBLISHERS]
    labels = label_helsinki(helsinki)
    read = load_read_labels(labels)
    if read.conflicts:
        raise ValueError(
            f"{READING_FILE.name}: pairs read as different end in one story: {read.conflicts}"
        )
    planned = plan_stories(stories, hosts, seed) + plan_helsinki(
        helsinki, labels, read, hosts, seed
    )
    planned.sort(key=lambda p: (p.arrival, p.article_id))
    if limit is not None:
        planned = planned[:limit]

    articles = []
    for p in planned:
        body = "\n\n".join(p.paragraphs)
        if p.host_page is None:
            html = by_id[_page_of_story(stories, p)].html
            text = page_text(html)
        else:
            host = host_by_page[p.host_page]
            html, text = render(host, p.title, p.paragraphs)
            check_transplant(host, p.paragraphs, text)
        articles.append(
            BenchArticle(
                p.article_id,
                p.story_id,
                p.kind,
                p.source,
                p.title,
                text,
                html,
                body,
                p.published_at,
                p.rule_story_id or p.story_id,
            )
        )
    kept = {a.article_id for a in articles}
    excluded = frozenset(
        (f"hel-{a}", f"hel-{b}")
        for a, b in labels.ambiguous
        if f"hel-{a}" in kept and f"hel-{b}" in kept
    )
    stats = corpus_stats(articles, planned, templates, len(pages), labels, excluded)
    hel_read = Counter(a.story_id for a in articles if a.kind == "helsinki")
    stats["helsinki_read_stories"] = len(hel_read)
    stats["helsinki_read_stories_2plus"] = sum(1 for n in hel_read.values() if n >= 2)
    stats["helsinki_read_largest"] = sorted(hel_read.values(), reverse=True)[:5]
    stats["helsinki_read_same_pairs"] = sum(n * (n - 1) // 2 for n in hel_read.values())
    stats["helsinki_read_units_and_pairs_read"] = f"{read.units} units, {read.pairs_read} pairs"
    stats["helsinki_dropped_listing_pages"] = len(helsinki_all) - len(helsinki)
    stats["build_seconds"] = round(time.perf_counter() - started, 1)
    return Corpus(articles, excluded, stats)


def _page_of_story(stories: Sequence[SourcePage], p: Planned) -> str:
    return stories[int(p.story_id.removeprefix("story-"))].page_id


def corpus_stats(
    articles: Sequence[BenchArticle],
    planned: Sequence[Planned],
    templates: Sequence[HostTemplate],
    n_pages: int,
    labels: HelsinkiLabels,
    excluded: frozenset[tuple[str, str]],
) -> dict[str, object]:
    """Counts that describe the corpus (printed by `main` and quoted in the docs)."""
    stories: dict[str, list[BenchArticle]] = defaultdict(list)
    for a in articles:
        stories[a.rule_story_id].append(a)
    synthetic = {s: m for s, m in stories.items() if s.startswith("story-")}
    copies = [len(m) - 1 for m in synthetic.values()]
    hel_groups = [m for s, m in stories.items() if s.startswith("hel-")]
    hosted = [p for p in planned if p.host_page is not None]
    stories_per_page: dict[str, set[str]] = defaultdict(set)
    for p in hosted:
        stories_per_page[p.host_page or ""].add(p.story_id)
    per_page = sorted((len(s) for s in stories_per_page.values()), reverse=True)
    originals = {p.story_id: p.arrival for p in planned if p.kind == "original"}
    early = sum(
        1
        for p in planned
        if p.kind in ("copy", "truncated", "update")
        and p.arrival < originals.get(p.story_id, p.arrival)
    )
    within_chain = same_pairs = 0
    for group in hel_groups:
        ids = sorted(member.article_id.removeprefix("hel-") for member in group)
        for pair in itertools.combinations(ids, 2):
            if labels.pair_containment.get(pair, 0.0) < HELSINKI_DIFFERENT:
                within_chain += 1
            else:
                same_pairs += 1
    share = [
        len(" ".join(a.body.split())) / max(1, len(" ".join(a.page_text.split())))
        for a in articles
        if a.kind != "original"
    ]
    return {
        "articles": len(articles),
        "kinds": dict(Counter(a.kind for a in articles).most_common()),
        "synthetic_stories": len(synthetic),
        "copies_per_story": dict(sorted(Counter(copies).items())),
        "roundups": sum(1 for a in articles if a.kind == "roundup"),
        "helsinki_articles": sum(len(g) for g in hel_groups),
        "helsinki_groups_2plus": sum(1 for g in hel_groups if len(g) >= 2),
        "helsinki_largest_groups": sorted((len(g) for g in hel_groups), reverse=True)[:5],
        "helsinki_singletons": sum(1 for g in hel_groups if len(g) == 1),
        "helsinki_same_pairs": same_pairs,
        "helsinki_chain_only_pairs_excluded": within_chain,
        "excluded_ambiguous_pairs": len(excluded),
        "host_pages_usable": f"{len(templates)}/{n_pages}",
        "host_domains_usable": len({t.domain for t in templates}),
        "host_pages_used": len(stories_per_page),
        "host_pages_with_2plus_stories": sum(1 for n in per_page if n >= 2),
        "max_stories_on_one_host_page": per_page[0] if per_page else 0,
        "copies_arriving_before_original": early,
        "median_body_share_of_page_text": round(statistics.median(share), 2) if share else 0.0,
        "sources": len({a.source for a in articles}),
    }


def adjudication_agreement(data_dir: Path = DEFAULT_DATA_DIR) -> dict[str, object]:
    """Compare the labelling rule, the plain union rule and the read labels with the earlier
    hand adjudication of 40 sampled pairs and its disputes (helsinki_adjudication.json)."""
    items = [
        it for it in load_helsinki(data_dir) if it.publisher not in HELSINKI_EXCLUDED_PUBLISHERS
    ]
    labels = label_helsinki(items)
    read = load_read_labels(labels)
    adjudication = json.loads(ADJUDICATION_FILE.read_text(encoding="utf-8"))
    records = adjudication["pairs"]
    out: dict[str, object] = {"pairs": len(records)}
    for name, union_only in (("rule", False), ("union_only_rule", True)):
        table: Counter[tuple[str, str]] = Counter()
        for record in records:
            verdict = rule_verdict(labels, record["a"], record["b"], union_only=union_only)
            table[(verdict, record["verdict"])] += 1
        decided = {k: v for k, v in table.items() if k[0] != "ambiguous"}
        agree = sum(v for (rule, mine), v in decided.items() if rule == mine)
        out[f"{name}_vs_reading"] = {f"{r}->{m}": n for (r, m), n in sorted(table.items())}
        out[f"{name}_agreement_on_decided"] = f"{agree}/{sum(decided.values())}"
    checks = [(r["a"], r["b"], r["verdict"]) for r in records] + [
        (a, b, d["verdict"])
        for d in adjudication.get("disputes", [])
        for a, b in itertools.product(d["a"], d["b"])
    ]
    agree = sum(
        (read.story_of[a] == read.story_of[b]) == (verdict == "same") for a, b, verdict in checks
    )
    out["read_labels_agreement"] = f"{agree}/{len(checks)}"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    corpus = build_corpus(args.data, args.seed, args.limit)
    for key, value in corpus.stats.items():
        print(f"{key:42} {value}")
    if ADJUDICATION_FILE.exists():
        for key, value in adjudication_agreement(args.data).items():
            print(f"adjudication {key:29} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
