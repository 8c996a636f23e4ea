"""Throughput, latency and Redis memory of storydedup end to end, next to datasketch on Redis.

Run by hand from the repository root (it is a benchmark, not a test):

    uv run python bench/throughput.py                   # full run, N = 20,000 articles (~16 min)
    uv run python bench/throughput.py --phases real     # the real-page phase (i) alone (~6 min)
    uv run python bench/throughput.py --quick           # small sizes, to check the harness (~2 min)
    uv run python bench/throughput.py --profile         # also profile the server with py-spy
    uv run python bench/throughput.py --profile --memory-scale 100000 --latency-rates 50,100
                                                        # what docs/performance.md reports

It starts its own redis-server processes on free loopback ports (tests/support/redis_server.py;
no RDB snapshots, no AOF) and the real server as a subprocess (`python -m storydedup.api.main`,
configured through STORYDEDUP_* variables), one server per phase in a fresh namespace so that
phases do not see each other's articles. Everything talks over 127.0.0.1 through the project's
client library (storydedup_client). All processes are stopped on exit, Ctrl-C and SIGTERM.

Articles: all generated before any timing, deterministically (fixed seed). Bodies of ~600 words
are sentences sampled from the BBC news corpus (Greene & Cunningham 2006) read at run time from
/work/shared/data (--data; never copied into the repository), or from a synthetic vocabulary
(--text synthetic, or when the corpus is missing); the output says which. Each article is the
visible text of a page: an outlet's menu, headline, byline, the body, share buttons, a sidebar
of teaser lines ending in "...", a footer. About 30% are syndicated copies of a recent story in
another outlet's chrome: the full body, the first three paragraphs, or the body with ~3% of its
words edited.

Phases (one table at the end; targets from the project brief):
  a. IngestArticles in batches of 100 and of 500; batches of 500 run over all N articles and
     double as the memory measurement (e);
  b. IngestArticle, one client, and 8 concurrent clients (asyncio tasks, a channel each);
  c. StreamIngestArticles, one stream;
  d. p50/p99 latency of IngestArticle and of GetCluster at 200 requests/s, paced open loop
     (--latency-rates 50,100 adds other rates, to see how latency grows with load), next to the
     gRPC floor: the server's health check, which does no work, at the same rate;
  e. Redis bytes per article: the used_memory delta over N articles, and a breakdown by key kind
     from MEMORY USAGE of a sample of keys per kind, scaled to the key counts;
  f. the datasketch baseline on the same page texts: MinHashLSH(threshold=0.5, num_perm=128) on
     Redis storage with MinHash of word 5-grams (default hashing), one by one (query, then
     insert) and in insertion_session(), with its Redis bytes per article;
  g. retention: a server with a short retention window (--retention-window seconds) ingesting
     at a steady rate for three windows; used_memory after each, then after an idle window.
  h. events: batch-500 with the event log of WatchClusters off and on, alternated three times
     each: the server and Redis CPU per article it adds.
  i. real: the quality corpus's real pages (bench/corpus.py: real outlets' pages, ~140 KiB of
     HTML and ~9 KiB of page text each), sent as bench/quality.py sends them, once as page text
     (`Article(text=...)`) and once as HTML (`Article(html=...)`): IngestArticles in batches of
     50 and IngestArticle from 8 clients, each on a server of its own; then where the server's
     CPU goes, by stage (HTML extraction, page-text cleaning, fingerprinting, store, and the
     rest: gRPC and request handling), from the server's IngestArticles path run in this
     process on the same Redis with each stage's functions timed (thread CPU), the rest being
     the batch phase's measured server CPU minus them. The batch phase and the in-process pass
     take turns --real-rounds times; the least server CPU and the least of each stage count.
Options:
  --phases ingest,latency,baseline,retention,events,real  runs a subset (ingest = a, b, c and e);
  --nice -15  runs everything at a higher scheduling priority than the machine's other jobs
      (root only; it slows those jobs down, so ask first on a shared machine);
  --profile  runs two more phases (batch-500 and unary-8) with the server under `py-spy record`
      (from PATH, else `uvx py-spy`) and prints where the server's time goes;
  --memory-scale M  measures bytes per article at M/4, M/2, 3M/4 and M articles on a Redis of
      its own;
  --workers 2 --batch-clients 2  runs the server as a pool of 2 processes (its --workers) and
      sends batches over 2 connections (the pool spreads connections, not calls).
Every phase reports the CPU used by the server, Redis and this process, and by everything else
on the machine: on a shared 2-core machine that last figure says how much to trust a run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import hashlib
import itertools
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    # Run as a script: make `bench` and `tests.support` importable from the repository root.
    sys.path.insert(0, str(REPO))

import grpc  # noqa: E402
import redis  # noqa: E402
from datasketch import MinHash, MinHashLSH  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from storydedup.v1 import storydedup_pb2 as pb  # noqa: E402
from storydedup_client import (  # noqa: E402
    Article,
    AsyncStoryDedupClient,
    IngestResult,
    StoryDedupError,
)

from bench.baseline import word_shingles  # noqa: E402
from bench.machine import format_machine, machine_description  # noqa: E402
from tests.support.redis_server import RedisServer, free_port  # noqa: E402

SEED = 20240501
DEFAULT_DATA_DIR = Path(os.environ.get("STORYDEDUP_BENCH_DATA", "/work/shared/data"))
BBC_SUBDIR = Path("raw/bbc-news-greene2006/bbc")

# Targets the project must eventually meet (from the brief; docs/performance.md).
TARGET_BATCH_PER_S = 3000.0
TARGET_UNARY8_PER_S = 1000.0
TARGET_VS_ONE_BY_ONE = 20.0
TARGET_VS_SESSION = 4.0
TARGET_INGEST_P99_MS = 5.0
TARGET_GET_P99_MS = 2.0
TARGET_BYTES_PER_ARTICLE = 1024.0

COPY_SHARE = 0.30
# Copies are of one of the last this-many originals: wire copies follow within hours, so the
# story is still in the index, as it is in production.
RECENT_ORIGINALS = 300
BODY_WORDS = (520, 680)
TRUNCATED_PARAGRAPHS = 3
EDIT_SHARE = 0.03
PHASES = ("ingest", "latency", "baseline", "retention", "events", "real")
# The events phase: batch-500 with the event log off and on, alternated this many times each.
EVENTS_ROUNDS = 3
LATENCY_RATE = 200.0
# Measured beside the API calls at each rate: the cost of a unary call that does nothing.
FLOOR_METHOD = "Health/Check"
# GetCluster measured again while another connection ingests batches.
BATCH_LOAD_METHOD = "GetCluster during batch ingest"
# The same, sent to a second server process on the namespace, which takes no batches.
READER_METHOD = "GetCluster from another process during batch ingest"
# asyncio's timers are good to about a millisecond; sends later than this against the schedule
# mean the benchmark process was starved of CPU, and its latencies include that.
MAX_SEND_LAG_MS = 5.0
RETENTION_RATE = 100.0
RETENTION_BATCH = 10
# Phases wait at most this long for a server to report SERVING (it imports trafilatura etc.).
SERVER_START_TIMEOUT_S = 60.0
# A client call that takes longer than this is a hung benchmark, not a slow one.
CALL_TIMEOUT_S = 300.0

_started = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", file=sys.stderr, flush=True)


# --- text ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextSource:
    description: str
    sentences: list[str]
    titles: list[str]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def bbc_source(data_dir: Path) -> TextSource:
    """Sentences and headlines of the 2,225 BBC articles (first line of each file is the title)."""
    directory = data_dir / BBC_SUBDIR
    sentences: list[str] = []
    titles: list[str] = []
    for path in sorted(directory.glob("*/*.txt")):
        # One file of the corpus is not UTF-8; a replaced byte does not matter here.
        title, _, body = path.read_bytes().decode("utf-8", errors="replace").partition("\n")
        titles.append(title.strip())
        for paragraph in body.splitlines():
            for sentence in _SENTENCE_END.split(paragraph.strip()):
                # Very short "sentences" are split artefacts; very long ones are run-ons.
                if 6 <= len(sentence.split()) <= 60:
                    sentences.append(sentence)
    if len(sentences) < 10_000:
        raise FileNotFoundError(f"no BBC corpus under {directory}")
    return TextSource(
        f"sentences of the BBC news corpus (Greene & Cunningham 2006), read from {directory}",
        sentences,
        titles,
    )


_SYLLABLES = [consonant + vowel for consonant in "bcdfghklmnprstvwy" for vowel in "aeiou"]
_FUNCTION_WORDS = (
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "that",
    "is",
    "was",
    "for",
    "on",
    "with",
    "as",
    "by",
    "at",
    "from",
    "it",
    "said",
    "has",
)


def synthetic_source(seed: int) -> TextSource:
    """Sentences over a made-up Zipf-distributed vocabulary, with real function words so that the
    cleaner reads them as prose."""
    rng = random.Random(seed)
    vocabulary = [
        "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(30_000)
    ]
    weights = list(itertools.accumulate(1.0 / (rank + 10) for rank in range(len(vocabulary))))

    def sentence(low: int, high: int) -> str:
        words = rng.choices(vocabulary, cum_weights=weights, k=rng.randint(low, high))
        for i in range(0, len(words), 4):
            words[i] = rng.choice(_FUNCTION_WORDS)
        return " ".join(words).capitalize()

    sentences = [sentence(10, 30) + "." for _ in range(40_000)]
    titles = [sentence(5, 9).title() for _ in range(3_000)]
    return TextSource(
        f"synthetic vocabulary ({len(vocabulary):,} words, seed {seed})", sentences, titles
    )


# --- pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outlet:
    name: str
    domain: str
    menu: tuple[str, ...]
    sidebar_header: str
    sidebar_first: bool  # sidebar printed above the story (scraped text keeps DOM order)
    footer: tuple[str, ...]


_MENU = (
    "Home",
    "News",
    "World",
    "UK",
    "US",
    "Business",
    "Markets",
    "Politics",
    "Tech",
    "Science",
    "Health",
    "Sport",
    "Culture",
    "Travel",
    "Opinion",
    "Video",
    "Podcasts",
    "Newsletters",
)
_FOOTER = (
    "About us",
    "Contact us",
    "Advertise with us",
    "Privacy policy",
    "Cookie settings",
    "Terms of use",
    "Accessibility",
    "Careers",
    "Help",
    "Sitemap",
    "RSS feeds",
)
_SIDEBAR_HEADERS = (
    "Trending",
    "Most read",
    "Latest news",
    "More stories",
    "Editor's picks",
    "Popular now",
)
_OUTLET_NAMES = (
    ("The Daily Ledger", "dailyledger.example"),
    ("Northern Courier", "northerncourier.example"),
    ("Metro Wire", "metrowire.example"),
    ("The Evening Post", "eveningpost.example"),
    ("Capital Times", "capitaltimes.example"),
    ("Harbour Herald", "harbourherald.example"),
    ("Valley News Online", "valleynews.example"),
    ("The Sentinel", "sentinel.example"),
    ("Global Dispatch", "globaldispatch.example"),
    ("City Chronicle", "citychronicle.example"),
    ("The Observer Report", "observerreport.example"),
    ("Westside Gazette", "westside.example"),
)
_FIRST_NAMES = ("Anna", "James", "Priya", "Tom", "Maria", "David", "Sarah", "Li", "Omar", "Kate")
_LAST_NAMES = ("Smith", "Jones", "Patel", "Brown", "Garcia", "Chen", "Wilson", "Khan", "Evans")


def make_outlets(rng: random.Random) -> list[Outlet]:
    outlets = []
    for i, (name, domain) in enumerate(_OUTLET_NAMES):
        outlets.append(
            Outlet(
                name=name,
                domain=domain,
                menu=tuple(rng.sample(_MENU, rng.randint(8, 14))),
                sidebar_header=_SIDEBAR_HEADERS[i % len(_SIDEBAR_HEADERS)],
                sidebar_first=i % 3 == 0,
                footer=tuple(rng.sample(_FOOTER, rng.randint(5, 9))),
            )
        )
    return outlets


class BodyMaker:
    """Story bodies from a source's sentences: every sentence is used once before any is used
    again (a shuffled cycle), so that different stories rarely share a sentence."""

    def __init__(self, source: TextSource, rng: random.Random) -> None:
        self._sentences = source.sentences
        self._rng = rng
        self._order: list[int] = []
        self._vocabulary = sorted({w for s in source.sentences[:5000] for w in s.split()})

    def _next_sentence(self) -> str:
        if not self._order:
            self._order = list(range(len(self._sentences)))
            self._rng.shuffle(self._order)
        return self._sentences[self._order.pop()]

    def body(self) -> list[str]:
        target = self._rng.randint(*BODY_WORDS)
        paragraphs: list[str] = []
        words = 0
        while words < target:
            paragraph = " ".join(self._next_sentence() for _ in range(self._rng.randint(2, 4)))
            paragraphs.append(paragraph)
            words += len(paragraph.split())
        return paragraphs

    def teaser(self) -> str:
        words = self._next_sentence().split()
        return " ".join(words[: self._rng.randint(8, 14)]) + "..."

    def edited(self, paragraphs: list[str]) -> list[str]:
        """A light copy-edit: about EDIT_SHARE of the words dropped or replaced."""
        out = []
        for paragraph in paragraphs:
            words = []
            for word in paragraph.split():
                roll = self._rng.random()
                if roll < EDIT_SHARE / 2:
                    continue
                words.append(self._rng.choice(self._vocabulary) if roll < EDIT_SHARE else word)
            out.append(" ".join(words))
        return out


@dataclass(frozen=True, slots=True)
class BenchArticle:
    article: Article  # what the clients send: page text in `text`
    kind: str  # "original", "full copy", "truncated copy", "edited copy"
    story: int


def page_text(
    outlet: Outlet,
    title: str,
    paragraphs: list[str],
    maker: BodyMaker,
    rng: random.Random,
    published: datetime,
) -> str:
    """The visible text of an article page, one block per line, as a scraper sends it."""
    header = [outlet.name, "Skip to content", *outlet.menu, "Sign in", "Subscribe"]
    byline = [
        f"By {rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}",
        f"Published {published:%d %B %Y, %H:%M} GMT",
    ]
    sidebar = [outlet.sidebar_header]
    for _ in range(rng.randint(5, 8)):
        sidebar += [maker.teaser(), f"{rng.randint(1, 23)} hours ago"]
    share = ["Share this article", "Facebook", "X", "WhatsApp", "Email"]
    footer = [*outlet.footer, f"© {published.year} {outlet.name}. All rights reserved."]
    story = [title, *byline, *paragraphs, *share]
    middle = [*sidebar, *story] if outlet.sidebar_first else [*story, *sidebar]
    return "\n".join([*header, *middle, *footer])


def build_articles(source: TextSource, count: int, seed: int) -> list[BenchArticle]:
    """`count` pages in arrival order, COPY_SHARE of them copies of a recent story; the same
    seed gives the same pages (the first N of a longer run are those of a shorter one)."""
    rng = random.Random(seed)
    maker = BodyMaker(source, random.Random(seed + 1))
    outlets = make_outlets(rng)
    start = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    originals: list[tuple[int, str, list[str], Outlet]] = []
    articles = []
    for k in range(count):
        published = start + timedelta(seconds=20 * k)
        if originals and rng.random() < COPY_SHARE:
            story, title, body, first = rng.choice(originals[-RECENT_ORIGINALS:])
            outlet = rng.choice([o for o in outlets if o is not first])
            roll = rng.random()
            if roll < 0.4:
                kind, paragraphs = "full copy", body
            elif roll < 0.7:
                kind, paragraphs = "truncated copy", body[:TRUNCATED_PARAGRAPHS]
            else:
                kind, paragraphs = "edited copy", maker.edited(body)
        else:
            # Real headlines name one story each: the pool's titles are reused, so each
            # story's carries its number (headlines are candidates of each other).
            story, paragraphs = len(originals), maker.body()
            title = f"{rng.choice(source.titles)} ({story})"
            outlet = rng.choice(outlets)
            originals.append((story, title, paragraphs, outlet))
            kind = "original"
        slug = "-".join(re.findall(r"[a-z0-9]+", title.lower())[:8])
        section = rng.choice(outlet.menu).lower()
        articles.append(
            BenchArticle(
                Article(
                    id=f"{outlet.domain.split('.')[0]}-{k:07d}",
                    title=title,
                    text=page_text(outlet, title, paragraphs, maker, rng, published),
                    url=f"https://www.{outlet.domain}/{section}/{published:%Y/%m/%d}/{slug}-{k}",
                    source=outlet.domain,
                    published_at=published,
                ),
                kind,
                story,
            )
        )
    return articles


def take(articles: Sequence[BenchArticle], start: int, count: int) -> list[Article]:
    """`count` articles from position `start`, wrapping round with new IDs when the corpus is
    shorter (only with small --articles): a phase must never re-send an ID it already sent."""
    out = []
    for i in range(start, start + count):
        article = articles[i % len(articles)].article
        if i >= len(articles):
            article = dataclasses.replace(article, id=f"{article.id}.r{i // len(articles)}")
        out.append(article)
    return out


# --- processes -----------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    # Fields 14 and 15 of stat(5), counted from the state field (field 3) here.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its descendants (a --workers supervisor and its workers)."""
    total = 0.0
    for member in [pid, *_descendants(pid)]:
        with contextlib.suppress(OSError, ValueError):  # a process that has just exited
            total += _cpu_seconds(member)
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


class ServerProcess:
    """`python -m storydedup.api.main` on a free loopback port, configured only by what is
    passed: the caller's STORYDEDUP_* variables are dropped so they cannot change a measurement.
    With `profile_to`, it runs under `py-spy record` (py-spy cannot attach to a running process
    in every container, but it can always trace a child it starts)."""

    def __init__(
        self,
        redis_url: str,
        namespace: str,
        log_dir: Path,
        code: Path,
        retention_days: float | None = None,
        profile_to: Path | None = None,
        workers: int = 1,
        events_max_len: int | None = None,
        clean_processes: int = 0,
    ) -> None:
        self.port = free_port()
        self.namespace = namespace
        self.log_path = log_dir / f"server-{namespace}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STORYDEDUP_")}
        env |= {
            "STORYDEDUP_HOST": "127.0.0.1",
            "STORYDEDUP_PORT": str(self.port),
            "STORYDEDUP_REDIS_URL": redis_url,
            "STORYDEDUP_NAMESPACE": namespace,
            "STORYDEDUP_LOG_LEVEL": "INFO",
        }
        if retention_days is not None:
            env["STORYDEDUP_RETENTION_DAYS"] = repr(retention_days)
        if workers > 1:
            env["STORYDEDUP_WORKERS"] = str(workers)
        if clean_processes:
            env["STORYDEDUP_CLEAN_PROCESSES"] = str(clean_processes)
        if events_max_len is not None:
            env["STORYDEDUP_EVENTS_MAX_LEN"] = str(events_max_len)
        # The snapshot of the service code comes before the editable install on sys.path.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
        self.env = env
        self.profile_to = profile_to
        self.process: subprocess.Popen[bytes] | None = None
        self.pid = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        server = [sys.executable, "-m", "storydedup.api.main"]
        if self.profile_to is None:
            return server
        # --idle keeps the samples where the event loop waits (for Redis or for requests), so
        # that busy and waiting shares add up to the wall time; --threads names the thread.
        return [
            *py_spy_command(),
            "record",
            "--rate",
            "250",
            "--nonblocking",
            "--idle",
            "--threads",
            "--format",
            "raw",
            "--output",
            str(self.profile_to),
            "--",
            *server,
        ]

    def start(self) -> ServerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}:\n{self.log()}")
            if self.health() == "SERVING":
                self.pid = self._server_pid()
                return self
            time.sleep(0.05)
        raise TimeoutError(f"server not SERVING within {SERVER_START_TIMEOUT_S}s:\n{self.log()}")

    def _server_pid(self) -> int:
        """The server's own pid: under py-spy it is a descendant (uvx -> py-spy -> python)."""
        assert self.process is not None
        if self.profile_to is None:
            return self.process.pid
        pending = [self.process.pid]
        for _ in range(10_000):  # a handful of processes; the bound only guards against cycles
            if not pending:
                break
            pid = pending.pop()
            with contextlib.suppress(OSError):
                arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                # The profiler's own command line ends with the server's; only the server's
                # starts with it.
                if arguments[1:3] == [b"-m", b"storydedup.api.main"]:
                    return pid
                pending += _children(pid)
        raise RuntimeError("could not find the server process under py-spy")

    def health(self) -> str | None:
        with grpc.insecure_channel(self.target) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1
                )
            except grpc.RpcError:
                return None
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM (graceful: the server finishes calls in flight); SIGKILL if it hangs. Under
        py-spy the server itself is signalled, and py-spy writes its profile when it exits; a
        --workers supervisor forwards the signal to its workers. Whatever is left of the
        process tree afterwards (an orphaned worker or server) is killed."""
        if self.process is None:
            return
        if self.profile_to is not None and not self.pid and self.process.poll() is None:
            with contextlib.suppress(RuntimeError):
                self.pid = self._server_pid()
        family = _descendants(self.process.pid)
        wrapped = bool(self.pid) and self.pid != self.process.pid
        if wrapped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
        elif self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in family) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in family:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    pending = [pid]
    for _ in range(10_000):  # a handful of processes; the bound only guards against cycles
        if not pending:
            break
        with contextlib.suppress(OSError):
            children = _children(pending.pop())
            found += children
            pending += children
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers signal 0; /proc says whether it is one.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] != "Z"
    return False


def py_spy_command() -> list[str]:
    if path := shutil.which("py-spy"):
        return [path]
    if path := shutil.which("uvx"):
        return [path, "py-spy"]
    raise RuntimeError("--profile needs py-spy: `uv pip install py-spy`, or uv's `uvx` on PATH")


def snapshot_service(into: Path) -> tuple[Path, str]:
    """A copy of service/storydedup for every server of the run, and what it is. The working
    tree may change while the benchmark runs (other people edit it); all phases must measure
    the same code, and the report must say which."""
    root = into / "code"
    shutil.copytree(
        REPO / "service" / "storydedup",
        root / "storydedup",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())

    def git(*command: str) -> str:
        try:
            return subprocess.run(
                ["git", *command],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [line for line in git("status", "--porcelain", "--", "service").splitlines() if line]
    state = f"{len(changed)} uncommitted changes under service/" if changed else "clean"
    return root, f"git {head}, {state}; snapshot sha256 {digest.hexdigest()[:12]}"


def start_redis(stack: contextlib.ExitStack) -> RedisServer:
    # RedisServer runs with `--save "" --appendonly no`: no persistence in the measurements.
    server = RedisServer()
    stack.callback(server.cleanup)
    return server.start()


# --- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timed:
    seconds: float
    cpu: dict[str, float]  # CPU seconds used during the section, per process
    redis_usec: int  # time Redis spent executing commands during the section
    # Cores used on average by processes other than the measured ones: this machine is shared,
    # and a busy neighbour makes every figure of the section a lower bound.
    foreign_cores: float


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat, first line)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall time, CPU time of the server, Redis and this client process, and Redis's own
    command time (INFO commandstats) over a section. On a 2-core machine the three processes
    compete for the cores, so the CPU split says which one is the bottleneck."""

    def __init__(self, admin: redis.Redis, pids: dict[str, int]) -> None:
        self._admin = admin
        self._pids = pids
        self._start: dict[str, float] = {}
        self._t0 = 0.0

    def _cpu(self) -> dict[str, float]:
        cpu = {name: tree_cpu_seconds(pid) for name, pid in self._pids.items()}
        # process_time counts every thread of this process (gRPC's own threads included).
        cpu["client"] = time.process_time()
        cpu["machine"] = machine_busy_seconds()
        return cpu

    def start(self) -> None:
        self._admin.config_resetstat()
        self._start = self._cpu()
        self._t0 = time.perf_counter()

    def stop(self) -> Timed:
        seconds = time.perf_counter() - self._t0
        end = self._cpu()
        stats: dict[str, Any] = self._admin.info("commandstats")
        # The admin connection's own INFO/CONFIG calls are a few microseconds: left in.
        usec = sum(int(v["usec"]) for v in stats.values())
        used = {k: end[k] - self._start[k] for k in end}
        machine = used.pop("machine")
        foreign = max(0.0, machine - sum(used.values())) / seconds
        return Timed(seconds, used, usec, foreign)


@dataclass(frozen=True, slots=True)
class PhaseResult:
    name: str
    articles: int
    timed: Timed
    duplicates: int = 0

    @property
    def rate(self) -> float:
        return self.articles / self.timed.seconds

    def cpu_detail(self) -> str:
        per = {k: v / self.articles * 1000 for k, v in self.timed.cpu.items()}
        parts = ", ".join(f"{k} {v:.2f}" for k, v in per.items())
        redis_ms = self.timed.redis_usec / self.articles / 1000
        return (
            f"CPU ms/article: {parts}; Redis command time {redis_ms:.2f} ms/article; "
            f"other processes on the machine: {self.timed.foreign_cores:.2f} cores"
        )


async def _warm_up(client: AsyncStoryDedupClient) -> None:
    """Connect the channel before timing: a lookup of an ID that is never ingested."""
    with contextlib.suppress(StoryDedupError):
        await client.get_cluster(article_id="warm-up-never-ingested")


def _own_channel() -> list[tuple[str, Any]]:
    # Without this, channels to one target share a subchannel (one TCP connection) in grpcio;
    # "8 clients" means 8 connections.
    return [("grpc.use_local_subchannel_pool", 1)]


async def ingest_batches(
    target: str, articles: Sequence[Article], size: int, meter: Meter, clients: int = 1
) -> tuple[Timed, list[IngestResult]]:
    """Batches in order, one at a time per client; with several clients (a connection each,
    which is what spreads calls over the processes of a --workers pool) each sends the next
    batch not yet taken."""
    results: list[IngestResult] = []
    starts = iter(range(0, len(articles), size))

    async def sender(client: AsyncStoryDedupClient) -> None:
        for start in starts:
            results.extend(await client.ingest_articles(articles[start : start + size]))

    options = _own_channel() if clients > 1 else []
    opened = [
        AsyncStoryDedupClient(target, timeout=CALL_TIMEOUT_S, options=options)
        for _ in range(clients)
    ]
    try:
        await asyncio.gather(*(_warm_up(c) for c in opened))
        meter.start()
        await asyncio.gather(*(sender(c) for c in opened))
        timed = meter.stop()
    finally:
        await asyncio.gather(*(c.close() for c in opened))
    return timed, results


async def ingest_unary(
    target: str, articles: Sequence[Article], clients: int, meter: Meter
) -> tuple[Timed, list[IngestResult]]:
    results: list[IngestResult | None] = [None] * len(articles)
    # One shared iterator: each article goes to whichever client is free, once.
    indexes = iter(range(len(articles)))

    async def worker(client: AsyncStoryDedupClient) -> None:
        for i in indexes:
            results[i] = await client.ingest_article(articles[i])

    opened = [
        AsyncStoryDedupClient(target, timeout=CALL_TIMEOUT_S, options=_own_channel())
        for _ in range(clients)
    ]
    try:
        await asyncio.gather(*(_warm_up(c) for c in opened))
        meter.start()
        await asyncio.gather(*(worker(c) for c in opened))
        timed = meter.stop()
    finally:
        await asyncio.gather(*(c.close() for c in opened))
    return timed, [r for r in results if r is not None]


async def ingest_stream(
    target: str, articles: Sequence[Article], meter: Meter
) -> tuple[Timed, list[IngestResult]]:
    async with AsyncStoryDedupClient(target, timeout=CALL_TIMEOUT_S) as client:
        await _warm_up(client)
        meter.start()
        results = [r async for r in client.stream_ingest_articles(articles)]
        return meter.stop(), results


@dataclass(frozen=True, slots=True)
class Latency:
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int
    achieved_rate: float
    send_lag_p99_ms: float


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def paced(rate: float, count: int, call: Callable[[int], Awaitable[object]]) -> Latency:
    """Open loop: request i is sent at start + i/rate whether or not earlier ones have answered,
    so a slow answer cannot slow the offered load down (no coordinated omission). Latency runs
    from the actual send; how late sends were against the schedule is reported apart."""
    latencies: list[float] = []
    lags: list[float] = []
    errors = 0

    async def one(i: int, due: float) -> None:
        nonlocal errors
        sent = time.perf_counter()
        lags.append(sent - due)
        try:
            await call(i)
        except StoryDedupError:
            errors += 1
        latencies.append(time.perf_counter() - sent)

    tasks = []
    start = time.perf_counter() + 0.05
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return Latency(
        p50_ms=percentile(latencies, 0.50) * 1000,
        p90_ms=percentile(latencies, 0.90) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        max_ms=max(latencies) * 1000,
        requests=count,
        errors=errors,
        achieved_rate=count / elapsed,
        send_lag_p99_ms=percentile(lags, 0.99) * 1000,
    )


@dataclass(frozen=True, slots=True)
class LatencyRun:
    method: str
    rate: float
    latency: Latency
    timed: Timed
    # Articles/s another connection ingested in batches meanwhile (0: nothing else ran).
    background_per_s: float = 0.0


async def measure_latency(
    target: str,
    reader_target: str,
    preload: Sequence[Article],
    fresh: Sequence[Article],
    background: Sequence[Article],
    seconds: float,
    rates: Sequence[float],
    meter: Meter,
) -> list[LatencyRun]:
    """At each rate in turn: the gRPC floor (the server's health check, which does no work),
    IngestArticle of fresh articles, then GetCluster of ingested ones."""
    runs = []
    async with (
        AsyncStoryDedupClient(target, timeout=CALL_TIMEOUT_S) as client,
        grpc.aio.insecure_channel(target) as channel,
    ):
        health_stub = health_pb2_grpc.HealthStub(channel)
        health_request = health_pb2.HealthCheckRequest(service="")
        # An index that is not empty, so that lookups and candidate checks do real work.
        for start in range(0, len(preload), 500):
            await client.ingest_articles(preload[start : start + 500])
        ids = [a.id for a in preload]
        used = 0
        for rate in rates:
            count = round(rate * seconds)
            batch = fresh[used : used + count]
            used += count

            async def check(i: int) -> object:
                return await health_stub.Check(health_request, timeout=CALL_TIMEOUT_S)

            meter.start()
            latency = await paced(rate, count, check)
            runs.append(LatencyRun(FLOOR_METHOD, rate, latency, meter.stop()))

            async def ingest(i: int, batch: Sequence[Article] = batch) -> object:
                return await client.ingest_article(batch[i])

            meter.start()
            latency = await paced(rate, count, ingest)
            runs.append(LatencyRun("IngestArticle", rate, latency, meter.stop()))
            ids += [a.id for a in batch]
            picks = random.Random(SEED).choices(ids, k=count)

            async def get(i: int, picks: list[str] = picks) -> object:
                return await client.get_cluster(article_id=picks[i])

            meter.start()
            latency = await paced(rate, count, get)
            runs.append(LatencyRun("GetCluster", rate, latency, meter.stop()))
        half = len(background) // 2
        runs.append(
            await lookups_during_batches(
                BATCH_LOAD_METHOD, target, client, ids, background[:half], seconds, meter
            )
        )
        async with AsyncStoryDedupClient(reader_target, timeout=CALL_TIMEOUT_S) as reader:
            runs.append(
                await lookups_during_batches(
                    READER_METHOD, target, reader, ids, background[half:], seconds, meter
                )
            )
    return runs


async def lookups_during_batches(
    method: str,
    target: str,
    client: AsyncStoryDedupClient,
    ids: Sequence[str],
    background: Sequence[Article],
    seconds: float,
    meter: Meter,
) -> LatencyRun:
    """GetCluster at LATENCY_RATE while another connection ingests batches of 500 back to back:
    what readers see during a burst of ingestion, when a batch's cleaning and fingerprinting
    share the server's event loop with them."""
    sent = 0
    stop = asyncio.Event()
    # Serialised beforehand and sent as bytes, answers left unparsed: building and reading
    # 500-article messages in this process would stall the event loop that times the lookups.
    chunks = [background[start : start + 500] for start in range(0, len(background), 500)]
    batches = [
        (
            len(chunk),
            pb.IngestArticlesRequest(articles=[a.to_proto() for a in chunk]).SerializeToString(),
        )
        for chunk in chunks
    ]

    async def send() -> None:
        nonlocal sent
        async with grpc.aio.insecure_channel(target) as channel:
            ingest = channel.unary_unary("/storydedup.v1.StoryDedupService/IngestArticles")
            for count, raw in batches:
                if stop.is_set():
                    return
                await ingest(raw, timeout=CALL_TIMEOUT_S)
                sent += count

    sender = asyncio.create_task(send())
    await asyncio.sleep(2.0)  # under way, past its first batch
    picks = random.Random(SEED + 1).choices(ids, k=round(LATENCY_RATE * seconds))

    async def get(i: int) -> object:
        return await client.get_cluster(article_id=picks[i])

    sent_before = sent
    meter.start()
    latency = await paced(LATENCY_RATE, len(picks), get)
    timed = meter.stop()
    per_s = (sent - sent_before) / timed.seconds
    stop.set()
    await sender
    if sent == len(background):
        raise RuntimeError("the batch sender ran out of articles before the lookups ended")
    return LatencyRun(method, LATENCY_RATE, latency, timed, per_s)


# --- Redis memory --------------------------------------------------------------------------------


def used_memory(admin: redis.Redis) -> int:
    info: dict[str, Any] = admin.info("memory")
    return int(info["used_memory"])


def settle(admin: redis.Redis) -> None:
    """Drop every client connection but ours, so that no query or output buffer of the system
    under test is counted as data."""
    admin.client_kill_filter(_type="normal", skipme=True)
    time.sleep(0.2)


@dataclass(frozen=True, slots=True)
class KindUsage:
    kind: str
    keys: int
    sampled: int
    bytes: float  # estimated total: mean MEMORY USAGE of the sample x key count
    # OBJECT ENCODING of the sample: a hash past hash-max-listpack-entries/-value becomes a
    # hashtable and costs several times more per field.
    encodings: dict[str, int]


# Display names of storydedup's key kinds (service/storydedup/store/redis_store.py and
# redis_chrome.py).
KEY_KINDS = {
    "a": "records (a:)",
    "b": "bucket hashes (b:)",
    "c": "cluster zsets (c:)",
    "i": "article ID groups (i:)",
    "y": "learned chrome lines (y:)",
    "z": "learned chrome sets (z:)",
    "t": "expiry slot strings (t:)",
    "slots": "expiry slot zset (slots)",
    "n": "counter (n)",
    "meta": "settings (meta)",
    "x": "event log stream (x)",
    "xf": "clusters by first publication (xf)",
    "xl": "clusters by last publication (xl)",
}


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def key_breakdown(admin: redis.Redis, prefix: str, sample: int) -> list[KindUsage]:
    by_kind: dict[str, list[bytes]] = defaultdict(list)
    raw_prefix = prefix.encode()
    # The prefix ends in "}:" and holds no glob characters (namespaces are [A-Za-z0-9_.-]).
    for key in admin.scan_iter(match=raw_prefix + b"*", count=5000):
        rest = key[len(raw_prefix) :]
        kind = rest.split(b":", 1)[0] if b":" in rest else rest
        by_kind[kind.decode(errors="replace")].append(key)
    rng = random.Random(SEED)
    usages = []
    for kind, keys in sorted(by_kind.items(), key=lambda item: -len(item[1])):
        picked = rng.sample(keys, min(sample, len(keys)))
        # SAMPLES 0: every element of a large hash or zset, not an estimate from five.
        sizes = [admin.memory_usage(key, samples=0) or 0 for key in picked]
        encodings = Counter(_text(admin.object("encoding", key)) for key in picked)
        usages.append(
            KindUsage(
                kind,
                len(keys),
                len(picked),
                sum(sizes) / len(picked) * len(keys),
                dict(encodings.most_common()),
            )
        )
    return usages


# --- the datasketch baseline ---------------------------------------------------------------------


def baseline_minhash(text: str) -> MinHash:
    signature = MinHash(num_perm=128)
    signature.update_batch(word_shingles(text, 5))
    return signature


def run_baseline(
    port: int, articles: Sequence[Article], basename: bytes, session: bool, meter: Meter
) -> tuple[Timed, int]:
    """datasketch on the same page text storydedup gets; returns (timing, articles that had at
    least one candidate). One by one: query, then insert, per article (what a dedup service
    does). insertion_session: inserts only, buffered into pipelines (bulk loading; it answers
    nothing, and still asks Redis whether each key exists)."""
    lsh = MinHashLSH(
        threshold=0.5,
        num_perm=128,
        storage_config={
            "type": "redis",
            "basename": basename,
            "redis": {"host": "127.0.0.1", "port": port},
        },
    )
    with_candidates = 0
    meter.start()
    if session:
        with lsh.insertion_session() as bulk:
            for article in articles:
                bulk.insert(article.id, baseline_minhash(article.text))
    else:
        for article in articles:
            signature = baseline_minhash(article.text)
            if lsh.query(signature):
                with_candidates += 1
            lsh.insert(article.id, signature)
    return meter.stop(), with_candidates


# --- profile -------------------------------------------------------------------------------------

# Where a sample is attributed: the innermost frame whose file matches, so that time in `re` or
# numpy counts for the project code that called it.
PROFILE_CATEGORIES = (
    ("cleaning (storydedup/cleaning)", ("storydedup/cleaning/",)),
    ("fingerprinting (storydedup/fingerprints)", ("storydedup/fingerprints/",)),
    ("Redis client: storydedup/store + redis-py", ("storydedup/store/", "redis/")),
    (
        "protobuf / gRPC / request handling",
        (
            "grpc",
            "google/protobuf",
            "storydedup/api/",
            "storydedup/v1/",
            "storydedup/dedup.py",
            "_pb2",
        ),
    ),
)
IDLE_CATEGORY = "idle: event loop waiting (for Redis replies or requests)"
UVLOOP_CATEGORY = "uvloop (C): waiting for events, or its own and gRPC's native callbacks"
# Frames at the root of every serving stack: they say nothing about where the time goes.
_START_FILES = ("storydedup/api/main.py", "storydedup/api/server.py")
# ...and the servicer's, which every request passes through: no use as "inclusive time".
_ENTRY_FILES = (*_START_FILES, "storydedup/api/servicer.py")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True, slots=True)
class Profile:
    samples: int
    categories: list[tuple[str, int]]
    self_time: list[tuple[str, int]]
    inclusive: list[tuple[str, int]]


# A callback the event loop runs with no Python frame above it is native code: gRPC aio's
# Cython (reading requests, writing responses, completion-queue callbacks) and asyncio's C tasks.
NATIVE_CALLBACKS = "native callbacks of the event loop (gRPC aio Cython, asyncio C tasks)"


def _category(frames: Sequence[re.Match[str]]) -> str:
    """The innermost frame that belongs to a category decides (so time in `re`, numpy or a
    socket write counts for the code that called it); asyncio's own frames only when nothing
    else does."""
    for frame in reversed(frames):
        if frame["file"].startswith(_START_FILES):
            continue
        for name, marks in PROFILE_CATEGORIES:
            if any(mark in frame["file"] for mark in marks):
                return name
    if frames[-1]["func"] == "Handle._run" and "asyncio/" in frames[-1]["file"]:
        return NATIVE_CALLBACKS
    if any("asyncio/" in frame["file"] for frame in frames):
        return "asyncio event loop (Python part)"
    return "other"


def summarise_profile(path: Path, top: int = 15) -> Profile:
    """Main-thread samples of py-spy's raw (collapsed) output, by category and by function."""
    categories: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    stacks: list[tuple[list[str], int]] = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if stack and count_text.isdigit():
            stacks.append((stack.split(";"), int(count_text)))
    # With --threads the first frame names the thread: "thread (4242): MainThread". The server's
    # Python work all runs on the main thread's event loop (gRPC's core threads are not Python);
    # its name is missing from a few samples, its thread ID is not.
    main_threads = {f[0].split(":")[0] for f, _ in stacks if f[0].endswith("MainThread")}
    for frames, count in stacks:
        if frames[0].split(":")[0] not in main_threads:
            continue
        # Only the serving event loop: the import-time samples of the start-up are not ingest.
        # (Under uvloop, callbacks start from C: no asyncio frame marks the serving loop.)
        if any("_find_and_load (" in frame for frame in frames):
            continue
        parsed = [m for m in (_FRAME.match(f) for f in frames[1:]) if m is not None]
        if not parsed:
            continue
        total += count
        leaf = parsed[-1]
        if leaf["func"].endswith(("select", "poll")) and "selectors" in leaf["file"]:
            categories[IDLE_CATEGORY] += count
            continue
        if leaf["func"] == "Runner.run" and "asyncio/runners" in leaf["file"]:
            # uvloop's loop is C: waiting for events and its own callbacks show as this frame.
            categories[UVLOOP_CATEGORY] += count
            continue
        self_time[f"{leaf['func']} ({leaf['file']})"] += count
        categories[_category(parsed)] += count
        seen = {
            f"{m['func']} ({m['file']})"
            for m in parsed
            if "storydedup/" in m["file"] and not m["file"].startswith(_ENTRY_FILES)
        }
        for name in seen:
            inclusive[name] += count
    return Profile(
        total, categories.most_common(), self_time.most_common(top), inclusive.most_common(top)
    )


# --- report --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    measurement: str
    result: str
    target: str = ""
    met: bool | None = None
    detail: str = ""


def verdict(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "**no**")


def render_table(rows: Sequence[Row]) -> str:
    header = ("measurement", "result", "target", "met", "detail")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for row in rows:
        cells = (row.measurement, row.result, row.target, verdict(row.met), row.detail)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_s(value: float) -> str:
    return f"{value:,.0f} articles/s"


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Run:
    args: argparse.Namespace
    stack: contextlib.ExitStack
    log_dir: Path
    redis_server: RedisServer
    code: Path
    admin: redis.Redis
    namespaces: Iterator[int]
    rows: list[Row] = dataclasses.field(default_factory=list)

    def server(
        self,
        label: str,
        on: RedisServer | None = None,
        namespace: str | None = None,
        **options: Any,
    ) -> ServerProcess:
        """A server on a fresh namespace, or on `namespace` beside the server already on it."""
        # As long as the default namespace ("default"): the prefix is in every key, and a
        # longer one would inflate the bytes per article measured. Each Redis of the run is
        # fresh, so a counter is unique enough.
        namespace = namespace or f"ns{next(self.namespaces):05d}"
        redis_url = (on or self.redis_server).url
        options.setdefault("workers", self.args.workers)
        options.setdefault("clean_processes", self.args.clean_processes)
        server = ServerProcess(redis_url, namespace, self.log_dir, self.code, **options)
        self.stack.callback(server.stop)
        progress(f"{label}: starting a server on namespace {namespace!r}")
        return server.start()

    def meter(self, server: ServerProcess | None) -> Meter:
        assert self.redis_server.process is not None
        pids = {"redis": self.redis_server.process.pid}
        if server is not None:
            pids = {"server": server.pid, **pids}
        return Meter(self.admin, pids)


@dataclass(frozen=True, slots=True)
class MemoryResult:
    articles: int
    delta: int  # used_memory after minus before, with every client disconnected
    usages: list[KindUsage]

    @property
    def per_article(self) -> float:
        return self.delta / self.articles


def throughput_phase(
    run: Run,
    label: str,
    articles: list[Article],
    go: Callable[[str, Meter], Coroutine[Any, Any, tuple[Timed, list[IngestResult]]]],
    memory: bool = False,
    **server_options: Any,
) -> tuple[PhaseResult, MemoryResult | None]:
    before = used_memory(run.admin)
    server = run.server(label, **server_options)
    timed, results = asyncio.run(go(server.target, run.meter(server)))
    if len(results) != len(articles):
        raise RuntimeError(f"{label}: {len(results)} results for {len(articles)} articles")
    result = PhaseResult(label, len(articles), timed, sum(r.duplicate for r in results))
    progress(f"{label}: {result.articles} articles in {timed.seconds:.1f}s = {per_s(result.rate)}")
    server.stop()
    if not memory:
        return result, None
    settle(run.admin)
    delta = used_memory(run.admin) - before
    usages = key_breakdown(run.admin, f"sd:{{{server.namespace}}}:", run.args.memory_sample)
    return result, MemoryResult(len(articles), delta, usages)


def memory_rows(memory: MemoryResult) -> list[Row]:
    count = memory.articles
    rows = [
        Row(
            f"Redis bytes/article, storydedup ({count:,} articles)",
            f"{memory.per_article:,.0f} B",
            f"≤ {TARGET_BYTES_PER_ARTICLE:,.0f} B",
            memory.per_article <= TARGET_BYTES_PER_ARTICLE,
            f"used_memory delta {memory.delta / 2**20:,.1f} MiB",
        )
    ]
    for usage in memory.usages:
        rows.append(
            Row(
                f"  of which {KEY_KINDS.get(usage.kind, usage.kind)}",
                f"{usage.bytes / count:,.0f} B",
                detail=f"{usage.keys:,} keys; MEMORY USAGE of {usage.sampled:,} scaled; "
                + ", ".join(f"{name} {count}" for name, count in usage.encodings.items()),
            )
        )
    accounted = sum(usage.bytes for usage in memory.usages)
    rows.append(
        Row(
            "  of which keyspace tables, allocator rounding",
            f"{(memory.delta - accounted) / count:,.0f} B",
            detail="used_memory delta minus the per-key estimates above",
        )
    )
    return rows


@dataclass(frozen=True, slots=True)
class Corpus:
    source: TextSource
    articles: list[BenchArticle]
    phase_n: int  # articles of the throughput phases other than batch-500

    @property
    def all(self) -> list[Article]:
        return [a.article for a in self.articles]

    @property
    def subset(self) -> list[Article]:
        return [a.article for a in self.articles[: self.phase_n]]


@dataclass(frozen=True, slots=True)
class IngestResults:
    batch500: PhaseResult
    unary8: PhaseResult
    memory: MemoryResult


def ingest_rows(run: Run, corpus: Corpus) -> IngestResults:
    """(a) batches, (b) unary, (c) stream, (e) memory (batch-500 over all N articles)."""
    everything, subset = corpus.all, corpus.subset
    senders = run.args.batch_clients
    batch500, memory = throughput_phase(
        run,
        "batch-500",
        everything,
        lambda t, m: ingest_batches(t, everything, 500, m, senders),
        memory=True,
    )
    assert memory is not None
    batch100, _ = throughput_phase(
        run, "batch-100", subset, lambda t, m: ingest_batches(t, subset, 100, m, senders)
    )
    connections = f", {senders} connections" if senders > 1 else ""
    unary1, _ = throughput_phase(run, "unary-1", subset, lambda t, m: ingest_unary(t, subset, 1, m))
    unary8, _ = throughput_phase(run, "unary-8", subset, lambda t, m: ingest_unary(t, subset, 8, m))
    stream, _ = throughput_phase(run, "stream", subset, lambda t, m: ingest_stream(t, subset, m))
    throughput = [
        (batch100, f"IngestArticles, batches of 100{connections}", TARGET_BATCH_PER_S),
        (batch500, f"IngestArticles, batches of 500{connections}", TARGET_BATCH_PER_S),
        (unary1, "IngestArticle, 1 client", None),
        (unary8, "IngestArticle, 8 concurrent clients", TARGET_UNARY8_PER_S),
        (stream, "StreamIngestArticles, 1 stream", None),
    ]
    for result, name, target in throughput:
        run.rows.append(
            Row(
                f"{name} ({result.articles:,} articles)",
                per_s(result.rate),
                "" if target is None else f"≥ {target:,.0f}/s",
                None if target is None else result.rate >= target,
                f"{result.duplicates / result.articles:.1%} reported duplicate; "
                + result.cpu_detail(),
            )
        )
    return IngestResults(batch500, unary8, memory)


# --- real pages ----------------------------------------------------------------------------------

# The quality corpus's pages (bench/corpus.py), sent as a pipeline sends them.
REAL_KINDS: tuple[Literal["page_text", "html"], ...] = ("page_text", "html")
REAL_KIND_NAMES = {"page_text": "page text", "html": "HTML"}
REAL_BATCH = 50
REAL_UNARY_CLIENTS = 8
STAGES = ("extraction", "cleaning", "fingerprinting", "store")
STAGE_NAMES = {
    "extraction": "HTML extraction (extract_article)",
    "cleaning": "page-text cleaning (story_from_text, learned chrome included)",
    "fingerprinting": "fingerprinting (Fingerprinter.probe)",
    "store": "store (refresh_chrome + Deduplicator.ingest: index and chrome scripts)",
}
OTHER_STAGE = "gRPC and other (server CPU of the batch phase minus the stages above)"


@dataclass(frozen=True, slots=True)
class RealPages:
    description: str
    # The same articles per input kind, in arrival order.
    articles: dict[str, list[Article]]


def load_real_pages(data_dir: Path, limit: int | None) -> RealPages:
    """The quality corpus, built as bench/quality.py builds it; each article as that benchmark's
    client sends it: `Article(text=page_text)` or `Article(html=html)`, with title, URL, source
    and publication time."""
    from bench.corpus import build_corpus
    from bench.quality import client_article

    corpus = build_corpus(data_dir, limit=limit)
    pages = corpus.articles
    n = len(pages)
    kinds = Counter(a.kind for a in pages)
    html_kib = sum(len(a.html.encode()) for a in pages) / n / 1024
    text_kib = sum(len(a.page_text.encode()) for a in pages) / n / 1024
    description = (
        f"{n:,} pages of the quality corpus (bench/corpus.py, seed {corpus_seed()}): "
        + ", ".join(f"{count:,} {kind}" for kind, count in kinds.most_common())
        + f"; {len({a.source for a in pages})} sources; mean HTML {html_kib:.0f} KiB, "
        f"mean page text {text_kib:.1f} KiB"
    )
    articles: dict[str, list[Article]] = {
        kind: [client_article(a, kind) for a in pages] for kind in REAL_KINDS
    }
    return RealPages(description, articles)


def corpus_seed() -> int:
    from bench.corpus import SEED as CORPUS_SEED

    return CORPUS_SEED


class StageClock:
    """CPU time of this thread (time.thread_time: what a stage costs the server's one event-loop
    thread, unmoved by other processes taking the core) per stage, exclusive of stages timed
    inside it: HTML extraction runs inside story_from_html, a re-cleaning inside ingest."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._nested: list[float] = []

    def _start(self) -> float:
        self._nested.append(0.0)
        return time.thread_time()

    def _stop(self, stage: str, started: float) -> None:
        elapsed = time.thread_time() - started
        nested = self._nested.pop()
        self.seconds[stage] += elapsed - nested
        if self._nested:
            self._nested[-1] += elapsed

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = self._start()
            try:
                return function(*args, **kwargs)
            finally:
                self._stop(stage, started)

        return timed

    def wrap_async(
        self, stage: str, function: Callable[..., Coroutine[Any, Any, Any]]
    ) -> Callable[..., Coroutine[Any, Any, Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            # Nothing else runs on this loop meanwhile: thread time is the call's own.
            started = self._start()
            try:
                return await function(*args, **kwargs)
            finally:
                self._stop(stage, started)

        return timed


async def stage_seconds(
    redis_url: str, namespace: str, articles: Sequence[Article]
) -> defaultdict[str, float]:
    """One pass of the server's IngestArticles path over the articles, in process, on the run's
    Redis in a fresh namespace (so that the index and the learned chrome grow as the server's
    do): per batch of REAL_BATCH, refresh_chrome, prepare each article, ingest. Built as the
    server builds it (make_store, make_chrome_state); the stages' functions are wrapped with a
    StageClock for the pass and restored after."""
    from storydedup import dedup as dedup_module
    from storydedup.api.server import fingerprint_settings, make_chrome_state, make_store
    from storydedup.cleaning import article as article_module
    from storydedup.clustering.policy import MatchPolicy
    from storydedup.config import Config
    from storydedup.dedup import Deduplicator
    from storydedup.fingerprints.fingerprint import Fingerprinter

    config = Config(redis_url=redis_url, namespace=namespace)
    settings = fingerprint_settings(config)
    store = make_store(config, MatchPolicy())
    await store.open(settings.store_settings())
    fingerprinter = Fingerprinter(settings)
    dedup = Deduplicator(store, fingerprinter, chrome_state=make_chrome_state(config, store))
    clock = StageClock()
    # (owner, attribute, stage); looked up by name, as the modules do not export them.
    timed: list[tuple[object, str, str]] = [
        (article_module, "extract_article", "extraction"),
        (article_module, "story_from_text", "cleaning"),
        (dedup_module, "story_from_text", "cleaning"),
        # What story_from_html does besides extraction and its two cleanings (merging line keys,
        # choosing the narrower text) is cleaning too.
        (dedup_module, "story_from_html", "cleaning"),
        (fingerprinter, "probe", "fingerprinting"),
        (dedup, "refresh_chrome", "store"),
        (dedup, "ingest", "store"),
    ]
    patches = [
        (
            owner,
            name,
            (clock.wrap_async if owner is dedup else clock.wrap)(stage, getattr(owner, name)),
        )
        for owner, name, stage in timed
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    try:
        for owner, name, replacement in patches:
            setattr(owner, name, replacement)
        protos = [a.to_proto() for a in articles]
        for start in range(0, len(protos), REAL_BATCH):
            batch = protos[start : start + REAL_BATCH]
            await dedup.refresh_chrome(a.source for a in batch)
            items = [dedup.prepare(a, f"articles[{i}]") for i, a in enumerate(batch)]
            await dedup.ingest(items)
    finally:
        for owner, name, original in saved:
            if owner is fingerprinter or owner is dedup:
                delattr(owner, name)  # instance attributes: the class's method shows again
            else:
                setattr(owner, name, original)
        await store.close()
    return clock.seconds


@dataclass(frozen=True, slots=True)
class RealResult:
    kind: str
    batch: PhaseResult
    unary: PhaseResult
    # Best of the rounds, per stage: CPU seconds over all the articles.
    stages: dict[str, float]
    rounds: int

    def server_ms(self, result: PhaseResult) -> float:
        return result.timed.cpu["server"] / result.articles * 1000


def real_rows(run: Run, real: RealPages, rounds: int) -> list[RealResult]:
    """Per input kind: IngestArticles in batches of REAL_BATCH and IngestArticle from
    REAL_UNARY_CLIENTS clients, each on a server of its own; then the stages in process, best of
    `rounds` passes."""
    senders = run.args.batch_clients
    connections = f", {senders} connections" if senders > 1 else ""
    results = [real_kind(run, kind, real.articles[kind], rounds) for kind in REAL_KINDS]
    for result in results:
        for phase, call in (
            (
                result.batch,
                f"IngestArticles, batches of {REAL_BATCH}{connections}, least server CPU of "
                f"{result.rounds}",
            ),
            (result.unary, f"IngestArticle, {REAL_UNARY_CLIENTS} concurrent clients"),
        ):
            server_ms = phase.timed.cpu["server"] / phase.articles * 1000
            redis_ms = phase.timed.cpu["redis"] / phase.articles * 1000
            run.rows.append(
                Row(
                    f"Real pages, {REAL_KIND_NAMES[result.kind]}: {call} "
                    f"({phase.articles:,} articles)",
                    per_s(phase.rate),
                    detail=f"server CPU {server_ms:.2f} ms/article, Redis CPU {redis_ms:.3f} "
                    f"ms/article; {phase.duplicates / phase.articles:.1%} reported duplicate; "
                    + phase.cpu_detail(),
                )
            )
    return results


def real_kind(run: Run, kind: str, articles: list[Article], rounds: int) -> RealResult:
    """The batch phase and the in-process pass take turns, `rounds` times, so that a busy spell
    of the shared machine hits both alike; the batch phase reported is the one of least server
    CPU per article, each stage its least over the passes. Then the unary phase, once."""
    name = REAL_KIND_NAMES[kind]
    senders = run.args.batch_clients
    batches = []
    passes = []
    for r in range(rounds):
        batch, _ = throughput_phase(
            run,
            f"real {name} batch-{REAL_BATCH} ({r + 1} of {rounds})",
            articles,
            lambda t, m: ingest_batches(t, articles, REAL_BATCH, m, senders),
        )
        batches.append(batch)
        namespace = f"ns{next(run.namespaces):05d}"
        progress(f"real {name} stages: pass {r + 1} of {rounds} in process on {namespace!r}")
        passes.append(asyncio.run(stage_seconds(run.redis_server.url, namespace, articles)))
        server_ms = batch.timed.cpu["server"] / batch.articles * 1000
        progress(
            f"real {name} stages, ms/article: "
            + ", ".join(f"{k} {v / len(articles) * 1000:.2f}" for k, v in passes[-1].items())
            + f"; server CPU of the batch phase {server_ms:.2f}"
        )
    unary, _ = throughput_phase(
        run,
        f"real {name} unary-{REAL_UNARY_CLIENTS}",
        articles,
        lambda t, m: ingest_unary(t, articles, REAL_UNARY_CLIENTS, m),
    )
    best = min(batches, key=lambda b: b.timed.cpu["server"] / b.articles)
    stages = {stage: min(p[stage] for p in passes) for stage in STAGES}
    return RealResult(kind, best, unary, stages, rounds)


def render_stage_table(results: Sequence[RealResult]) -> str:
    """ms per article and share of the batch phase's server CPU, per stage and input kind."""
    header = ["stage"]
    for r in results:
        header += [f"{REAL_KIND_NAMES[r.kind]} ms/article", "share"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    rows: list[list[str]] = []
    for stage in STAGES:
        cells = [STAGE_NAMES[stage]]
        for r in results:
            ms = r.stages[stage] / r.batch.articles * 1000
            cells += [f"{ms:.2f}", f"{ms / r.server_ms(r.batch):.0%}"]
        rows.append(cells)
    other = [OTHER_STAGE]
    total = [
        f"server CPU per article, IngestArticles batches of {REAL_BATCH} (measured, least of "
        f"{results[0].rounds if results else 0})"
    ]
    unary = [f"server CPU per article, IngestArticle from {REAL_UNARY_CLIENTS} clients (measured)"]
    for r in results:
        server = r.server_ms(r.batch)
        rest = server - sum(r.stages.values()) / r.batch.articles * 1000
        other += [f"{rest:.2f}", f"{rest / server:.0%}"]
        total += [f"{server:.2f}", "100%"]
        unary += [f"{r.server_ms(r.unary):.2f}", ""]
    rows += [other, total, unary]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def events_rows(run: Run, corpus: Corpus) -> None:
    """Batch ingest CPU with the event log (WatchClusters) off and on: batch-500 over all N
    articles, alternated EVENTS_ROUNDS times each so that a busy neighbour hits both alike."""
    everything = corpus.all
    senders = run.args.batch_clients
    results: dict[str, list[PhaseResult]] = {"off": [], "on": []}
    for _ in range(EVENTS_ROUNDS):
        for state, max_len in (("off", 0), ("on", 100_000)):
            result, _ = throughput_phase(
                run,
                f"batch-500 events {state}",
                everything,
                lambda t, m: ingest_batches(t, everything, 500, m, senders),
                events_max_len=max_len,
            )
            results[state].append(result)

    def cpu_ms(state: str, who: tuple[str, ...] = ("server", "redis")) -> float:
        runs = results[state]
        used = sum(r.timed.cpu[k] for r in runs for k in who)
        return used / sum(r.articles for r in runs) * 1000

    for state in ("off", "on"):
        runs = results[state]
        rate = sum(r.articles for r in runs) / sum(r.timed.seconds for r in runs)
        # Redis's own command time: what the scripts cost, unmoved by other processes' load.
        redis_ms = sum(r.timed.redis_usec for r in runs) / sum(r.articles for r in runs) / 1000
        run.rows.append(
            Row(
                f"IngestArticles, batches of 500, events {state} ({EVENTS_ROUNDS} x "
                f"{len(everything):,} articles)",
                per_s(rate),
                detail=f"server + Redis CPU {cpu_ms(state):.3f} ms/article (server "
                f"{cpu_ms(state, ('server',)):.3f}, Redis {cpu_ms(state, ('redis',)):.3f}); "
                f"Redis command time {redis_ms:.3f} ms/article",
            )
        )
    overhead = cpu_ms("on") / cpu_ms("off") - 1
    run.rows.append(
        Row(
            "  batch ingest CPU added by events",
            f"{overhead:+.1%}",
            "≤ +10%",
            overhead <= 0.10,
            "server + Redis CPU per article, events on against off",
        )
    )


def latency_rows(run: Run, corpus: Corpus) -> None:
    """(d) latency at a steady moderate rate (and at any other rates asked for)."""
    seconds = run.args.latency_seconds
    rates = sorted(set(run.args.latency_rates) | {LATENCY_RATE})
    preload = take(corpus.articles, 0, corpus.phase_n)
    fresh_n = sum(round(r * seconds) for r in rates)
    fresh = take(corpus.articles, corpus.phase_n, fresh_n)
    # For the batch sender: more than it can ingest in the phase (well under 1,500/s here).
    background = take(corpus.articles, corpus.phase_n + fresh_n, 2 * round(1500 * (seconds + 5)))
    server = run.server("latency")
    # A second process on the same namespace, which takes no batches: lookups sent there while
    # the first ingests show what separating readers from writers buys.
    reader = run.server("latency-reader", namespace=server.namespace, workers=1)
    # The load generator holds the whole corpus: a full collection of that heap stalls its event
    # loop for 50-100 ms, and every answer arriving meanwhile was measured that much late (p99
    # 14-27 ms instead of 8 ms, max 75-97 ms instead of 13). Frozen objects are never scanned.
    gc.collect()
    gc.freeze()
    latency_runs = asyncio.run(
        measure_latency(
            server.target,
            reader.target,
            preload,
            fresh,
            background,
            seconds,
            rates,
            run.meter(server),
        )
    )
    server.stop()
    reader.stop()
    targets = {"IngestArticle": TARGET_INGEST_P99_MS, "GetCluster": TARGET_GET_P99_MS}
    for lr in sorted(latency_runs, key=lambda lr: (lr.method, lr.rate)):
        latency, target = lr.latency, targets.get(lr.method)
        busy = lr.timed.cpu["server"] / lr.timed.seconds
        if lr.method in (BATCH_LOAD_METHOD, READER_METHOD):
            where = ", from a second server process" if lr.method == READER_METHOD else ""
            run.rows.append(
                Row(
                    f"GetCluster latency p50 / p99 at {lr.rate:g} req/s while batches are "
                    f"ingested{where}, {seconds:g} s",
                    f"{latency.p50_ms:.2f} / {latency.p99_ms:.2f} ms",
                    "",
                    None,
                    f"another connection sent IngestArticles batches of 500 back to back: "
                    f"{lr.background_per_s:.0f} articles/s meanwhile; p90 {latency.p90_ms:.1f} "
                    f"ms, max {latency.max_ms:.1f} ms; {latency.requests:,} requests, "
                    f"{latency.errors} errors; send lag p99 {latency.send_lag_p99_ms:.2f} ms",
                )
            )
            continue
        if target is None:
            run.rows.append(
                Row(
                    f"gRPC floor: {lr.method} p50 / p99 at {lr.rate:g} req/s, {seconds:g} s",
                    f"{latency.p50_ms:.2f} / {latency.p99_ms:.2f} ms",
                    "",
                    None,
                    "the same server's health service, which does no work and no Redis call: "
                    "what any unary call costs through grpcio (client and server) on this "
                    f"machine; p90 {latency.p90_ms:.1f} ms, max {latency.max_ms:.1f} ms; "
                    f"server CPU {busy * 1000 / lr.rate:.2f} ms per call",
                )
            )
            continue
        judged = lr.rate == LATENCY_RATE
        progress(
            f"{lr.method} at {lr.rate:g}/s: p50 {latency.p50_ms:.2f} ms, "
            f"p99 {latency.p99_ms:.2f} ms"
        )
        run.rows.append(
            Row(
                f"{lr.method} latency p50 / p99 at {lr.rate:g} req/s, {seconds:g} s",
                f"{latency.p50_ms:.2f} / {latency.p99_ms:.2f} ms",
                f"p99 ≤ {target:g} ms" if judged else "",
                latency.p99_ms <= target and latency.errors == 0 if judged else None,
                f"p90 {latency.p90_ms:.1f} ms, max {latency.max_ms:.1f} ms; "
                f"{latency.requests:,} requests, {latency.errors} errors; achieved "
                f"{latency.achieved_rate:.0f} req/s; send lag p99 "
                f"{latency.send_lag_p99_ms:.2f} ms; index preloaded with {len(preload):,}; "
                f"server busy {busy:.0%} of a core; other processes on the machine: "
                f"{lr.timed.foreign_cores:.2f} cores"
                + (
                    "; the load generator itself fell behind its schedule: this p99 is not "
                    "the server's alone"
                    if latency.send_lag_p99_ms > MAX_SEND_LAG_MS
                    else ""
                ),
            )
        )


def baseline_rows(run: Run, corpus: Corpus, ours: IngestResults | None) -> None:
    """(f) the datasketch baseline, on its own Redis so that its memory is measured alone."""
    everything = corpus.all
    n = len(everything)
    redis_b = start_redis(run.stack)
    admin_b = redis.Redis(port=redis_b.port)
    run.stack.callback(admin_b.close)
    assert redis_b.process is not None
    meter_b = Meter(admin_b, {"redis": redis_b.process.pid})
    baseline: dict[str, tuple[PhaseResult, float]] = {}
    for label, session in (("one by one", False), ("insertion_session", True)):
        settle(admin_b)
        before = used_memory(admin_b)
        progress(f"datasketch {label}: {n:,} articles")
        timed, candidates = run_baseline(
            redis_b.port, everything, f"bench{int(session)}".encode(), session, meter_b
        )
        settle(admin_b)
        per_article = (used_memory(admin_b) - before) / n
        result = PhaseResult(f"datasketch {label}", n, timed, candidates)
        progress(f"datasketch {label}: {per_s(result.rate)}, {per_article:,.0f} B/article")
        baseline[label] = (result, per_article)
    redis_b.cleanup()
    one, one_bytes = baseline["one by one"]
    bulk, bulk_bytes = baseline["insertion_session"]
    run.rows += [
        Row(
            f"datasketch MinHashLSH on Redis, one by one: query + insert ({n:,} articles)",
            per_s(one.rate),
            detail=f"{one.duplicates / n:.1%} had LSH candidates; " + one.cpu_detail(),
        ),
        Row(
            f"datasketch MinHashLSH on Redis, insertion_session ({n:,} articles)",
            per_s(bulk.rate),
            detail="inserts only, no query; " + bulk.cpu_detail(),
        ),
        Row(
            "Redis bytes/article, datasketch (one by one / insertion_session)",
            f"{one_bytes:,.0f} / {bulk_bytes:,.0f} B",
        ),
    ]
    if ours is None:
        return
    batch500, unary8 = ours.batch500, ours.unary8
    run.rows += [
        Row(
            "storydedup batch-500 / datasketch one by one",
            f"{batch500.rate / one.rate:.1f}×",
            f"≥ {TARGET_VS_ONE_BY_ONE:g}×",
            batch500.rate / one.rate >= TARGET_VS_ONE_BY_ONE,
            f"unary-8 / one by one: {unary8.rate / one.rate:.1f}×",
        ),
        Row(
            "storydedup batch-500 / datasketch insertion_session",
            f"{batch500.rate / bulk.rate:.2f}×",
            f"≥ {TARGET_VS_SESSION:g}×",
            batch500.rate / bulk.rate >= TARGET_VS_SESSION,
        ),
        Row(
            "Redis bytes/article, storydedup / datasketch one by one",
            f"{ours.memory.per_article / one_bytes:.2f}×",
        ),
    ]


def profile_phases(run: Run, corpus: Corpus) -> list[tuple[str, Profile, Path]]:
    """Batch ingest, and unary calls for their per-call overhead, under py-spy."""
    subset = corpus.subset
    profiled: list[tuple[str, Callable[[str, Meter], Coroutine[Any, Any, Any]]]] = [
        ("batch-500", lambda t, m: ingest_batches(t, subset, 500, m)),
        ("unary-8", lambda t, m: ingest_unary(t, subset, 8, m)),
    ]
    profiles = []
    run.args.profile_dir.mkdir(parents=True, exist_ok=True)
    for label, go in profiled:
        raw = run.args.profile_dir / f"storydedup-profile-{label}.txt"
        # One process: py-spy follows the server it starts, not a pool's workers.
        server = run.server(f"profile-{label}", profile_to=raw, workers=1)
        progress(f"profile: {label} over {len(subset):,} articles under py-spy")
        asyncio.run(go(server.target, run.meter(server)))
        server.stop()
        profiles.append((label, summarise_profile(raw), raw))
    return profiles


def run_all(args: argparse.Namespace, stack: contextlib.ExitStack) -> int:
    # --- corpus, before anything is timed
    source: TextSource
    if args.text == "bbc":
        try:
            source = bbc_source(args.data)
        except FileNotFoundError as error:
            progress(f"{error}; using the synthetic vocabulary instead")
            source = synthetic_source(SEED)
    else:
        source = synthetic_source(SEED)
    load_at_start = os.getloadavg()[0]
    n = args.articles
    progress(f"generating {n:,} articles from {source.description}")
    corpus = Corpus(source, build_articles(source, n, SEED), min(args.phase_articles, n))
    kinds = Counter(a.kind for a in corpus.articles)
    words = [len(a.article.text.split()) for a in corpus.articles]
    real: RealPages | None = None
    if "real" in args.phases:
        progress("building the quality corpus's real pages (bench/corpus.py)")
        try:
            real = load_real_pages(args.data, args.real_articles)
        except FileNotFoundError as error:
            progress(f"{error}; no real-page phase")

    log_dir = Path(tempfile.mkdtemp(prefix="storydedup-bench-"))
    stack.callback(shutil.rmtree, log_dir, ignore_errors=True)
    code, code_description = snapshot_service(log_dir)
    progress(f"measuring {code_description}")
    redis_a = start_redis(stack)
    admin = redis.Redis(port=redis_a.port)
    stack.callback(admin.close)
    redis_version = str(admin.info("server")["redis_version"])
    run = Run(args, stack, log_dir, redis_a, code, admin, itertools.count())

    ours: IngestResults | None = None
    if "ingest" in args.phases:
        ours = ingest_rows(run, corpus)
    real_results = real_rows(run, real, args.real_rounds) if real is not None else []
    if "events" in args.phases:
        events_rows(run, corpus)
    if "latency" in args.phases:
        latency_rows(run, corpus)
    if ours is not None:
        run.rows += memory_rows(ours.memory)
    if "baseline" in args.phases:
        baseline_rows(run, corpus, ours)
    if "retention" in args.phases and args.retention_window > 0:
        retention_count = round(RETENTION_RATE * args.retention_window * 3)
        retention_rows(run, take(corpus.articles, 0, retention_count))
    if args.memory_scale:
        run.rows += memory_scale_rows(run, source, args.memory_scale)
    profiles = profile_phases(run, corpus) if args.profile else []

    # --- report
    machine = machine_description(redis_version=f"{redis_version} (server measured)")
    print("\n## Machine\n")
    print(format_machine(machine))
    print(f"code        {code_description}")
    print("\n## Corpus\n")
    print(f"- text: {source.description}")
    print(
        f"- {n:,} articles: "
        + ", ".join(f"{count:,} {kind}" for kind, count in kinds.most_common())
        + f"; page text {min(words)}-{max(words)} words (mean {sum(words) / n:.0f}), chrome "
        "included"
    )
    print(f"- throughput phases other than batch-500: first {corpus.phase_n:,} articles")
    if real is not None:
        print(f"- real pages: {real.description}")
    print(f"- Redis: loopback, no persistence; each phase in a fresh namespace; seed {SEED}")
    print(
        f"- phases: {', '.join(sorted(args.phases))}; server --workers {args.workers}, "
        f"--clean-processes {args.clean_processes}; "
        f"batch clients {args.batch_clients}; scheduling priority (nice) "
        f"{os.getpriority(os.PRIO_PROCESS, 0)}"
    )
    print(
        "- load average (1 min) at start / end: "
        f"{load_at_start:.2f} / {os.getloadavg()[0]:.2f} (the machine may be shared)"
    )
    print("\n## Results\n")
    print(render_table(run.rows))
    if real_results:
        print(
            f"\n## Real pages: where the server's CPU goes (IngestArticles path in process, "
            f"batches of {REAL_BATCH}, thread CPU, best of {args.real_rounds} per stage)\n"
        )
        print(render_stage_table(real_results))
    for label, profile, raw in profiles:
        print_profile(label, profile, raw)
    return 0


def memory_scale_rows(run: Run, source: TextSource, total: int) -> list[Row]:
    """Bytes per article at four index sizes up to `total`, on a Redis of its own: per-key
    overheads amortise as the index grows, while encodings can flip from compact to not."""
    progress(f"memory scale: generating {total:,} articles")
    articles = [a.article for a in build_articles(source, total, SEED)]
    redis_d = start_redis(run.stack)
    admin = redis.Redis(port=redis_d.port)
    run.stack.callback(admin.close)
    limits = {k: str(v) for k, v in admin.config_get("hash-max-listpack-*").items()}
    server = run.server("memory-scale", on=redis_d)

    def data_bytes() -> int:
        # The server stays connected between checkpoints: its connection buffers are left out.
        info: dict[str, Any] = admin.info("memory")
        return int(info["used_memory"]) - int(info["mem_clients_normal"])

    base = data_bytes()
    checkpoints = sorted({total * k // 4 for k in (1, 2, 3, 4)})
    rows = []

    async def go() -> None:
        done = 0
        async with AsyncStoryDedupClient(server.target, timeout=CALL_TIMEOUT_S) as client:
            for checkpoint in checkpoints:
                while done < checkpoint:
                    batch = articles[done : min(done + 500, checkpoint)]
                    await client.ingest_articles(batch)
                    done += len(batch)
                delta = data_bytes() - base
                usages = {
                    u.kind: u
                    for u in key_breakdown(
                        admin, f"sd:{{{server.namespace}}}:", run.args.memory_sample
                    )
                }
                parts = []
                for kind in ("b", "a"):
                    if kind in usages:
                        usage = usages[kind]
                        encodings = ", ".join(f"{n} {c}" for n, c in usage.encodings.items())
                        parts.append(
                            f"{kind}: {usage.bytes / checkpoint:,.0f} B "
                            f"({usage.keys:,} keys; sampled encodings {encodings})"
                        )
                progress(f"memory scale: {checkpoint:,} articles, {delta / checkpoint:,.0f} B")
                rows.append(
                    Row(
                        f"Redis bytes/article at {checkpoint:,} articles (scale run)",
                        f"{delta / checkpoint:,.0f} B",
                        f"≤ {TARGET_BYTES_PER_ARTICLE:,.0f} B",
                        delta / checkpoint <= TARGET_BYTES_PER_ARTICLE,
                        "; ".join(parts),
                    )
                )

    asyncio.run(go())
    server.stop()
    redis_d.cleanup()
    rows[-1].detail += "; Redis " + ", ".join(f"{k} {v}" for k, v in sorted(limits.items()))
    return rows


def retention_rows(run: Run, articles: list[Article]) -> None:
    window = run.args.retention_window
    # A Redis of its own: the keyspace table of the other phases' keys must not grow (or fail to
    # shrink) inside this measurement.
    redis_c = start_redis(run.stack)
    admin = redis.Redis(port=redis_c.port)
    run.stack.callback(admin.close)
    server = run.server("retention", on=redis_c, retention_days=window / 86_400)
    prefix = f"sd:{{{server.namespace}}}:"
    base = used_memory(admin)
    readings: list[tuple[str, int, int]] = []

    def reading(label: str) -> None:
        count = sum(1 for _ in admin.scan_iter(match=prefix + "a:*", count=1000))
        readings.append((label, used_memory(admin) - base, count))
        progress(f"retention {label}: {readings[-1][1] / 2**20:.2f} MiB, {count:,} articles")

    async def steady() -> None:
        interval = RETENTION_BATCH / RETENTION_RATE
        per_window = round(window * RETENTION_RATE / RETENTION_BATCH)
        async with AsyncStoryDedupClient(server.target, timeout=CALL_TIMEOUT_S) as client:
            start = time.perf_counter()
            for w in range(3):
                for tick in range(w * per_window, (w + 1) * per_window):
                    delay = start + tick * interval - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    first = tick * RETENTION_BATCH
                    await client.ingest_articles(articles[first : first + RETENTION_BATCH])
                reading(f"after window {w + 1}")

    progress(f"retention: {window:g} s window, {RETENTION_RATE:.0f} articles/s for 3 windows")
    asyncio.run(steady())
    # With nothing ingested, everything should leave within a window (plus one expiry slot and
    # one pause of the expiry loop), leaving no orphan keys behind.
    time.sleep(window + 2.0)
    reading("after 1 idle window")
    leftover = sum(1 for _ in admin.scan_iter(match=prefix.encode() + b"*", count=5000))
    server.stop()
    # What is left once the server's connection (and its buffers) is gone.
    settle(admin)
    residue = used_memory(admin) - base
    redis_c.cleanup()
    steady_state = RETENTION_RATE * window
    peak = max(r[1] for r in readings[:3])
    # Flat: the third window ends where the second did. The level itself is a little above
    # one window's worth, since an article leaves at the end of its expiry slot, on the next
    # pass of the server's expiry loop.
    flat = abs(readings[2][1] - readings[1][1]) <= 0.1 * readings[1][1]
    run.rows.append(
        Row(
            f"retention: used_memory after windows 1 / 2 / 3 of {window:g} s "
            f"at {RETENTION_RATE:.0f} articles/s",
            " / ".join(f"{r[1] / 2**20:.2f}" for r in readings[:3]) + " MiB",
            "flat after window 1 (3rd within 10% of 2nd)",
            flat,
            "articles in index: "
            + " / ".join(f"{r[2]:,}" for r in readings[:3])
            + f" (one window's worth: {steady_state:,.0f}); peak {peak / 2**20:.2f} MiB",
        )
    )
    run.rows.append(
        Row(
            "retention: after one more window with no ingest",
            f"{readings[3][1] / 2**20:.2f} MiB",
            detail=f"{readings[3][2]:,} articles; {leftover} keys left in the namespace "
            f"(settings and counter keys stay); {residue / 2**20:.2f} MiB once the server has "
            "disconnected",
        )
    )


def print_profile(label: str, profile: Profile, path: Path) -> None:
    print(
        f"\n## Server profile, {label} (py-spy, main thread, {profile.samples:,} samples at "
        f"250/s; raw: {path})\n"
    )
    for name, count in profile.categories:
        print(f"- {count / profile.samples:6.1%}  {name}")
    busy = profile.samples - dict(profile.categories).get(IDLE_CATEGORY, 0)
    print(f"\nTop functions by self time (share of busy samples, {busy:,}):\n")
    for name, count in profile.self_time:
        print(f"- {count / busy:6.1%}  {name}")
    print("\nstorydedup functions by inclusive time (share of busy samples):\n")
    for name, count in profile.inclusive:
        print(f"- {count / busy:6.1%}  {name}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--articles",
        type=int,
        default=None,
        help="N: articles for batch-500, memory and the baseline (default 20,000)",
    )
    parser.add_argument(
        "--phase-articles",
        type=int,
        default=None,
        help="articles for the other throughput phases (default 5,000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (2,000 / 1,000 articles, 3 s latency, 10 s windows)",
    )
    parser.add_argument("--latency-seconds", type=float, default=None)
    parser.add_argument(
        "--latency-rates",
        type=lambda text: [float(v) for v in text.split(",") if v],
        default=[],
        help="comma-separated request rates to measure latency at, besides 200/s",
    )
    parser.add_argument(
        "--retention-window",
        type=float,
        default=None,
        help="seconds; 0 skips the retention phase (default 20)",
    )
    parser.add_argument(
        "--memory-sample", type=int, default=500, help="keys per kind whose MEMORY USAGE is read"
    )
    parser.add_argument(
        "--memory-scale",
        type=int,
        default=0,
        help="also measure bytes/article at 1/4, 1/2, 3/4 and all of this many articles",
    )
    parser.add_argument(
        "--phases",
        type=lambda text: {v for v in text.split(",") if v},
        default=set(PHASES),
        help=f"comma-separated subset of {','.join(PHASES)} (default: all)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="the server's --workers (processes sharing the port); CPU is summed over them",
    )
    parser.add_argument(
        "--clean-processes",
        type=int,
        default=0,
        help="the server's --clean-processes (cleaning processes per server process; their CPU "
        "is counted as the server's)",
    )
    parser.add_argument(
        "--batch-clients",
        type=int,
        default=1,
        help="concurrent IngestArticles senders, a connection each (a --workers pool spreads "
        "connections, not calls)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling priority of the benchmark and every process it starts (negative "
        "needs root): on a shared machine, keeps other jobs' CPU out of the measurement",
    )
    parser.add_argument(
        "--real-articles",
        type=int,
        default=None,
        help="real phase: the first N pages of the quality corpus (default all, ~1,400; "
        "--quick 300)",
    )
    parser.add_argument(
        "--real-rounds",
        type=int,
        default=None,
        help="real phase: batch phases and in-process passes per input kind, taking turns; the "
        "least CPU of each is reported (default 3; --quick 1)",
    )
    parser.add_argument("--text", choices=("bbc", "synthetic"), default="bbc")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the server under py-spy during batch ingest",
    )
    parser.add_argument(
        "--profile-dir",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where py-spy's raw profiles are written",
    )
    args = parser.parse_args(argv)
    quick = {
        "articles": 2000,
        "phase_articles": 1000,
        "latency_seconds": 3.0,
        "retention_window": 10.0,
        "real_articles": 300,
        "real_rounds": 1,
    }
    full = {
        "articles": 20_000,
        "phase_articles": 5000,
        "latency_seconds": 10.0,
        "retention_window": 20.0,
        "real_articles": None,
        "real_rounds": 3,
    }
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.real_rounds < 1:
        parser.error("--real-rounds must be at least 1")
    if args.articles < 100 or args.phase_articles < 100:
        parser.error("--articles and --phase-articles must be at least 100")
    if not args.phases <= set(PHASES):
        parser.error(f"--phases: unknown {sorted(args.phases - set(PHASES))}")
    return args


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM takes the same way out as Ctrl-C, through every cleanup callback.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.nice:
        # Before any thread or child process exists: Linux priorities are per thread, and
        # threads and children inherit their creator's.
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.ExitStack() as stack:
        try:
            return run_all(args, stack)
        except KeyboardInterrupt:
            progress("interrupted: stopping the servers and Redis")
            return 130


if __name__ == "__main__":
    sys.exit(main())
