"""The deduplication pipeline behind the API: clean → fingerprint → store."""

from __future__ import annotations

from collections.abc import Sequence

from storydedup.api import convert
from storydedup.api.errors import InvalidArgument
from storydedup.api.validation import published_ms
from storydedup.cleaning.article import NoStoryTextError, story_from_html, story_from_text
from storydedup.fingerprints.fingerprint import EmptyTextError, Fingerprinter
from storydedup.store.base import IndexStore, IngestItem, IngestOutcome, Probe, SimilarOutcome
from storydedup.v1 import storydedup_pb2 as pb


class Deduplicator:
    def __init__(self, store: IndexStore, fingerprinter: Fingerprinter) -> None:
        self.store = store
        self.fingerprinter = fingerprinter

    def _probe(self, article: pb.Article, field: str) -> tuple[Probe, str]:
        """The article's fingerprint and title; InvalidArgument naming the
        field when nothing of it reads as a story."""
        body_field = f"{field}.text" if article.text else f"{field}.html"
        try:
            if article.text:
                story = story_from_text(article.text, article.title)
            else:
                story = story_from_html(article.html, article.title)
            return self.fingerprinter.probe(story.text), story.title
        except (NoStoryTextError, EmptyTextError) as error:
            raise InvalidArgument(f"{body_field}: no story text to fingerprint ({error})") from None

    def prepare(self, article: pb.Article, field: str) -> IngestItem:
        probe, title = self._probe(article, field)
        return IngestItem(
            article_id=article.id,
            digest=convert.content_digest(article),
            probe=probe,
            published_ms=published_ms(article),
            metadata=convert.metadata(article, title),
        )

    async def ingest(self, items: Sequence[IngestItem]) -> list[IngestOutcome]:
        return await self.store.ingest(items)

    async def similar(self, article: pb.Article, limit: int) -> SimilarOutcome:
        probe, _ = self._probe(article, "article")
        return await self.store.similar(probe, limit)
