"""REST answers in the public shape: the same field names and meaning as GraphQL's types.

The tag DTO *is* the domain's :class:`~tagtrail.domain.records.Tag` with camelCase names
(inherited, not copied), so REST, GraphQL and the stored projection cannot drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import msgspec

from tagtrail.domain.asset import Asset, FieldValue
from tagtrail.domain.records import Tag


def camel_case_copy(struct: type[msgspec.Struct], name: str) -> type[msgspec.Struct]:
    """``struct``'s fields, types and defaults under camelCase names (msgspec's ``rename``
    does not reach inherited fields, so the copy is made field by field, mechanically)."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(struct):
        if f.required:
            fields.append((f.name, f.type))
        elif f.default_factory is not msgspec.NODEFAULT:
            fields.append((f.name, f.type, msgspec.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, f.type, f.default))
    return msgspec.defstruct(
        name, fields, kw_only=True, frozen=True, rename="camel", module=__name__
    )


if TYPE_CHECKING:
    TagOut = Tag
else:
    #: The effective tag of one attribute (GraphQL ``Tag``): the domain record, camelCased.
    TagOut = camel_case_copy(Tag, "TagOut")


class AssetOut(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """A product photo with its metadata and effective tags (GraphQL ``Asset``)."""

    id: str
    revision: int
    sku: str | None = None
    brand: str | None = None
    collection: str | None = None
    season: str | None = None
    season_year: int | None = None
    photographer: str | None = None
    shoot_date: str | None = None
    filename: str | None = None
    width: int | None = None
    height: int | None = None
    ingested_at: str | None = None
    taxonomy_version: str | None = None
    model_fingerprint: str | None = None
    pending_count: int = 0
    fields: dict[str, FieldValue] | None = None
    tags: list[TagOut] = []


class UploadOut(msgspec.Struct, kw_only=True, frozen=True):
    """``created``: the asset was new; ``exists``: these exact bytes were stored before."""

    status: Literal["created", "exists"]
    asset: AssetOut


class ErrorOut(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    error: str
    message: str
    field: str | None = None


_ASSET_FIELDS = {f.name for f in msgspec.structs.fields(AssetOut)} - {"id", "tags", "fields"}


def asset_out(asset: Asset) -> AssetOut:
    known = {k: v for k in _ASSET_FIELDS if (v := getattr(asset, k)) is not None}
    return AssetOut(
        id=asset.asset_id,
        tags=[TagOut(**msgspec.structs.asdict(t)) for t in asset.tags],
        fields=dict(asset.fields) or None,
        **known,
    )
