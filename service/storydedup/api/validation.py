"""Request checks: every bad input ends as INVALID_ARGUMENT or
RESOURCE_EXHAUSTED with a message naming the field, before anything is
written."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from storydedup.api.errors import InvalidArgument, TooLarge
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
        ts = article.published_at
        if not MIN_SECONDS <= ts.seconds <= MAX_SECONDS or not 0 <= ts.nanos < 1_000_000_000:
            raise InvalidArgument(
                f"{field}.published_at: outside 0001-01-01..9999-12-31 or invalid nanos"
            )


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
