"""Clustering quality of storydedup against the plain datasketch baseline, on one corpus.

For each input kind - page text (a page's visible text with its chrome), HTML (the whole page)
and clean body - every system ingests the corpus of `bench/corpus.py` in arrival order, and the
resulting clusters are scored with `bench/metrics.py`: pair precision/recall/F1, ARI, clusters
mixing stories, roundups merged, truncated-copy recall, plus articles and ingest seconds.

Systems:
- datasketch: `bench/baseline.py` (word 5-gram MinHash of the whole input, LSH 0.5, union).
- storydedup: the real gRPC server, started as `uv run storydedup-server --port P` with a fresh
  STORYDEDUP_NAMESPACE per input kind (embedded store unless --redis-url is given), fed through
  the `storydedup_client` library in batches of 100.

Run:
    uv run python bench/quality.py                  # both systems, all input kinds
    uv run python bench/quality.py --only-baseline  # no server needed
    uv run python bench/quality.py --limit 300      # first 300 arrivals only, for a quick look
    uv run python bench/quality.py --in-process --no-baseline --inputs page_text clean
                                                    # the pipeline without server or gRPC
    uv run python bench/quality.py --in-process --no-baseline --errors --inputs page_text
                                                    # plus the errors, with texts and pair
                                                    # similarities (bench/errors.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if __package__ in (None, ""):
    # Run as a script (`python bench/quality.py`): make `bench` importable as a package.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from storydedup_client import Article

from bench.baseline import DatasketchBaseline
from bench.corpus import (
    DEFAULT_DATA_DIR,
    SEED,
    BenchArticle,
    Corpus,
    build_corpus,
    disputed_pairs,
)
from bench.errors import report as error_report
from bench.machine import format_machine, machine_description
from bench.metrics import Scores, evaluate

if TYPE_CHECKING:
    from storydedup.cleaning.article import StoryText
    from storydedup.store.base import Probe
    from storydedup.v1 import storydedup_pb2 as pb

REPO = Path(__file__).resolve().parents[1]
InputKind = Literal["page_text", "html", "clean"]
INPUT_KINDS: tuple[InputKind, ...] = ("page_text", "html", "clean")
BATCH_SIZE = 100  # IngestArticles batches of at most 100 articles


class Deduper(Protocol):
    """A system under test: cluster the articles, given in arrival order."""

    def assign(self, articles: Sequence[BenchArticle]) -> dict[str, str]:
        """Return article id -> cluster id for every article."""
        ...


def input_text(article: BenchArticle, kind: InputKind) -> str:
    """What a system is given for an article in each input kind."""
    if kind == "page_text":
        return article.page_text
    if kind == "html":
        return article.html
    return article.body


class BaselineDeduper:
    """The plain datasketch baseline on one input kind."""

    def __init__(self, kind: InputKind) -> None:
        self.kind = kind

    def assign(self, articles: Sequence[BenchArticle]) -> dict[str, str]:
        baseline = DatasketchBaseline()
        return baseline.ingest([(a.article_id, input_text(a, self.kind)) for a in articles])


# --------------------------------------------------------------------------- storydedup


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(
    address: str, process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"storydedup-server exited ({process.returncode}):\n{tail}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass  # not listening yet
            time.sleep(0.2)
    raise TimeoutError(f"storydedup-server not healthy after {timeout:.0f}s; log: {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The server runs in its own session, so its process group holds exactly `uv run` and the
    # server it spawned, started by us: stop that group, by its id.
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass


@contextmanager
def storydedup_server(
    namespace: str, redis_url: str | None = None, timeout: float = 180.0
) -> Iterator[str]:
    """Start `uv run storydedup-server` on a free port; yield its address once healthy."""
    port = _free_port()
    env = dict(os.environ)
    env["STORYDEDUP_NAMESPACE"] = namespace
    env.pop("STORYDEDUP_REDIS_URL", None)  # none: the embedded in-process store
    if redis_url:
        env["STORYDEDUP_REDIS_URL"] = redis_url
    log = Path(tempfile.gettempdir()) / f"storydedup-{namespace}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["uv", "run", "storydedup-server", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        address = f"127.0.0.1:{port}"
        _wait_healthy(address, process, log, timeout)
        yield address
    finally:
        _stop(process)


def client_article(a: BenchArticle, kind: InputKind) -> Article:
    """The article as a pipeline sends it for one input kind."""
    return Article(
        id=a.article_id,
        title=a.title,
        text="" if kind == "html" else input_text(a, kind),
        html=a.html if kind == "html" else "",
        url=f"https://{a.source}/a/{a.article_id}",
        source=a.source,
        published_at=a.published_at,
    )


def ingest_with_client(
    address: str, articles: Sequence[BenchArticle], kind: InputKind
) -> dict[str, str]:
    """Send the articles through the storydedup client; the cluster each one landed in."""
    from storydedup_client import StoryDedupClient

    clusters: dict[str, str] = {}
    with StoryDedupClient(address) as client:
        for start in range(0, len(articles), BATCH_SIZE):
            batch = [client_article(a, kind) for a in articles[start : start + BATCH_SIZE]]
            for result in client.ingest_articles(batch):
                clusters[result.article_id] = result.cluster_id
    return clusters


class StoryDedupDeduper:
    """storydedup over gRPC on one input kind, with a server of its own."""

    def __init__(self, kind: InputKind, address: str) -> None:
        self.kind = kind
        self.address = address

    def assign(self, articles: Sequence[BenchArticle]) -> dict[str, str]:
        return ingest_with_client(self.address, articles, self.kind)


class InProcessDeduper:
    """The server's pipeline (Deduplicator over the in-process store) called directly, in
    the same batches, without gRPC or a server process: the same clusters in a fraction of the
    time, for iterating on matching quality. The benchmark of record is the gRPC run."""

    def __init__(self, kind: InputKind, capture: bool = False) -> None:
        self.kind = kind
        # With capture, the cleaned text and fingerprint of every article (for --errors).
        self.capture = capture
        self.texts: dict[str, str] = {}
        self.probes: dict[str, Probe] = {}

    def assign(self, articles: Sequence[BenchArticle]) -> dict[str, str]:
        return asyncio.run(self._assign(articles))

    async def _assign(self, articles: Sequence[BenchArticle]) -> dict[str, str]:
        from storydedup.api.convert import cluster_id
        from storydedup.clustering.policy import MatchPolicy
        from storydedup.dedup import Deduplicator
        from storydedup.fingerprints.fingerprint import Fingerprinter, FingerprintSettings
        from storydedup.store.memory import MemoryStore

        settings = FingerprintSettings()
        store = MemoryStore(MatchPolicy())
        await store.open(settings.store_settings())
        dedup = Deduplicator(store, Fingerprinter(settings))
        if self.capture:
            story = dedup._story

            def capturing(article: pb.Article, field: str) -> tuple[Probe, StoryText]:
                probe, text = story(article, field)
                self.texts[article.id] = text.text
                self.probes[article.id] = probe
                return probe, text

            dedup._story = capturing  # type: ignore[method-assign]
        clusters: dict[str, str] = {}
        for start in range(0, len(articles), BATCH_SIZE):
            batch = [
                dedup.prepare(client_article(a, self.kind).to_proto(), f"articles[{i}]")
                for i, a in enumerate(articles[start : start + BATCH_SIZE])
            ]
            for outcome in await dedup.ingest(batch):
                clusters[outcome.article_id] = cluster_id(outcome.cluster)
        return clusters


# --------------------------------------------------------------------------- harness


@dataclass(frozen=True, slots=True)
class Row:
    """One system on one input kind."""

    system: str
    kind: InputKind
    scores: Scores
    by_subset: dict[str, Scores]
    seconds: float


def score(
    corpus: Corpus,
    articles: Sequence[BenchArticle],
    predicted: dict[str, str],
    disputed: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[Scores, dict[str, Scores]]:
    """Scores on the whole corpus and on each subset (synthetic stories / Helsinki), and, if
    `disputed` pairs are given, on the Helsinki part without them and on everything without
    them."""
    truth = {a.article_id: a.story_id for a in articles}
    kinds = {a.article_id: a.kind for a in articles}
    overall = evaluate(truth, predicted, kinds, corpus.excluded_pairs)
    subsets: dict[str, Scores] = {}
    for name, helsinki in (("synthetic", False), ("helsinki", True)):
        ids = {a.article_id for a in articles if (a.kind == "helsinki") == helsinki}
        if ids:
            subsets[name] = evaluate(
                {i: truth[i] for i in ids},
                {i: predicted[i] for i in ids},
                kinds,
                corpus.excluded_pairs,
            )
    if disputed and "helsinki" in subsets:
        ids = {a.article_id for a in articles if a.kind == "helsinki"}
        subsets["helsinki-read"] = evaluate(
            {i: truth[i] for i in ids},
            {i: predicted[i] for i in ids},
            kinds,
            corpus.excluded_pairs | disputed,
        )
        subsets["all-read"] = evaluate(truth, predicted, kinds, corpus.excluded_pairs | disputed)
    return overall, subsets


def run_system(
    name: str,
    kind: InputKind,
    deduper: Deduper,
    corpus: Corpus,
    disputed: frozenset[tuple[str, str]] = frozenset(),
) -> Row:
    started = time.perf_counter()
    predicted = deduper.assign(corpus.articles)
    seconds = time.perf_counter() - started
    overall, subsets = score(corpus, corpus.articles, predicted, disputed)
    return Row(name, kind, overall, subsets, seconds)


def _fmt(value: float) -> str:
    return "  n/a" if math.isnan(value) else f"{value:.3f}"


def print_table(rows: Sequence[Row], corpus: Corpus, disputed: int = 0) -> None:
    header = (
        f"{'system':11} {'input':9} {'P':>6} {'R':>6} {'F1':>6} {'ARI':>6} "
        f"{'mixed':>6} {'roundups':>9} {'trunc R':>8} {'clusters':>8} {'articles':>8} "
        f"{'seconds':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        s = row.scores
        print(
            f"{row.system:11} {row.kind:9} {_fmt(s.pairs.precision):>6} "
            f"{_fmt(s.pairs.recall):>6} {_fmt(s.pairs.f1):>6} {_fmt(s.pairs.ari):>6} "
            f"{s.mixed_clusters:>6} {f'{s.roundups_merged}/{s.roundups}':>9} "
            f"{_fmt(s.truncated_recall):>8} {s.clusters:>8} {s.articles:>8} "
            f"{row.seconds:>8.1f}"
        )
    print()
    print("Pair P/R/F1 by subset (synthetic: benchmark stories, copies, roundups; helsinki):")
    for row in rows:
        parts = [
            f"{name} {_fmt(s.pairs.precision)}/{_fmt(s.pairs.recall)}/{_fmt(s.pairs.f1)}"
            # Mixed clusters too where the disputed pairs are set aside: a cluster mixed only
            # through a disputed pair is one story by the adjudication's reading.
            + (f" (mixed {s.mixed_clusters})" if name == "all-read" else "")
            for name, s in row.by_subset.items()
        ]
        print(f"  {row.system:11} {row.kind:9} " + "   ".join(parts))
    print()
    print(
        f"Excluded from pair metrics, ARI and mixed clusters: {len(corpus.excluded_pairs)} "
        "Helsinki pairs with ambiguous labels (in different rule groups with 5-gram "
        "containment in [0.3, 0.8), or in one group only through a chain, containment < 0.3)."
    )
    if disputed:
        print(
            f"helsinki-read / all-read: the same without the {disputed} Helsinki pairs whose "
            "rule label the adjudication's 'disputes' contradict (docs/quality-corpus.md)."
        )
    print(
        "mixed = clusters joining different stories; roundups = roundups whose cluster holds "
        ">= 2 other stories; trunc R = truncated copies in their story's cluster."
    )


def _rows_to_json(rows: Sequence[Row]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for row in rows:
        s = row.scores
        out.append(
            {
                "system": row.system,
                "input": row.kind,
                "precision": s.pairs.precision,
                "recall": s.pairs.recall,
                "f1": s.pairs.f1,
                "ari": s.pairs.ari,
                "mixed_clusters": s.mixed_clusters,
                "roundups_merged": s.roundups_merged,
                "roundups": s.roundups,
                "truncated_recall": s.truncated_recall,
                "clusters": s.clusters,
                "articles": s.articles,
                "seconds": row.seconds,
                "f1_by_subset": {k: v.pairs.f1 for k, v in row.by_subset.items()},
            }
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Story-clustering quality: storydedup vs the plain datasketch baseline."
    )
    parser.add_argument("--only-baseline", action="store_true", help="do not start the server")
    parser.add_argument("--limit", type=int, default=None, help="only the first N arrivals")
    parser.add_argument("--redis-url", default=None, help="STORYDEDUP_REDIS_URL for the server")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run storydedup's pipeline in this process (no server, no gRPC; for iterating)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the datasketch baseline")
    parser.add_argument(
        "--inputs",
        nargs="+",
        choices=INPUT_KINDS,
        default=list(INPUT_KINDS),
        help="input kinds to run (default: all)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    parser.add_argument(
        "--errors",
        action="store_true",
        help="with --in-process: list mixed clusters, missed truncated copies and missed "
        "pairs with the cleaned texts and pair similarities (bench/errors.py)",
    )
    args = parser.parse_args(argv)
    if args.errors and not args.in_process:
        parser.error("--errors needs --in-process")

    print(format_machine(machine_description()))
    corpus = build_corpus(args.data, args.seed, args.limit)
    st = corpus.stats
    print(
        f"corpus: {st['articles']} articles, {st['synthetic_stories']} benchmark stories, "
        f"{st['roundups']} roundups, {st['helsinki_articles']} Helsinki articles; "
        f"kinds {st['kinds']}; built in {st['build_seconds']}s (seed {args.seed})"
    )
    print()

    disputed = disputed_pairs(args.data) if args.limit is None else frozenset()
    rows: list[Row] = []
    inputs: list[InputKind] = list(args.inputs)
    for kind in inputs if not args.no_baseline else ():
        rows.append(run_system("datasketch", kind, BaselineDeduper(kind), corpus, disputed))
        print(f"  datasketch {kind}: {rows[-1].seconds:.1f}s", file=sys.stderr)
    if args.in_process and not args.only_baseline:
        for kind in inputs:
            deduper = InProcessDeduper(kind, capture=args.errors)
            started = time.perf_counter()
            predicted = deduper.assign(corpus.articles)
            seconds = time.perf_counter() - started
            overall, subsets = score(corpus, corpus.articles, predicted, disputed)
            rows.append(Row("storydedup", kind, overall, subsets, seconds))
            print(f"  storydedup (in process) {kind}: {rows[-1].seconds:.1f}s", file=sys.stderr)
            if args.errors:
                print(f"\n########## errors: storydedup on {kind}")
                error_report(corpus, predicted, deduper.texts, deduper.probes, sys.stdout)
                print()
    elif not args.only_baseline:
        for kind in inputs:
            namespace = f"quality-{kind}-{uuid.uuid4().hex[:8]}"
            with storydedup_server(namespace, args.redis_url) as address:
                rows.append(
                    run_system(
                        "storydedup", kind, StoryDedupDeduper(kind, address), corpus, disputed
                    )
                )
            print(f"  storydedup {kind}: {rows[-1].seconds:.1f}s", file=sys.stderr)
    rows.sort(key=lambda r: (inputs.index(r.kind), r.system != "datasketch"))
    print_table(rows, corpus, len(disputed))
    if args.json is not None:
        args.json.write_text(json.dumps(_rows_to_json(rows), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
