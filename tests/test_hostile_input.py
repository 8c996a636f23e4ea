"""Property tests: random and hostile input against a running server on the
Redis store. Whatever arrives, the server answers with a status that names
what was wrong (never INTERNAL or UNKNOWN), keeps serving, and what it
accepted is indexed consistently."""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from storydedup.api.server import StoryDedupServer
from storydedup.api.validation import (
    MAX_ATTRIBUTE_KEY_CHARS,
    MAX_ATTRIBUTE_VALUE_CHARS,
    MAX_ATTRIBUTES,
    MAX_ID_BYTES,
    MAX_SECONDS,
    MAX_SOURCE_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    MIN_SECONDS,
)
from storydedup.v1 import storydedup_pb2 as pb
from storydedup.v1 import storydedup_pb2_grpc as pb_grpc

from tests.conftest import running_server
from tests.support import articles
from tests.support.checks import assert_namespace_consistent
from tests.support.redis_server import RedisServer

NAMESPACE = "hostile"
MAX_MESSAGE_BYTES = 2 * 1024 * 1024
MAX_ARTICLE_BYTES = 128 * 1024
MAX_BATCH = 12
TIMEOUT = 60.0
SERVICE = "/storydedup.v1.StoryDedupService/"
REFUSALS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}


def examples(count: int) -> settings:
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


_unique = itertools.count()
T = TypeVar("T")


@dataclass
class Running:
    server: StoryDedupServer
    channel: grpc.aio.Channel
    stub: pb_grpc.StoryDedupServiceStub
    redis_url: str


@pytest.fixture(scope="module")
async def running(redis_server: RedisServer) -> AsyncIterator[Running]:
    """One server for the whole module: hypothesis runs many examples per
    test, and function-scoped fixtures would not be reset between them."""
    raw = {
        "port": "0",
        "redis_url": redis_server.url,
        "namespace": NAMESPACE,
        "max_message_bytes": str(MAX_MESSAGE_BYTES),
        "max_article_bytes": str(MAX_ARTICLE_BYTES),
        "max_batch_articles": str(MAX_BATCH),
    }
    async with running_server(raw) as server:
        # The client may send more than the server takes, to see the server refuse it.
        channel = grpc.aio.insecure_channel(
            f"127.0.0.1:{server.port}",
            options=[("grpc.max_send_message_length", 4 * MAX_MESSAGE_BYTES)],
        )
        yield Running(server, channel, pb_grpc.StoryDedupServiceStub(channel), redis_server.url)
        await channel.close()


# -- what the answers must look like ---------------------------------------


def assert_refusal(
    error: grpc.aio.AioRpcError,
    markers: Sequence[str],
    codes: set[grpc.StatusCode] = REFUSALS,
) -> None:
    """A refusal: an expected status, and a message naming the field."""
    details = error.details() or ""
    assert error.code() in codes, (error.code(), details)
    assert any(marker in details for marker in markers), (markers, details)


async def assert_healthy(running: Running) -> None:
    reply = await health_pb2_grpc.HealthStub(running.channel).Check(
        health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def valid_timestamp(ts: Timestamp) -> bool:
    return MIN_SECONDS <= ts.seconds <= MAX_SECONDS and 0 <= ts.nanos < 1_000_000_000


def structural_faults(article: pb.Article, field: str, require_id: bool = True) -> set[str]:
    """The fields the server must refuse, independent of its own checks
    (anything here means the article must not be indexed)."""
    faults = set()
    raw_id = article.id
    if (require_id and not raw_id) or (
        raw_id
        and (
            len(raw_id.encode()) > MAX_ID_BYTES
            or raw_id != raw_id.strip()
            or any(unicodedata.category(c) == "Cc" for c in raw_id)
        )
    ):
        faults.add(f"{field}.id")
    if bool(article.text) == bool(article.html):
        faults.add(f"{field}.text/{field}.html")
    else:
        body_field = f"{field}.text" if article.text else f"{field}.html"
        body = article.text or article.html
        if len(body.encode()) > MAX_ARTICLE_BYTES or not body.strip():
            faults.add(body_field)
    for name, limit in (
        ("title", MAX_TITLE_CHARS),
        ("url", MAX_URL_CHARS),
        ("source", MAX_SOURCE_CHARS),
    ):
        if len(getattr(article, name)) > limit:
            faults.add(f"{field}.{name}")
    if len(article.attributes) > MAX_ATTRIBUTES or any(
        len(k) > MAX_ATTRIBUTE_KEY_CHARS or len(v) > MAX_ATTRIBUTE_VALUE_CHARS
        for k, v in article.attributes.items()
    ):
        faults.add(f"{field}.attributes")
    if article.HasField("published_at") and not valid_timestamp(article.published_at):
        faults.add(f"{field}.published_at")
    return faults


async def assert_indexed(
    running: Running, article: pb.Article, reply: pb.IngestArticleResponse
) -> None:
    """An accepted article reads back as it was sent, in the cluster it
    was given."""
    stub = running.stub
    assert reply.article_id == article.id
    info = await stub.GetArticle(pb.GetArticleRequest(article_id=article.id), timeout=TIMEOUT)
    assert info.cluster_id == reply.cluster_id
    record = info.article
    assert record.article_id == article.id
    assert (record.url, record.source) == (article.url, article.source)
    assert dict(record.attributes) == dict(article.attributes)
    assert valid_timestamp(record.published_at) and valid_timestamp(record.ingested_at)
    if article.HasField("published_at"):
        sent = article.published_at.seconds * 10**9 + article.published_at.nanos
        kept = record.published_at.seconds * 10**9 + record.published_at.nanos
        # Kept in milliseconds as a double: at most a few microseconds off.
        assert abs(sent - kept) <= 100_000, (article.published_at, record.published_at)
    cluster = (
        await stub.GetCluster(pb.GetClusterRequest(article_id=article.id), timeout=TIMEOUT)
    ).cluster
    assert cluster.cluster_id == reply.cluster_id
    assert [m.article_id for m in cluster.members].count(article.id) == 1
    assert cluster.size == len(cluster.members)
    for ts in (cluster.first_published_at, cluster.last_published_at):
        assert valid_timestamp(ts)
    for member in cluster.members:
        assert valid_timestamp(member.published_at)


# -- strategies ---------------------------------------------------------------

# Strings that have broken servers before: control characters, NULs, bidi
# overrides, BOMs, non-characters, combining marks, edge whitespace.
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\n\r",
    "\x1b[31m",
    "\u202e\u2066",
    "\ufeff",
    "\ufffe\uffff",
    "\U0010ffff",
    "e\u0301\u0301\u0301",
    " lead",
    "trail ",
    "\u2028",
    "\x85",
    "🦄" * 70,
    "ß" * 129,
    "x" * 257,
]
nasty_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=80))


@st.composite
def story_text(draw: st.DrawFn) -> str:
    """A made-up story, possibly with hostile characters spliced in."""
    paragraphs = articles.story(draw(st.integers(0, 10**6)), draw(st.integers(1, 6)))
    text = articles.text(paragraphs)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(nasty_text) + text[at:]
    return text


@st.composite
def hostile_html(draw: st.DrawFn) -> str:
    """HTML: deep nesting, huge attribute values, many attributes, odd
    entities and declarations, unclosed constructs around (maybe) a story."""
    tags = draw(
        st.lists(
            st.sampled_from(["div", "span", "section", "p", "b", "table"]), min_size=1, max_size=4
        )
    )
    depth = draw(st.sampled_from([0, 1, 10, 300, 3000, 10000]))
    opening = "".join(f"<{tags[i % len(tags)]}>" for i in range(depth))
    # Huge values or many attributes (within the article size limit). Not
    # thousands on one element: the HTML parser takes quadratic time in that
    # count (50,000 on one tag: ~90 s of CPU), which cleaning/html.py has yet
    # to bound.
    attr_count, attr_size = draw(
        st.sampled_from([(1, 1), (10, 1000), (1, 100_000), (200, 10), (300, 1)])
    )
    attr_value = draw(st.sampled_from(["x", "'quoted'", "<>&", "\x00"])) * attr_size
    attributes = " ".join(f'data-a{i}="{attr_value}"' for i in range(attr_count))
    oddities = draw(
        st.lists(
            st.sampled_from(
                [
                    "&#xD800;",
                    "&#0;",
                    "&#x110000;",
                    "&#99999999999999;",
                    "&bogus;",
                    "\x00",
                    "\x1f",
                    "<!--",
                    "<![CDATA[",
                    "<script>",
                    "</html>",
                    "<?xml version='1.0' encoding='utf-16'?>",
                    "<meta charset='x-unknown'>",
                    "<!DOCTYPE x [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;&a;'>]>&b;",
                    "\ufffd",
                ]
            ),
            max_size=4,
        )
    )
    body = ""
    if draw(mostly(st.just(True), st.just(False))):
        paragraphs = articles.story(draw(st.integers(0, 10**6)), draw(st.integers(1, 6)))
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
    title = draw(nasty_text)
    closing = (
        ""
        if draw(st.booleans())
        else "".join(f"</{tags[i % len(tags)]}>" for i in reversed(range(depth)))
    )
    parts = [
        "<html><head><title>",
        title,
        "</title></head>",
        f"<body><article {attributes}>",
        opening,
        body,
        closing,
        "</article></body></html>",
    ]
    for oddity in oddities:
        parts.insert(draw(st.integers(0, len(parts))), oddity)
    return "".join(parts)


def timestamps() -> st.SearchStrategy[tuple[int, int] | None]:
    return st.one_of(
        st.none(),
        st.tuples(st.integers(MIN_SECONDS, MAX_SECONDS), st.integers(0, 999_999_999)),
        st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**31), 2**31 - 1)),
        st.sampled_from(
            [
                (MAX_SECONDS, 999_999_999),
                (MIN_SECONDS, 0),
                (MAX_SECONDS + 1, 0),
                (MIN_SECONDS - 1, 999_999_999),
                (0, 0),
                (-1, 999_999_999),
                (0, -1),
                (0, 1_000_000_000),
            ]
        ),
    )


def attribute_maps() -> st.SearchStrategy[dict[str, str]]:
    giant = st.integers(0, 3000).map(lambda n: {f"k{i}": "v" * (i % 7) for i in range(n)})
    return st.one_of(
        st.dictionaries(nasty_text, nasty_text, max_size=5),
        st.dictionaries(
            st.text(max_size=MAX_ATTRIBUTE_KEY_CHARS + 4),
            st.text(max_size=MAX_ATTRIBUTE_VALUE_CHARS + 4),
            max_size=3,
        ),
        giant,
    )


# Unusual but acceptable IDs: any characters but controls, no edge whitespace.
odd_ids = (
    st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=40)
    .map(str.strip)
    .filter(bool)
)


def mostly(usual: st.SearchStrategy[T], hostile: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """`usual` three times in four: each field is hostile on its own often
    enough, and an article gets past validation often enough to be indexed."""
    return st.integers(0, 3).flatmap(lambda k: hostile if k == 0 else usual)


@st.composite
def hostile_articles(draw: st.DrawFn) -> pb.Article:
    article = pb.Article(
        id=draw(mostly(odd_ids, nasty_text)),
        title=draw(mostly(st.text(max_size=60), st.just("T" * (MAX_TITLE_CHARS + 1)))),
        url=draw(mostly(nasty_text, st.just("https://x/" + "u" * MAX_URL_CHARS))),
        source=draw(mostly(nasty_text, st.just("s" * (MAX_SOURCE_CHARS + 1)))),
        attributes=draw(
            mostly(st.dictionaries(nasty_text, nasty_text, max_size=4), attribute_maps())
        ),
    )
    body_kind = draw(
        mostly(
            st.sampled_from(["text", "html"]),
            st.sampled_from(["text", "html", "both", "neither", "blank", "oversize"]),
        )
    )
    if body_kind in ("text", "both"):
        article.text = draw(mostly(story_text(), st.one_of(st.text(), st.sampled_from(NASTY))))
    if body_kind in ("html", "both"):
        article.html = draw(hostile_html())
    if body_kind == "blank":
        article.text = draw(st.sampled_from([" ", "\n\n\t", "\u3000", "\u2028 \u2029"]))
    if body_kind == "oversize":
        article.text = "word " * (MAX_ARTICLE_BYTES // 5 + draw(st.integers(1, 1000)))
    stamp = draw(mostly(st.none(), timestamps()))
    if stamp is not None:
        article.published_at.seconds, article.published_at.nanos = stamp
    return article


def story_article(seed: int, article_id: str) -> pb.Article:
    return pb.Article(id=article_id, text=articles.text(articles.story(seed, 5)))


# -- properties ------------------------------------------------------------


async def ingest_and_judge(running: Running, article: pb.Article) -> None:
    faults = structural_faults(article, "article")
    try:
        reply = await running.stub.IngestArticle(
            pb.IngestArticleRequest(article=article), timeout=TIMEOUT
        )
    except grpc.aio.AioRpcError as error:
        # Something must be wrong with it: a structural fault, or no story
        # text in the body.
        assert_refusal(error, sorted(faults) or ["article.text", "article.html"])
        event(f"refused: {error.code().name} {(error.details() or '').split(':')[0]}")
    else:
        event("indexed")
        assert not faults, f"accepted an article with {faults}"
        await assert_indexed(running, article, reply)
    await assert_healthy(running)


@examples(150)
@given(article=hostile_articles())
@example(article=pb.Article(id="x", text="Some words here.", title="\x00\ud7ff"))
async def test_hostile_articles_are_refused_by_field_or_indexed(
    running: Running, article: pb.Article
) -> None:
    await ingest_and_judge(running, article)


@examples(80)
@given(html=hostile_html(), title=nasty_text, seed=st.integers(0, 10**6))
async def test_hostile_html_is_refused_by_field_or_indexed(
    running: Running, html: str, title: str, seed: int
) -> None:
    article = pb.Article(id=f"html-{next(_unique)}-{seed}", html=html, title=title[:100])
    await ingest_and_judge(running, article)
    # Read-only comparison of the same page: same rules, no article ID needed.
    article.id = ""
    try:
        await running.stub.FindSimilar(pb.FindSimilarRequest(article=article), timeout=TIMEOUT)
    except grpc.aio.AioRpcError as error:
        faults = structural_faults(article, "article", require_id=False)
        assert_refusal(error, sorted(faults) or ["article.html"])


@examples(60)
@given(
    seconds=st.integers(-(2**63), 2**63 - 1),
    nanos=st.integers(-(2**31), 2**31 - 1),
    seed=st.integers(0, 10**6),
)
@example(seconds=MAX_SECONDS, nanos=999_999_999, seed=1)
@example(seconds=MAX_SECONDS, nanos=999_999, seed=2)
@example(seconds=MIN_SECONDS, nanos=0, seed=3)
@example(seconds=-1, nanos=999_999_999, seed=4)
@example(seconds=0, nanos=-1, seed=5)
@example(seconds=MAX_SECONDS + 1, nanos=0, seed=6)
async def test_absurd_timestamps_are_refused_and_valid_ones_read_back(
    running: Running, seconds: int, nanos: int, seed: int
) -> None:
    article = story_article(seed, f"ts-{next(_unique)}")
    article.published_at.seconds, article.published_at.nanos = seconds, nanos
    await ingest_and_judge(running, article)


# Raw request bytes: what grpcio would refuse to send from a stub.


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


INVALID_UTF8 = [
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"a\xe2\x82",
    b"\xc0\xaf",
]


@st.composite
def article_with_invalid_utf8(draw: st.DrawFn) -> bytes:
    """A serialised Article whose string field (or attribute key or value)
    holds bytes that are not UTF-8."""
    good = story_article(draw(st.integers(0, 1000)), f"raw-{draw(st.integers(0, 10**6))}")
    # ASCII around it: random bytes could complete a truncated sequence.
    ascii_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=8)
    bad = (
        draw(ascii_text).encode() + draw(st.sampled_from(INVALID_UTF8)) + draw(ascii_text).encode()
    )
    field = draw(st.sampled_from(["id", "title", "text", "html", "url", "source", "key", "value"]))
    numbers = {"id": 1, "title": 2, "text": 3, "html": 4, "url": 5, "source": 6}
    if field in numbers:
        extra = length_delimited(numbers[field], bad)
    else:
        key, value = (bad, b"v") if field == "key" else (b"k", bad)
        extra = length_delimited(8, length_delimited(1, key) + length_delimited(2, value))
    return good.SerializeToString() + extra


@st.composite
def raw_requests(draw: st.DrawFn) -> tuple[str, bytes, str]:
    """(method, request bytes, kind); every kind but "random" is a request
    the server must refuse."""
    method = draw(
        st.sampled_from(
            [
                "IngestArticle",
                "IngestArticles",
                "FindSimilar",
                "GetCluster",
                "GetArticle",
                "DeleteArticle",
            ]
        )
    )
    kind = draw(st.sampled_from(["random", "utf8", "nested", "truncated"]))
    if kind == "random":
        return method, draw(st.binary(max_size=400)), kind
    if kind == "nested":
        # Groups nested around, or far beyond, the parser's recursion limit.
        depth = draw(st.integers(90, 5000))
        return method, b"\x0b" * depth + b"\x0c" * depth, kind
    if kind == "truncated":
        whole = pb.IngestArticleRequest(article=story_article(1, "t")).SerializeToString()
        return method, whole[: draw(st.integers(1, len(whole) - 1))], kind
    if method in ("GetCluster", "GetArticle", "DeleteArticle"):
        number = 2 if method == "GetCluster" and draw(st.booleans()) else 1
        return method, length_delimited(number, draw(st.sampled_from(INVALID_UTF8))), kind
    return method, length_delimited(1, draw(article_with_invalid_utf8())), kind


MARKERS = {
    "IngestArticle": ["request", "article."],
    "IngestArticles": ["request", "articles"],
    "FindSimilar": ["request", "article.", "limit"],
    "GetCluster": ["request", "cluster_id", "article_id", "key"],
    "GetArticle": ["request", "article_id"],
    "DeleteArticle": ["request", "article_id"],
}


@examples(150)
@given(request=raw_requests())
@example(request=("IngestArticle", b"\x0a\x08\x0a\x01x\x1a\x03\xff\xfe\xfd", "utf8"))
@example(request=("GetCluster", b"\x12\x02\xc3\x28", "utf8"))
async def test_raw_bytes_that_are_not_a_valid_request_are_refused(
    running: Running, request: tuple[str, bytes, str]
) -> None:
    method, payload, kind = request
    call = running.channel.unary_unary(SERVICE + method)
    try:
        await call(payload, timeout=TIMEOUT)
    except grpc.aio.AioRpcError as error:
        assert_refusal(error, MARKERS[method], REFUSALS | {grpc.StatusCode.NOT_FOUND})
        if kind in ("utf8", "truncated"):
            assert_refusal(error, ["request: not a valid"], {grpc.StatusCode.INVALID_ARGUMENT})
    else:
        assert kind == "random", f"{kind} request accepted"
    await assert_healthy(running)


@examples(60)
@given(
    payloads=st.lists(
        st.one_of(st.binary(max_size=200), article_with_invalid_utf8()), min_size=1, max_size=4
    )
)
async def test_raw_bytes_on_the_stream_are_invalid_argument(
    running: Running, payloads: list[bytes]
) -> None:
    call = running.channel.stream_stream(SERVICE + "StreamIngestArticles")
    answered = 0
    try:
        async for _ in call(iter(payloads), timeout=TIMEOUT):
            answered += 1
    except grpc.aio.AioRpcError as error:
        assert_refusal(error, ["request", f"requests[{answered}]"])
    await assert_healthy(running)


@examples(100)
@given(
    key=st.one_of(nasty_text, st.text()),
    by_cluster=st.booleans(),
)
@example(key="c1\n", by_cluster=True)
@example(key="c01", by_cluster=True)
@example(key="c4294967296", by_cluster=True)
@example(key="c٣", by_cluster=True)
@example(key="\x00", by_cluster=False)
async def test_lookups_by_any_key_find_exactly_that_key_or_nothing(
    running: Running, key: str, by_cluster: bool
) -> None:
    # Something to find, and keys next to it.
    known = await running.stub.IngestArticle(
        pb.IngestArticleRequest(article=story_article(7, "lookup-known")), timeout=TIMEOUT
    )
    stub = running.stub
    base = known.cluster_id if by_cluster else "lookup-known"
    for attempt in (key, base + key):
        request = (
            pb.GetClusterRequest(cluster_id=attempt)
            if by_cluster
            else pb.GetClusterRequest(article_id=attempt)
        )
        try:
            cluster = (await stub.GetCluster(request, timeout=TIMEOUT)).cluster
        except grpc.aio.AioRpcError as error:
            assert_refusal(
                error,
                ["cluster_id" if by_cluster else "article_id"],
                REFUSALS | {grpc.StatusCode.NOT_FOUND},
            )
            assert attempt != base, "the known key was not found"
        else:
            # Exactly the key asked for, not one that merely resembles it.
            if by_cluster:
                assert cluster.cluster_id == attempt, (attempt, cluster.cluster_id)
            else:
                assert attempt in [m.article_id for m in cluster.members]
    if not by_cluster:
        for call in (stub.GetArticle, stub.DeleteArticle):
            try:
                await call(
                    pb.GetArticleRequest(article_id=key)
                    if call is stub.GetArticle
                    else pb.DeleteArticleRequest(article_id=key),
                    timeout=TIMEOUT,
                )
            except grpc.aio.AioRpcError as error:
                assert_refusal(error, ["article_id"], REFUSALS | {grpc.StatusCode.NOT_FOUND})
    await assert_healthy(running)


@examples(60)
@given(
    plan=st.lists(st.sampled_from(["good", "good", "good", "hostile"]), max_size=MAX_BATCH + 3),
    data=st.data(),
)
async def test_a_batch_is_refused_whole_or_indexed_whole(
    running: Running, plan: list[str], data: st.DataObject
) -> None:
    batch_number = next(_unique)
    batch = [
        story_article(batch_number * 100 + i, f"batch-{batch_number}-{i}")
        if kind == "good"
        else data.draw(hostile_articles())
        for i, kind in enumerate(plan)
    ]
    stub = running.stub
    try:
        replies = await stub.IngestArticles(
            pb.IngestArticlesRequest(articles=batch), timeout=TIMEOUT
        )
    except grpc.aio.AioRpcError as error:
        details = error.details() or ""
        if not batch:
            assert_refusal(error, ["articles:"])
        elif len(batch) > MAX_BATCH:
            assert_refusal(error, ["articles:"], {grpc.StatusCode.RESOURCE_EXHAUSTED})
        else:
            # The first article that cannot be indexed is named...
            named = [i for i in range(len(batch)) if f"articles[{i}]." in details]
            assert_refusal(error, [f"articles[{i}]." for i in named])
            faulty = [i for i, a in enumerate(batch) if structural_faults(a, f"articles[{i}]")]
            assert plan[named[0]] == "hostile"
            assert not faulty or named[0] <= faulty[0]
            # ...and nothing of the batch was written.
            for article in batch:
                if article.id.startswith(f"batch-{batch_number}-"):
                    with pytest.raises(grpc.aio.AioRpcError) as missing:
                        await stub.GetArticle(
                            pb.GetArticleRequest(article_id=article.id), timeout=TIMEOUT
                        )
                    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    else:
        assert 0 < len(batch) <= MAX_BATCH
        assert [r.article_id for r in replies.results] == [a.id for a in batch]
        ids = [a.id for a in batch]
        for i, (article, reply) in enumerate(zip(batch, replies.results, strict=True)):
            assert not structural_faults(article, f"articles[{i}]")
            if ids.count(article.id) == 1:
                await assert_indexed(running, article, reply)
    await assert_healthy(running)


@examples(60)
@given(
    plan=st.lists(st.sampled_from(["good", "good", "hostile"]), min_size=1, max_size=5),
    data=st.data(),
)
async def test_a_stream_answers_in_order_until_the_first_bad_article(
    running: Running, plan: list[str], data: st.DataObject
) -> None:
    stream_number = next(_unique)
    sent = [
        story_article(stream_number * 10 + i, f"stream-{stream_number}-{i}")
        if kind == "good"
        else data.draw(hostile_articles())
        for i, kind in enumerate(plan)
    ]
    answered: list[pb.StreamIngestArticlesResponse] = []
    call = running.stub.StreamIngestArticles(
        iter([pb.StreamIngestArticlesRequest(article=a) for a in sent]), timeout=TIMEOUT
    )
    try:
        async for response in call:
            answered.append(response)
    except grpc.aio.AioRpcError as error:
        position = len(answered)
        assert position < len(sent)
        assert_refusal(error, [f"requests[{position}].article"])
        faults = structural_faults(sent[position], f"requests[{position}].article")
        if faults:
            assert_refusal(error, sorted(faults))
    else:
        assert len(answered) == len(sent)
    for article, response in zip(sent, answered, strict=False):
        assert not structural_faults(article, "article")
        if [a.id for a in sent].count(article.id) == 1:
            await assert_indexed(running, article, response.result)
    await assert_healthy(running)


# -- limits that are not per field -----------------------------------------


async def test_oversize_messages_and_batches_are_resource_exhausted(running: Running) -> None:
    stub = running.stub
    too_many = [story_article(i, f"many-{i}") for i in range(MAX_BATCH + 1)]
    with pytest.raises(grpc.aio.AioRpcError) as batch:
        await stub.IngestArticles(pb.IngestArticlesRequest(articles=too_many), timeout=TIMEOUT)
    assert_refusal(batch.value, ["articles:"], {grpc.StatusCode.RESOURCE_EXHAUSTED})
    # Each article under its limit, the message over the server's.
    big = [
        pb.Article(id=f"big-{i}", text="word " * (MAX_ARTICLE_BYTES // 5 - 10)) for i in range(20)
    ]
    with pytest.raises(grpc.aio.AioRpcError) as message:
        await stub.IngestArticles(pb.IngestArticlesRequest(articles=big), timeout=TIMEOUT)
    assert message.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # grpc refuses it before the service sees it; its message names the size.
    assert "larger than max" in (message.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as article:
        await stub.IngestArticle(
            pb.IngestArticleRequest(
                article=pb.Article(id="huge", html="<p>" + "é" * MAX_ARTICLE_BYTES + "</p>")
            ),
            timeout=TIMEOUT,
        )
    assert_refusal(article.value, ["article.html"], {grpc.StatusCode.RESOURCE_EXHAUSTED})
    await assert_healthy(running)


async def test_after_all_that_the_server_serves_and_the_index_is_consistent(
    running: Running,
) -> None:
    """Runs last in this module: the server survived every example above."""
    await assert_healthy(running)
    first = await running.stub.IngestArticle(
        pb.IngestArticleRequest(article=story_article(424242, "final-a")), timeout=TIMEOUT
    )
    copy = story_article(424242, "final-b")
    second = await running.stub.IngestArticle(
        pb.IngestArticleRequest(article=copy), timeout=TIMEOUT
    )
    assert second.duplicate and second.cluster_id == first.cluster_id
    assert_namespace_consistent(running.redis_url, NAMESPACE)
