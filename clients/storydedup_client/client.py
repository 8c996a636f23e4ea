"""Sync and asyncio clients of storydedup.v1.StoryDedupService."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import grpc
from storydedup.v1 import storydedup_pb2 as pb
from storydedup.v1 import storydedup_pb2_grpc as pb_grpc

from storydedup_client.models import (
    Article,
    ArticleInfo,
    Cluster,
    ClusterEvent,
    ClusterPage,
    DeleteResult,
    IngestResult,
    SimilarResult,
    StoryDedupError,
    article_info_from,
    cluster_from,
    cluster_request,
    event_from,
    ingest_result_from,
    list_request,
    page_from,
    similar_from,
)

DEFAULT_MESSAGE_BYTES = 64 * 1024 * 1024


def _channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
    ]


def _metadata(token: str | None) -> tuple[tuple[str, str], ...] | None:
    return (("authorization", f"Bearer {token}"),) if token else None


class StoryDedupClient:
    """Blocking client. `target` is host:port (or any gRPC target, e.g.
    `dns:///storydedup:50051` with round_robin load balancing)."""

    def __init__(
        self,
        target: str,
        *,
        timeout: float | None = 30.0,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        max_message_bytes: int = DEFAULT_MESSAGE_BYTES,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        opts = _channel_options(max_message_bytes) + list(options)
        self._channel = (
            grpc.secure_channel(target, credentials, opts)
            if credentials
            else grpc.insecure_channel(target, opts)
        )
        self._stub = pb_grpc.StoryDedupServiceStub(self._channel)
        self._timeout = timeout
        self._metadata = _metadata(token)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise StoryDedupError.from_rpc(error) from None

    def ingest_article(self, article: Article) -> IngestResult:
        response = self._call(
            self._stub.IngestArticle, pb.IngestArticleRequest(article=article.to_proto())
        )
        return ingest_result_from(response)

    def ingest_articles(self, articles: Sequence[Article]) -> list[IngestResult]:
        request = pb.IngestArticlesRequest(articles=[a.to_proto() for a in articles])
        response = self._call(self._stub.IngestArticles, request)
        return [ingest_result_from(r) for r in response.results]

    def stream_ingest_articles(self, articles: Iterable[Article]) -> Iterator[IngestResult]:
        requests = (pb.StreamIngestArticlesRequest(article=a.to_proto()) for a in articles)
        try:
            for response in self._stub.StreamIngestArticles(requests, metadata=self._metadata):
                yield ingest_result_from(response.result)
        except grpc.RpcError as error:
            raise StoryDedupError.from_rpc(error) from None

    def get_cluster(
        self, *, article_id: str | None = None, cluster_id: str | None = None
    ) -> Cluster:
        response = self._call(self._stub.GetCluster, cluster_request(article_id, cluster_id))
        return cluster_from(response.cluster)

    def get_article(self, article_id: str) -> ArticleInfo:
        response = self._call(self._stub.GetArticle, pb.GetArticleRequest(article_id=article_id))
        return article_info_from(response)

    def find_similar(self, article: Article, limit: int = 10) -> SimilarResult:
        request = pb.FindSimilarRequest(article=article.to_proto(), limit=limit)
        return similar_from(self._call(self._stub.FindSimilar, request))

    def delete_article(self, article_id: str) -> DeleteResult:
        response = self._call(
            self._stub.DeleteArticle, pb.DeleteArticleRequest(article_id=article_id)
        )
        return DeleteResult(response.cluster_id, response.remaining_size)

    def list_clusters(
        self,
        since: datetime,
        *,
        until: datetime | None = None,
        by_first_published: bool = False,
        by_size: bool = True,
        min_size: int = 0,
        source: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> ClusterPage:
        """One page of the stories of a window (ListClusters); pass its
        next_page_token for the next."""
        request = list_request(
            since, until, by_first_published, by_size, min_size, source, page_size, page_token
        )
        return page_from(self._call(self._stub.ListClusters, request))

    def watch_clusters(self, from_event_id: str = "") -> Iterator[ClusterEvent]:
        """Every cluster change after `from_event_id` ("": from now, "0":
        every event kept), as it commits; runs until the caller stops."""
        request = pb.WatchClustersRequest(from_event_id=from_event_id)
        try:
            for response in self._stub.WatchClusters(request, metadata=self._metadata):
                yield event_from(response.event)
        except grpc.RpcError as error:
            raise StoryDedupError.from_rpc(error) from None


class AsyncStoryDedupClient:
    """asyncio client with the same methods as StoryDedupClient."""

    def __init__(
        self,
        target: str,
        *,
        timeout: float | None = 30.0,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        max_message_bytes: int = DEFAULT_MESSAGE_BYTES,
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        opts = _channel_options(max_message_bytes) + list(options)
        self._channel = (
            grpc.aio.secure_channel(target, credentials, opts)
            if credentials
            else grpc.aio.insecure_channel(target, opts)
        )
        self._stub = pb_grpc.StoryDedupServiceStub(self._channel)
        self._timeout = timeout
        self._metadata = _metadata(token)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise StoryDedupError.from_rpc(error) from None

    async def ingest_article(self, article: Article) -> IngestResult:
        response = await self._call(
            self._stub.IngestArticle, pb.IngestArticleRequest(article=article.to_proto())
        )
        return ingest_result_from(response)

    async def ingest_articles(self, articles: Sequence[Article]) -> list[IngestResult]:
        request = pb.IngestArticlesRequest(articles=[a.to_proto() for a in articles])
        response = await self._call(self._stub.IngestArticles, request)
        return [ingest_result_from(r) for r in response.results]

    async def stream_ingest_articles(
        self, articles: AsyncIterable[Article] | Iterable[Article]
    ) -> AsyncIterator[IngestResult]:
        async def requests() -> AsyncIterator[pb.StreamIngestArticlesRequest]:
            if isinstance(articles, AsyncIterable):
                async for a in articles:
                    yield pb.StreamIngestArticlesRequest(article=a.to_proto())
            else:
                for a in articles:
                    yield pb.StreamIngestArticlesRequest(article=a.to_proto())

        call = self._stub.StreamIngestArticles(requests(), metadata=self._metadata)
        try:
            async for response in call:
                yield ingest_result_from(response.result)
        except grpc.RpcError as error:
            raise StoryDedupError.from_rpc(error) from None

    async def get_cluster(
        self, *, article_id: str | None = None, cluster_id: str | None = None
    ) -> Cluster:
        response = await self._call(self._stub.GetCluster, cluster_request(article_id, cluster_id))
        return cluster_from(response.cluster)

    async def get_article(self, article_id: str) -> ArticleInfo:
        response = await self._call(
            self._stub.GetArticle, pb.GetArticleRequest(article_id=article_id)
        )
        return article_info_from(response)

    async def find_similar(self, article: Article, limit: int = 10) -> SimilarResult:
        request = pb.FindSimilarRequest(article=article.to_proto(), limit=limit)
        return similar_from(await self._call(self._stub.FindSimilar, request))

    async def delete_article(self, article_id: str) -> DeleteResult:
        response = await self._call(
            self._stub.DeleteArticle, pb.DeleteArticleRequest(article_id=article_id)
        )
        return DeleteResult(response.cluster_id, response.remaining_size)

    async def list_clusters(
        self,
        since: datetime,
        *,
        until: datetime | None = None,
        by_first_published: bool = False,
        by_size: bool = True,
        min_size: int = 0,
        source: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> ClusterPage:
        request = list_request(
            since, until, by_first_published, by_size, min_size, source, page_size, page_token
        )
        return page_from(await self._call(self._stub.ListClusters, request))

    async def watch_clusters(self, from_event_id: str = "") -> AsyncIterator[ClusterEvent]:
        request = pb.WatchClustersRequest(from_event_id=from_event_id)
        call = self._stub.WatchClusters(request, metadata=self._metadata)
        try:
            async for response in call:
                yield event_from(response.event)
        except grpc.RpcError as error:
            raise StoryDedupError.from_rpc(error) from None
        finally:
            call.cancel()
