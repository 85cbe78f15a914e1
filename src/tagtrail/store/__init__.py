"""Storage: the only package that talks to OpenSearch.

:class:`Store` bundles the repositories of one deployment: ``assets`` (documents, the
healing write protocol), ``events`` (the append-only log) and ``search`` (faceted search and
k-NN), plus index management. Outages surface as :class:`~tagtrail.errors.StoreUnavailable`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.store.assets import AssetRepository, IngestWrite, NewAsset, StoredAsset
from tagtrail.store.audits import AuditRepository
from tagtrail.store.batch import Build, apply_batch
from tagtrail.store.client import make_client
from tagtrail.store.events import EventLog
from tagtrail.store.head_events import HeadEventLog, HeadEventPage
from tagtrail.store.heads import AliasState, HeadDocument, HeadRepository, Promotion
from tagtrail.store.indices import IndexState, drop_indices, ensure_indices, missing_indices
from tagtrail.store.leases import Lease, LeaseHolder, LeaseRepository
from tagtrail.store.quality import QualityIndex
from tagtrail.store.search import SearchIndex
from tagtrail.store.taxonomies import InForce, TaxonomyChange, TaxonomyRepository
from tagtrail.store.thumbnails import ThumbnailRepository

__all__ = [
    "AliasState",
    "AssetRepository",
    "AuditRepository",
    "EventLog",
    "HeadDocument",
    "HeadEventLog",
    "HeadEventPage",
    "HeadRepository",
    "InForce",
    "IndexState",
    "IngestWrite",
    "Lease",
    "LeaseHolder",
    "LeaseRepository",
    "NewAsset",
    "Promotion",
    "QualityIndex",
    "SearchIndex",
    "Store",
    "StoredAsset",
    "TaxonomyChange",
    "TaxonomyRepository",
    "ThumbnailRepository",
]


class Store:
    def __init__(
        self,
        settings: Settings,
        client: AsyncOpenSearch | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        """``on_error`` is told the kind of each failed request (metrics) on the client
        made here; a client passed in keeps its own observer."""
        self.settings = settings
        self.client = client or make_client(settings, on_error=on_error)
        self.events = EventLog(self.client, settings)
        self.assets = AssetRepository(self.client, settings, self.events)
        self.search = SearchIndex(self.client, settings)
        self.quality = QualityIndex(self.client, settings)
        self.heads = HeadRepository(self.client, settings)
        self.head_events = HeadEventLog(self.client, settings)
        self.leases = LeaseRepository(self.client, settings)
        self.audits = AuditRepository(self.client, settings)
        self.thumbnails = ThumbnailRepository(self.client, settings)
        self.taxonomies = TaxonomyRepository(self.client, settings)

    @property
    def url(self) -> str:
        return self.settings.opensearch_display_url  # never with user:password

    async def info(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.client.info()
        return result

    async def ensure_indices(self) -> list[IndexState]:
        return await ensure_indices(self.client, self.settings)

    async def missing_indices(self) -> list[str]:
        return await missing_indices(self.client, self.settings)

    async def drop_indices(self) -> None:
        await drop_indices(self.client, self.settings)

    async def apply_batch(self, plans: Sequence[tuple[str, int, Build]]) -> dict[str, str]:
        """Next revisions of many assets in three bulk requests (see :mod:`.batch`)."""
        return await apply_batch(self.assets, plans)

    async def refresh(self) -> None:
        """Make every write searchable now (batch jobs at their end; never per request)."""
        await self.client.indices.refresh(
            index=[self.assets.index, self.events.index], ignore_unavailable=True
        )

    async def close(self) -> None:
        await self.client.close()
