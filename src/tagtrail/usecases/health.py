"""Readiness: does OpenSearch answer, do tagtrail's indices exist, is the model loaded."""

from __future__ import annotations

import msgspec

from tagtrail.errors import TagtrailError
from tagtrail.store import Store
from tagtrail.usecases.tagger_provider import TaggerProvider
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce


class Readiness(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    status: str  # ready or unavailable
    opensearch: str
    opensearch_version: str | None = None
    pipeline: str | None = None
    reason: str | None = None
    missing: list[str] | None = None
    # The deployment's taxonomy in force (stored in OpenSearch) and, while an apply is
    # still migrating the catalogue, true; this server's own version while it differs.
    taxonomy_in_force: str | None = None
    taxonomy_apply_unfinished: bool = False
    taxonomy_this_server: str | None = None


class Health:
    def __init__(self, store: Store, taxonomy: TaxonomyInForce, tagging: TaggerProvider) -> None:
        self._store = store
        self._taxonomy = taxonomy
        self._tagging = tagging

    async def readiness(self) -> Readiness:
        url = self._store.url
        try:
            info = await self._store.info()
            missing = await self._store.missing_indices()
            in_force = None if missing else await self._store.taxonomies.in_force()
        except TagtrailError as exc:  # StoreUnavailable: said plainly
            return Readiness(
                status="unavailable",
                opensearch=url,
                reason=f"OpenSearch at {url} cannot answer: {exc.message}",
            )
        if missing:
            return Readiness(
                status="unavailable",
                opensearch=url,
                reason=f"indices missing: {', '.join(missing)}",
                missing=missing,
            )
        version = in_force.version if in_force else None
        followed = self._taxonomy.followed
        return Readiness(
            status="ready",
            opensearch=url,
            opensearch_version=info.get("version", {}).get("number"),
            pipeline=self._tagging.state,
            taxonomy_in_force=version,
            taxonomy_apply_unfinished=bool(in_force and in_force.applying),
            taxonomy_this_server=followed if followed != version else None,
        )
