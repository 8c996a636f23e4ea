"""The deduplication pipeline behind the API: clean → fingerprint → store."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from storydedup.api import convert
from storydedup.api.errors import InvalidArgument
from storydedup.api.validation import published_ms
from storydedup.cleaning.article import (
    NoStoryTextError,
    StoryText,
    story_from_html,
    story_from_text,
)
from storydedup.fingerprints.fingerprint import EmptyTextError, Fingerprinter
from storydedup.store.base import (
    IndexStore,
    IngestItem,
    IngestOutcome,
    Probe,
    SimilarOutcome,
    StoreUnavailableError,
)
from storydedup.store.chrome_state import (
    ChromeState,
    MemoryChromeState,
    RedisChromeState,
    SeenLines,
)
from storydedup.store.redis_store import RedisStore
from storydedup.v1 import storydedup_pb2 as pb

log = logging.getLogger(__name__)

# Sources whose known chrome this process keeps at hand for cleaning.
CHROME_CACHE_SOURCES = 20000


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    item: IngestItem
    source: str
    line_keys: tuple[int, ...]


def chrome_state_for(store: IndexStore) -> ChromeState:
    """Chrome learned beside the index: in Redis when the index is, under the
    same namespace, so that a deployment's processes learn together."""
    if isinstance(store, RedisStore):
        # The store's key prefix carries its namespace; RedisStore has no
        # public accessor for it yet.
        return RedisChromeState(store.client, store._prefix)
    return MemoryChromeState()


class Deduplicator:
    def __init__(
        self,
        store: IndexStore,
        fingerprinter: Fingerprinter,
        chrome: ChromeState | None = None,
    ) -> None:
        self.store = store
        self.fingerprinter = fingerprinter
        self.chrome = chrome if chrome is not None else chrome_state_for(store)
        # Cleaning is synchronous and per article; the state is read once per
        # batch for the sources the batch learned from, and kept here.
        self._chrome_lines: OrderedDict[str, frozenset[int]] = OrderedDict()

    def _known_chrome(self, source: str) -> frozenset[int]:
        return self._chrome_lines.get(source, frozenset()) if source else frozenset()

    def _story(self, article: pb.Article, field: str) -> tuple[Probe, StoryText]:
        """The article's fingerprint and story; InvalidArgument naming the
        field when nothing of it reads as a story."""
        body_field = f"{field}.text" if article.text else f"{field}.html"
        chrome = self._known_chrome(article.source)
        try:
            if article.text:
                story = story_from_text(article.text, article.title, chrome)
            else:
                story = story_from_html(article.html, article.title, chrome)
            return self.fingerprinter.probe(story.text), story
        except (NoStoryTextError, EmptyTextError) as error:
            raise InvalidArgument(f"{body_field}: no story text to fingerprint ({error})") from None

    def prepare(self, article: pb.Article, field: str) -> PreparedArticle:
        probe, story = self._story(article, field)
        item = IngestItem(
            article_id=article.id,
            digest=convert.content_digest(article),
            probe=probe,
            published_ms=published_ms(article),
            metadata=convert.metadata(article, story.title),
        )
        return PreparedArticle(item, article.source, story.line_keys)

    async def ingest(self, prepared: Sequence[PreparedArticle]) -> list[IngestOutcome]:
        outcomes = await self.store.ingest([p.item for p in prepared])
        seen = [
            SeenLines(p.source, p.line_keys, outcome.cluster)
            for p, outcome in zip(prepared, outcomes, strict=True)
            if p.source and not outcome.unchanged
        ]
        if seen:
            await self._learn_chrome(seen)
        return outcomes

    async def _learn_chrome(self, seen: Sequence[SeenLines]) -> None:
        # Learned chrome only sharpens cleaning: the articles are stored
        # already, so an outage here costs a lesson, not the request.
        try:
            await self.chrome.learn(seen)
            known = await self.chrome.known({s.source for s in seen})
        except StoreUnavailableError as error:
            log.warning("chrome state not updated: %s", error)
            return
        for source, lines in known.items():
            self._chrome_lines[source] = lines
            self._chrome_lines.move_to_end(source)
        while len(self._chrome_lines) > CHROME_CACHE_SOURCES:
            self._chrome_lines.popitem(last=False)

    async def similar(self, article: pb.Article, limit: int) -> SimilarOutcome:
        probe, _ = self._story(article, "article")
        return await self.store.similar(probe, limit)
