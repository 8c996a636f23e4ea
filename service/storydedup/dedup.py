"""The deduplication pipeline behind the API: clean → fingerprint → store."""

from __future__ import annotations

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
from storydedup.cleaning.chrome import ChromeModel
from storydedup.fingerprints.fingerprint import EmptyTextError, Fingerprinter
from storydedup.store.base import IndexStore, IngestItem, IngestOutcome, Probe, SimilarOutcome
from storydedup.v1 import storydedup_pb2 as pb


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    item: IngestItem
    source: str
    line_keys: tuple[int, ...]


class Deduplicator:
    def __init__(
        self, store: IndexStore, fingerprinter: Fingerprinter, chrome: ChromeModel | None = None
    ) -> None:
        self.store = store
        self.fingerprinter = fingerprinter
        self.chrome = chrome if chrome is not None else ChromeModel()

    def _story(self, article: pb.Article, field: str) -> tuple[Probe, StoryText]:
        """The article's fingerprint and story; InvalidArgument naming the
        field when nothing of it reads as a story."""
        body_field = f"{field}.text" if article.text else f"{field}.html"
        try:
            if article.text:
                story = story_from_text(article.text, article.title, article.source, self.chrome)
            else:
                story = story_from_html(article.html, article.title, article.source, self.chrome)
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
        for p, outcome in zip(prepared, outcomes, strict=True):
            if not outcome.unchanged:
                self.chrome.learn(p.source, p.line_keys, outcome.cluster)
        return outcomes

    async def similar(self, article: pb.Article, limit: int) -> SimilarOutcome:
        probe, _ = self._story(article, "article")
        return await self.store.similar(probe, limit)
