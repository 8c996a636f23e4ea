"""`storydedup`: command-line client for testing and operations.

    storydedup ingest page.txt other.html folder/     # files and folders
    cat articles.jsonl | storydedup ingest            # JSON lines on stdin
    storydedup cluster ARTICLE_OR_CLUSTER_ID
    storydedup article ARTICLE_ID
    storydedup similar FILE
    storydedup delete ARTICLE_ID
    storydedup top --since 6h --min-size 3          # the biggest stories
    storydedup watch --from EVENT_ID                 # cluster changes, live

Exit codes: 0 success, 1 a call failed, 2 bad usage or input,
3 not found, 4 service unavailable.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import grpc
from tqdm import tqdm

from storydedup_client.client import StoryDedupClient
from storydedup_client.models import Article, IngestResult, StoryDedupError

BATCH = 100
TEXT_SUFFIXES = {".txt", ".text", ".md"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_UNAVAILABLE = 1, 2, 3, 4


class InputError(ValueError):
    """An input file or line cannot be read as an article."""


def article_from_json(obj: Any, where: str) -> Article:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object")
    known = {f.name for f in dataclasses.fields(Article)}
    unknown = set(obj) - known
    if unknown:
        raise InputError(f"{where}: unknown fields {sorted(unknown)}")
    values = dict(obj)
    if values.get("published_at"):
        try:
            values["published_at"] = datetime.fromisoformat(str(values["published_at"]))
        except ValueError:
            raise InputError(f"{where}: published_at is not an ISO 8601 time") from None
    try:
        return Article(**values)
    except TypeError as error:
        raise InputError(f"{where}: {error}") from None


def article_from_file(path: Path, source: str) -> Article:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from None
    content = raw.decode("utf-8", "replace")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            return article_from_json(json.loads(content), str(path))
        except json.JSONDecodeError as error:
            raise InputError(f"{path}: not JSON ({error})") from None
    if suffix in HTML_SUFFIXES:
        return Article(id=str(path), html=content, source=source)
    return Article(id=str(path), text=content, source=source)


def articles_from_jsonl(stream: TextIO, where: str) -> Iterator[Article]:
    for number, line in enumerate(stream, 1):
        if line.strip():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{where}:{number}: not JSON ({error})") from None
            yield article_from_json(obj, f"{where}:{number}")


def collect_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES | HTML_SUFFIXES | {".json"}
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{name}: no such file or folder")
    return files


def _print_json(value: Any, out: TextIO) -> None:
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return o.isoformat()
        raise TypeError(type(o).__name__)

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    print(json.dumps(value, default=default, ensure_ascii=False), file=out)


def _describe(result: IngestResult) -> str:
    if not result.duplicate:
        return f"{result.article_id}: new story, cluster {result.cluster_id}"
    line = (
        f"{result.article_id}: duplicate, cluster {result.cluster_id} "
        f"(canonical {result.canonical_article_id})"
    )
    if result.matches:
        best = result.matches[0]
        line += (
            f"; best match {best.article_id} "
            f"jaccard {best.jaccard:.2f} containment {best.containment:.2f}"
        )
    return line


def cmd_ingest(client: StoryDedupClient, args: argparse.Namespace, out: TextIO) -> int:
    if args.paths and args.paths != ["-"]:
        files = collect_files(args.paths)
        total: int | None = len(files)
        articles: Iterator[Article] = (article_from_file(p, args.source) for p in files)
    else:
        total = None
        articles = articles_from_jsonl(sys.stdin, "stdin")
    show_progress = args.progress or (not args.json and (total or 0) > 1 and sys.stderr.isatty())
    bar = tqdm(total=total, unit="article", disable=not show_progress, file=sys.stderr)
    batch: list[Article] = []

    def flush() -> None:
        for result in client.ingest_articles(batch):
            if args.json:
                _print_json(result, out)
            else:
                bar.write(_describe(result), file=out)
        bar.update(len(batch))
        batch.clear()

    try:
        for article in articles:
            batch.append(article)
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
    finally:
        bar.close()
    return 0


def _is_cluster_id(value: str) -> bool:
    return len(value) > 1 and value[0] == "c" and value[1:].isdigit()


def cmd_cluster(client: StoryDedupClient, args: argparse.Namespace, out: TextIO) -> int:
    try:
        cluster = client.get_cluster(article_id=args.id)
    except StoryDedupError as error:
        if error.code != grpc.StatusCode.NOT_FOUND or not _is_cluster_id(args.id):
            raise
        cluster = client.get_cluster(cluster_id=args.id)
    if args.json:
        _print_json(cluster, out)
        return 0
    print(
        f"cluster {cluster.cluster_id}: {cluster.size} articles, "
        f"canonical {cluster.canonical_article_id}",
        file=out,
    )
    for m in cluster.members:
        print(f"  {m.published_at.isoformat()}  {m.article_id}  {m.source}  {m.title}", file=out)
    return 0


def cmd_article(client: StoryDedupClient, args: argparse.Namespace, out: TextIO) -> int:
    info = client.get_article(args.id)
    if args.json:
        _print_json(info, out)
    else:
        print(
            f"{info.article_id}: cluster {info.cluster_id}, {info.shingle_count} shingles, "
            f"published {info.published_at.isoformat()}, source {info.source!r}, "
            f"title {info.title!r}",
            file=out,
        )
    return 0


def cmd_similar(client: StoryDedupClient, args: argparse.Namespace, out: TextIO) -> int:
    article = article_from_file(Path(args.file), args.source)
    article = dataclasses.replace(article, id="", title=args.title or article.title)
    result = client.find_similar(article, limit=args.limit)
    if args.json:
        _print_json(result, out)
        return 0
    print(f"would join cluster {result.cluster_id}" if result.cluster_id else "new story", file=out)
    for m in result.matches:
        print(
            f"  {m.article_id}  cluster {m.cluster_id}  jaccard {m.jaccard:.2f}  "
            f"containment {m.containment:.2f}" + ("  same headline" if m.same_headline else ""),
            file=out,
        )
        # Where the match is: the file's paragraphs (as cleaned) that recur there.
        for first, last in m.passages:
            where = (
                f"paragraph {first + 1}" if first == last else f"paragraphs {first + 1}-{last + 1}"
            )
            excerpt = (
                " ".join(result.paragraphs[first].split()[:12])
                if first < len(result.paragraphs)
                else ""
            )
            print(f"    {where}: {excerpt}...", file=out)
    return 0


def cmd_delete(client: StoryDedupClient, args: argparse.Namespace, out: TextIO) -> int:
    result = client.delete_article(args.id)
    if args.json:
        _print_json(result, out)
    else:
        print(
            f"deleted {args.id}; cluster {result.cluster_id} has {result.remaining_size} left",
            file=out,
        )
    return 0


_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def since_time(value: str, now: datetime | None = None) -> datetime:
    """A time given as a duration back from now ("90m", "6h", "2d") or as an
    ISO 8601 time (UTC unless it says otherwise)."""
    now = now or datetime.now(UTC)
    unit = _DURATION.get(value[-1:].lower())
    if unit and value[:-1].replace(".", "", 1).isdigit():
        return now - timedelta(seconds=float(value[:-1]) * unit)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"--since: {value!r} is neither a duration like 6h, 90m, 2d nor an ISO 8601 time"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def cmd_top(client: StoryDedupClient, args: argparse.Namespace, out: TextIO) -> int:
    page = client.list_clusters(
        since_time(args.since),
        by_first_published=args.by_first,
        by_size=not args.recent,
        min_size=args.min_size,
        source=args.source,
        page_size=args.limit,
    )
    for story in page.clusters:
        if args.json:
            _print_json(story, out)
            continue
        canonical = story.canonical_article
        print(
            f"{story.size:>4} articles {story.source_count:>3} outlets  {story.cluster_id}  "
            f"{story.first_published_at:%Y-%m-%d %H:%M} - {story.last_published_at:%H:%M}  "
            f"{canonical.source}  {canonical.title or canonical.article_id}",
            file=out,
        )
    return 0


def cmd_watch(client: StoryDedupClient, args: argparse.Namespace, out: TextIO) -> int:
    try:
        for seen, event in enumerate(client.watch_clusters(args.from_id), 1):
            if args.json:
                _print_json(event, out)
            else:
                into = f" into {event.into_cluster_id}" if event.into_cluster_id else ""
                print(
                    f"{event.event_id}  {event.time:%Y-%m-%d %H:%M:%S}  {event.kind:<11} "
                    f"{event.cluster_id}{into}  size {event.size}  article {event.article_id}",
                    file=out,
                )
            out.flush()
            if seen == args.count:
                break
    except KeyboardInterrupt:
        pass
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storydedup", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--target",
        default=os.environ.get("STORYDEDUP_TARGET", "localhost:50051"),
        help="host:port of the service ($STORYDEDUP_TARGET)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("STORYDEDUP_TOKEN"),
        help="bearer token ($STORYDEDUP_TOKEN)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call")
    parser.add_argument("--json", action="store_true", help="JSON output, one object a line")
    commands = parser.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser("ingest", help="ingest files, folders, or JSON lines on stdin")
    ingest.add_argument("paths", nargs="*", help="files or folders; none or '-' reads stdin")
    ingest.add_argument("--source", default="", help="source (outlet) of file articles")
    ingest.add_argument("--progress", action="store_true", help="always show a progress bar")
    ingest.set_defaults(run=cmd_ingest)
    cluster = commands.add_parser("cluster", help="show the cluster of an article or cluster ID")
    cluster.add_argument("id")
    cluster.set_defaults(run=cmd_cluster)
    article = commands.add_parser("article", help="show an article's record")
    article.add_argument("id")
    article.set_defaults(run=cmd_article)
    similar = commands.add_parser("similar", help="find articles similar to a file")
    similar.add_argument("file")
    similar.add_argument("--limit", type=int, default=10)
    similar.add_argument("--source", default="")
    similar.add_argument("--title", default="", help="the page's title (a text file has none)")
    similar.set_defaults(run=cmd_similar)
    delete = commands.add_parser("delete", help="delete an article")
    delete.add_argument("id")
    delete.set_defaults(run=cmd_delete)
    top = commands.add_parser("top", help="the biggest (or latest) stories of a time window")
    top.add_argument("--since", default="6h", help="window start: 6h, 90m, 2d or an ISO time")
    top.add_argument("--min-size", type=int, default=1, help="stories with at least N articles")
    top.add_argument("--source", default="", help="stories carried by this source")
    top.add_argument("--limit", type=int, default=20, help="stories to show (at most 100)")
    top.add_argument("--recent", action="store_true", help="most recent first, not biggest")
    top.add_argument(
        "--by-first",
        action="store_true",
        help="the window holds a story's first publication, not its last",
    )
    top.set_defaults(run=cmd_top)
    watch = commands.add_parser("watch", help="follow cluster changes as they commit")
    watch.add_argument(
        "--from",
        dest="from_id",
        default="",
        help="resume after this event ID; 0: every event kept; default: from now",
    )
    watch.add_argument("--count", type=int, default=0, help="stop after N events (0: never)")
    watch.set_defaults(run=cmd_watch)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    try:
        with StoryDedupClient(args.target, timeout=args.timeout, token=args.token) as client:
            code: int = args.run(client, args, out)
            return code
    except InputError as error:
        print(f"storydedup: {error}", file=sys.stderr)
        return EXIT_USAGE
    except StoryDedupError as error:
        print(f"storydedup: {error}", file=sys.stderr)
        if error.code == grpc.StatusCode.NOT_FOUND:
            return EXIT_NOT_FOUND
        if error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return EXIT_UNAVAILABLE
        if error.code == grpc.StatusCode.INVALID_ARGUMENT:
            return EXIT_USAGE
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
