"""The server's pipeline (cleaning, learned chrome, fingerprints, verification,
clustering) on the in-process store, one article at a time."""

from __future__ import annotations

from storydedup.clustering.policy import MatchPolicy
from storydedup.dedup import Deduplicator
from storydedup.fingerprints.fingerprint import Fingerprinter, FingerprintSettings
from storydedup.store.memory import MemoryStore
from storydedup.v1 import storydedup_pb2 as pb


class Pipeline:
    def __init__(self) -> None:
        self.store = MemoryStore(MatchPolicy())
        fingerprinter = Fingerprinter(FingerprintSettings())
        self.dedup = Deduplicator(self.store, fingerprinter)
        self.settings = fingerprinter.settings.store_settings()

    async def ingest(self, article_id: str, text: str, source: str, title: str = "") -> int:
        """The cluster the article joins."""
        await self.store.open(self.settings)
        article = pb.Article(id=article_id, text=text, source=source, title=title)
        [outcome] = await self.dedup.ingest([self.dedup.prepare(article, "article")])
        return outcome.cluster
