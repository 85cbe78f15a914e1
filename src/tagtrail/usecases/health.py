"""Readiness: does OpenSearch answer, do tagtrail's indices exist, is the model loaded."""

from __future__ import annotations

import msgspec

from tagtrail.errors import TagtrailError
from tagtrail.usecases.services import Services


class Readiness(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    status: str  # ready or unavailable
    opensearch: str
    opensearch_version: str | None = None
    pipeline: str | None = None
    reason: str | None = None
    missing: list[str] | None = None


async def readiness(services: Services) -> Readiness:
    url = services.store.url
    try:
        info = await services.store.info()
        missing = await services.store.missing_indices()
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
    return Readiness(
        status="ready",
        opensearch=url,
        opensearch_version=info.get("version", {}).get("number"),
        pipeline=services.pipeline_state,
    )
