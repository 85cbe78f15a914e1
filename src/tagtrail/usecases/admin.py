"""Operating the store from the CLI: index mappings, counts, refresh, the demo catalogue."""

from __future__ import annotations

from pathlib import Path

from tagtrail.config import Settings
from tagtrail.demo.catalogue import CatalogueItem, generate_catalogue
from tagtrail.store import IndexState, Store
from tagtrail.tagging.taxonomy_files import load_palette
from tagtrail.usecases.reproject import ReprojectReport, reproject
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce


class Admin:
    def __init__(self, store: Store, taxonomy: TaxonomyInForce) -> None:
        self._store = store
        self._taxonomy = taxonomy

    async def ensure_indices(self) -> list[IndexState]:
        """Apply the index mappings (idempotent; a newer mapping version is reindexed into)."""
        return await self._store.ensure_indices()

    async def init_indices(self) -> list[IndexState]:
        """Apply the index mappings (idempotent; a newer mapping version is reindexed
        into), and on a store with no taxonomy in force yet put ``TAGTRAIL_TAXONOMY_DIR``
        in force (an upgraded deployment: the folder its catalogue was tagged with)."""
        states = await self._store.ensure_indices()
        await self._taxonomy.current()
        return states

    async def asset_count(self) -> int:
        return await self._store.search.count()

    async def make_searchable(self) -> None:
        """Refresh once at the end of a batch job, so its writes are searchable at once."""
        await self._store.refresh()

    async def reproject(self, asset_ids: list[str] | None = None) -> ReprojectReport:
        """Rebuild asset documents from their events (all assets when ``asset_ids`` is None)."""
        return await reproject(self._store, asset_ids)


def write_demo_catalogue(
    settings: Settings, count: int, directory: Path, *, seed: int = 0
) -> list[CatalogueItem]:
    palette = load_palette(Path(settings.taxonomy_dir) / "colours.yaml")
    return generate_catalogue(count, directory, palette=palette, seed=seed)
