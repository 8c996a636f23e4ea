"""`storydedup-server`: start the gRPC service."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Sequence

from storydedup.api.server import serve
from storydedup.config import ConfigError, parse_config


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_config(argv)
    except ConfigError as error:
        print(f"storydedup-server: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("storydedup").info(
        "configuration: %s", json.dumps(config.masked(), sort_keys=True)
    )
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
