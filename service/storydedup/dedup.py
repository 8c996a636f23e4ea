"""The deduplication pipeline behind the API: clean → fingerprint → store."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from storydedup import metrics
from storydedup.api import convert
from storydedup.api.errors import ApiError, NoStoryText, Unavailable
from storydedup.api.validation import published_ms
from storydedup.cleaning.article import (
    NoStoryTextError,
    StoryText,
    story_from_html,
    story_from_text,
)
from storydedup.cleaning.chrome import ChromeModel
from storydedup.cleaning.chrome_state import ChromeLines, ChromeState, LocalChromeState
from storydedup.fingerprints.fingerprint import (
    EmptyTextError,
    Fingerprinter,
    FingerprintSettings,
)
from storydedup.store.base import (
    IndexStore,
    IngestItem,
    IngestOutcome,
    Probe,
    SimilarOutcome,
    StoreFullError,
    StoreUnavailableError,
)
from storydedup.v1 import storydedup_pb2 as pb

log = logging.getLogger("storydedup.dedup")


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    item: IngestItem
    source: str
    line_keys: tuple[int, ...]
    # What it was cleaned from, and which of its lines were chrome then.
    article: pb.Article
    field: str
    chrome_used: frozenset[int]


_CLEANING = metrics.INGEST_STAGE_SECONDS.labels(stage="cleaning")
_FINGERPRINTING = metrics.INGEST_STAGE_SECONDS.labels(stage="fingerprinting")
_IN_STORE = metrics.INGEST_STAGE_SECONDS.labels(stage="store")
_INPUT = {kind: metrics.ARTICLES_INPUT.labels(kind=kind) for kind in ("text", "html")}
_OUTCOMES = {
    outcome: metrics.ARTICLES_INGESTED.labels(outcome=outcome)
    for outcome in ("new_story", "copy", "merge", "unchanged")
}


def _observe(cleaned: Cleaned) -> None:
    _CLEANING.observe(cleaned.cleaning_s)
    _FINGERPRINTING.observe(cleaned.fingerprinting_s)


def outcome_name(outcome: IngestOutcome) -> str:
    """The outcome label: a copy that linked clusters is a merge."""
    if outcome.unchanged:
        return "unchanged"
    if outcome.merged:
        return "merge"
    return "copy" if outcome.duplicate else "new_story"


def count_ingested(
    prepared: Sequence[PreparedArticle], outcomes: Sequence[IngestOutcome], store_s: float
) -> None:
    """Ingest metrics of a batch the store took `store_s` seconds to index:
    the store stage is observed once per article, at the batch's mean."""
    per_article = store_s / max(len(outcomes), 1)
    for p, outcome in zip(prepared, outcomes, strict=True):
        _INPUT["text" if p.article.text else "html"].inc()
        _OUTCOMES[outcome_name(outcome)].inc()
        _IN_STORE.observe(per_article)


@dataclass(frozen=True, slots=True)
class SourceChrome:
    """One source's chrome lines as the server knew them when it sent an
    article to a cleaning process (`ChromeLines` for that source alone)."""

    source: str
    lines: frozenset[int]

    def chrome_keys(self, source: str, keys: Iterable[int]) -> set[int]:
        return set(self.lines.intersection(keys)) if source == self.source else set()

    def known(self, source: str) -> frozenset[int]:
        return self.lines if source == self.source else frozenset()


@dataclass(frozen=True, slots=True)
class Cleaned:
    """An article's fingerprint and story, and the seconds each took."""

    probe: Probe
    story: StoryText
    cleaning_s: float
    fingerprinting_s: float


def clean(
    article: pb.Article, field: str, fingerprinter: Fingerprinter, chrome: ChromeLines
) -> Cleaned:
    """The article's story text and fingerprint; NoStoryText naming the
    field when nothing of it reads as a story."""
    body_field = f"{field}.text" if article.text else f"{field}.html"
    try:
        started = time.perf_counter()
        story = _story_of(article, chrome)
        cleaned = time.perf_counter()
        try:
            probe = fingerprinter.probe(story.text, article.source, story.title)
        except EmptyTextError:
            if not story.chrome_keys:
                raise
            # Every word the page had is in the source's learned chrome: its pages of
            # this story stayed in three clusters or more (re-posts that did not join),
            # so their lines read as chrome. The page is no less a story; it is cleaned
            # as a page of a source not yet learned, and joins its re-posts by their text.
            story = _story_of(article, None)
            cleaned = time.perf_counter()
            probe = fingerprinter.probe(story.text, article.source, story.title)
        return Cleaned(probe, story, cleaned - started, time.perf_counter() - cleaned)
    except (NoStoryTextError, EmptyTextError) as error:
        raise NoStoryText(f"{body_field}: no story text to fingerprint ({error})") from None


def _story_of(article: pb.Article, chrome: ChromeLines | None) -> StoryText:
    if article.text:
        return story_from_text(article.text, article.title, article.source, chrome)
    return story_from_html(article.html, article.title, article.source, chrome)


# A cleaning process's fingerprinter, made once by its initializer.
_process_fingerprinter: Fingerprinter | None = None


def _start_cleaning_process(settings: FingerprintSettings) -> None:
    global _process_fingerprinter
    _process_fingerprinter = Fingerprinter(settings)
    threading.Thread(
        target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True
    ).start()


def _exit_with_parent(parent: int) -> None:
    # A server killed outright (SIGKILL, the OOM killer) cannot stop its
    # cleaning processes, and they would wait for work forever: each checks
    # that its parent is still the one that started it.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _started() -> int:
    # Long enough that each warm-up job lands in a process of its own.
    time.sleep(0.2)
    return os.getpid()


def _clean_in_process(jobs: Sequence[tuple[bytes, str, SourceChrome]]) -> list[Cleaned | str]:
    """`clean` of each (article, field, chrome) in a cleaning process; a
    refusal's message instead of the exception (the API's errors are not
    meant to cross processes)."""
    assert _process_fingerprinter is not None
    out: list[Cleaned | str] = []
    for raw, field, chrome in jobs:
        try:
            out.append(clean(pb.Article.FromString(raw), field, _process_fingerprinter, chrome))
        except NoStoryText as error:
            out.append(error.message)
    return out


# Articles of a batch cleaned in one job of the cleaning thread: each job
# costs a hand-over between the event loop and the thread, about a tenth of
# a real page's cleaning; eight pages are some 20 ms of work, after which
# another call's articles get their turn.
THREAD_JOB_ARTICLES = 8
# And in one job of a cleaning process: each job is pickled both ways and
# goes through the pool's queues.
PROCESS_JOB_ARTICLES = 4


class Deduplicator:
    def __init__(
        self,
        store: IndexStore,
        fingerprinter: Fingerprinter,
        chrome: ChromeModel | None = None,
        chrome_state: ChromeState | None = None,
        processes: int = 0,
    ) -> None:
        self.store = store
        self.fingerprinter = fingerprinter
        self.chrome_state = chrome_state or LocalChromeState(chrome)
        # Cleaning and fingerprinting are CPU work: on the event loop, every
        # lookup that arrives during a batch waits behind the article being
        # cleaned. They run in one thread of their own instead, so that the
        # loop answers meanwhile (the interpreter hands it the GIL within its
        # switch interval), a few articles a job so that concurrent calls'
        # articles take turns (prepare_all). One thread: the cleaning
        # caches (cleaning/line_cache.py) are used from it alone, and the
        # chrome views it reads are changed by the loop only in single
        # operations on sets and dicts. With `processes`, in that many
        # processes instead, so that one server uses more than one core: each
        # article goes with its source's chrome lines as known now.
        self._processes = processes
        self._cleaner = self._new_cleaner()
        # Single articles (IngestArticle, streams) waiting to be indexed
        # together, and the task indexing the group before them (ingest_one).
        self._waiting: list[tuple[PreparedArticle, asyncio.Future[IngestOutcome]]] = []
        self._grouping: asyncio.Task[None] | None = None

    def _new_cleaner(self) -> Executor:
        if not self._processes:
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix="storydedup-clean")
        return ProcessPoolExecutor(
            self._processes,
            # Not fork: the server's threads (gRPC's, Redis's) do not survive it.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_cleaning_process,
            initargs=(self.fingerprinter.settings,),
        )

    async def start(self) -> None:
        """Starts the cleaning processes, if any, and waits until each has
        imported the service: a pool started on the first article would hold
        the first batches for seconds."""
        if self._processes:
            loop = asyncio.get_running_loop()
            await asyncio.gather(
                *(loop.run_in_executor(self._cleaner, _started) for _ in range(self._processes))
            )

    def _story(self, article: pb.Article, field: str) -> tuple[Probe, StoryText]:
        """The article's fingerprint and story; InvalidArgument naming the
        field when nothing of it reads as a story."""
        cleaned = clean(article, field, self.fingerprinter, self.chrome)
        _observe(cleaned)
        return cleaned.probe, cleaned.story

    async def _story_async(self, article: pb.Article, field: str) -> tuple[Probe, StoryText]:
        """`_story` in the cleaning thread or a cleaning process."""
        if not self._processes:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._cleaner, self._story, article, field)
        [done] = await self._in_process([(article, field)])
        if isinstance(done, ApiError):
            raise done
        return done

    async def _in_process(
        self, articles: Sequence[tuple[pb.Article, str]]
    ) -> list[tuple[Probe, StoryText] | ApiError]:
        """The fingerprint and story of each (article, field), cleaned in a
        cleaning process in one job, or why it is refused."""
        jobs = [
            (
                article.SerializeToString(),
                field,
                SourceChrome(article.source, self.chrome.known(article.source)),
            )
            for article, field in articles
        ]
        loop = asyncio.get_running_loop()
        pool = self._cleaner
        try:
            done = await loop.run_in_executor(pool, _clean_in_process, jobs)
        except BrokenProcessPool:
            # A cleaning process died (killed, out of memory, a crash in a
            # parser's C code): every job of the pool fails with it. The next
            # articles get a new pool; these are refused as retryable, since
            # which of the pool's articles killed it is not known.
            if self._cleaner is pool:
                log.error("a cleaning process died; starting new ones")
                pool.shutdown(wait=False, cancel_futures=True)
                self._cleaner = self._new_cleaner()
            return [
                Unavailable(f"{field}: the process cleaning it died; send it again")
                for _, field in articles
            ]
        out: list[tuple[Probe, StoryText] | ApiError] = []
        for cleaned in done:
            if isinstance(cleaned, str):
                out.append(NoStoryText(cleaned))
            else:
                _observe(cleaned)
                out.append((cleaned.probe, cleaned.story))
        return out

    def prepare(self, article: pb.Article, field: str) -> PreparedArticle:
        probe, story = self._story(article, field)
        return self._prepared(article, field, probe, story)

    def _prepared(
        self, article: pb.Article, field: str, probe: Probe, story: StoryText
    ) -> PreparedArticle:
        item = IngestItem(
            article_id=article.id,
            digest=convert.content_digest(article),
            probe=probe,
            published_ms=published_ms(article),
            metadata=convert.metadata(article, story.title),
        )
        return PreparedArticle(
            item, article.source, story.line_keys, article, field, story.chrome_keys
        )

    async def prepare_async(self, article: pb.Article, field: str) -> PreparedArticle:
        """`prepare` in the cleaning thread or a cleaning process."""
        [prepared] = await self.prepare_all([(article, field)])
        return prepared

    async def prepare_all(
        self, articles: Sequence[tuple[pb.Article, str]]
    ) -> list[PreparedArticle]:
        """`prepare` of each (article, field): in the thread a few articles a
        job (THREAD_JOB_ARTICLES), so that other calls' articles are cleaned
        in between; in processes a few articles a job (PROCESS_JOB_ARTICLES),
        all at once, as many at a time as there are processes, the first
        refusal raised once all are done."""
        if not self._processes:
            loop = asyncio.get_running_loop()
            prepared: list[PreparedArticle] = []
            for start in range(0, len(articles), THREAD_JOB_ARTICLES):
                prepared += await loop.run_in_executor(
                    self._cleaner, self._prepare_many, articles[start : start + THREAD_JOB_ARTICLES]
                )
            return prepared
        chunks = [
            articles[start : start + PROCESS_JOB_ARTICLES]
            for start in range(0, len(articles), PROCESS_JOB_ARTICLES)
        ]
        results = [r for done in await asyncio.gather(*map(self._in_process, chunks)) for r in done]
        prepared = []
        for (article, field), result in zip(articles, results, strict=True):
            if isinstance(result, ApiError):
                raise result
            prepared.append(self._prepared(article, field, *result))
        return prepared

    def _prepare_many(self, articles: Sequence[tuple[pb.Article, str]]) -> list[PreparedArticle]:
        return [self.prepare(article, field) for article, field in articles]

    def close(self) -> None:
        """Stops the cleaning thread or processes once the work given to
        them is done."""
        self._cleaner.shutdown(wait=False, cancel_futures=True)

    @property
    def chrome(self) -> ChromeLines:
        return self.chrome_state.lines

    async def refresh_chrome(self, sources: Iterable[str]) -> None:
        """Brings the local chrome view of these sources up to date, so that
        a batch is cleaned once with the chrome it will be checked against:
        with a shared state, the previous batch's lessons would otherwise
        have most of the next batch cleaned twice."""
        await self.chrome_state.lookup([(source, ()) for source in set(sources)])

    async def with_current_chrome(
        self, prepared: Sequence[PreparedArticle]
    ) -> list[PreparedArticle]:
        """The articles as cleaned with the chrome known now: chrome learned
        elsewhere since they were cleaned (by another replica sharing the
        state) changes what is fingerprinted, so those are cleaned again and
        every replica indexes what one would."""
        current = await self.chrome_state.lookup([(p.source, p.line_keys) for p in prepared])
        stale = [
            i
            for i, (p, now) in enumerate(zip(prepared, current, strict=True))
            if p.chrome_used != now
        ]
        if not stale:
            return list(prepared)
        again = await self.prepare_all([(prepared[i].article, prepared[i].field) for i in stale])
        result = list(prepared)
        for i, p in zip(stale, again, strict=True):
            result[i] = p
        return result

    async def ingest_one(self, prepared: PreparedArticle) -> IngestOutcome:
        """One article's ingest, in a group with the single articles of
        other calls that arrive while the group before it is being indexed
        (group commit): each group is one ingest() in arrival order, so
        concurrent calls share its round trips to the store and the chrome
        state, and on one Redis the commit's check finds nothing changed
        since the read. An article arriving alone is indexed at once.

        When a group's ingest fails, each of its articles is tried alone,
        so that a failure is the failing article's: an article the group
        indexed before the failure then comes back as already indexed."""
        future: asyncio.Future[IngestOutcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((prepared, future))
        if self._grouping is None:
            # A task of its own: a caller that gives up (its future is
            # cancelled) does not stop the group its article is in.
            self._grouping = asyncio.create_task(self._index_groups())
        return await future

    async def _index_groups(self) -> None:
        group: list[tuple[PreparedArticle, asyncio.Future[IngestOutcome]]] = []
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                results: list[IngestOutcome | Exception]
                try:
                    results = list(await self.ingest([item for item, _ in group]))
                except Exception as error:
                    # A group of one has been tried alone already.
                    if len(group) == 1:
                        results = [error]
                    else:
                        results = [await self._ingest_alone(item) for item, _ in group]
                for (_, future), result in zip(group, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        except BaseException:
            # Stopped (the server shutting down): no caller waits for ever.
            for _, future in group + self._waiting:
                future.cancel()
            self._waiting = []
            raise
        finally:
            self._grouping = None

    async def _ingest_alone(self, prepared: PreparedArticle) -> IngestOutcome | Exception:
        try:
            [outcome] = await self.ingest([prepared])
        except Exception as error:
            return error
        return outcome

    async def ingest(self, prepared: Sequence[PreparedArticle]) -> list[IngestOutcome]:
        prepared = await self.with_current_chrome(prepared)
        started = time.perf_counter()
        outcomes = await self.store.ingest([p.item for p in prepared])
        count_ingested(prepared, outcomes, time.perf_counter() - started)
        learned = [
            (p.source, p.line_keys, outcome.cluster)
            for p, outcome in zip(prepared, outcomes, strict=True)
            if not outcome.unchanged
        ]
        try:
            await self.chrome_state.learn(learned)
        except (StoreUnavailableError, StoreFullError) as error:
            # The articles are indexed; what is lost is one sighting of
            # their lines, which later pages of the source make up for.
            log.warning("chrome not learned from %d articles: %s", len(learned), error)
        return outcomes

    async def similar(self, article: pb.Article, limit: int) -> tuple[SimilarOutcome, list[str]]:
        """Verified matches of the article, and its cleaned story text's
        paragraphs (which the matches' passages count)."""
        probe, story = await self._story_async(article, "article")
        return await self.store.similar(probe, limit), story.text.split("\n\n")
