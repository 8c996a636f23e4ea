"""Log output: the text format people read (the default), or one JSON object
a line for a log shipper (`--log-format json`).

A line logged while a call is handled names the call's RPC method and its
peer, from `CURRENT_CALL`, which the server interceptor sets for the call's
task (api/observe.py). Nothing is added that a message does not already
hold beyond those two: messages mask secrets where they are written.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True, slots=True)
class CallInfo:
    # Full method name, e.g. /storydedup.v1.StoryDedupService/IngestArticle.
    method: str
    # As grpc reports it, e.g. ipv4:10.0.0.7:50944.
    peer: str


CURRENT_CALL: ContextVar[CallInfo | None] = ContextVar("storydedup_call", default=None)


class JsonFormatter(logging.Formatter):
    """time (UTC, RFC 3339 with milliseconds), level, logger, message, and
    method and peer inside a call; exception tracebacks as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, object] = {
            "time": f"{seconds}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        call = CURRENT_CALL.get()
        if call is not None:
            line["method"] = call.method
            line["peer"] = call.peer
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, log_format: str) -> None:
    """The root logger's one handler, on stderr, in this format."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
