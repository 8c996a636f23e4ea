"""Typed values of the client API, independent of the protobuf classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from storydedup.v1 import storydedup_pb2 as pb


class StoryDedupError(Exception):
    """A call failed; `code` is the gRPC status code."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message

    @classmethod
    def from_rpc(cls, error: grpc.RpcError) -> StoryDedupError:
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        details = error.details() if hasattr(error, "details") else str(error)
        return cls(code, details or "")


@dataclass(frozen=True, slots=True)
class Article:
    """An article to ingest or compare. Exactly one of text and html."""

    id: str = ""
    title: str = ""
    text: str = ""
    html: str = ""
    url: str = ""
    source: str = ""
    published_at: datetime | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def to_proto(self) -> pb.Article:
        message = pb.Article(
            id=self.id,
            title=self.title,
            text=self.text,
            html=self.html,
            url=self.url,
            source=self.source,
            attributes=self.attributes,
        )
        if self.published_at is not None:
            message.published_at.CopyFrom(to_timestamp(self.published_at))
        return message


@dataclass(frozen=True, slots=True)
class Match:
    article_id: str
    cluster_id: str
    jaccard: float
    containment: float
    # Runs of paragraphs (first, last; counted from 0) of the article's
    # cleaned text whose sentences recur in the matching article.
    passages: tuple[tuple[int, int], ...] = ()
    # The two are pages under one headline.
    same_headline: bool = False


@dataclass(frozen=True, slots=True)
class IngestResult:
    article_id: str
    cluster_id: str
    duplicate: bool
    canonical_article_id: str
    matches: tuple[Match, ...]


@dataclass(frozen=True, slots=True)
class ClusterMember:
    article_id: str
    source: str
    url: str
    title: str
    published_at: datetime


@dataclass(frozen=True, slots=True)
class Cluster:
    cluster_id: str
    canonical_article_id: str
    members: tuple[ClusterMember, ...]
    size: int
    first_published_at: datetime
    last_published_at: datetime


@dataclass(frozen=True, slots=True)
class ArticleInfo:
    article_id: str
    cluster_id: str
    title: str
    url: str
    source: str
    published_at: datetime
    ingested_at: datetime
    shingle_count: int
    attributes: dict[str, str]


@dataclass(frozen=True, slots=True)
class SimilarResult:
    matches: tuple[Match, ...]
    # The cluster the article would join; None for a new story.
    cluster_id: str | None
    # The article's cleaned story text, by paragraph (what passages count).
    paragraphs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeleteResult:
    cluster_id: str
    remaining_size: int


def to_timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return ts


def from_timestamp(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def match_from(m: pb.Match) -> Match:
    return Match(
        m.article_id,
        m.cluster_id,
        m.jaccard,
        m.containment,
        tuple((p.first_paragraph, p.last_paragraph) for p in m.passages),
        m.same_headline,
    )


def ingest_result_from(r: pb.IngestArticleResponse) -> IngestResult:
    return IngestResult(
        article_id=r.article_id,
        cluster_id=r.cluster_id,
        duplicate=r.duplicate,
        canonical_article_id=r.canonical_article_id,
        matches=tuple(match_from(m) for m in r.matches),
    )


def member_from(m: pb.ClusterMember) -> ClusterMember:
    return ClusterMember(m.article_id, m.source, m.url, m.title, from_timestamp(m.published_at))


def cluster_from(c: pb.Cluster) -> Cluster:
    return Cluster(
        cluster_id=c.cluster_id,
        canonical_article_id=c.canonical_article_id,
        members=tuple(member_from(m) for m in c.members),
        size=c.size,
        first_published_at=from_timestamp(c.first_published_at),
        last_published_at=from_timestamp(c.last_published_at),
    )


def article_info_from(r: pb.GetArticleResponse) -> ArticleInfo:
    a = r.article
    return ArticleInfo(
        article_id=a.article_id,
        cluster_id=r.cluster_id,
        title=a.title,
        url=a.url,
        source=a.source,
        published_at=from_timestamp(a.published_at),
        ingested_at=from_timestamp(a.ingested_at),
        shingle_count=a.shingle_count,
        attributes=dict(a.attributes),
    )


def similar_from(r: pb.FindSimilarResponse) -> SimilarResult:
    return SimilarResult(
        tuple(match_from(m) for m in r.matches), r.cluster_id or None, tuple(r.paragraphs)
    )


def cluster_request(article_id: str | None, cluster_id: str | None) -> pb.GetClusterRequest:
    if (article_id is None) == (cluster_id is None):
        raise ValueError("pass exactly one of article_id and cluster_id")
    if article_id is not None:
        return pb.GetClusterRequest(article_id=article_id)
    return pb.GetClusterRequest(cluster_id=cluster_id or "")


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """One story of a listing (ListClusters)."""

    cluster_id: str
    canonical_article: ClusterMember
    size: int
    source_count: int
    first_published_at: datetime
    last_published_at: datetime


@dataclass(frozen=True, slots=True)
class ClusterPage:
    clusters: tuple[ClusterSummary, ...]
    # "" when the listing is complete.
    next_page_token: str


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    """One change to one cluster (WatchClusters)."""

    event_id: str
    # "created", "grew", "merged_into", "shrank", "deleted", "expired" or
    # "split" (the article left for a cluster of its own, into_cluster_id).
    kind: str
    cluster_id: str
    article_id: str
    size: int
    into_cluster_id: str
    time: datetime


def list_request(
    since: datetime,
    until: datetime | None,
    by_first_published: bool,
    by_size: bool,
    min_size: int,
    source: str,
    page_size: int,
    page_token: str,
) -> pb.ListClustersRequest:
    request = pb.ListClustersRequest(
        since=to_timestamp(since),
        time=pb.CLUSTER_TIME_FIRST_PUBLISHED
        if by_first_published
        else pb.CLUSTER_TIME_LAST_PUBLISHED,
        order=pb.CLUSTER_ORDER_SIZE if by_size else pb.CLUSTER_ORDER_RECENT,
        min_size=min_size,
        source=source,
        page_size=page_size,
        page_token=page_token,
    )
    if until is not None:
        request.until.CopyFrom(to_timestamp(until))
    return request


def page_from(r: pb.ListClustersResponse) -> ClusterPage:
    return ClusterPage(
        clusters=tuple(
            ClusterSummary(
                cluster_id=c.cluster_id,
                canonical_article=member_from(c.canonical_article),
                size=c.size,
                source_count=c.source_count,
                first_published_at=from_timestamp(c.first_published_at),
                last_published_at=from_timestamp(c.last_published_at),
            )
            for c in r.clusters
        ),
        next_page_token=r.next_page_token,
    )


def event_from(e: pb.ClusterEvent) -> ClusterEvent:
    kind = pb.ClusterEventKind.Name(e.kind).removeprefix("CLUSTER_EVENT_KIND_").lower()
    return ClusterEvent(
        event_id=e.event_id,
        kind=kind,
        cluster_id=e.cluster_id,
        article_id=e.article_id,
        size=e.size,
        into_cluster_id=e.into_cluster_id,
        time=from_timestamp(e.time),
    )
