"""Service configuration: flags, each with a STORYDEDUP_* environment
variable, validated once at start-up."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from storydedup.fingerprints.text import DEFAULT_TOKENIZER, as_tokenizer
from storydedup.logs import LOG_FORMATS
from storydedup.store.base import DEFAULT_EVENTS_MAX_LEN

ENV_PREFIX = "STORYDEDUP_"
_NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting is invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 50051
    # None: the embedded in-process store (not persistent).
    redis_url: str | None = None
    # redis_url is a seed node of a Redis Cluster (store/cluster_store.py).
    redis_cluster: bool = False
    namespace: str = "default"
    # Articles leave the index this long after they were ingested.
    retention_days: float = 30.0
    # Largest gRPC message accepted (a whole IngestArticles batch).
    max_message_bytes: int = 64 * MIB
    # Largest text or html of one article.
    max_article_bytes: int = 4 * MIB
    # Most articles in one IngestArticles call.
    max_batch_articles: int = 1000
    # Seconds that in-flight calls get to finish on SIGTERM/SIGINT.
    shutdown_grace_seconds: float = 10.0
    num_perm: int = 128
    shingle_size: int = 4
    seed: int = 1
    # How text is cut into shingle units (fingerprints/text.py TOKENIZERS).
    tokenizer: str = DEFAULT_TOKENIZER
    # 2**bits bucket groups (Redis hashes); size to the articles in the
    # retention window: 14 up to ~400,000, one more per doubling.
    bucket_group_bits: int = 14
    log_level: str = "INFO"
    # "text" for people, "json" (one object a line) for log shippers.
    log_format: str = "text"
    # Prometheus metrics over HTTP on this port of --host; None: not served.
    metrics_port: int | None = None
    # TLS for the gRPC port: PEM certificate chain and private key files.
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    # With this CA bundle, clients must present a certificate it signed (mTLS).
    tls_client_ca_file: str | None = None
    # When set, every call but health checks needs `authorization: Bearer <token>`.
    auth_token: str | None = None
    # Server processes sharing the port (SO_REUSEPORT); more than one needs
    # Redis, since the in-process store cannot be shared.
    workers: int = 1
    # Processes that clean and fingerprint for this server process; 0: one
    # thread of its own.
    clean_processes: int = 0
    # The event log (WatchClusters) keeps about this many latest events; 0
    # logs none.
    events_max_len: int = DEFAULT_EVENTS_MAX_LEN
    # The story browser's HTTP port (api/browser.py), on --host; 0: no browser.
    browser_port: int = 0

    def masked(self) -> dict[str, object]:
        """The settings with secrets hidden, for the start-up log line."""
        shown: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.redis_url:
            shown["redis_url"] = mask_url(self.redis_url)
        if self.auth_token:
            shown["auth_token"] = "***"
        return shown


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***: in its user part, or in a
    `password` query parameter (which redis-py also accepts)."""
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if parts.password is not None:
        # The host part as written: keeps an IPv6 address's brackets.
        netloc = f"{parts.username or ''}:***@{netloc.rpartition('@')[2]}"
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(name == "password" for name, _ in pairs):
        query = urlencode(
            [(name, "***" if name == "password" else value) for name, value in pairs], safe="*"
        )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


_HELP = {
    "host": "address to listen on",
    "port": "port to listen on",
    "redis_url": "redis://, rediss:// or unix:// URL of Redis; unset: in-process store",
    "redis_cluster": "--redis-url is a node of a Redis Cluster: spread the index over its shards",
    "namespace": "key namespace, so several indexes can share one Redis",
    "retention_days": "articles leave the index this many days after ingestion",
    "max_message_bytes": "largest gRPC message accepted",
    "max_article_bytes": "largest text or html of one article",
    "max_batch_articles": "most articles in one IngestArticles call",
    "shutdown_grace_seconds": "time in-flight calls get to finish on SIGTERM",
    "num_perm": "MinHash permutations (fixed per namespace)",
    "shingle_size": "words per shingle (fixed per namespace)",
    "seed": "MinHash seed (fixed per namespace)",
    "tokenizer": "'ngrams': words, and character n-grams for scripts written without spaces "
    "(bigrams of Chinese and Japanese, 4-grams of Thai, Lao, Khmer, Myanmar); 'words': words "
    "only, as namespaces created before the setting (fixed per namespace)",
    "bucket_group_bits": "2**N Redis hashes hold the LSH buckets; 14 suits up to ~400,000 "
    "articles in the retention window, add one per doubling (fixed per namespace)",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
    "log_format": "'text', or 'json': one JSON object a line (time, level, logger, message, "
    "and the RPC method and peer inside a call)",
    "metrics_port": "serve Prometheus metrics at http://HOST:PORT/metrics; unset: off",
    "tls_cert_file": "PEM certificate chain: serve TLS",
    "tls_key_file": "PEM private key of --tls-cert-file",
    "tls_client_ca_file": "PEM CA bundle: require client certificates (mutual TLS)",
    "auth_token": "require 'authorization: Bearer <token>' on every call but health checks",
    "workers": "server processes sharing the port (needs --redis-url when above 1)",
    "clean_processes": "processes that clean and fingerprint articles for each server process, "
    "so that one connection's batches use several cores (0: one thread in the server process)",
    "events_max_len": "the event log of WatchClusters keeps about this many latest events "
    "(0: no events)",
    "browser_port": "serve the read-only story browser over HTTP on this port of --host "
    "(0: no browser; it has no authentication)",
}


def parse_config(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Flags override environment variables, which override defaults."""
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(
        prog="storydedup-server",
        description="Serve storydedup over gRPC. Every flag has a STORYDEDUP_* variable.",
    )
    defaults = Config()
    for f in fields(Config):
        flag = "--" + f.name.replace("_", "-")
        variable = ENV_PREFIX + f.name.upper()
        # A switch may be given bare (`--redis-cluster`) or with a value.
        switch = (
            {"nargs": "?", "const": "true"} if isinstance(getattr(defaults, f.name), bool) else {}
        )
        parser.add_argument(
            flag,
            dest=f.name,
            default=env.get(variable),
            help=f"{_HELP[f.name]} (${variable}; default {getattr(defaults, f.name)!r})",
            **switch,  # type: ignore[arg-type]
        )
    args = parser.parse_args(argv)
    raw = {name: value for name, value in vars(args).items() if value is not None}
    return build_config(raw)


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True}
_BOOLEANS |= {"0": False, "false": False, "no": False, "off": False, "": False}


def _convert(name: str, value: str, kind: type) -> object:
    flag = "--" + name.replace("_", "-")
    if kind is bool:
        if value.strip().lower() not in _BOOLEANS:
            raise ConfigError(f"{flag}: {value!r} is not one of true, false, 1, 0, yes, no")
        return _BOOLEANS[value.strip().lower()]
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"{flag}: {value!r} is not a valid {kind.__name__}") from None


# Settings that default to None (unset) but are numbers when set.
_OPTIONAL_INTS = ("metrics_port",)


def build_config(raw: Mapping[str, str]) -> Config:
    defaults = Config()
    values: dict[str, object] = {}
    for f in fields(Config):
        if f.name not in raw:
            continue
        if f.name in _OPTIONAL_INTS:
            values[f.name] = None if raw[f.name] == "" else _convert(f.name, raw[f.name], int)
            continue
        kind = type(getattr(defaults, f.name)) if getattr(defaults, f.name) is not None else str
        values[f.name] = _convert(f.name, raw[f.name], kind)
    for optional in (
        "redis_url",
        "tls_cert_file",
        "tls_key_file",
        "tls_client_ca_file",
        "auth_token",
    ):
        if values.get(optional) == "":
            values[optional] = None
    config = Config(**values)  # type: ignore[arg-type]
    validate(config)
    return config


def validate(config: Config) -> None:
    if not 0 <= config.port <= 65535:
        raise ConfigError(f"--port: {config.port} is not a port number")
    if not config.host:
        raise ConfigError("--host: must not be empty")
    if config.redis_url is not None:
        scheme = urlsplit(config.redis_url).scheme
        if scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(
                f"--redis-url: scheme {scheme!r} is not redis://, rediss:// or unix://"
            )
    if config.redis_cluster and (
        config.redis_url is None or urlsplit(config.redis_url).scheme == "unix"
    ):
        raise ConfigError("--redis-cluster: needs a redis:// or rediss:// --redis-url")
    if not _NAMESPACE.match(config.namespace):
        raise ConfigError(
            f"--namespace: {config.namespace!r} must be 1-64 characters of A-Z a-z 0-9 _ . -"
        )
    if config.workers > 1 and config.redis_url is None:
        raise ConfigError("--workers: more than one worker needs --redis-url")
    if config.workers > 1 and config.port == 0:
        raise ConfigError("--workers: more than one worker needs a fixed --port")
    positive = (
        "max_message_bytes",
        "max_article_bytes",
        "max_batch_articles",
        "num_perm",
        "shingle_size",
        "workers",
    )
    for name in positive:
        if getattr(config, name) <= 0:
            raise ConfigError(f"--{name.replace('_', '-')}: must be positive")
    if not 0 <= config.browser_port <= 65535:
        raise ConfigError(f"--browser-port: {config.browser_port} is not a port number")
    if config.browser_port and config.browser_port == config.port:
        raise ConfigError("--browser-port: must differ from --port")
    if config.events_max_len < 0:
        raise ConfigError("--events-max-len: must not be negative")
    if not 0 <= config.clean_processes <= 64:
        raise ConfigError("--clean-processes: must be 0 to 64")
    if config.retention_days <= 0:
        raise ConfigError("--retention-days: must be positive")
    if config.shutdown_grace_seconds < 0:
        raise ConfigError("--shutdown-grace-seconds: must not be negative")
    if config.max_article_bytes > config.max_message_bytes:
        raise ConfigError("--max-article-bytes: must not exceed --max-message-bytes")
    if not 1 <= config.bucket_group_bits <= 24:
        raise ConfigError("--bucket-group-bits: must be 1 to 24")
    try:
        as_tokenizer(config.tokenizer)
    except ValueError as error:
        raise ConfigError(f"--tokenizer: {error}") from None
    if config.num_perm < 32:
        raise ConfigError("--num-perm: must be at least 32 (the LSH body bands use 28 values)")
    if (config.tls_cert_file is None) != (config.tls_key_file is None):
        raise ConfigError("--tls-cert-file and --tls-key-file: set both or neither")
    if config.tls_client_ca_file is not None and config.tls_cert_file is None:
        raise ConfigError("--tls-client-ca-file: needs --tls-cert-file and --tls-key-file")
    for name in ("tls_cert_file", "tls_key_file", "tls_client_ca_file"):
        path = getattr(config, name)
        if path is not None and not os.path.isfile(path):
            raise ConfigError(f"--{name.replace('_', '-')}: no readable file at {path!r}")
    if config.auth_token is not None and len(config.auth_token) < 16:
        raise ConfigError("--auth-token: must be at least 16 characters")
    if config.log_format not in LOG_FORMATS:
        raise ConfigError(
            f"--log-format: {config.log_format!r} is not one of {', '.join(LOG_FORMATS)}"
        )
    if config.metrics_port is not None:
        if not 0 <= config.metrics_port <= 65535:
            raise ConfigError(f"--metrics-port: {config.metrics_port} is not a port number")
        if config.metrics_port == config.port and config.port != 0:
            raise ConfigError("--metrics-port: must differ from --port")
        if config.workers > 1 and config.metrics_port == 0:
            raise ConfigError("--workers: more than one worker needs a fixed --metrics-port")
    if config.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"--log-level: {config.log_level!r} is not DEBUG, INFO, WARNING or ERROR")
