"""Python client of the storydedup gRPC service."""

from storydedup_client.client import AsyncStoryDedupClient, StoryDedupClient
from storydedup_client.models import (
    Article,
    ArticleInfo,
    Cluster,
    ClusterEvent,
    ClusterMember,
    ClusterPage,
    ClusterSummary,
    DeleteResult,
    IngestResult,
    Match,
    SimilarResult,
    StoryDedupError,
)

__all__ = [
    "Article",
    "ArticleInfo",
    "AsyncStoryDedupClient",
    "Cluster",
    "ClusterEvent",
    "ClusterMember",
    "ClusterPage",
    "ClusterSummary",
    "DeleteResult",
    "IngestResult",
    "Match",
    "SimilarResult",
    "StoryDedupClient",
    "StoryDedupError",
]
