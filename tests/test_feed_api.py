"""ListClusters and WatchClusters end to end: a real gRPC server on each
store, the asyncio client and the CLI."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from storydedup.api.server import StoryDedupServer
from storydedup.v1 import storydedup_pb2 as pb
from storydedup_client import Article, AsyncStoryDedupClient, ClusterEvent, StoryDedupError, cli

from tests.conftest import running_server
from tests.support import articles

NOW = datetime.now(UTC).replace(microsecond=0)


def article(article_id: str, story: list[str], minutes_ago: float, source: str) -> Article:
    return Article(
        id=article_id,
        text=articles.text(story),
        source=source,
        title=f"Title of {article_id}",
        published_at=NOW - timedelta(minutes=minutes_ago),
    )


async def take(client: AsyncStoryDedupClient, from_id: str, count: int) -> list[ClusterEvent]:
    """`count` events of a watch from `from_id`, then a disconnect."""
    seen: list[ClusterEvent] = []
    async with asyncio.timeout(20):
        async for event in client.watch_clusters(from_id):
            seen.append(event)
            if len(seen) == count:
                break
    return seen


async def test_a_watch_resumed_from_its_last_event_sees_every_change_once(
    client: AsyncStoryDedupClient,
) -> None:
    story_a, story_b = articles.story(1, paragraphs=8), articles.story(2, paragraphs=8)
    await client.ingest_article(article("a1", story_a, 60, "one.example"))
    first = await take(client, "0", 1)
    watching = asyncio.create_task(take(client, first[-1].event_id, 2))
    await asyncio.sleep(0.2)  # the watch waits for new events
    await client.ingest_articles(
        [article("a2", story_a[:5], 50, "two.example"), article("b1", story_b, 40, "one.example")]
    )
    second = await watching
    # Disconnected; meanwhile a deletion. The watch resumes after what it saw.
    await client.delete_article("a2")
    third = await take(client, second[-1].event_id, 1)
    seen = first + second + third
    everything = await take(client, "0", 4)
    assert seen == everything
    assert [(e.kind, e.article_id, e.size) for e in seen] == [
        ("created", "a1", 1),
        ("grew", "a2", 2),
        ("created", "b1", 1),
        ("shrank", "a2", 1),
    ]


async def test_list_clusters_pages_through_the_window(client: AsyncStoryDedupClient) -> None:
    story_a, story_b = articles.story(1, paragraphs=8), articles.story(2, paragraphs=8)
    await client.ingest_articles(
        [
            article("a1", story_a, 100, "one.example"),
            article("a2", story_a[:5], 90, "two.example"),
            article("a3", story_a[:6], 80, "Two.Example"),
            article("b1", story_b, 30, "one.example"),
        ]
    )
    since = NOW - timedelta(hours=6)
    page = await client.list_clusters(since, page_size=1)
    [biggest] = page.clusters
    assert (biggest.size, biggest.source_count) == (3, 2)
    assert biggest.canonical_article.article_id == "a1"
    assert biggest.canonical_article.title == "Title of a1"
    assert biggest.first_published_at == NOW - timedelta(minutes=100)
    assert biggest.last_published_at == NOW - timedelta(minutes=80)
    rest = await client.list_clusters(since, page_size=1, page_token=page.next_page_token)
    assert [c.canonical_article.article_id for c in rest.clusters] == ["b1"]
    assert not (
        await client.list_clusters(since, page_size=1, page_token=rest.next_page_token)
    ).clusters
    recent = await client.list_clusters(since, by_size=False, by_first_published=True)
    assert [c.canonical_article.article_id for c in recent.clusters] == ["b1", "a1"]
    assert not recent.next_page_token
    two = await client.list_clusters(since, source="two.example")
    assert [c.size for c in two.clusters] == [3]
    late = await client.list_clusters(NOW - timedelta(minutes=60), by_first_published=True)
    assert [c.canonical_article.article_id for c in late.clusters] == ["b1"]


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({}, "since"),
        ({"since": {"seconds": 10**12}}, "since"),
        ({"since": {"seconds": 100}, "until": {"seconds": 50}}, "until"),
        ({"since": {"seconds": 100}, "page_size": 101}, "page_size"),
        ({"since": {"seconds": 100}, "page_size": -1}, "page_size"),
        ({"since": {"seconds": 100}, "min_size": -1}, "min_size"),
        ({"since": {"seconds": 100}, "order": 7}, "order"),
        ({"since": {"seconds": 100}, "time": 9}, "time"),
        ({"since": {"seconds": 100}, "page_token": "bm90IGEgdG9rZW4"}, "page_token"),
        ({"since": {"seconds": 100}, "page_token": "%%%"}, "page_token"),
        ({"since": {"seconds": 100}, "page_token": "x" * 600}, "page_token"),
    ],
)
async def test_bad_list_arguments_name_their_field(
    server: StoryDedupServer, request_fields: dict[str, object], field: str
) -> None:
    from google.protobuf import json_format

    request = json_format.ParseDict(
        {k: v for k, v in request_fields.items() if k not in ("since", "until")},
        pb.ListClustersRequest(),
    )
    for name in ("since", "until"):
        if name in request_fields:
            value = request_fields[name]
            assert isinstance(value, dict)
            getattr(request, name).seconds = value["seconds"]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = channel.unary_unary("/storydedup.v1.StoryDedupService/ListClusters")
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(request.SerializeToString(), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (raised.value.details() or "").startswith(f"{field}:")


async def test_a_page_token_of_another_listing_is_refused(client: AsyncStoryDedupClient) -> None:
    since = NOW - timedelta(hours=1)
    await client.ingest_article(article("a1", articles.story(1, paragraphs=8), 5, "one.example"))
    await client.ingest_article(article("b1", articles.story(2, paragraphs=8), 5, "one.example"))
    page = await client.list_clusters(since, page_size=1)
    with pytest.raises(StoryDedupError) as raised:
        await client.list_clusters(since, min_size=2, page_size=1, page_token=page.next_page_token)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.message.startswith("page_token:")


@pytest.mark.parametrize("from_id", ["abc", "1-x", "-1", "1-2-3"])
async def test_a_bad_resume_point_is_an_invalid_argument(
    client: AsyncStoryDedupClient, from_id: str
) -> None:
    with pytest.raises(StoryDedupError) as raised:
        await take(client, from_id, 1)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.message.startswith("from_event_id:")


async def test_a_trimmed_resume_point_is_out_of_range(namespace: str) -> None:
    raw = {"port": "0", "namespace": namespace, "events_max_len": "5"}
    async with (
        running_server(raw) as server,
        AsyncStoryDedupClient(f"127.0.0.1:{server.port}") as client,
    ):
        for i in range(8):
            story = articles.story(10 + i, paragraphs=6)
            await client.ingest_article(article(f"s{i}", story, 5, "one.example"))
        [oldest] = await take(client, "0", 1)
        with pytest.raises(StoryDedupError) as raised:
            await take(client, "1-1", 1)
        assert raised.value.code == grpc.StatusCode.OUT_OF_RANGE
        assert "from_event_id" in raised.value.message and "'1-1'" in raised.value.message
        assert oldest.article_id == "s3"


async def test_cli_top_and_watch(client: AsyncStoryDedupClient, server: StoryDedupServer) -> None:
    story = articles.story(1, paragraphs=8)
    await client.ingest_articles(
        [article("a1", story, 100, "one.example"), article("a2", story[:5], 90, "two.example")]
    )
    target = ["--target", f"127.0.0.1:{server.port}"]
    out = io.StringIO()
    code = await asyncio.to_thread(cli.main, [*target, "--json", "top", "--since", "6h"], out)
    assert code == 0
    [shown] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert (shown["size"], shown["source_count"]) == (2, 2)
    out = io.StringIO()
    code = await asyncio.to_thread(cli.main, [*target, "top", "--since", "30m"], out)
    assert code == 0 and out.getvalue() == ""
    out = io.StringIO()
    code = await asyncio.to_thread(cli.main, [*target, "top", "--since", "yesterday"], out)
    assert code == cli.EXIT_USAGE
    [first] = await take(client, "0", 1)
    watched = io.StringIO()
    argv = [*target, "--json", "watch", "--from", first.event_id, "--count", "1"]
    await asyncio.to_thread(cli.main, argv, watched)
    events = [json.loads(line) for line in watched.getvalue().splitlines()]
    assert [(e["kind"], e["article_id"], e["size"]) for e in events] == [("grew", "a2", 2)]


@pytest.mark.parametrize("kind", ["redis", "cluster"])
async def test_a_watch_resumes_across_a_server_restart(
    request: pytest.FixtureRequest, namespace: str, kind: str
) -> None:
    fixture = "redis_server" if kind == "redis" else "redis_cluster"
    raw = {"port": "0", "namespace": namespace, "redis_url": request.getfixturevalue(fixture).url}
    if kind == "cluster":
        raw["redis_cluster"] = "true"
    story = articles.story(1, paragraphs=8)
    async with (
        running_server(raw) as server,
        AsyncStoryDedupClient(f"127.0.0.1:{server.port}") as client,
    ):
        await client.ingest_article(article("a1", story, 60, "one.example"))
        before = await take(client, "0", 1)
    async with (
        running_server(raw) as server,
        AsyncStoryDedupClient(f"127.0.0.1:{server.port}") as client,
    ):
        await client.ingest_article(article("a2", story[:5], 50, "two.example"))
        after = await take(client, before[-1].event_id, 1)
        assert [(e.kind, e.article_id) for e in before + after] == [
            ("created", "a1"),
            ("grew", "a2"),
        ]
        assert await take(client, "0", 2) == before + after


async def test_the_feed_needs_the_token_when_one_is_set(namespace: str) -> None:
    raw = {"port": "0", "namespace": namespace, "auth_token": "s3cret-token-0123456789"}
    async with (
        running_server(raw) as server,
        AsyncStoryDedupClient(f"127.0.0.1:{server.port}") as client,
    ):
        with pytest.raises(StoryDedupError) as watching:
            await take(client, "0", 1)
        with pytest.raises(StoryDedupError) as listing:
            await client.list_clusters(NOW - timedelta(hours=1))
    assert watching.value.code == listing.value.code == grpc.StatusCode.UNAUTHENTICATED
