"""The StoryDedupService implementation.

Requests arrive as bytes and are parsed here, not by grpcio: a request that
is not valid protobuf (e.g. a string field with invalid UTF-8) must end as
INVALID_ARGUMENT, whereas grpcio's own deserialisation failure is INTERNAL.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from storydedup import metrics
from storydedup.api import convert
from storydedup.api.errors import (
    ApiError,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    StoreFull,
    Unavailable,
    drain,
)
from storydedup.api.validation import (
    Limits,
    check_article,
    check_batch_size,
    check_event_id,
    check_id,
    check_limit,
    check_list_clusters,
)
from storydedup.dedup import Deduplicator
from storydedup.store import listing
from storydedup.store.base import (
    ClusterEvent,
    EventsTrimmedError,
    StoreFullError,
    StoreUnavailableError,
)
from storydedup.store.memory import wall_clock_ms
from storydedup.v1 import storydedup_pb2 as pb

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)
R = TypeVar("R")

# A watch reads the event log this many events at a time, and waits this
# long for new ones before it looks again (and notices a server stopping).
WATCH_BATCH = 500
WATCH_WAIT_S = 2.0


def parse(kind: type[M], raw: bytes) -> M:
    try:
        return kind.FromString(raw)
    except (DecodeError, RuntimeError, ValueError) as error:
        raise InvalidArgument(
            f"request: not a valid {kind.DESCRIPTOR.full_name} ({error}); "
            "string fields must be UTF-8"
        ) from None


# A full Redis refuses every ingest until someone acts: one warning line
# this often says so, with how many were refused since the last.
FULL_LOG_INTERVAL_S = 60.0


class RateLimitedWarning:
    """A warning logged at most once per interval, counting what it skipped."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._last: float | None = None
        self._skipped = 0

    def warn(self, message: str) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self._interval_s:
            self._skipped += 1
            return
        suffix = f" ({self._skipped} more since the last such line)" if self._skipped else ""
        log.warning("%s%s", message, suffix)
        self._last, self._skipped = now, 0


class StoryDedupServicer:
    def __init__(self, dedup: Deduplicator, limits: Limits) -> None:
        self._dedup = dedup
        self._limits = limits
        # Cleared while the store is unreachable; calls then fail fast.
        self.ready = False
        self._full_warning = RateLimitedWarning(FULL_LOG_INTERVAL_S)

    async def _answer(
        self, call: Callable[[], Awaitable[R]], articles: Callable[[], int] = lambda: 0
    ) -> R:
        """The call's result; every failure as an ApiError, whose status
        never carries an exception's class name. `articles`: how many
        articles the call would have ingested (0 for lookups), counted as
        refused when it fails."""
        try:
            try:
                if not self.ready:
                    raise Unavailable("index store is not reachable; retry later")
                return await call()
            except StoreUnavailableError as error:
                raise Unavailable(f"index store: {error}") from None
            except StoreFullError as error:
                self._full_warning.warn(f"ingest refused: {error}")
                raise StoreFull(f"index store is full: {error}") from None
            except ApiError:
                raise
            except Exception:
                log.exception("unexpected failure in a call")
                raise Internal("internal error; the server log has the details") from None
        except ApiError as error:
            refused = articles()
            if refused:
                metrics.ARTICLES_REFUSED.labels(reason=error.reason).inc(refused)
            raise

    async def _run(
        self,
        context: grpc.aio.ServicerContext,
        call: Callable[[], Awaitable[R]],
        articles: Callable[[], int] = lambda: 0,
    ) -> R:
        try:
            return await self._answer(call, articles)
        except ApiError as error:
            await context.abort(error.code, error.message)
        raise AssertionError("unreachable: abort raises")

    async def IngestArticle(
        self, raw: bytes, context: grpc.aio.ServicerContext
    ) -> pb.IngestArticleResponse:
        async def call() -> pb.IngestArticleResponse:
            request = parse(pb.IngestArticleRequest, raw)
            check_article(request.article, "article", self._limits)
            item = await self._dedup.prepare_async(request.article, "article")
            outcome = await self._dedup.ingest_one(item)
            return convert.ingest_response(outcome)

        return await self._run(context, call, lambda: 1)

    async def IngestArticles(
        self, raw: bytes, context: grpc.aio.ServicerContext
    ) -> pb.IngestArticlesResponse:
        batch = 0

        async def call() -> pb.IngestArticlesResponse:
            nonlocal batch
            request = parse(pb.IngestArticlesRequest, raw)
            batch = len(request.articles)
            check_batch_size(len(request.articles), self._limits)
            if len(request.articles) > 1:
                await self._dedup.refresh_chrome(a.source for a in request.articles)
            # Every article is checked and fingerprinted before any is
            # written: a bad one fails the call with nothing indexed.
            fields = [f"articles[{i}]" for i in range(len(request.articles))]
            for article, field in zip(request.articles, fields, strict=True):
                check_article(article, field, self._limits)
            items = await self._dedup.prepare_all(list(zip(request.articles, fields, strict=True)))
            outcomes = await self._dedup.ingest(items)
            return pb.IngestArticlesResponse(results=[convert.ingest_response(o) for o in outcomes])

        return await self._run(context, call, lambda: batch)

    async def StreamIngestArticles(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamIngestArticlesResponse]:
        position = 0
        async for raw in requests:
            field = f"requests[{position}].article"

            async def call(raw: bytes = raw, field: str = field) -> pb.StreamIngestArticlesResponse:
                request = parse(pb.StreamIngestArticlesRequest, raw)
                check_article(request.article, field, self._limits)
                item = await self._dedup.prepare_async(request.article, field)
                outcome = await self._dedup.ingest_one(item)
                return pb.StreamIngestArticlesResponse(result=convert.ingest_response(outcome))

            try:
                response = await self._answer(call, lambda: 1)
            except ApiError as error:
                await drain(requests)
                await context.abort(error.code, error.message)
            yield response
            position += 1

    async def GetCluster(
        self, raw: bytes, context: grpc.aio.ServicerContext
    ) -> pb.GetClusterResponse:
        async def call() -> pb.GetClusterResponse:
            request = parse(pb.GetClusterRequest, raw)
            key = request.WhichOneof("key")
            if key == "article_id":
                check_id(request.article_id, "article_id")
                view = await self._dedup.store.cluster_of_article(request.article_id)
                if view is None:
                    raise NotFound(f"article_id: no article {request.article_id!r}")
            elif key == "cluster_id":
                view = await self._dedup.store.cluster(convert.parse_cluster_id(request.cluster_id))
                if view is None:
                    raise NotFound(f"cluster_id: no cluster {request.cluster_id!r}")
            else:
                raise InvalidArgument("key: one of article_id or cluster_id is required")
            return pb.GetClusterResponse(cluster=convert.cluster(view))

        return await self._run(context, call)

    async def GetArticle(
        self, raw: bytes, context: grpc.aio.ServicerContext
    ) -> pb.GetArticleResponse:
        async def call() -> pb.GetArticleResponse:
            request = parse(pb.GetArticleRequest, raw)
            check_id(request.article_id, "article_id")
            record = await self._dedup.store.article(request.article_id)
            if record is None:
                raise NotFound(f"article_id: no article {request.article_id!r}")
            return pb.GetArticleResponse(
                article=convert.article_record(record),
                cluster_id=convert.cluster_id(record.cluster),
            )

        return await self._run(context, call)

    async def FindSimilar(
        self, raw: bytes, context: grpc.aio.ServicerContext
    ) -> pb.FindSimilarResponse:
        async def call() -> pb.FindSimilarResponse:
            request = parse(pb.FindSimilarRequest, raw)
            limit = check_limit(request.limit)
            check_article(request.article, "article", self._limits, require_id=False)
            outcome, paragraphs = await self._dedup.similar(request.article, limit)
            return pb.FindSimilarResponse(
                matches=[convert.match(m) for m in outcome.matches],
                cluster_id="" if outcome.cluster is None else convert.cluster_id(outcome.cluster),
                paragraphs=paragraphs,
            )

        return await self._run(context, call)

    async def DeleteArticle(
        self, raw: bytes, context: grpc.aio.ServicerContext
    ) -> pb.DeleteArticleResponse:
        async def call() -> pb.DeleteArticleResponse:
            request = parse(pb.DeleteArticleRequest, raw)
            check_id(request.article_id, "article_id")
            outcome = await self._dedup.store.delete(request.article_id)
            if outcome is None:
                raise NotFound(f"article_id: no article {request.article_id!r}")
            return pb.DeleteArticleResponse(
                cluster_id=convert.cluster_id(outcome.cluster),
                remaining_size=outcome.remaining,
            )

        return await self._run(context, call)

    async def ListClusters(
        self, raw: bytes, context: grpc.aio.ServicerContext
    ) -> pb.ListClustersResponse:
        async def call() -> pb.ListClustersResponse:
            request = parse(pb.ListClustersRequest, raw)
            query, token = check_list_clusters(request)
            try:
                page = await listing.list_clusters(self._dedup.store, query, token, wall_clock_ms())
            except listing.BadPageTokenError as error:
                raise InvalidArgument(f"page_token: {error}") from None
            except listing.ListingExpiredError as error:
                raise OutOfRange(f"page_token: {error}") from None
            return pb.ListClustersResponse(
                clusters=[convert.cluster_summary(s) for s in page.clusters],
                next_page_token=page.next_token,
            )

        return await self._run(context, call)

    async def WatchClusters(
        self, raw: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchClustersResponse]:
        store = self._dedup.store

        async def start() -> str:
            request = parse(pb.WatchClustersRequest, raw)
            return check_event_id(request.from_event_id) or await store.last_event_id()

        async def next_events(after: str) -> list[ClusterEvent]:
            try:
                events = await store.events(after, WATCH_BATCH)
            except EventsTrimmedError:
                raise OutOfRange(
                    f"from_event_id: events after {after!r} were trimmed from the log; "
                    "list the clusters again and watch from '0' or from now"
                ) from None
            if not events:
                await store.wait_events(after, WATCH_WAIT_S)
            return events

        try:
            after = await self._answer(start)
            while True:
                for event in await self._answer(functools.partial(next_events, after)):
                    yield pb.WatchClustersResponse(event=convert.cluster_event(event))
                    after = event.event_id
        except ApiError as error:
            await context.abort(error.code, error.message)


def method_handlers(servicer: StoryDedupServicer) -> grpc.GenericRpcHandler:
    """Handlers that hand the servicer raw request bytes (see module doc),
    one per method of the service as the proto declares it."""

    def serialize(message: Message) -> bytes:
        return message.SerializeToString()

    handlers = {}
    for method in _SERVICE.methods:
        implementation = getattr(servicer, method.name)
        if method.client_streaming and method.server_streaming:
            handlers[method.name] = grpc.stream_stream_rpc_method_handler(
                implementation, response_serializer=serialize
            )
        elif not method.client_streaming and not method.server_streaming:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                implementation, response_serializer=serialize
            )
        elif method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                implementation, response_serializer=serialize
            )
        else:
            raise TypeError(f"no handler kind for {method.full_name}")
    return grpc.method_handlers_generic_handler(SERVICE_NAME, handlers)


_SERVICE = pb.DESCRIPTOR.services_by_name["StoryDedupService"]
SERVICE_NAME = _SERVICE.full_name
