"""The composition root: every long-lived part of one process, built once and wired here.

Each use case declares what it needs in its constructor (repositories, the taxonomy in
force, the tagger provider, the inference and training workers, settings) and gets exactly
that; the HTTP app hands them to handlers through Litestar's dependency injection and the
GraphQL context, the CLI through ``async with Runtime(settings) as runtime``. Nothing heavy
happens here: the vision model loads on first use (or at server start-up, :meth:`warm_up`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from types import TracebackType

from tagtrail.config import Settings
from tagtrail.store import Store
from tagtrail.store.client import request_share
from tagtrail.usecases.admin import Admin
from tagtrail.usecases.assets import AssetReads
from tagtrail.usecases.audits import Audits
from tagtrail.usecases.cadence import Cadence
from tagtrail.usecases.explain import Explain
from tagtrail.usecases.head_history import HeadHistory
from tagtrail.usecases.heads import Heads
from tagtrail.usecases.health import Health
from tagtrail.usecases.ingest import Ingest
from tagtrail.usecases.metrics import Metrics
from tagtrail.usecases.quality import QualityGauges, QualityReports
from tagtrail.usecases.retagging import Retag
from tagtrail.usecases.review import Review
from tagtrail.usecases.search import Search
from tagtrail.usecases.shadow import Shadow
from tagtrail.usecases.similarity import QueryVectors
from tagtrail.usecases.tagger_provider import TaggerProvider
from tagtrail.usecases.taxonomy import TaxonomyDescriptions
from tagtrail.usecases.taxonomy_change import TaxonomyChanges
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce
from tagtrail.usecases.thumbnails import Thumbnails
from tagtrail.usecases.upload import Uploads
from tagtrail.usecases.workers import Worker


class Runtime:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        s = self.settings = settings
        self.metrics = Metrics()  # this deployment's Prometheus collectors (/metrics)
        self.store = store or Store(settings, on_error=self.metrics.store_error)
        store = self.store
        self.inference = Worker("inference")  # forward passes
        self.training = Worker("training")  # heads and calibrations: never ahead of uploads
        self.taxonomy = TaxonomyInForce(store, settings)
        self.tagging = TaggerProvider(settings, store.heads, self.taxonomy, self.inference)
        minimum = s.repropose_min_probability
        # The use cases.
        self.admin = Admin(store, self.taxonomy)
        self.health = Health(store, self.taxonomy, self.tagging)
        self.assets = AssetReads(store.assets, store.events)
        self.thumbnails = Thumbnails(store.assets, store.thumbnails, s.thumbnail_cache_mb << 20)
        self.ingest = Ingest(
            store.assets, store.thumbnails, self.tagging, self.inference, self.metrics
        )
        self.uploads = Uploads(self.ingest, store.assets, self.metrics, batch_size=s.batch_size)
        self.review = Review(store, self.taxonomy, self.metrics, max_bulk_assets=s.max_bulk_assets)
        self.search = Search(
            store.search, self.taxonomy, self.tagging, self.inference, holdout_share=s.holdout_share
        )
        self.query_vectors = QueryVectors(store.assets, self.tagging, self.inference)
        self.explain = Explain(store.assets, store.events, self.taxonomy, self.search)
        self.taxonomy_descriptions = TaxonomyDescriptions(self.taxonomy)
        self.head_history = HeadHistory(store, settings)
        self.heads = Heads(store, self.tagging, self.training, settings, self.head_history)
        self.shadow = Shadow(store, self.taxonomy, self.tagging)
        self.audits = Audits(store, max_page_size=s.max_page_size)
        self.quality = QualityReports(store, self.taxonomy)
        self.quality_gauges = QualityGauges(store, self.metrics)
        self.retag = Retag(store, self.tagging, self.inference, repropose_min_probability=minimum)
        self.taxonomy_changes = TaxonomyChanges(
            store, self.taxonomy, self.tagging, self.inference, repropose_min_probability=minimum
        )
        # This process's name in leases and head events: host, pid and a random tag (a pid
        # is reused after a restart; the lease must not think the new process is the old).
        holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.cadence = Cadence(
            store, self.heads, self.shadow, self.tagging, settings, holder=holder
        )

    async def warm_up(self) -> None:
        """Load the vision model and build the tagger now (server start-up)."""
        await self.tagging.warm_up()

    def request_share(self) -> contextlib.AbstractContextManager[None]:
        """Work started in this block (one HTTP request) holds at most
        ``opensearch_connections_per_request`` store connections at once."""
        return request_share(self.settings.opensearch_connections_per_request)

    async def close(self) -> None:
        await self.uploads.close()
        self.inference.close()
        self.training.close()
        await self.store.close()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
