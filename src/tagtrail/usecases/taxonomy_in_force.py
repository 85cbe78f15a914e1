"""One taxonomy in force per deployment, stored in OpenSearch and followed by every server.

A process never trusts its own ``TAGTRAIL_TAXONOMY_DIR`` over the store: on a fresh store
the first server, ``init-indices`` or ingest seeds the version in force from its folder
(never preview or apply: a new folder must not become the baseline it is compared with);
from then on every process parses the stored version, says in its log when its folder
differs, and re-reads the pointer at most every ``TAGTRAIL_TAXONOMY_REFRESH_S`` seconds, so a
``taxonomy apply`` made anywhere reaches every server (which then refuses retired values).
A change (preview or apply) always starts from the stored version in force. Apply waits
one refresh interval after moving the pointer before it migrates, and a decision onto an
asset carried into a version this process has not followed yet is refused (``confirm``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path

import msgspec

from tagtrail.config import Settings
from tagtrail.domain.records import utc_now
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.migrations import Migrations
from tagtrail.domain.taxonomy.source import TaxonomySource
from tagtrail.errors import ConfigError, Conflict, InvalidInput, StoreUnavailable, TagtrailError
from tagtrail.store import InForce, Store, TaxonomyChange
from tagtrail.tagging.taxonomy_files import (
    load_taxonomy,
    load_taxonomy_source,
    taxonomy_from_source,
)

log = logging.getLogger(__name__)


class TaxonomyInForce:
    """One process's view of the deployment's taxonomy in force."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._taxonomy: Taxonomy | None = None
        self._checked = 0.0
        self._lock = asyncio.Lock()
        self._folder_compared = False
        # Versions an asset may be in that the pointer showed are not newer than the one in
        # force (which one, versions): cleared at every pointer read.
        self._older: tuple[str | None, set[str]] = (None, set())

    async def current(self) -> Taxonomy:
        """The version in force, re-read from the store when the refresh interval passed."""
        taxonomy = self._taxonomy
        if taxonomy is not None and not self._due():
            return taxonomy
        async with self._lock:  # concurrent first callers share one read
            if self._taxonomy is not None and not self._due():
                return self._taxonomy
            self._taxonomy = await self._follow(self._taxonomy)
            return self._taxonomy

    @property
    def followed(self) -> str | None:
        """The version this process uses now (None before its first read)."""
        return self._taxonomy.version if self._taxonomy is not None else None

    def expire(self) -> None:
        """Re-read the pointer on next use (this process just moved it)."""
        self._checked = -math.inf

    def _due(self) -> bool:
        ttl = self.settings.taxonomy_refresh_s
        if self._checked == -math.inf:  # expired: re-read even when refresh is off (0)
            return True
        return ttl > 0 and time.monotonic() - self._checked >= ttl

    async def _follow(self, current: Taxonomy | None) -> Taxonomy:
        try:
            state = await self.store.taxonomies.in_force()
        except StoreUnavailable:
            if current is None:
                raise
            self._checked = time.monotonic()  # the store is away: keep what we have
            return current
        self._checked = time.monotonic()
        self._older = (None, set())
        if state is None:  # indices not initialised: nothing to share yet
            if current is not None:
                return current
            log.warning(
                "no %s index (run `tagtrail init-indices`): using the taxonomy folder %s",
                self.store.taxonomies.index,
                self._folder,
            )
            return await asyncio.to_thread(load_taxonomy, self._folder)
        if current is not None and state.version == current.version:
            return current
        found = await (self._seed(state) if state.version is None else self.stored(state.version))
        await self._compare_folder(found)
        if current is not None:
            log.info("taxonomy in force moved: %s -> %s", current.version, found.version)
        return found

    @property
    def _folder(self) -> Path:
        return Path(self.settings.taxonomy_dir)

    async def _seed(self, state: InForce) -> Taxonomy:
        """A fresh store: this process's folder becomes the version in force."""
        taxonomy, source = await asyncio.to_thread(load_taxonomy_source, self._folder)
        await self.store.taxonomies.save(source, at=utc_now(), by="seed")
        try:
            await self.store.taxonomies.move(
                state, taxonomy.version, replaces=None, applying=False, at=utc_now(), by="seed"
            )
        except Conflict:  # another process seeded first: follow it
            again = await self.store.taxonomies.in_force()
            if again is None or again.version is None:
                raise
            return await self.stored(again.version)
        self._folder_compared = True  # it is the folder
        log.info("taxonomy %s from %s is now in force", taxonomy.version, self._folder)
        return taxonomy

    async def stored(self, version: str) -> Taxonomy:
        """A stored taxonomy version, parsed."""
        if self._taxonomy is not None and self._taxonomy.version == version:
            return self._taxonomy
        source = await self.store.taxonomies.source(version)
        if source is None:
            raise ConfigError(
                f"taxonomy {version} is in force but its files are not stored in "
                f"{self.store.taxonomies.index}: apply its folder again (`tagtrail taxonomy apply`)"
            )
        return await asyncio.to_thread(taxonomy_from_source, source)

    async def _compare_folder(self, in_force: Taxonomy) -> None:
        """Once per process: say so when the folder it was started with is not in force."""
        if self._folder_compared:
            return
        self._folder_compared = True
        try:
            local = await asyncio.to_thread(load_taxonomy, self._folder)
        except TagtrailError as exc:
            log.warning(
                "TAGTRAIL_TAXONOMY_DIR=%s is not a valid taxonomy (%s); taxonomy %s, "
                "stored in OpenSearch, is in force",
                self._folder,
                exc.message,
                in_force.version,
            )
            return
        if local.version != in_force.version:
            log.warning(
                "TAGTRAIL_TAXONOMY_DIR=%s holds taxonomy %s, but %s is in force for this "
                "deployment (stored in OpenSearch): using %s. `tagtrail taxonomy apply "
                "%s` would put the folder's version in force",
                self._folder,
                local.version,
                in_force.version,
                in_force.version,
                self._folder,
            )

    async def state(self) -> InForce:
        """The pointer, in real time. Never seeds: with nothing in force yet, a change
        would take its own new folder as the baseline and find nothing to migrate."""
        state = await self.store.taxonomies.in_force()
        if state is None or state.version is None:
            raise ConfigError(
                f"no taxonomy is in force yet ({self.store.taxonomies.index} holds none): "
                "start a server, or run `tagtrail init-indices`, with TAGTRAIL_TAXONOMY_DIR "
                "set to the folder the catalogue was tagged with; then preview or apply again"
            )
        return state

    def follows(self, carried: object, taxonomy: Taxonomy) -> bool:
        """Whether a write validated against ``taxonomy`` may go onto an asset last carried
        into taxonomy ``carried`` without reading the pointer first (see ``confirm``)."""
        if not isinstance(carried, str) or carried == taxonomy.version:
            return True
        known, older = self._older
        return known == taxonomy.version and carried in older

    async def confirm(self, carried: str, taxonomy: Taxonomy) -> None:
        """An asset was carried into another version than ``taxonomy``: older (fine), or a
        newer one this process has not followed yet (refresh window). The pointer says
        which; Conflict naming the version in force when this process is behind."""
        state = await self.store.taxonomies.in_force()
        if state is not None and state.version not in (None, taxonomy.version):
            self.expire()  # the caller's retry validates against the version in force
            raise Conflict(
                f"taxonomy {state.version} is in force, but this server still used "
                f"{taxonomy.version} (the asset is in taxonomy {carried}): reload the asset "
                "and decide again"
            )
        if self.settings.taxonomy_refresh_s <= 0:
            return  # never re-read, so never cleared: ask the pointer every time
        known, older = self._older
        # Only until the next pointer read: a later apply could carry assets anywhere.
        self._older = (taxonomy.version, (older if known == taxonomy.version else set()))
        self._older[1].add(carried)


class ChangeStart(msgspec.Struct, kw_only=True, frozen=True):
    """Where a taxonomy change starts: the taxonomy it migrates from, and the pointer."""

    old: Taxonomy
    state: InForce


async def change_start(keeper: TaxonomyInForce, new: Taxonomy) -> ChangeStart:
    """The stored version in force — or, while an apply to ``new`` is unfinished, the
    version that apply replaces, so running it again resumes it. Never the folder."""
    state = await keeper.state()
    if state.applying and state.version != new.version:
        raise InvalidInput(
            f"the apply of taxonomy {state.version} (replacing {state.replaces}) is unfinished: "
            f"run `tagtrail taxonomy apply` with that folder again to finish it first",
            field="directory",
        )
    origin = state.replaces if state.applying and state.replaces else state.version
    assert origin is not None  # state() refuses a pointer without a version
    return ChangeStart(old=await keeper.stored(origin), state=state)


async def begin_apply(
    keeper: TaxonomyInForce,
    start: ChangeStart,
    source: TaxonomySource,
    *,
    by: str = "cli",
    new: Taxonomy | None = None,
    migrations: Migrations | None = None,
) -> InForce | None:
    """Put the new version in force before migrating (servers refuse retired values from
    then on), marked unfinished, with a record of the change (``new``'s attribute versions
    and its ``migrations``). Conflict when another apply moved the pointer since ``start``.
    None when the version is in force already and nothing is unfinished."""
    state = start.state
    if not state.applying and state.version == source.version:
        return None
    await keeper.store.taxonomies.save(source, at=utc_now(), by=by)
    if state.applying and state.version == source.version:
        last = state.last_change  # resuming: the change was recorded by the first run
    else:
        # One id per pointer state: two applies racing from it record the same id, and
        # only the one that moves the pointer (below) has its record linked.
        last = f"change:{state.seq_no}:{state.primary_term}:{source.version}"
        await keeper.store.taxonomies.record_change(
            TaxonomyChange(
                id=last,
                version=source.version,
                replaces=start.old.version,
                previous=state.last_change,
                created_at=utc_now(),
                steps=migrations.steps if migrations else (),
                attribute_versions=dict(new.attribute_versions) if new else {},
            )
        )
    marked = await keeper.store.taxonomies.move(
        state,
        source.version,
        replaces=start.old.version,
        applying=True,
        at=utc_now(),
        by=by,
        last_change=last,
    )
    keeper.expire()
    return marked


async def finish_apply(keeper: TaxonomyInForce, marked: InForce, *, by: str = "cli") -> None:
    """Every asset migrated: the apply is finished (Conflict when another run took over)."""
    assert marked.version is not None
    await keeper.store.taxonomies.move(
        marked,
        marked.version,
        replaces=marked.replaces,
        applying=False,
        at=utc_now(),
        by=by,
        last_change=marked.last_change,
    )
    keeper.expire()


def follow_wait_s(settings: Settings) -> float:
    """How long after the pointer moved every server must have followed it: one refresh
    interval, plus the longest a request that read the old version may still run (or
    ``TAGTRAIL_TAXONOMY_APPLY_WAIT_S`` when set)."""
    if settings.taxonomy_apply_wait_s is not None:
        return settings.taxonomy_apply_wait_s
    return max(settings.taxonomy_refresh_s, 0.0) + settings.request_timeout_s


async def wait_for_servers(keeper: TaxonomyInForce, marked: InForce) -> float:
    """After ``begin_apply``: wait until no server can still write a value of the old
    version, so no asset is migrated while one could write an old value onto it."""
    wait = follow_wait_s(keeper.settings)
    if keeper.settings.taxonomy_refresh_s <= 0:
        log.warning(
            "TAGTRAIL_TAXONOMY_REFRESH_S=0: servers follow taxonomy %s only when "
            "restarted or when a decision finds an asset already migrated (that one "
            "is refused as a conflict)",
            marked.version,
        )
    log.info(
        "taxonomy %s is in force (apply unfinished): waiting %.1f s for every server to "
        "follow it before migrating",
        marked.version,
        wait,
    )
    await asyncio.sleep(wait)
    return wait
