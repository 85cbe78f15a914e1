"""Output types: assets, their tags and their tag history.

Assets are built from the stored document (``_source`` without the vector). Everything an
asset shows comes from that one projection document, except ``history`` and
``embedding.values``, which are loaded on demand through the per-request DataLoaders.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

import strawberry
from strawberry.scalars import JSON

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.records import object_type
from tagtrail.domain.asset import Asset as AssetRecord
from tagtrail.domain.projection import disagrees
from tagtrail.domain.records import LabelScore as LabelScoreRecord
from tagtrail.domain.records import Tag as TagRecord
from tagtrail.domain.records import TagEvent
from tagtrail.usecases.thumbnails import Thumbnail

F = TypeVar("F", bound=Callable[..., Any])


def described(description: str) -> Callable[[F], F]:
    """``@described(...)`` with its type kept (mypy --strict sees ``Any``)."""
    return cast(Callable[[F], F], strawberry.field(description=description))


def _disagreement(root: TagRecord) -> bool:
    return disagrees(root)


if TYPE_CHECKING:
    Tag = TagRecord
else:
    Tag = object_type(
        TagRecord,
        name="Tag",
        description="The effective tag of one attribute: a projection of its events.",
        exclude={"proposed_taxonomy_version", "proposed_event_id"},
        fields={
            "slot": "null: the attribute's (primary) value. A multi-valued attribute "
            "(colour, material) holds further values, each its own tag in a slot: pass it as "
            "`slot` to confirmTag/rejectTag/reopenTag/removeTagValue and explainTag",
            "values": "The value with its ancestors (and colour family): what filters match.",
            "tier": "auto_applied, flagged or suggested",
            "state": "auto_applied, flagged, suggested, confirmed, corrected or rejected",
            "source": "model, analyser, human, model_then_human or analyser_then_human",
            "proposed_value": "A newer model's value on a human-decided tag: shown, never applied",
            "margin": "How decisively the machine chose: top-1 minus top-2 probability of the "
            "head (colour: the analyser's ΔE-margin confidence); null when unknown",
            "proposed_margin": "The margin of the newer model's proposal (proposedValue)",
            "reproposal_of": "The rejection (event id) whose value a newer head proposes "
            "again: a suggestion until a human decides again",
        },
        extra={
            "disagreement": strawberry.field(
                resolver=_disagreement,
                description="A human decided this tag and a newer model proposes another value",
            )
        },
    )


if TYPE_CHECKING:
    LabelScore = LabelScoreRecord
else:
    LabelScore = object_type(LabelScoreRecord, name="LabelScore")


@strawberry.type(description="One entry of the append-only tag history (tag_events).")
class TagEventRecord:
    event_id: str
    asset_id: str
    attribute: str
    kind: str = strawberry.field(
        description="model_tagged, confirmed, rejected, corrected, reopened (an undo), "
        "migrated or retired"
    )
    seq: int = strawberry.field(description="The asset revision this event produced")
    at: str
    actor_type: str = strawberry.field(description="model, analyser or human")
    actor_id: str
    state: str
    from_value: str | None = strawberry.field(description="The value before this event")
    to_value: str | None
    probability: float | None
    tier: str | None
    tier_reason: str | None
    rule_id: str | None
    raw_label: str | None
    model_fingerprint: str | None
    head_version: str | None
    analyser: str | None
    taxonomy_version: str | None
    note: str | None

    @classmethod
    def from_event(cls, e: TagEvent, from_value: str | None) -> TagEventRecord:
        return cls(
            event_id=e.event_id,
            asset_id=e.asset_id,
            attribute=e.attribute,
            kind=e.kind,
            seq=e.seq,
            at=e.at,
            actor_type=e.actor.type,
            actor_id=e.actor.id,
            state=e.state,
            from_value=e.previous_value if e.previous_value is not None else from_value,
            to_value=e.value,
            probability=e.probability,
            tier=e.tier,
            tier_reason=e.tier_reason,
            rule_id=e.rule_id,
            raw_label=e.raw_label,
            model_fingerprint=e.actor.model_fingerprint,
            head_version=e.actor.head_version,
            analyser=e.actor.analyser,
            taxonomy_version=e.taxonomy_version,
            note=e.note,
        )


def history_records(events: list[TagEvent], attribute: str | None = None) -> list[TagEventRecord]:
    """Events in order with ``fromValue`` filled from the attribute's running value."""
    last: dict[str, str | None] = {}
    out = []
    for e in events:
        out.append(TagEventRecord.from_event(e, last.get(e.attribute)))
        if e.state != "rejected":
            last[e.attribute] = e.value
        else:
            last[e.attribute] = None
    return [r for r in out if attribute is None or r.attribute == attribute]


@strawberry.type(
    description="The asset's CLIP vector. `values` is only sent when asked for "
    "with includeVector: true (512 floats per asset)."
)
class Embedding:
    asset_id: strawberry.Private[str]
    include: strawberry.Private[bool]
    dimension: int
    model: str | None

    @strawberry.field
    async def values(self, info: Info) -> list[float] | None:
        if not self.include:
            return None
        vector: list[float] | None = await info.context.loaders.vectors.load(self.asset_id)
        return vector


@strawberry.type(
    description="The small WebP kept at ingest (at most 384 px). `url` is the REST endpoint "
    "(cacheable, ETag); `dataUrl` inlines the bytes so a page of results needs no more requests."
)
class AssetThumbnail:
    url: str
    media_type: str
    width: int
    height: int
    etag: str
    data: strawberry.Private[bytes]

    @described("data:image/webp;base64,… (about 4/3 of the bytes: ask only when shown).")
    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


@strawberry.type(description="A product photo with its metadata and effective tags.")
class Asset:
    record: strawberry.Private[AssetRecord]
    id: strawberry.ID
    revision: int = strawberry.field(
        description="Pass as expectedRevision to mutations (optimistic concurrency)."
    )
    sku: str | None
    brand: str | None
    collection: str | None
    season: str | None = strawberry.field(description="SS or FW")
    season_year: int | None
    photographer: str | None
    shoot_date: str | None
    filename: str | None
    width: int | None
    height: int | None
    ingested_at: str | None
    taxonomy_version: str | None = strawberry.field(
        description="The taxonomy the asset was ingested under or last carried into by a "
        "taxonomy change that touched it; each tag records its attribute's own version"
    )
    model_fingerprint: str | None
    pending_count: int

    @classmethod
    def from_record(cls, a: AssetRecord) -> Asset:
        return cls(
            record=a,
            id=strawberry.ID(a.asset_id),
            revision=a.revision,
            sku=a.sku,
            brand=a.brand,
            collection=a.collection,
            season=a.season,
            season_year=a.season_year,
            photographer=a.photographer,
            shoot_date=a.shoot_date,
            filename=a.filename,
            width=a.width,
            height=a.height,
            ingested_at=a.ingested_at,
            taxonomy_version=a.taxonomy_version,
            model_fingerprint=a.model_fingerprint,
            pending_count=a.pending_count,
        )

    @described(
        "Effective tags, optionally only these attributes. "
        "Rejected tags are included (state: rejected) so reviews stay visible."
    )
    def tags(self, attributes: list[str] | None = None) -> list[Tag]:
        wanted = set(attributes) if attributes else None
        return [t for t in self.record.tags if wanted is None or t.attribute in wanted]

    @described(
        "The effective tag of one attribute (its primary value; a further value of a "
        "multi-valued attribute with `slot`), if any."
    )
    def tag(self, attribute: str, slot: str | None = None) -> Tag | None:
        found = self.record.tag(attribute, slot)
        return found

    @described("Tags awaiting review (flagged or suggested).")
    def pending_tags(self, attributes: list[str] | None = None) -> list[Tag]:
        return [t for t in self.tags(attributes) if t.needs_review]

    @described("Human-decided tags a newer model's proposal disagrees with.")
    def disagreements(self, attributes: list[str] | None = None) -> list[Tag]:
        return [t for t in self.tags(attributes) if disagrees(t)]

    @described("Product metadata fields beyond the fixed ones.")
    def fields(self) -> JSON | None:
        return cast(JSON, dict(self.record.fields)) if self.record.fields else None

    @described("The CLIP vector's metadata; the floats only with includeVector: true.")
    def embedding(self, include_vector: bool = False) -> Embedding:
        return Embedding(
            asset_id=str(self.id),
            include=include_vector,
            dimension=512,
            model=self.record.model_fingerprint,
        )

    @described("The thumbnail kept at ingest; null for assets ingested before thumbnails were.")
    async def thumbnail(self, info: Info) -> AssetThumbnail | None:
        thumb: Thumbnail | None = await info.context.loaders.thumbnails.load(str(self.id))
        if thumb is None:
            return None
        return AssetThumbnail(
            url=f"/assets/{quote(str(self.id), safe='')}/thumbnail",
            media_type=thumb.media_type,
            width=thumb.width,
            height=thumb.height,
            etag=thumb.etag,
            data=thumb.data,
        )

    @described("The append-only tag history, oldest first.")
    async def history(self, info: Info, attribute: str | None = None) -> list[TagEventRecord]:
        info.context.require("viewer")
        events: list[TagEvent] = await info.context.loaders.history.load(str(self.id))
        return history_records(events, attribute)
