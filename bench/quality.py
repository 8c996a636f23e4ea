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

Then the multilingual part (`bench/multilingual.py`, on by default when its data is there): the
articles of all its languages go into one fresh namespace (one deduper) per input kind and
arrival order, for storydedup (as above, or --in-process) and for the datasketch baseline on
word 4-grams and on character 5-grams (these two run even with --no-baseline); a table per
language follows the main one.

Run:
    uv run python bench/quality.py                  # both systems, all input kinds
    uv run python bench/quality.py --only-baseline  # no server needed
    uv run python bench/quality.py --limit 300      # first 300 arrivals only, for a quick look
    uv run python bench/quality.py --in-process --no-baseline --inputs page_text clean
                                                    # the pipeline without server or gRPC
    STORYDEDUP_TOKENIZER=words uv run python bench/quality.py --only-multilingual
                                                    # another tokenizer (server and in-process)
    uv run python bench/quality.py --in-process --no-baseline --errors --inputs page_text
                                                    # plus the errors, with texts and pair
                                                    # similarities (bench/errors.py);
                                                    # --errors shuffle-0: in that order
    uv run python bench/quality.py --in-process --only-multilingual --inputs page_text
                                                    # the multilingual table alone
    uv run python bench/quality.py --in-process --only-multilingual --languages zh ja
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
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

from bench.baseline import DatasketchBaseline, Shingler, char_shingles, word_shingles
from bench.corpus import (
    DEFAULT_DATA_DIR,
    SEED,
    BenchArticle,
    Corpus,
    build_corpus,
)
from bench.errors import report as error_report
from bench.machine import format_machine, machine_description
from bench.metrics import Scores, evaluate, fmt_count, fmt_score
from bench.multilingual import (
    LANGUAGES,
    MultilingualCorpus,
    MultilingualRow,
    build_multilingual,
    data_path,
    print_multilingual,
    score_multilingual,
)
from bench.multilingual import rows_to_json as multilingual_json

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

    # Article id -> the cluster the system answered when it ingested it (a
    # later merge does not change an answer given); set by `assign`.
    answered: dict[str, str]

    def assign(self, articles: Sequence[BenchArticle]) -> dict[str, str]:
        """Return article id -> cluster id for every article once all are in."""
        ...


def input_text(article: BenchArticle, kind: InputKind) -> str:
    """What a system is given for an article in each input kind."""
    if kind == "page_text":
        return article.page_text
    if kind == "html":
        return article.html
    return article.body


class BaselineDeduper:
    """The plain datasketch baseline on one input kind (word 5-grams unless `shingler`)."""

    def __init__(self, kind: InputKind, shingler: Shingler | None = None) -> None:
        self.kind = kind
        self.shingler = shingler
        self.answered: dict[str, str] = {}

    def assign(self, articles: Sequence[BenchArticle]) -> dict[str, str]:
        baseline = DatasketchBaseline(shingler=self.shingler)
        # Union-find has no answer at ingest time: its clusters are its answers.
        self.answered = baseline.ingest(
            [(a.article_id, input_text(a, self.kind)) for a in articles]
        )
        return self.answered


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
) -> tuple[dict[str, str], dict[str, str]]:
    """Send the articles through the storydedup client: the cluster each one was answered
    at ingest, and the cluster each one is in once all are in (GetArticle)."""
    from storydedup_client import StoryDedupClient

    answered: dict[str, str] = {}
    with StoryDedupClient(address) as client:
        for start in range(0, len(articles), BATCH_SIZE):
            batch = [client_article(a, kind) for a in articles[start : start + BATCH_SIZE]]
            for result in client.ingest_articles(batch):
                answered[result.article_id] = result.cluster_id
        final = {a.article_id: client.get_article(a.article_id).cluster_id for a in articles}
    return answered, final


class StoryDedupDeduper:
    """storydedup over gRPC on one input kind, with a server of its own."""

    def __init__(self, kind: InputKind, address: str) -> None:
        self.kind = kind
        self.address = address
        self.answered: dict[str, str] = {}

    def assign(self, articles: Sequence[BenchArticle]) -> dict[str, str]:
        self.answered, final = ingest_with_client(self.address, articles, self.kind)
        return final


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
        self.last: dict[str, str] = {}
        self.answered: dict[str, str] = {}

    def assign(self, articles: Sequence[BenchArticle]) -> dict[str, str]:
        self.answered, self.last = asyncio.run(self._assign(articles))
        return self.last

    async def _assign(
        self, articles: Sequence[BenchArticle]
    ) -> tuple[dict[str, str], dict[str, str]]:
        from storydedup.api.convert import cluster_id
        from storydedup.clustering.policy import MatchPolicy
        from storydedup.dedup import Deduplicator
        from storydedup.fingerprints.fingerprint import Fingerprinter, FingerprintSettings
        from storydedup.fingerprints.text import DEFAULT_TOKENIZER, as_tokenizer
        from storydedup.store.memory import MemoryStore

        # As the server does: STORYDEDUP_TOKENIZER chooses the tokenizer.
        tokenizer = as_tokenizer(os.environ.get("STORYDEDUP_TOKENIZER", DEFAULT_TOKENIZER))
        settings = FingerprintSettings(tokenizer=tokenizer)
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
        final = {}
        for a in articles:
            record = await store.article(a.article_id)
            assert record is not None
            final[a.article_id] = cluster_id(record.cluster)
        return clusters, final


# --------------------------------------------------------------------------- harness


@dataclass(frozen=True, slots=True)
class Row:
    """One system on one input kind in one arrival order."""

    system: str
    kind: InputKind
    order: str  # "publication" or "shuffle-<seed>"
    scores: Scores
    by_subset: dict[str, Scores]
    seconds: float
    # Pair F1 of the clusters answered at ingest (a later merge changes none).
    answered_f1: float


def score(
    corpus: Corpus, articles: Sequence[BenchArticle], predicted: dict[str, str]
) -> tuple[Scores, dict[str, Scores]]:
    """Scores by the read labels on the whole corpus and on each part (synthetic stories /
    Helsinki), and on the Helsinki part by the containment rule's labels (its ambiguous pairs
    left out), the second score."""
    truth = {a.article_id: a.story_id for a in articles}
    kinds = {a.article_id: a.kind for a in articles}
    overall = evaluate(truth, predicted, kinds)
    subsets: dict[str, Scores] = {}
    for name, helsinki in (("synthetic", False), ("helsinki", True)):
        ids = {a.article_id for a in articles if (a.kind == "helsinki") == helsinki}
        if ids:
            subsets[name] = evaluate(
                {i: truth[i] for i in ids}, {i: predicted[i] for i in ids}, kinds
            )
    rule = {a.article_id: a.rule_story_id for a in articles if a.kind == "helsinki"}
    if rule:
        subsets["helsinki-rule"] = evaluate(
            rule, {i: predicted[i] for i in rule}, kinds, corpus.rule_excluded_pairs
        )
    return overall, subsets


def arrival_orders(
    articles: Sequence[BenchArticle], shuffles: int, seed: int
) -> list[tuple[str, list[BenchArticle]]]:
    """Publication order (the corpus's arrival order), then `shuffles` random orders."""
    orders = [("publication", list(articles))]
    for n in range(shuffles):
        shuffled = list(articles)
        random.Random(f"{seed}:order:{n}").shuffle(shuffled)
        orders.append((f"shuffle-{n}", shuffled))
    return orders


def run_system(
    name: str,
    kind: InputKind,
    order: str,
    deduper: Deduper,
    corpus: Corpus,
    articles: Sequence[BenchArticle],
) -> Row:
    started = time.perf_counter()
    predicted = deduper.assign(articles)
    seconds = time.perf_counter() - started
    overall, subsets = score(corpus, articles, predicted)
    answered = score(corpus, articles, deduper.answered)[0].pairs.f1
    return Row(name, kind, order, overall, subsets, seconds, answered)


# The multilingual table's baselines: plain datasketch on word 4-grams and character 5-grams.
MULTILINGUAL_BASELINES: tuple[tuple[str, Shingler], ...] = (
    ("datasketch-w4", lambda text: word_shingles(text, 4)),
    ("datasketch-c5", char_shingles),
)


def run_multilingual(
    name: str,
    kind: InputKind,
    order: str,
    deduper: Deduper,
    corpus: MultilingualCorpus,
    articles: Sequence[BenchArticle],
) -> MultilingualRow:
    started = time.perf_counter()
    predicted = deduper.assign(articles)
    seconds = time.perf_counter() - started
    languages, cross = score_multilingual(corpus, predicted)
    return MultilingualRow(name, kind, order, languages, cross, seconds)


def multilingual_rows(
    corpus: MultilingualCorpus,
    inputs: Sequence[InputKind],
    shuffles: int,
    seed: int,
    *,
    storydedup: bool,
    in_process: bool,
    redis_url: str | None,
) -> list[MultilingualRow]:
    """Every system on the multilingual articles: all languages in one deduper per input kind
    and arrival order."""
    orders = arrival_orders(corpus.articles, shuffles, seed)
    rows: list[MultilingualRow] = []
    for kind in inputs:
        for name, shingler in MULTILINGUAL_BASELINES:
            for order, articles in orders:
                deduper = BaselineDeduper(kind, shingler)
                rows.append(run_multilingual(name, kind, order, deduper, corpus, articles))
                print(
                    f"  {name} multilingual {kind} {order}: {rows[-1].seconds:.1f}s",
                    file=sys.stderr,
                )
        for order, articles in orders if storydedup else ():
            if in_process:
                rows.append(
                    run_multilingual(
                        "storydedup", kind, order, InProcessDeduper(kind), corpus, articles
                    )
                )
            else:
                namespace = f"quality-ml-{kind}-{uuid.uuid4().hex[:8]}"
                with storydedup_server(namespace, redis_url) as address:
                    server = StoryDedupDeduper(kind, address)
                    rows.append(
                        run_multilingual("storydedup", kind, order, server, corpus, articles)
                    )
            print(
                f"  storydedup multilingual {kind} {order}: {rows[-1].seconds:.1f}s",
                file=sys.stderr,
            )
    return rows


@dataclass(frozen=True, slots=True)
class Summary:
    """A system on an input kind: one order's figures, or the mean over several."""

    system: str
    kind: InputKind
    order: str
    precision: float
    recall: float
    f1: float
    ari: float
    mixed: float
    roundups_merged: float
    roundups: int
    truncated_recall: float
    clusters: float
    articles: int
    seconds: float
    subsets: dict[str, tuple[float, float, float, float]]
    f1_range: tuple[float, float]
    answered_f1: float


def summarise(rows: Sequence[Row]) -> Summary:
    """The mean of rows of one system and input kind (one row: that row)."""
    first = rows[0]

    def mean(values: Sequence[float]) -> float:
        return statistics.fmean(values)

    subsets = {
        name: (
            mean([r.by_subset[name].pairs.precision for r in rows]),
            mean([r.by_subset[name].pairs.recall for r in rows]),
            mean([r.by_subset[name].pairs.f1 for r in rows]),
            mean([r.by_subset[name].mixed_clusters for r in rows]),
        )
        for name in first.by_subset
    }
    f1s = [r.scores.pairs.f1 for r in rows]
    return Summary(
        first.system,
        first.kind,
        first.order if len(rows) == 1 else f"shuffled x{len(rows)}",
        mean([r.scores.pairs.precision for r in rows]),
        mean([r.scores.pairs.recall for r in rows]),
        mean(f1s),
        mean([r.scores.pairs.ari for r in rows]),
        mean([r.scores.mixed_clusters for r in rows]),
        mean([r.scores.roundups_merged for r in rows]),
        first.scores.roundups,
        mean([r.scores.truncated_recall for r in rows]),
        mean([r.scores.clusters for r in rows]),
        first.scores.articles,
        mean([r.seconds for r in rows]),
        subsets,
        (min(f1s), max(f1s)),
        mean([r.answered_f1 for r in rows]),
    )


def summaries(rows: Sequence[Row]) -> list[Summary]:
    """For each system and input kind: publication order, then the mean over the shuffles."""
    out = []
    keys = list(dict.fromkeys((r.system, r.kind) for r in rows))
    for system, kind in keys:
        mine = [r for r in rows if (r.system, r.kind) == (system, kind)]
        out += [summarise([r]) for r in mine if r.order == "publication"]
        shuffled = [r for r in mine if r.order != "publication"]
        if shuffled:
            out.append(summarise(shuffled))
    return out


def print_table(table: Sequence[Summary], corpus: Corpus) -> None:
    header = (
        f"{'system':11} {'input':9} {'order':12} {'P':>6} {'R':>6} {'F1':>6} {'ARI':>6} "
        f"{'mixed':>6} {'roundups':>9} {'trunc R':>8} {'clusters':>8} {'articles':>8} "
        f"{'seconds':>8}"
    )
    print(header)
    print("-" * len(header))
    for s in table:
        print(
            f"{s.system:11} {s.kind:9} {s.order:12} {fmt_score(s.precision):>6} "
            f"{fmt_score(s.recall):>6} {fmt_score(s.f1):>6} {fmt_score(s.ari):>6} "
            f"{fmt_count(s.mixed):>6} {f'{fmt_count(s.roundups_merged)}/{s.roundups}':>9} "
            f"{fmt_score(s.truncated_recall):>8} {fmt_count(s.clusters):>8} {s.articles:>8} "
            f"{s.seconds:>8.1f}"
        )
    print()
    print(
        "Pair P/R/F1 and mixed clusters by part (synthetic: benchmark stories, copies, "
        "roundups; helsinki: read labels; helsinki-rule: the containment rule's labels, its "
        "ambiguous pairs left out):"
    )
    for s in table:
        parts = [
            f"{name} {fmt_score(p)}/{fmt_score(r)}/{fmt_score(f)} mixed {fmt_count(m)}"
            for name, (p, r, f, m) in s.subsets.items()
        ]
        spread = (
            f"   (F1 {fmt_score(s.f1_range[0])}-{fmt_score(s.f1_range[1])})"
            if s.order.startswith("shuffled")
            else ""
        )
        answered = f"   answered at ingest F1 {fmt_score(s.answered_f1)}"
        print(f"  {s.system:11} {s.kind:9} {s.order:12} " + "   ".join(parts) + spread + answered)
    print()
    print(
        f"Labels: Helsinki stories by reading ({corpus.stats.get('helsinki_read_stories')} "
        f"stories, {corpus.stats.get('helsinki_read_same_pairs')} same-story pairs; "
        "docs/quality-corpus.md); the rule's second score leaves out its "
        f"{len(corpus.rule_excluded_pairs)} ambiguous pairs."
    )
    print(
        "Clusters are scored once every article is in (GetArticle), so a merge counts; "
        "'answered at ingest' scores the cluster each article was given in its ingest "
        "response. mixed = clusters joining different stories; roundups = roundups whose "
        "cluster holds >= 2 other stories; trunc R = truncated copies in their story's "
        "cluster. Shuffled rows are means over the orders (F1 range in brackets)."
    )


def _rows_to_json(rows: Sequence[Row]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for row in rows:
        s = row.scores
        out.append(
            {
                "system": row.system,
                "input": row.kind,
                "order": row.order,
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
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the datasketch baseline of the main table (the multilingual baselines "
        "still run)",
    )
    parser.add_argument(
        "--inputs",
        nargs="+",
        choices=INPUT_KINDS,
        default=list(INPUT_KINDS),
        help="input kinds to run (default: all)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--shuffles",
        type=int,
        default=5,
        help="shuffled arrival orders run after publication order (default 5; 0: none)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    parser.add_argument(
        "--multilingual",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run the multilingual part (bench/multilingual.py; default: on when "
        "DATA/raw/multilingual-news exists)",
    )
    parser.add_argument(
        "--only-multilingual",
        action="store_true",
        help="run the multilingual part alone (no main corpus)",
    )
    parser.add_argument(
        "--languages",
        nargs="+",
        choices=LANGUAGES,
        default=list(LANGUAGES),
        help="languages of the multilingual part (default: all)",
    )
    parser.add_argument(
        "--errors",
        nargs="?",
        const="publication",
        metavar="ORDER",
        help="with --in-process: list mixed clusters, missed truncated copies and missed "
        "pairs with the cleaned texts and pair similarities (bench/errors.py), in one "
        "arrival order: publication (the default) or shuffle-N",
    )
    args = parser.parse_args(argv)
    if args.errors is not None and not args.in_process:
        parser.error("--errors needs --in-process")
    multilingual = args.multilingual
    if multilingual is None:
        multilingual = args.only_multilingual or data_path(args.data).is_dir()
    if (args.only_multilingual or args.multilingual) and not data_path(args.data).is_dir():
        parser.error(f"no multilingual data at {data_path(args.data)}")
    if args.only_multilingual and not multilingual:
        parser.error("--only-multilingual with --no-multilingual")

    print(format_machine(machine_description()))
    rows = [] if args.only_multilingual else main_part(args)
    ml_rows: list[MultilingualRow] = []
    if multilingual:
        ml_rows = multilingual_part(args)
    if args.json is not None:
        records = _rows_to_json(rows) + multilingual_json(ml_rows)
        args.json.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    return 0


def multilingual_part(args: argparse.Namespace) -> list[MultilingualRow]:
    """Build the multilingual corpus, run every system on it and print its table."""
    corpus = build_multilingual(args.data, args.seed, args.languages)
    st = corpus.stats
    print()
    print(
        f"multilingual: {st['articles']} articles in {', '.join(args.languages)}, "
        f"{st['stories']} stories, kinds {st['kinds']}; "
        f"NTREX documents in 2+ languages {st['ntrex_docs_in_2plus_languages']}; "
        f"built in {st['build_seconds']}s (seed {args.seed})"
    )
    print()
    rows = multilingual_rows(
        corpus,
        list(args.inputs),
        args.shuffles,
        args.seed,
        storydedup=not args.only_baseline,
        in_process=args.in_process,
        redis_url=args.redis_url,
    )
    print_multilingual(rows, corpus)
    return rows


def main_part(args: argparse.Namespace) -> list[Row]:
    """The main corpus: build it, run the systems, print its table; its rows."""
    corpus = build_corpus(args.data, args.seed, args.limit)
    st = corpus.stats
    print(
        f"corpus: {st['articles']} articles, {st['synthetic_stories']} benchmark stories, "
        f"{st['roundups']} roundups, {st['helsinki_articles']} Helsinki articles; "
        f"kinds {st['kinds']}; built in {st['build_seconds']}s (seed {args.seed})"
    )
    print()

    orders = arrival_orders(corpus.articles, args.shuffles, args.seed)
    rows: list[Row] = []
    inputs: list[InputKind] = list(args.inputs)
    for kind in inputs if not args.no_baseline else ():
        for order, articles in orders:
            rows.append(
                run_system("datasketch", kind, order, BaselineDeduper(kind), corpus, articles)
            )
            print(f"  datasketch {kind} {order}: {rows[-1].seconds:.1f}s", file=sys.stderr)
    for kind in inputs if not args.only_baseline else ():
        for order, articles in orders:
            if args.in_process:
                deduper = InProcessDeduper(kind, capture=args.errors is not None)
                rows.append(run_system("storydedup", kind, order, deduper, corpus, articles))
                if args.errors == order:
                    print(f"\n########## errors: storydedup on {kind}")
                    error_report(corpus, deduper.last, deduper.texts, deduper.probes, sys.stdout)
                    print()
            else:
                namespace = f"quality-{kind}-{uuid.uuid4().hex[:8]}"
                with storydedup_server(namespace, args.redis_url) as address:
                    rows.append(
                        run_system(
                            "storydedup",
                            kind,
                            order,
                            StoryDedupDeduper(kind, address),
                            corpus,
                            articles,
                        )
                    )
            print(f"  storydedup {kind} {order}: {rows[-1].seconds:.1f}s", file=sys.stderr)
    rows.sort(key=lambda r: (inputs.index(r.kind), r.system != "datasketch"))
    print_table(summaries(rows), corpus)
    return rows


if __name__ == "__main__":
    sys.exit(main())
