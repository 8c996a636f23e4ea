"""The deduplication pipeline behind the API: clean → fingerprint → store."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from storydedup import metrics
from storydedup.api import convert
from storydedup.api.errors import NoStoryText
from storydedup.api.validation import published_ms
from storydedup.cleaning.article import (
    NoStoryTextError,
    StoryText,
    story_from_html,
    story_from_text,
)
from storydedup.cleaning.chrome import ChromeModel
from storydedup.cleaning.chrome_state import ChromeLines, ChromeState, LocalChromeState
from storydedup.fingerprints.fingerprint import EmptyTextError, Fingerprinter
from storydedup.store.base import (
    IndexStore,
    IngestItem,
    IngestOutcome,
    Probe,
    SimilarOutcome,
    StoreFullError,
    StoreUnavailableError,
)
from storydedup.v1 import storydedup_pb2 as pb

log = logging.getLogger("storydedup.dedup")


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    item: IngestItem
    source: str
    line_keys: tuple[int, ...]
    # What it was cleaned from, and which of its lines were chrome then.
    article: pb.Article
    field: str
    chrome_used: frozenset[int]


_CLEANING = metrics.INGEST_STAGE_SECONDS.labels(stage="cleaning")
_FINGERPRINTING = metrics.INGEST_STAGE_SECONDS.labels(stage="fingerprinting")
_IN_STORE = metrics.INGEST_STAGE_SECONDS.labels(stage="store")
_INPUT = {kind: metrics.ARTICLES_INPUT.labels(kind=kind) for kind in ("text", "html")}
_OUTCOMES = {
    outcome: metrics.ARTICLES_INGESTED.labels(outcome=outcome)
    for outcome in ("new_story", "copy", "merge", "unchanged")
}


def outcome_name(outcome: IngestOutcome) -> str:
    """The outcome label: a copy that linked clusters is a merge."""
    if outcome.unchanged:
        return "unchanged"
    if outcome.merged:
        return "merge"
    return "copy" if outcome.duplicate else "new_story"


def count_ingested(
    prepared: Sequence[PreparedArticle], outcomes: Sequence[IngestOutcome], store_s: float
) -> None:
    """Ingest metrics of a batch the store took `store_s` seconds to index:
    the store stage is observed once per article, at the batch's mean."""
    per_article = store_s / max(len(outcomes), 1)
    for p, outcome in zip(prepared, outcomes, strict=True):
        _INPUT["text" if p.article.text else "html"].inc()
        _OUTCOMES[outcome_name(outcome)].inc()
        _IN_STORE.observe(per_article)


class Deduplicator:
    def __init__(
        self,
        store: IndexStore,
        fingerprinter: Fingerprinter,
        chrome: ChromeModel | None = None,
        chrome_state: ChromeState | None = None,
    ) -> None:
        self.store = store
        self.fingerprinter = fingerprinter
        self.chrome_state = chrome_state or LocalChromeState(chrome)
        # Cleaning and fingerprinting are CPU work: on the event loop, every
        # lookup that arrives during a batch waits behind the article being
        # cleaned. They run in one thread of their own instead, an article
        # at a time, so that the loop answers between its steps (the
        # interpreter hands the loop the GIL within its switch interval) and
        # concurrent calls' articles take turns. One thread: the cleaning
        # caches (cleaning/line_cache.py) are used from it alone, and the
        # chrome views it reads are changed by the loop only in single
        # operations on sets and dicts.
        self._cleaner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="storydedup-clean")

    def _story(self, article: pb.Article, field: str) -> tuple[Probe, StoryText]:
        """The article's fingerprint and story; InvalidArgument naming the
        field when nothing of it reads as a story."""
        body_field = f"{field}.text" if article.text else f"{field}.html"
        try:
            started = time.perf_counter()
            if article.text:
                story = story_from_text(article.text, article.title, article.source, self.chrome)
            else:
                story = story_from_html(article.html, article.title, article.source, self.chrome)
            cleaned = time.perf_counter()
            probe = self.fingerprinter.probe(story.text, article.source)
            _CLEANING.observe(cleaned - started)
            _FINGERPRINTING.observe(time.perf_counter() - cleaned)
            return probe, story
        except (NoStoryTextError, EmptyTextError) as error:
            raise NoStoryText(f"{body_field}: no story text to fingerprint ({error})") from None

    def prepare(self, article: pb.Article, field: str) -> PreparedArticle:
        probe, story = self._story(article, field)
        item = IngestItem(
            article_id=article.id,
            digest=convert.content_digest(article),
            probe=probe,
            published_ms=published_ms(article),
            metadata=convert.metadata(article, story.title),
        )
        return PreparedArticle(
            item, article.source, story.line_keys, article, field, story.chrome_keys
        )

    async def prepare_async(self, article: pb.Article, field: str) -> PreparedArticle:
        """`prepare` in the cleaning thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._cleaner, self.prepare, article, field)

    async def prepare_all(
        self, articles: Sequence[tuple[pb.Article, str]]
    ) -> list[PreparedArticle]:
        """`prepare` of each (article, field) in the cleaning thread, one job
        an article, so that other calls' articles are cleaned in between."""
        return [await self.prepare_async(article, field) for article, field in articles]

    def close(self) -> None:
        """Stops the cleaning thread once the work given to it is done."""
        self._cleaner.shutdown(wait=False, cancel_futures=True)

    @property
    def chrome(self) -> ChromeLines:
        return self.chrome_state.lines

    async def refresh_chrome(self, sources: Iterable[str]) -> None:
        """Brings the local chrome view of these sources up to date, so that
        a batch is cleaned once with the chrome it will be checked against:
        with a shared state, the previous batch's lessons would otherwise
        have most of the next batch cleaned twice."""
        await self.chrome_state.lookup([(source, ()) for source in set(sources)])

    async def with_current_chrome(
        self, prepared: Sequence[PreparedArticle]
    ) -> list[PreparedArticle]:
        """The articles as cleaned with the chrome known now: chrome learned
        elsewhere since they were cleaned (by another replica sharing the
        state) changes what is fingerprinted, so those are cleaned again and
        every replica indexes what one would."""
        current = await self.chrome_state.lookup([(p.source, p.line_keys) for p in prepared])
        result = []
        for p, now in zip(prepared, current, strict=True):
            if p.chrome_used == now:
                result.append(p)
                continue
            result.append(await self.prepare_async(p.article, p.field))
        return result

    async def ingest(self, prepared: Sequence[PreparedArticle]) -> list[IngestOutcome]:
        prepared = await self.with_current_chrome(prepared)
        started = time.perf_counter()
        outcomes = await self.store.ingest([p.item for p in prepared])
        count_ingested(prepared, outcomes, time.perf_counter() - started)
        learned = [
            (p.source, p.line_keys, outcome.cluster)
            for p, outcome in zip(prepared, outcomes, strict=True)
            if not outcome.unchanged
        ]
        try:
            await self.chrome_state.learn(learned)
        except (StoreUnavailableError, StoreFullError) as error:
            # The articles are indexed; what is lost is one sighting of
            # their lines, which later pages of the source make up for.
            log.warning("chrome not learned from %d articles: %s", len(learned), error)
        return outcomes

    async def similar(self, article: pb.Article, limit: int) -> tuple[SimilarOutcome, list[str]]:
        """Verified matches of the article, and its cleaned story text's
        paragraphs (which the matches' passages count)."""
        loop = asyncio.get_running_loop()
        probe, story = await loop.run_in_executor(self._cleaner, self._story, article, "article")
        return await self.store.similar(probe, limit), story.text.split("\n\n")
