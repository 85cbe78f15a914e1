"""Operating the store from the CLI: index mappings, counts, refresh, the demo catalogue."""

from __future__ import annotations

from pathlib import Path

from tagtrail.config import Settings
from tagtrail.demo.catalogue import CatalogueItem, generate_catalogue
from tagtrail.store import IndexState
from tagtrail.tagging.taxonomy_files import load_palette
from tagtrail.usecases.services import Services


async def init_indices(services: Services) -> list[IndexState]:
    """Apply the index mappings (idempotent; a newer mapping version is reindexed into),
    and on a store with no taxonomy in force yet put ``TAGTRAIL_TAXONOMY_DIR`` in force
    (an upgraded deployment: the folder its catalogue was tagged with)."""
    states = await services.store.ensure_indices()
    await services.taxonomy_in_force.current()
    return states


async def asset_count(services: Services) -> int:
    return await services.store.search.count()


async def make_searchable(services: Services) -> None:
    """Refresh once at the end of a batch job, so its writes are searchable at once."""
    await services.store.refresh()


def write_demo_catalogue(
    settings: Settings, count: int, directory: Path, *, seed: int = 0
) -> list[CatalogueItem]:
    palette = load_palette(Path(settings.taxonomy_dir) / "colours.yaml")
    return generate_catalogue(count, directory, palette=palette, seed=seed)
