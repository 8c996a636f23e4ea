"""Security settings end to end: TLS and mutual TLS on the gRPC port, the
bearer token, and Redis credentials; no secret ever shows in a log line or
an error message."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from storydedup.api.server import StoryDedupServer
from storydedup.v1 import storydedup_pb2 as pb
from storydedup.v1 import storydedup_pb2_grpc as pb_grpc
from storydedup_client import Article, AsyncStoryDedupClient, StoryDedupError

from tests.conftest import running_server
from tests.support import articles
from tests.support.checks import admin_check, assert_namespace_consistent
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess

TIMEOUT = 15.0
STORY = articles.story(61, paragraphs=6)
SERVING = health_pb2.HealthCheckResponse.SERVING


def story_article(article_id: str, paragraphs: list[str] = STORY) -> pb.Article:
    return pb.Article(id=article_id, text=articles.text(paragraphs))


# -- certificates -----------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    # A client certificate from a CA the server does not trust.
    rogue_cert: Path
    rogue_key: Path
    rogue_ca: Path

    @staticmethod
    def read(path: Path) -> bytes:
        return path.read_bytes()


def openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def make_ca(directory: Path, name: str) -> None:
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
        "-subj", f"/CN=storydedup test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip


def make_cert(directory: Path, name: str, ca: str, extensions: str) -> None:
    (directory / f"{name}.ext").write_text(extensions)
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
        cwd=directory,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        cwd=directory,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA with a server certificate for 127.0.0.1/localhost and
    a client certificate, and a second CA with a client certificate of its
    own (made with the openssl CLI: the `cryptography` package is not in the
    environment)."""
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    make_ca(d, "rogue-ca")
    make_cert(
        d,
        "server",
        "ca",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    make_cert(d, "client", "ca", "extendedKeyUsage=clientAuth\n")
    make_cert(d, "rogue", "rogue-ca", "extendedKeyUsage=clientAuth\n")
    return Pki(
        ca=d / "ca.pem",
        server_cert=d / "server.pem",
        server_key=d / "server.key",
        client_cert=d / "client.pem",
        client_key=d / "client.key",
        rogue_cert=d / "rogue.pem",
        rogue_key=d / "rogue.key",
        rogue_ca=d / "rogue-ca.pem",
    )


@pytest.fixture
async def tls_server(pki: Pki) -> AsyncIterator[StoryDedupServer]:
    raw = {"port": "0", "tls_cert_file": str(pki.server_cert), "tls_key_file": str(pki.server_key)}
    async with running_server(raw) as server:
        yield server


@pytest.fixture
async def mtls_server(pki: Pki) -> AsyncIterator[StoryDedupServer]:
    raw = {
        "port": "0",
        "tls_cert_file": str(pki.server_cert),
        "tls_key_file": str(pki.server_key),
        "tls_client_ca_file": str(pki.ca),
    }
    async with running_server(raw) as server:
        yield server


async def ingest_over(channel: grpc.aio.Channel, article_id: str) -> pb.IngestArticleResponse:
    reply: pb.IngestArticleResponse = await pb_grpc.StoryDedupServiceStub(channel).IngestArticle(
        pb.IngestArticleRequest(article=story_article(article_id)), timeout=TIMEOUT
    )
    return reply


async def assert_refused_connection(channel: grpc.aio.Channel) -> None:
    """No call gets through: the handshake fails, so the call is UNAVAILABLE."""
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ingest_over(channel, "refused")
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(grpc.aio.AioRpcError) as health:
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=TIMEOUT
            )
        assert health.value.code() == grpc.StatusCode.UNAVAILABLE


# -- TLS ------------------------------------------------------------------------


async def test_tls_client_works_and_plaintext_client_fails(
    tls_server: StoryDedupServer, pki: Pki
) -> None:
    trusted = grpc.ssl_channel_credentials(root_certificates=pki.read(pki.ca))
    for host in ("127.0.0.1", "localhost"):
        async with grpc.aio.secure_channel(f"{host}:{tls_server.port}", trusted) as channel:
            reply = await ingest_over(channel, f"tls-{host}")
            assert reply.article_id == f"tls-{host}"
    # The project's client, given the credentials.
    async with AsyncStoryDedupClient(
        f"localhost:{tls_server.port}", credentials=trusted, timeout=TIMEOUT
    ) as client:
        assert (await client.get_article("tls-localhost")).article_id == "tls-localhost"
    # Plaintext against the TLS port.
    await assert_refused_connection(grpc.aio.insecure_channel(f"127.0.0.1:{tls_server.port}"))
    # TLS, but not trusting the server's CA.
    untrusting = grpc.ssl_channel_credentials(root_certificates=pki.read(pki.rogue_ca))
    await assert_refused_connection(
        grpc.aio.secure_channel(f"127.0.0.1:{tls_server.port}", untrusting)
    )


async def test_mutual_tls_needs_a_client_certificate_from_the_ca(
    mtls_server: StoryDedupServer, pki: Pki
) -> None:
    target = f"localhost:{mtls_server.port}"
    ca = pki.read(pki.ca)
    # No client certificate: refused.
    await assert_refused_connection(
        grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca))
    )
    # A client certificate from another CA: refused.
    rogue = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=pki.read(pki.rogue_key),
        certificate_chain=pki.read(pki.rogue_cert),
    )
    await assert_refused_connection(grpc.aio.secure_channel(target, rogue))
    # A certificate the CA signed: served.
    signed = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=pki.read(pki.client_key),
        certificate_chain=pki.read(pki.client_cert),
    )
    async with grpc.aio.secure_channel(target, signed) as channel:
        reply = await ingest_over(channel, "mtls-a")
        assert reply.article_id == "mtls-a" and not reply.duplicate
        health = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=TIMEOUT
        )
        assert health.status == SERVING


# -- bearer token -----------------------------------------------------------


@pytest.fixture(scope="module")
def token() -> str:
    return "tok-" + secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def token_server(token: str) -> Iterator[ServerProcess]:
    """The server as a process, given the token through its environment,
    logging as much as it can."""
    server = ServerProcess({"STORYDEDUP_AUTH_TOKEN": token, "STORYDEDUP_LOG_LEVEL": "DEBUG"})
    server.start()
    yield server
    server.stop()


def all_calls(
    stub: pb_grpc.StoryDedupServiceStub, metadata: tuple[tuple[str, str], ...] | None
) -> dict[str, Awaitable[object]]:
    """One call of each unary method of the service, not yet awaited."""
    return {
        "IngestArticle": stub.IngestArticle(
            pb.IngestArticleRequest(article=story_article("auth-a")),
            metadata=metadata,
            timeout=TIMEOUT,
        ),
        "IngestArticles": stub.IngestArticles(
            pb.IngestArticlesRequest(articles=[story_article("auth-b")]),
            metadata=metadata,
            timeout=TIMEOUT,
        ),
        "GetCluster": stub.GetCluster(
            pb.GetClusterRequest(article_id="auth-a"), metadata=metadata, timeout=TIMEOUT
        ),
        "GetArticle": stub.GetArticle(
            pb.GetArticleRequest(article_id="auth-a"), metadata=metadata, timeout=TIMEOUT
        ),
        "FindSimilar": stub.FindSimilar(
            pb.FindSimilarRequest(article=story_article("")), metadata=metadata, timeout=TIMEOUT
        ),
        "DeleteArticle": stub.DeleteArticle(
            pb.DeleteArticleRequest(article_id="auth-nothing"), metadata=metadata, timeout=TIMEOUT
        ),
    }


async def stream_ingest(
    stub: pb_grpc.StoryDedupServiceStub,
    metadata: tuple[tuple[str, str], ...] | None,
    ids: list[str],
) -> list[str]:
    call = stub.StreamIngestArticles(
        iter([pb.StreamIngestArticlesRequest(article=story_article(i)) for i in ids]),
        metadata=metadata,
        timeout=TIMEOUT,
    )
    return [response.result.article_id async for response in call]


async def test_calls_without_the_right_token_are_unauthenticated(
    token_server: ServerProcess, token: str
) -> None:
    wrong_tokens = [
        None,
        (("authorization", "Bearer wrong-token-of-some-length"),),
        (("authorization", f"Bearer {token[:-1]}"),),
        (("authorization", f"Bearer {token}x"),),
        (("authorization", token),),
        (("authorization", f"Basic {token}"),),
        (("x-token", f"Bearer {token}"),),
    ]
    messages: list[str] = []
    async with grpc.aio.insecure_channel(token_server.target) as channel:
        stub = pb_grpc.StoryDedupServiceStub(channel)
        for metadata in wrong_tokens:
            for name, call in all_calls(stub, metadata).items():
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await call
                assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
                messages.append(refused.value.details() or "")
            # Streaming too, with several messages in flight.
            for count in (1, 20):
                with pytest.raises(grpc.aio.AioRpcError) as streamed:
                    await stream_ingest(stub, metadata, [f"auth-s{i}" for i in range(count)])
                assert streamed.value.code() == grpc.StatusCode.UNAUTHENTICATED
                messages.append(streamed.value.details() or "")
        # Nothing was written: with the token, none of those articles exists.
        right = (("authorization", f"Bearer {token}"),)
        for article_id in ("auth-a", "auth-b", "auth-s0"):
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await stub.GetArticle(
                    pb.GetArticleRequest(article_id=article_id), metadata=right, timeout=TIMEOUT
                )
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        # Reflection is behind the token too.
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as reflected:
            async for _ in reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=TIMEOUT
            ):
                pass
        assert reflected.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert all("bearer token" in m for m in messages), set(messages)
    assert not any(token in m for m in messages)
    assert token not in token_server.full_log()


async def test_the_right_token_works_and_health_needs_none(
    token_server: ServerProcess, token: str
) -> None:
    right = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(token_server.target) as channel:
        stub = pb_grpc.StoryDedupServiceStub(channel)
        first = await stub.IngestArticle(
            pb.IngestArticleRequest(article=story_article("ok-a")), metadata=right, timeout=TIMEOUT
        )
        streamed = await stream_ingest(stub, right, ["ok-s0", "ok-s1", "ok-s2"])
        assert streamed == ["ok-s0", "ok-s1", "ok-s2"]
        cluster = await stub.GetCluster(
            pb.GetClusterRequest(cluster_id=first.cluster_id), metadata=right, timeout=TIMEOUT
        )
        assert [m.article_id for m in cluster.cluster.members] == [
            "ok-a",
            "ok-s0",
            "ok-s1",
            "ok-s2",
        ]
        # Errors past authentication do not echo the token either.
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.IngestArticle(
                pb.IngestArticleRequest(article=pb.Article(id="bad", text="\x00")),
                metadata=right,
                timeout=TIMEOUT,
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert token not in (bad.value.details() or "")
        # Health needs no token, Check and Watch alike.
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "storydedup.v1.StoryDedupService"):
            reply = await health.Check(
                health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT
            )
            assert reply.status == SERVING
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
        assert (await watch.read()).status == SERVING
        watch.cancel()
    # The project's client, given the token.
    async with AsyncStoryDedupClient(token_server.target, token=token) as client:
        assert (await client.get_article("ok-s1")).cluster_id == first.cluster_id
    async with AsyncStoryDedupClient(token_server.target, token="not-" + token) as client:
        with pytest.raises(StoryDedupError) as refused:
            async for _ in client.stream_ingest_articles(
                [Article(id=f"c{i}", text=articles.text(STORY)) for i in range(4)]
            ):
                pass
        assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    log = token_server.full_log()
    assert token not in log
    assert '"auth_token": "***"' in log


# -- Redis credentials -----------------------------------------------------

REDIS_USER = "storydedup"


@pytest.fixture(scope="module")
def redis_password() -> str:
    # Characters that need escaping in a URL, to check the escaped form too.
    return "pw-" + secrets.token_urlsafe(18) + "@:/%"


@pytest.fixture(scope="module")
def redis_acl(redis_password: str) -> Iterator[RedisServer]:
    """Redis with the default user disabled and one ACL user with a password."""
    server = RedisServer(
        extra=(
            "--user", "default", "off",
            "--user", REDIS_USER, "on", f">{redis_password}", "~*", "&*", "+@all",
        ),
        username=REDIS_USER,
        password=redis_password,
    )  # fmt: skip
    server.start()
    yield server
    server.cleanup()


def acl_url(server: RedisServer, password: str) -> str:
    return f"redis://{REDIS_USER}:{quote(password, safe='')}@127.0.0.1:{server.port}/0"


def assert_no_secret(text: str, *secrets_: str) -> None:
    for secret in secrets_:
        for form in {secret, quote(secret, safe="")}:
            assert form not in text, f"secret {form[:4]}… leaked"


@pytest.mark.parametrize("in_query", [False, True], ids=["userinfo", "query"])
async def test_redis_acl_user_with_password_works_and_is_never_logged(
    redis_acl: RedisServer, redis_password: str, in_query: bool
) -> None:
    namespace = f"acl-{in_query}"
    url = acl_url(redis_acl, redis_password)
    if in_query:
        # redis-py also takes credentials as query parameters.
        url = (
            f"redis://127.0.0.1:{redis_acl.port}/0?username={REDIS_USER}"
            f"&password={quote(redis_password, safe='')}"
        )
    server = ServerProcess(
        {
            "STORYDEDUP_REDIS_URL": url,
            "STORYDEDUP_NAMESPACE": namespace,
            "STORYDEDUP_LOG_LEVEL": "DEBUG",
        }
    )
    await asyncio.to_thread(server.start)
    try:
        async with AsyncStoryDedupClient(server.target, timeout=TIMEOUT) as client:
            first = await client.ingest_article(Article(id="r-a", text=articles.text(STORY)))
            copy = await client.ingest_article(Article(id="r-b", text=articles.text(STORY[:4])))
            assert copy.duplicate and copy.cluster_id == first.cluster_id
    finally:
        server.stop()
    log = server.full_log()
    assert_no_secret(log, redis_password)
    config_line = next(line for line in log.splitlines() if "configuration:" in line)
    assert ":***@" in config_line or "password=***" in config_line
    # The checker connects with the same URL.
    await asyncio.to_thread(assert_namespace_consistent, url, namespace)


async def test_wrong_redis_password_is_not_serving_and_is_never_logged(
    redis_acl: RedisServer, redis_password: str
) -> None:
    wrong = "wrong-" + secrets.token_urlsafe(12)
    server = ServerProcess(
        {
            "STORYDEDUP_REDIS_URL": acl_url(redis_acl, wrong),
            "STORYDEDUP_NAMESPACE": "acl-wrong",
            "STORYDEDUP_LOG_LEVEL": "DEBUG",
        }
    )
    await asyncio.to_thread(server.start, wait_serving=False)
    try:
        # Still not serving after a few rounds of the store watcher.
        await asyncio.sleep(2.5)
        assert server.health() == "NOT_SERVING"
        async with AsyncStoryDedupClient(server.target, timeout=TIMEOUT) as client:
            with pytest.raises(StoryDedupError) as caught:
                await client.ingest_article(Article(id="w", text=articles.text(STORY)))
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
        assert_no_secret(caught.value.message, wrong, redis_password)
    finally:
        server.stop()
    log = server.full_log()
    assert "index store unreachable" in log
    assert_no_secret(log, wrong, redis_password)
    # The operator's checker fails the same way, without the password either.
    checked = await asyncio.to_thread(admin_check, acl_url(redis_acl, wrong), "acl-wrong")
    assert checked.returncode == 2
    assert_no_secret(checked.stdout + checked.stderr, wrong)
