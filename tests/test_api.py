"""The API end to end through a real gRPC channel, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from storydedup.api.server import StoryDedupServer
from storydedup.v1 import storydedup_pb2 as pb
from storydedup_client import Article, AsyncStoryDedupClient, StoryDedupError

from tests.support import articles

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
STORY_A = articles.story(11, paragraphs=9)
STORY_B = articles.story(12, paragraphs=9)


def article(article_id: str, paragraphs: list[str], minutes: int = 0, **extra: str) -> Article:
    return Article(
        id=article_id,
        text=articles.text(paragraphs),
        source=extra.get("source", ""),
        title=extra.get("title", ""),
        url=extra.get("url", ""),
        published_at=T0 + timedelta(minutes=minutes),
    )


async def test_ingest_copy_and_look_up_cluster(client: AsyncStoryDedupClient) -> None:
    first = await client.ingest_article(
        article("wire-1", STORY_A, 0, source="wire.example", title="Original", url="https://w/1")
    )
    assert not first.duplicate and first.canonical_article_id == "wire-1"
    copy = await client.ingest_article(
        article("outlet-1", articles.edited(STORY_A, 3, 0.02), 30, source="outlet.example")
    )
    assert copy.duplicate and copy.cluster_id == first.cluster_id
    assert copy.canonical_article_id == "wire-1"
    assert copy.matches[0].article_id == "wire-1" and copy.matches[0].jaccard > 0.6
    by_article = await client.get_cluster(article_id="outlet-1")
    by_id = await client.get_cluster(cluster_id=first.cluster_id)
    assert by_article == by_id
    assert by_article.size == 2
    assert [m.article_id for m in by_article.members] == ["wire-1", "outlet-1"]
    assert by_article.members[0].title == "Original"
    assert by_article.members[0].url == "https://w/1"
    assert by_article.first_published_at == T0
    assert by_article.last_published_at == T0 + timedelta(minutes=30)
    info = await client.get_article("wire-1")
    assert info.cluster_id == first.cluster_id and info.source == "wire.example"
    assert info.published_at == T0 and info.shingle_count > 100


async def test_batch_and_stream_answer_in_order(client: AsyncStoryDedupClient) -> None:
    results = await client.ingest_articles(
        [article("a1", STORY_A), article("b1", STORY_B, 1), article("a2", STORY_A[:4], 2)]
    )
    assert [r.article_id for r in results] == ["a1", "b1", "a2"]
    assert [r.duplicate for r in results] == [False, False, True]
    streamed = [
        r
        async for r in client.stream_ingest_articles(
            [article("b2", STORY_B, 3), article("c1", articles.story(13), 4)]
        )
    ]
    assert [r.article_id for r in streamed] == ["b2", "c1"]
    assert streamed[0].cluster_id == results[1].cluster_id and streamed[0].duplicate
    assert not streamed[1].duplicate


async def test_find_similar_is_read_only(client: AsyncStoryDedupClient) -> None:
    a = await client.ingest_article(article("a1", STORY_A))
    probe = Article(text=articles.text(STORY_A[:5]))
    found = await client.find_similar(probe, limit=3)
    assert found.cluster_id == a.cluster_id
    assert [m.article_id for m in found.matches] == ["a1"]
    # Why: every paragraph of the probe recurs in a1, and the response holds
    # the probe's paragraphs as cleaned, which the passages count.
    assert len(found.paragraphs) == 5
    assert found.paragraphs[0].split()[:6] == STORY_A[0].split()[:6]
    assert found.matches[0].passages == ((0, 4),)
    assert (await client.get_cluster(article_id="a1")).size == 1
    nothing = await client.find_similar(Article(text=articles.text(STORY_B)))
    assert nothing.cluster_id is None and nothing.matches == ()


async def test_a_match_says_when_it_was_made_under_one_headline(
    client: AsyncStoryDedupClient,
) -> None:
    headline = "Regional council approves the new harbour budget"
    story = await client.ingest_article(
        article("a1", STORY_A, source="wire.example", title=f"{headline} | Wire")
    )
    # One paragraph from the middle of the story: too small a part of it to
    # match but as its excerpt under its headline (another outlet's page).
    excerpt = [STORY_A[6]]
    under = await client.find_similar(
        Article(text=articles.text(excerpt), source="outlet.example", title=headline)
    )
    assert under.cluster_id == story.cluster_id
    [match] = under.matches
    assert match.same_headline and match.passages == ((0, 0),)
    elsewhere = await client.find_similar(
        Article(text=articles.text(excerpt), source="outlet.example", title="Another headline here")
    )
    assert elsewhere.cluster_id is None
    assert all(not m.same_headline for m in elsewhere.matches)


async def test_delete_and_not_found(client: AsyncStoryDedupClient) -> None:
    a = await client.ingest_article(article("a1", STORY_A))
    await client.ingest_article(article("a2", STORY_A, 5))
    deleted = await client.delete_article("a1")
    assert deleted.cluster_id == a.cluster_id and deleted.remaining_size == 1
    cluster = await client.get_cluster(cluster_id=a.cluster_id)
    assert [m.article_id for m in cluster.members] == ["a2"]
    for call in (
        client.get_article("a1"),
        client.delete_article("a1"),
        client.get_cluster(article_id="a1"),
        client.get_cluster(cluster_id="c999999"),
    ):
        with pytest.raises(StoryDedupError) as caught:
            await call
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        assert "a1" in caught.value.message or "c999999" in caught.value.message


async def test_reingest_same_content_gives_same_answer(client: AsyncStoryDedupClient) -> None:
    await client.ingest_article(article("a1", STORY_A))
    first = await client.ingest_article(article("a2", STORY_A, 1))
    again = await client.ingest_article(article("a2", STORY_A, 1))
    assert again == first
    assert (await client.get_cluster(article_id="a1")).size == 2


BAD_REQUESTS = [
    (pb.Article(text="Some words here."), grpc.StatusCode.INVALID_ARGUMENT, "article.id"),
    (pb.Article(id="x"), grpc.StatusCode.INVALID_ARGUMENT, "article.text/article.html"),
    (
        pb.Article(id="x", text="a b c.", html="<p>a</p>"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "article.text/article.html",
    ),
    (pb.Article(id="x", text=" \n\t "), grpc.StatusCode.INVALID_ARGUMENT, "article.text"),
    (pb.Article(id="x", text="!!! --- ... ***"), grpc.StatusCode.INVALID_ARGUMENT, "article.text"),
    (
        pb.Article(id="x", html="<html><body><script>x()</script></body></html>"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "article.html",
    ),
    (pb.Article(id="x\x00y", text="Some words."), grpc.StatusCode.INVALID_ARGUMENT, "article.id"),
    (pb.Article(id="x" * 300, text="Some words."), grpc.StatusCode.INVALID_ARGUMENT, "article.id"),
    (
        pb.Article(id="x", text="word " * 1_000_000),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "article.text",
    ),
    (
        pb.Article(id="x", text="Some words.", attributes={str(i): "v" for i in range(100)}),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "article.attributes",
    ),
]


@pytest.mark.parametrize(("bad", "code", "field"), BAD_REQUESTS)
async def test_bad_article_is_refused_naming_the_field(
    server: StoryDedupServer, bad: pb.Article, code: grpc.StatusCode, field: str
) -> None:
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{server.port}", options=[("grpc.max_send_message_length", 64 << 20)]
    ) as channel:
        from storydedup.v1 import storydedup_pb2_grpc as pb_grpc

        stub = pb_grpc.StoryDedupServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.IngestArticle(pb.IngestArticleRequest(article=bad))
        assert caught.value.code() == code
        assert field in (caught.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as in_batch:
            await stub.IngestArticles(
                pb.IngestArticlesRequest(
                    articles=[pb.Article(id="good", text=articles.text(STORY_A)), bad]
                )
            )
        assert in_batch.value.code() == code
        assert field.replace("article.", "articles[1].") in (in_batch.value.details() or "")
        # A batch with one bad article writes nothing.
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetArticle(pb.GetArticleRequest(article_id="good"))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_undecodable_request_is_invalid_argument(server: StoryDedupServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        raw = channel.unary_unary("/storydedup.v1.StoryDedupService/IngestArticle")
        # Field 1 (article) holding field 3 (text) with invalid UTF-8.
        inner = b"\x0a\x01x" + b"\x1a\x03\xff\xfe\xfd"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await raw(b"\x0a" + bytes([len(inner)]) + inner)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "request" in (caught.value.details() or "")


async def test_batch_limits(server: StoryDedupServer, client: AsyncStoryDedupClient) -> None:
    with pytest.raises(StoryDedupError) as empty:
        await client.ingest_articles([])
    assert empty.value.code == grpc.StatusCode.INVALID_ARGUMENT
    too_many = [
        Article(id=str(i), text="Word.") for i in range(server.config.max_batch_articles + 1)
    ]
    with pytest.raises(StoryDedupError) as big:
        await client.ingest_articles(too_many)
    assert big.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "articles" in big.value.message


async def test_bad_lookups(client: AsyncStoryDedupClient) -> None:
    with pytest.raises(StoryDedupError) as bad_cluster:
        await client.get_cluster(cluster_id="not-a-cluster")
    assert bad_cluster.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "cluster_id" in bad_cluster.value.message
    with pytest.raises(StoryDedupError) as no_id:
        await client.get_article("")
    assert no_id.value.code == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(StoryDedupError) as bad_limit:
        await client.find_similar(Article(text="Some words."), limit=5000)
    assert bad_limit.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_health_and_reflection(server: StoryDedupServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "storydedup.v1.StoryDedupService"):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)

        async def ask() -> object:
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        names = set()
        async for reply in stub.ServerReflectionInfo(ask()):
            names |= {s.name for s in reply.list_services_response.service}
        assert "storydedup.v1.StoryDedupService" in names
        assert "grpc.health.v1.Health" in names
