"""Versioned index mappings applied idempotently through aliases.

``index_mappings/<logical>/v<N>.json`` defines version N of a logical index. The concrete
index is ``<prefix>-<logical>-v<N>`` and is served under the alias ``<prefix>-<logical>``.
Applying is idempotent: the newest version is created if missing (optional fields added to
it later are put in place) and the alias is pointed at it; when the alias still points at an
older version, documents are reindexed into the new one and the alias is swapped atomically
— so a mapping change that is not additive is a reindex plus a swap.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import AuthorizationException, NotFoundError, RequestError

from tagtrail.config import Settings
from tagtrail.errors import ConfigError

log = logging.getLogger(__name__)

LOGICAL_INDICES = ("assets", "tag_events", "heads", "audits", "thumbnails", "taxonomies")
_VERSION_FILE = re.compile(r"^v(\d+)\.json$")


class IndexSpec(msgspec.Struct, kw_only=True, frozen=True):
    logical: str
    version: int
    alias: str
    concrete: str
    body: dict[str, Any]


class IndexState(msgspec.Struct, kw_only=True, frozen=True):
    alias: str
    concrete: str
    created: bool
    migrated_from: str | None = None
    documents_moved: int = 0


def load_spec(settings: Settings, logical: str, *, replicas: int | None = None) -> IndexSpec:
    """The newest mapping version of ``logical``; ``replicas`` (what the cluster can hold)
    applies when TAGTRAIL_INDEX_REPLICAS is not set, and 0 when neither is known."""
    folder = Path(settings.mappings_dir) / logical
    versions: list[tuple[int, Path]] = []
    for path in folder.glob("v*.json"):
        match = _VERSION_FILE.match(path.name)
        if match:
            versions.append((int(match.group(1)), path))
    if not versions:
        raise ConfigError(f"no mapping versions found in {folder} (expected v1.json, ...)")
    version, path = max(versions)
    try:
        body = msgspec.json.decode(path.read_bytes())
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(body, dict) or "mappings" not in body:
        raise ConfigError(f"{path}: expected an object with 'settings' and 'mappings'")
    body.pop("_comment", None)
    index_settings = body.setdefault("settings", {}).setdefault("index", {})
    chosen = settings.index_replicas if settings.index_replicas is not None else replicas
    index_settings["number_of_replicas"] = chosen or 0
    index_settings["number_of_shards"] = settings.index_shards
    alias = settings.index_name(logical)
    return IndexSpec(
        logical=logical, version=version, alias=alias, concrete=f"{alias}-v{version}", body=body
    )


async def _alias_targets(client: AsyncOpenSearch, alias: str) -> list[str]:
    try:
        result = await client.indices.get_alias(name=alias)
    except NotFoundError:
        return []
    return sorted(result.keys())


async def ensure_index(client: AsyncOpenSearch, spec: IndexSpec) -> IndexState:
    created = False
    if not await client.indices.exists(index=spec.concrete):
        try:
            await client.indices.create(index=spec.concrete, body=spec.body)
            created = True
        except RequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
    if not created:
        # Fields added to the same mapping version (new optional fields) are applied in
        # place; anything else OpenSearch refuses needs a new version file (a reindex).
        try:
            await client.indices.put_mapping(index=spec.concrete, body=spec.body["mappings"])
        except RequestError as exc:
            raise ConfigError(
                f"{spec.concrete}: the mapping changed in a way that cannot be applied in "
                f"place ({exc.error}); add v{spec.version + 1}.json instead"
            ) from exc
    targets = await _alias_targets(client, spec.alias)
    if targets == [spec.concrete]:
        return IndexState(alias=spec.alias, concrete=spec.concrete, created=created)
    moved = 0
    old = [t for t in targets if t != spec.concrete]
    for source in old:
        # Older mapping version behind the alias: copy its documents across first.
        result = await client.reindex(
            body={
                "source": {"index": source},
                "dest": {"index": spec.concrete, "op_type": "create"},
                "conflicts": "proceed",
            },
            refresh=True,
            wait_for_completion=True,
        )
        moved += int(result.get("created", 0))
    actions: list[dict[str, Any]] = [{"remove": {"index": t, "alias": spec.alias}} for t in old]
    actions.append({"add": {"index": spec.concrete, "alias": spec.alias}})
    await client.indices.update_aliases(body={"actions": actions})
    return IndexState(
        alias=spec.alias,
        concrete=spec.concrete,
        created=created,
        migrated_from=",".join(old) or None,
        documents_moved=moved,
    )


async def auto_replicas(client: AsyncOpenSearch) -> int:
    """One replica when the cluster has another data node to hold it, else none: a replica
    that can never be assigned would leave the cluster yellow for good. A user who may not
    read the cluster's health gets none (set TAGTRAIL_INDEX_REPLICAS then)."""
    try:
        health = await client.cluster.health()
    except AuthorizationException:
        log.warning(
            "cannot read cluster health (403): new indices get 0 replicas; "
            "set TAGTRAIL_INDEX_REPLICAS"
        )
        return 0
    return max(0, min(1, int(health.get("number_of_data_nodes", 1)) - 1))


async def ensure_indices(client: AsyncOpenSearch, settings: Settings) -> list[IndexState]:
    replicas = None if settings.index_replicas is not None else await auto_replicas(client)
    return [
        await ensure_index(client, load_spec(settings, name, replicas=replicas))
        for name in LOGICAL_INDICES
    ]


async def missing_indices(client: AsyncOpenSearch, settings: Settings) -> list[str]:
    missing = []
    for logical in LOGICAL_INDICES:
        alias = settings.index_name(logical)
        if not await client.indices.exists_alias(name=alias):
            missing.append(alias)
    return missing


async def drop_indices(client: AsyncOpenSearch, settings: Settings) -> None:
    """Delete every concrete index under the prefix (tests and `tagtrail reset`)."""
    await client.indices.delete(
        index=f"{settings.index_prefix}-*",
        ignore_unavailable=True,
        allow_no_indices=True,
        expand_wildcards="all",
    )
