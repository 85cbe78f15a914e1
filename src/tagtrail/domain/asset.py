"""The asset record: one product photo as stored, at one revision.

The store keeps an asset as an OpenSearch document (``index_mappings/assets``): the photo's
facts, its product metadata, its effective tags (the fold of its events) and the indexes
the projection keeps of them for search. :class:`Asset` is that document's shape, less the
vector (read on its own where similarity needs it); it is what the use cases hand to the
API, so the API never reads a stored document by string keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from tagtrail.domain.records import Tag

#: A free metadata field's value as stored (strings from uploads; older data may differ).
FieldValue = str | int | float | bool | None


class Asset(msgspec.Struct, kw_only=True, frozen=True):
    asset_id: str
    revision: int = 0  # the newest revision whose events the tags fold
    content_hash: str | None = None  # sha-256 of the uploaded bytes
    # The product metadata (see domain/metadata.py); ``fields``: the free ones.
    sku: str | None = None
    brand: str | None = None
    collection: str | None = None
    season: str | None = None
    season_year: int | None = None
    photographer: str | None = None
    shoot_date: str | None = None
    filename: str | None = None
    fields: dict[str, FieldValue] = {}
    # The photo as decoded at ingest.
    format: str | None = None
    width: int | None = None
    height: int | None = None
    byte_size: int | None = None
    ingested_at: str | None = None
    updated_at: str | None = None
    model_fingerprint: str | None = None  # the encoder its vector came from
    model_untrained: bool = False  # a randomly initialised encoder (tests, offline demos)
    taxonomy_version: str | None = None  # ingested under, or last carried into
    tags: tuple[Tag, ...] = ()  # effective tags, by attribute and slot
    # The projection's indexes of the tags, by attribute (expanded under the hierarchy).
    applied: dict[str, list[str]] = {}
    candidates: dict[str, list[str]] = {}
    pending: dict[str, list[str]] = {}
    pending_count: int = 0
    oldest_pending_at: str | None = None
    min_pending_probability: float | None = None

    def tag(self, attribute: str, slot: str | None = None) -> Tag | None:
        """The effective tag of ``attribute`` (a further value's with ``slot``), if any."""
        return next((t for t in self.tags if t.attribute == attribute and t.slot == slot), None)


class Hit(msgspec.Struct, kw_only=True, frozen=True):
    """An asset a search found, with its score and the cursor values of its sort."""

    asset: Asset
    score: float | None = None
    sort: tuple[FieldValue, ...] = ()


def asset_of(document: Mapping[str, Any]) -> Asset:
    """The record of a stored document (its vector, and any field it does not know, left
    out). A document that does not fit is a bug in whoever wrote it: msgspec says where."""
    return msgspec.convert(document, Asset)


def hit_of(raw: Mapping[str, Any]) -> Hit:
    """The record of one OpenSearch hit on the assets index."""
    return Hit(
        asset=asset_of(raw["_source"]), score=raw.get("_score"), sort=tuple(raw.get("sort") or ())
    )
