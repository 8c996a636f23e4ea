"""Page chrome learned per source.

An outlet's menus, sidebars, newsletter blurbs and footers come back on
page after page; its stories do not. A line counts as chrome for a source
once it has been seen in articles of `min_clusters` different story clusters
of that source: counting clusters rather than pages keeps the repeated
paragraphs of one story's updates (several versions in one cluster) from
being taken for chrome.

The state is bounded and a line not seen for `forget_after` articles of its
source is forgotten, so chrome that an outlet has retired stops being
removed. A source holds up to `max_lines` lines plus a quarter: past that,
the lines seen longest ago go, all lines last seen in one article at a time,
until at most `max_lines` remain. Evicting in bulk lets the Redis state
(store/lua/chrome.lua) keep no recency index: a line costs two hash
operations per page there, not a sorted-set update. At most `max_sources`
sources are kept, the least recently seen going first.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import xxhash

from storydedup.cleaning.line_cache import LineCache


def line_key(line: str) -> int:
    """Lines are compared case-folded with their spacing normalised (the
    same outlet prints its chrome the same way every time, so the full word
    normalisation of fingerprints is not worth its cost here); blank lines
    have no key (0)."""
    folded = " ".join(line.casefold().split())
    return xxhash.xxh3_64_intdigest(folded.encode("utf-8", "replace")) if folded else 0


# A page's lines are all keyed, chrome or not, and most have been keyed before (line_cache.py).
_keys: LineCache[int] = LineCache(lines=1 << 15, long_lines=256)


def line_keys(lines: Sequence[str]) -> tuple[int, ...]:
    """line_key of each line."""
    short = _keys.short
    keys = [short.get(line, -1) for line in lines]
    if -1 in keys:
        for position, key in enumerate(keys):
            if key == -1:
                keys[position] = _keys.get_or_make(lines[position], line_key)
    return tuple(keys)


def clear_caches() -> None:
    """Forgets the keys of lines seen (for benchmarks that time a cold start)."""
    _keys.clear()


@dataclass(slots=True)
class _LineSeen:
    clusters: list[int]
    last_article: int
    # Whether a shared state has been told of the line (learn_shared), and
    # at which of the source's articles it was last told.
    told: bool = False
    told_at: int = 0


@dataclass(slots=True)
class _SourceLines:
    articles: int = 0
    lines: dict[int, _LineSeen] = field(default_factory=dict)
    # The lines seen in min_clusters clusters: what `known` looks through.
    chrome: set[int] = field(default_factory=set)


class ChromeModel:
    def __init__(
        self,
        min_clusters: int = 3,
        max_lines: int = 2000,
        max_sources: int = 20000,
        forget_after: int = 5000,
    ) -> None:
        self.min_clusters = min_clusters
        self.max_lines = max_lines
        self.max_sources = max_sources
        self.forget_after = forget_after
        # How often a shared state hears again of a line it already holds as
        # chrome, and how stale its answers may be, in the source's
        # articles: a 64th of the forgetting window.
        self.refresh_every = max(1, forget_after // 64)
        self._sources: OrderedDict[str, _SourceLines] = OrderedDict()

    def chrome_keys(self, source: str, keys: Iterable[int]) -> set[int]:
        """Which of these line keys are chrome of `source`."""
        known = self._sources.get(source)
        if known is None:
            return set()
        out = set()
        # `chrome` holds every line seen in min_clusters clusters: most of a page's lines are
        # not, and a set intersection leaves them out without a lookup each.
        for key in known.chrome.intersection(keys):
            seen = known.lines.get(key)
            if (
                seen is not None
                and len(seen.clusters) >= self.min_clusters
                and known.articles - seen.last_article <= self.forget_after
            ):
                out.add(key)
        return out

    def known(self, source: str) -> frozenset[int]:
        """All line keys that are chrome of `source` now."""
        lines = self._sources.get(source)
        if lines is None:
            return frozenset()
        return frozenset(self.chrome_keys(source, lines.chrome))

    def line_count(self, source: str) -> int:
        """Lines of `source` the model holds."""
        known = self._sources.get(source)
        return 0 if known is None else len(known.lines)

    def learn(self, source: str, keys: Sequence[int], cluster: int) -> None:
        """Records the lines of one article of `source` in `cluster`."""
        self._learn(source, keys, cluster, None)

    def learn_shared(
        self, source: str, keys: Sequence[int], cluster: int
    ) -> list[tuple[int, list[int]]]:
        """Records the lines like learn() and returns what a state shared with
        other processes must be told of them: (line key, its clusters) for
        each line seen before in another cluster, and from then on at every
        sighting until it is chrome, then once every refresh_every of the
        source's articles (the shared state forgets and evicts by when a
        line was last told, and counts a chrome line as seen up to
        refresh_every - 1 articles later).

        A line until then is not told: most lines of a page are its story's,
        seen in one cluster only and never chrome, and telling them cost the
        shared state two operations per line and page."""
        told: list[tuple[int, list[int]]] = []
        self._learn(source, keys, cluster, told)
        return told

    def _learn(
        self,
        source: str,
        keys: Sequence[int],
        cluster: int,
        told: list[tuple[int, list[int]]] | None,
    ) -> None:
        if not source:
            return
        known = self._sources.get(source)
        if known is None:
            known = self._sources[source] = _SourceLines()
            if len(self._sources) > self.max_sources:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(source)
        known.articles += 1
        for key in set(keys):
            if key == 0:
                continue
            seen = known.lines.get(key)
            if seen is None:
                known.lines[key] = seen = _LineSeen([cluster], known.articles)
            else:
                seen.last_article = known.articles
                grew = cluster not in seen.clusters and len(seen.clusters) < self.min_clusters
                if grew:
                    seen.clusters.append(cluster)
                # A line the shared state holds as chrome needs telling again
                # only to stay recent there: once every refresh_every
                # articles, not on every page (a page's menus and footers are
                # tens of lines).
                if (
                    told is not None
                    and (grew or seen.told)
                    and (
                        grew
                        or len(seen.clusters) < self.min_clusters
                        or known.articles - seen.told_at >= self.refresh_every
                    )
                ):
                    seen.told = True
                    seen.told_at = known.articles
                    told.append((key, list(seen.clusters)))
            if len(seen.clusters) >= self.min_clusters:
                known.chrome.add(key)
        if len(known.lines) > self.max_lines + self.max_lines // 4:
            self._evict(known)

    def _evict(self, known: _SourceLines) -> None:
        per_article = Counter(seen.last_article for seen in known.lines.values())
        held = len(known.lines)
        cutoff = -1
        for last in sorted(per_article):
            if held <= self.max_lines:
                break
            cutoff = last
            held -= per_article[last]
        for key in [k for k, seen in known.lines.items() if seen.last_article <= cutoff]:
            del known.lines[key]
            known.chrome.discard(key)
