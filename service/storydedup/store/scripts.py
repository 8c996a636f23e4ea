"""The stores' Lua scripts, run by SHA1 in pipelines.

redis-py's Script objects make every pipeline that runs one ask SCRIPT
EXISTS first: one more round trip for each ingest. Here a pipeline sends
EVALSHA at once; only when a call comes back NOSCRIPT (Redis restarted or
failed over, or its script cache was flushed) is the script loaded and that
call sent again. Every script here may run again after NOSCRIPT, since a
call that got NOSCRIPT did not run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from storydedup import metrics

_REDIS_CALL = metrics.REDIS_CALL_SECONDS


@dataclass(frozen=True, slots=True)
class LuaScript:
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())

    @classmethod
    def read(cls, *path: str) -> LuaScript:
        """The script at store/lua/<path>."""
        return cls(resources.files("storydedup.store").joinpath("lua", *path).read_text())

    def command(self, keys: Sequence[bytes | str], *args: Any) -> tuple[Any, ...]:
        return ("EVALSHA", self.sha, len(keys), *keys, *args)


_BIND = LuaScript.read("bind.lua")


async def bind_namespace(
    client: Redis | RedisCluster, meta_key: bytes | str, fields: dict[str, str]
) -> dict[bytes, bytes]:
    """The settings a namespace's meta hash holds, written first when the
    namespace is new (bind.lua: atomic, so two servers starting at once
    agree)."""
    flat = [item for pair in fields.items() for item in pair]
    reply: list[bytes] = await client.eval(_BIND.source, 1, meta_key, *flat)
    return dict(zip(reply[::2], reply[1::2], strict=True))


async def load(client: Redis | RedisCluster, scripts: Iterable[LuaScript]) -> None:
    """Loads the scripts on the server, or on every node of a cluster."""
    for script in scripts:
        if isinstance(client, RedisCluster):
            await client.execute_command(
                "SCRIPT LOAD", script.source, target_nodes=RedisCluster.ALL_NODES
            )
        else:
            await client.script_load(script.source)


async def pipelined(
    client: Redis | RedisCluster,
    commands: Sequence[tuple[Any, ...]],
    scripts: Iterable[LuaScript],
) -> list[Any]:
    """The replies to these commands, sent in one pipeline (not a
    transaction), in order; the first error reply is raised. `scripts` are
    the ones the commands may run by SHA1."""
    replies = await _execute(client, commands)
    missing = [i for i, r in enumerate(replies) if isinstance(r, redis_errors.NoScriptError)]
    if missing:
        by_sha = {script.sha: script for script in scripts}
        await load(client, {by_sha[commands[i][1]] for i in missing})
        again = await _execute(client, [commands[i] for i in missing])
        for i, reply in zip(missing, again, strict=True):
            replies[i] = reply
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


async def _execute(client: Redis | RedisCluster, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    # Every script call of the stores passes here: the Redis latency metric.
    with _REDIS_CALL.time():
        return await _round_trip(client, commands)


async def _round_trip(
    client: Redis | RedisCluster, commands: Sequence[tuple[Any, ...]]
) -> list[Any]:
    if len(commands) == 1:
        # Without a pipeline object a call costs a third less client CPU
        # (72 against 111 us, with hiredis): most unary calls are one command.
        try:
            return [await client.execute_command(*commands[0])]
        except redis_errors.ResponseError as error:
            return [error]
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    replies: list[Any] = await pipe.execute(raise_on_error=False)
    return replies


async def call(
    client: Redis | RedisCluster, command: tuple[Any, ...], scripts: Iterable[LuaScript]
) -> Any:
    """The reply to one command; an error reply is raised."""
    [reply] = await pipelined(client, [command], scripts)
    return reply
