"""Settings, read once from ``TAGTRAIL_*`` environment variables into a frozen Struct.

Every field of :class:`Settings` maps to ``TAGTRAIL_<FIELD>`` (upper case); values are
converted with msgspec, so a bad value fails at start-up with the variable's name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

import msgspec

from tagtrail.errors import ConfigError

_REPO_ROOT = Path(__file__).resolve().parents[2]


def _default_home() -> str:
    return str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tagtrail")


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    # OpenSearch. None means: use the embedded node (started on demand by `tagtrail serve`).
    # Several nodes of one cluster: comma-separated; a request that finds one node down is
    # retried on another.
    opensearch_url: str | None = None
    opensearch_user: str | None = None
    opensearch_password: str | None = None
    opensearch_verify_certs: bool = True
    opensearch_timeout_s: float = 30.0
    # Store connections of one process: at most opensearch_pool_size requests to OpenSearch at
    # once; a call waits at most opensearch_pool_wait_s for a free connection (then 503), and
    # one HTTP request holds at most opensearch_connections_per_request of them at once, so a
    # slow request cannot starve the others.
    opensearch_pool_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20
    opensearch_pool_wait_s: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    opensearch_connections_per_request: Annotated[int, msgspec.Meta(ge=1)] = 4
    # Index names must be lower case and may not hold \ / * ? " < > | , # or spaces.
    index_prefix: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")] = "tagtrail"
    # None: one replica when the cluster has more than one data node, else none (read from
    # the cluster when indices are created); a number always wins.
    index_replicas: Annotated[int, msgspec.Meta(ge=0)] | None = None
    index_shards: int = 1

    # The embedded node (development and tests).
    home: str = msgspec.field(default_factory=_default_home)
    embedded_port: int = 9200
    embedded_heap: str = "1g"

    # HTTP server.
    host: str = "127.0.0.1"
    port: int = 8000
    dev: bool = False
    # Open development mode (dev, no API keys: every caller is admin) listens on loopback only;
    # true lets it listen on another host (a container whose port is published to loopback).
    dev_listen_any: bool = False
    # A request still running after request_timeout_s is cancelled and answered 503; SIGTERM
    # lets the requests in flight run for at most shutdown_grace_s, then cancels them.
    request_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    shutdown_grace_s: Annotated[int, msgspec.Meta(ge=0, le=600)] = 3
    max_request_bytes: int = 50 * 1024 * 1024
    # Origins allowed to call the API from a browser (CORS), comma-separated
    # ("https://dam.example.com,http://localhost:5173"); unset: none (same origin only).
    cors_origins: str | None = None
    # Where the web pages' npm packages are (node_modules); unset: src/tagtrail/web/node_modules,
    # where scripts/bootstrap's `npm ci` puts them.
    web_vendor_dir: str | None = None
    # Thumbnails served from memory (MiB per server; 0 turns it off). A thumbnail never
    # changes for an asset id, so nothing is ever stale.
    thumbnail_cache_mb: int = 32
    # Log lines: "json" (one object a line, with the request id) or "text"; unset: json for
    # the server (`tagtrail serve`, create_app), text for the other CLI commands.
    log_format: Literal["json", "text"] | None = None

    # Data folders (mappings and taxonomy are data, versioned with the repo).
    mappings_dir: str = str(_REPO_ROOT / "index_mappings")
    taxonomy_dir: str = str(_REPO_ROOT / "taxonomy" / "default")

    # Vision model.
    model: str = "openai/clip-vit-base-patch32"
    model_device: str | None = None
    model_dtype: str = "float32"
    batch_size: int = 32

    # Access: a TOML/YAML/JSON file of hashed API keys; auth off only when dev and no file.
    api_keys_file: str | None = None
    # Or inline: "name:role:sha256hex,..." (TAGTRAIL_API_KEYS); both sources are merged.
    api_keys: str | None = None
    max_page_size: int = 100
    max_query_depth: int = 12
    max_bulk_assets: int = 200

    # Promoting a trained head: segments with at least gate_min_n held-out decisions may
    # not lose more than gate_margin macro-F1 (and overall macro-F1 may not drop).
    gate_min_n: int = 30
    gate_margin: float = 0.05
    # The random hold-out (domain.holdout): this share of assets, chosen by a hash of the
    # asset id, is reviewed only in its own queue (reason HOLDOUT) and never trained on;
    # the gate scores both heads on its decisions. Changing it moves assets in or out.
    holdout_share: Annotated[float, msgspec.Meta(ge=0.0, le=0.5)] = 0.05
    # How often (seconds) a server checks whether a champion head moved (0: at start only).
    heads_refresh_s: float = 60.0
    # How often (seconds) a server checks which taxonomy is in force for the deployment
    # (stored in OpenSearch; 0: at start only). After `taxonomy apply`, every server uses
    # the new version within this interval.
    taxonomy_refresh_s: float = 30.0
    # How long `taxonomy apply` waits, after putting a version in force, before migrating:
    # until no server can still write a value of the old version. Unset: one refresh interval
    # plus the request deadline (TAGTRAIL_TAXONOMY_REFRESH_S + TAGTRAIL_REQUEST_TIMEOUT_S).
    taxonomy_apply_wait_s: Annotated[float, msgspec.Meta(ge=0)] | None = None
    # Shadow mode: a trained challenger predicts beside the champion on new photos; its
    # proposals are stored in the evidence (never applied) and compared with reviewers.
    shadow: bool = True
    # A value a reviewer rejected is proposed again (as a suggestion, for review) only by a
    # newer head whose probability reaches this.
    repropose_min_probability: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.9
    # Events read per request when a tag history is paged through (search_after).
    history_page_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1000

    # The retraining cadence (docs/learning.md): a challenger is trained once this many reviewer
    # decisions on the attribute arrived since the last training, and/or once this many hours
    # passed with at least one new decision; then it shadows new photos until reviewers have
    # judged retrain_shadow_decisions of its proposals, and is promoted by the gate (`auto`)
    # or waits for an admin (`manual`). Each is one value for every trainable attribute or a
    # list of attribute=value (`*` for the rest): "250", "category=100,*=500". Unset: no
    # cadence (heads are trained by admins only).
    retrain_every: str | None = None
    retrain_interval_h: str | None = None
    retrain_promotion: str = "manual"
    retrain_shadow_decisions: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 20
    # How often a server looks whether the cadence is due, and how long the lease one
    # server holds while it trains outlives a holder that stopped renewing it (killed).
    retrain_poll_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    retrain_lease_s: Annotated[float, msgspec.Meta(ge=1)] = 60.0

    @property
    def embedded(self) -> bool:
        return self.opensearch_url is None

    @property
    def effective_opensearch_url(self) -> str:
        return self.opensearch_url or f"http://127.0.0.1:{self.embedded_port}"

    @property
    def opensearch_display_url(self) -> str:
        """The node URL(s) as shown in answers and logs: never with user:password."""
        return ",".join(redact_url(u) for u in self.effective_opensearch_url.split(","))

    @property
    def opensearch_urls(self) -> tuple[str, ...]:
        """Every node URL of ``opensearch_url`` (comma-separated), each checked."""
        return parse_opensearch_urls(self.effective_opensearch_url)

    def index_name(self, logical: str) -> str:
        """The alias under which a logical index (``assets``, ``tag_events``) is served."""
        return f"{self.index_prefix}-{logical}"

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        """The allowed CORS origins, each checked (scheme://host[:port], no path)."""
        return parse_origins(self.cors_origins)

    def with_changes(self, **changes: object) -> Settings:
        return msgspec.structs.replace(self, **changes)

    def retrain_policy(self, attribute: str) -> RetrainPolicy:
        """The cadence policy of ``attribute`` (off where nothing says when to train)."""
        return retrain_policies(self).of(attribute)

    @property
    def cadence_on(self) -> bool:
        return retrain_policies(self).on


ENV_PREFIX = "TAGTRAIL_"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def parse_origins(raw: str | None) -> tuple[str, ...]:
    """``TAGTRAIL_CORS_ORIGINS``: comma-separated origins; a bad one names itself."""
    origins: list[str] = []
    for part in (raw or "").split(","):
        origin = part.strip().rstrip("/")
        if not origin:
            continue
        if origin != "*" and not _ORIGIN.match(origin):
            raise ConfigError(
                f"TAGTRAIL_CORS_ORIGINS: {origin!r} is not an origin "
                "(expected scheme://host[:port], e.g. https://dam.example.com, or *)"
            )
        origins.append(origin)
    return tuple(origins)


def redact_url(url: str) -> str:
    """``url`` without the password (and user) it may carry: ``http://***@host:9200``."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        scheme, rest = "", url.strip()
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url.strip()
    host = authority.rpartition("@")[2]
    return f"{scheme}{sep}***@{host}{slash}{path}"


def _node_url(url: str) -> bool:
    """http(s)://[user:pass@]host[:port][/path], as opensearch-py reads it (Docker service
    names with underscores included)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url


def parse_opensearch_urls(raw: str) -> tuple[str, ...]:
    """``TAGTRAIL_OPENSEARCH_URL``: one node URL or several, comma-separated; a bad one names
    itself (opensearch-py would otherwise fail later, on the first request, less clearly)."""
    urls = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not urls:
        raise ConfigError("TAGTRAIL_OPENSEARCH_URL: no URL given")
    for url in urls:
        if not _node_url(url):
            raise ConfigError(
                f"TAGTRAIL_OPENSEARCH_URL: {redact_url(url)!r} is not a node URL (expected "
                "http(s)://host[:port], several separated by commas)"
            )
    return urls


_V = TypeVar("_V")
_ATTRIBUTE = re.compile(r"^(\*|[a-z][a-z0-9_]{0,63})$")


Promotion = Literal["auto", "manual"]


class RetrainPolicy(msgspec.Struct, kw_only=True, frozen=True):
    """When the cadence trains a challenger for one attribute, and who promotes it."""

    every: int | None = None  # reviewer decisions since the last training
    interval_h: float | None = None  # hours since the last training (≥ 1 new decision)
    promotion: Promotion = "manual"
    shadow_decisions: int = 0  # reviewer judgements of its proposals before the verdict

    @property
    def on(self) -> bool:
        return self.every is not None or self.interval_h is not None

    def describe(self) -> str:
        when = [f"every {self.every} decisions"] if self.every is not None else []
        if self.interval_h is not None:
            when.append(f"every {self.interval_h:g} h")
        if not when:
            return "no cadence"
        return f"{' or '.join(when)}, {self.promotion} promotion"


class RetrainPolicies(msgspec.Struct, kw_only=True, frozen=True):
    every: dict[str, int] = {}
    interval_h: dict[str, float] = {}
    promotion: dict[str, Promotion] = {}
    shadow_decisions: int = 0

    @property
    def on(self) -> bool:
        return bool(self.every or self.interval_h)

    @property
    def attributes(self) -> set[str]:
        """Every attribute a policy names (``*`` included)."""
        return set(self.every) | set(self.interval_h) | set(self.promotion)

    def of(self, attribute: str) -> RetrainPolicy:
        def pick(table: Mapping[str, _V]) -> _V | None:
            return table.get(attribute, table.get("*"))

        return RetrainPolicy(
            every=pick(self.every),
            interval_h=pick(self.interval_h),
            promotion=pick(self.promotion) or "manual",
            shadow_decisions=self.shadow_decisions,
        )


def _per_attribute(variable: str, raw: str | None, parse: Callable[[str], _V]) -> dict[str, _V]:
    """``"250"`` (every attribute) or ``"category=100,*=500"``; a bad part names itself."""
    out: dict[str, _V] = {}
    for part in (raw or "").split(","):
        part = part.strip()
        if not part:
            continue
        attribute, sep, value = part.rpartition("=")
        attribute = attribute.strip() if sep else "*"
        if not _ATTRIBUTE.match(attribute):
            raise ConfigError(f"{variable}: {attribute!r} is not an attribute name (or *)")
        if attribute in out:
            raise ConfigError(f"{variable}: {attribute!r} is given twice")
        try:
            out[attribute] = parse(value.strip())
        except ValueError as exc:
            raise ConfigError(f"{variable}: {part!r}: {exc}") from exc
    return out


def _positive_int(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10_000_000:
        raise ValueError("expected a number of decisions from 1 to 10,000,000")
    return value


def _hours(text: str) -> float:
    value = float(text)
    if not 0.01 <= value <= 24 * 366:
        raise ValueError("expected hours from 0.01 to 8784")
    return value


def _promotion(text: str) -> Promotion:
    if text not in ("auto", "manual"):
        raise ValueError("expected auto or manual")
    return "auto" if text == "auto" else "manual"


def retrain_policies(settings: Settings) -> RetrainPolicies:
    """The cadence policies of ``settings`` (ConfigError naming the variable when bad)."""
    return RetrainPolicies(
        every=_per_attribute(f"{ENV_PREFIX}RETRAIN_EVERY", settings.retrain_every, _positive_int),
        interval_h=_per_attribute(
            f"{ENV_PREFIX}RETRAIN_INTERVAL_H", settings.retrain_interval_h, _hours
        ),
        promotion=_per_attribute(
            f"{ENV_PREFIX}RETRAIN_PROMOTION", settings.retrain_promotion, _promotion
        ),
        shadow_decisions=settings.retrain_shadow_decisions,
    )


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from the environment; ``overrides`` win over it (used by the CLI)."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for field in msgspec.structs.fields(Settings):
        key = ENV_PREFIX + field.name.upper()
        if key in env and env[key] != "":
            raw[field.name] = env[key]
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        # msgspec names the field as `$.field`; say which variable that is.
        message = str(exc)
        named = re.search(r"\$\.(\w+)", message)  # whole name: `$.dev` is not `$.dev_listen_any`
        if named:
            message = f"{ENV_PREFIX}{named.group(1).upper()}: {message}"
        raise ConfigError(f"invalid configuration: {message}") from exc
    if settings.opensearch_url is not None:
        parse_opensearch_urls(settings.opensearch_url)  # fail at start-up, naming the variable
    retrain_policies(settings)  # fail at start-up, naming the variable
    if settings.opensearch_connections_per_request > settings.opensearch_pool_size:
        raise ConfigError(
            "TAGTRAIL_OPENSEARCH_CONNECTIONS_PER_REQUEST "
            f"({settings.opensearch_connections_per_request}) must not exceed "
            f"TAGTRAIL_OPENSEARCH_POOL_SIZE ({settings.opensearch_pool_size}): one request "
            "could then hold every store connection"
        )
    return settings
