"""Request checks: every bad input ends as INVALID_ARGUMENT or
RESOURCE_EXHAUSTED with a message naming the field, before anything is
written."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from storydedup.api.errors import InvalidArgument, TooLarge
from storydedup.fingerprints.fingerprint import source_key
from storydedup.store.base import parse_event_id
from storydedup.store.listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ClusterQuery
from storydedup.v1 import storydedup_pb2 as pb

MAX_ID_BYTES = 256
MAX_TITLE_CHARS = 2000
MAX_URL_CHARS = 4096
MAX_SOURCE_CHARS = 256
MAX_ATTRIBUTES = 64
MAX_ATTRIBUTE_KEY_CHARS = 128
MAX_ATTRIBUTE_VALUE_CHARS = 2048
# Timestamps must lie in [0001-01-01, 9999-12-31], protobuf's own range.
MIN_SECONDS = -62_135_596_800
MAX_SECONDS = 253_402_300_799


@dataclass(frozen=True, slots=True)
class Limits:
    max_article_bytes: int
    max_batch_articles: int


def _has_control(value: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in value)


def check_id(value: str, field: str, required: bool = True) -> None:
    if not value:
        if required:
            raise InvalidArgument(f"{field}: required")
        return
    if len(value.encode("utf-8")) > MAX_ID_BYTES:
        raise InvalidArgument(f"{field}: longer than {MAX_ID_BYTES} bytes")
    if _has_control(value) or value != value.strip():
        raise InvalidArgument(f"{field}: must not contain control characters or edge whitespace")


def _check_length(value: str, limit: int, field: str) -> None:
    if len(value) > limit:
        raise InvalidArgument(f"{field}: longer than {limit} characters")


def _utf8_size(value: str, limit: int) -> int:
    # A str of n characters takes n to 4n bytes: encode only when it matters.
    if len(value) * 4 <= limit:
        return len(value)
    return len(value.encode("utf-8", "surrogatepass"))


def check_article(article: pb.Article, field: str, limits: Limits, require_id: bool = True) -> None:
    check_id(article.id, f"{field}.id", required=require_id)
    has_text = bool(article.text)
    has_html = bool(article.html)
    if has_text == has_html:
        which = "both are set" if has_text else "neither is set"
        raise InvalidArgument(f"{field}.text/{field}.html: exactly one is required ({which})")
    body_field = f"{field}.text" if has_text else f"{field}.html"
    body = article.text if has_text else article.html
    size = _utf8_size(body, limits.max_article_bytes)
    if size > limits.max_article_bytes:
        raise TooLarge(
            f"{body_field}: {size} bytes, above the limit of {limits.max_article_bytes} bytes"
        )
    if not body.strip():
        raise InvalidArgument(f"{body_field}: is only whitespace")
    _check_length(article.title, MAX_TITLE_CHARS, f"{field}.title")
    _check_length(article.url, MAX_URL_CHARS, f"{field}.url")
    _check_length(article.source, MAX_SOURCE_CHARS, f"{field}.source")
    if len(article.attributes) > MAX_ATTRIBUTES:
        raise TooLarge(f"{field}.attributes: more than {MAX_ATTRIBUTES} entries")
    for key, value in article.attributes.items():
        _check_length(key, MAX_ATTRIBUTE_KEY_CHARS, f"{field}.attributes key")
        _check_length(value, MAX_ATTRIBUTE_VALUE_CHARS, f"{field}.attributes[{key[:40]!r}]")
    if article.HasField("published_at"):
        _check_timestamp(article.published_at, f"{field}.published_at")


def _check_timestamp(ts: Timestamp, field: str) -> None:
    if not MIN_SECONDS <= ts.seconds <= MAX_SECONDS or not 0 <= ts.nanos < 1_000_000_000:
        raise InvalidArgument(f"{field}: outside 0001-01-01..9999-12-31 or invalid nanos")


def _ms(ts: Timestamp) -> float:
    return ts.seconds * 1000.0 + ts.nanos / 1e6


# Longer tokens than listing.py makes are not read.
MAX_PAGE_TOKEN_CHARS = 512


def check_list_clusters(request: pb.ListClustersRequest) -> tuple[ClusterQuery, str]:
    """The listing a ListClustersRequest asks for, and its page token."""
    if not request.HasField("since"):
        raise InvalidArgument("since: required (the start of the window)")
    _check_timestamp(request.since, "since")
    until_ms = None
    if request.HasField("until"):
        _check_timestamp(request.until, "until")
        until_ms = _ms(request.until)
        if until_ms < _ms(request.since):
            raise InvalidArgument("until: before since")
    if request.time not in pb.ClusterTime.values():
        raise InvalidArgument(f"time: {request.time} is not a ClusterTime")
    if request.order not in pb.ClusterOrder.values():
        raise InvalidArgument(f"order: {request.order} is not a ClusterOrder")
    if request.min_size < 0:
        raise InvalidArgument("min_size: must not be negative")
    if not 0 <= request.page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"page_size: must be between 0 and {MAX_PAGE_SIZE}")
    _check_length(request.source, MAX_SOURCE_CHARS, "source")
    _check_length(request.page_token, MAX_PAGE_TOKEN_CHARS, "page_token")
    query = ClusterQuery(
        since_ms=_ms(request.since),
        until_ms=until_ms,
        by_first=request.time == pb.CLUSTER_TIME_FIRST_PUBLISHED,
        by_size=request.order != pb.CLUSTER_ORDER_RECENT,
        min_size=max(request.min_size, 1),
        source_key=source_key(request.source) if request.source.strip() else None,
        page_size=request.page_size or DEFAULT_PAGE_SIZE,
    )
    return query, request.page_token


def check_event_id(value: str, field: str = "from_event_id") -> str:
    """The event ID as given ("" and "0" included); INVALID_ARGUMENT when it
    is none."""
    if value in ("", "0"):
        return value
    try:
        parse_event_id(value)
    except ValueError as error:
        raise InvalidArgument(f"{field}: {error}") from None
    return value


def check_batch_size(count: int, limits: Limits, field: str = "articles") -> None:
    if count == 0:
        raise InvalidArgument(f"{field}: at least one article is required")
    if count > limits.max_batch_articles:
        raise TooLarge(
            f"{field}: {count} articles, above the limit of {limits.max_batch_articles} per call"
        )


def check_limit(limit: int) -> int:
    if limit < 0 or limit > 1000:
        raise InvalidArgument("limit: must be between 0 and 1000")
    return limit or 10


def published_ms(article: pb.Article) -> float:
    """0 when unset (the store then uses the ingest time)."""
    if not article.HasField("published_at"):
        return 0.0
    ms = article.published_at.seconds * 1000.0 + article.published_at.nanos / 1e6
    # 0 means "unset" to the store; the epoch itself is nudged by a microsecond.
    return ms if ms != 0 else math.ulp(0.0)
