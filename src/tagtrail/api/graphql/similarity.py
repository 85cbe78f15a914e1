"""similarAssets: filtered k-NN by asset, by text or by an uploaded photo.

The filter goes *inside* the Lucene k-NN query (efficient filtering), so k results come back
whenever k assets pass the filter — a post-filter would silently return fewer. ``score`` is
OpenSearch's cosine score, (1 + cos) / 2 in [0, 1]; ``minScore`` is a floor on it.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.errors import InvalidInputError, NotFoundError, error_result
from tagtrail.api.graphql.inputs import AssetFilterInput, to_filter
from tagtrail.api.graphql.types import Asset
from tagtrail.domain.asset import Hit
from tagtrail.errors import InvalidInput, NotFound
from tagtrail.usecases.similarity import MAX_UPLOAD_BYTES


@strawberry.input(
    one_of=True,
    description="Exactly one: an asset's stored vector, a text "
    "(CLIP text embedding) or an image upload (multipart request).",
)
class SimilarBy:
    asset_id: strawberry.ID | None = strawberry.UNSET
    text: str | None = strawberry.UNSET
    image: Upload | None = strawberry.UNSET


@strawberry.type
class SimilarHit:
    score: float = strawberry.field(description="(1 + cosine) / 2")
    cosine: float
    asset: Asset


@strawberry.type
class SimilarAssets:
    hits: list[SimilarHit]
    k: int


SimilarResult = Annotated[
    SimilarAssets | NotFoundError | InvalidInputError, strawberry.union("SimilarResult")
]


def hits_from(hits: list[Hit]) -> list[SimilarHit]:
    return [
        SimilarHit(score=score, cosine=2.0 * score - 1.0, asset=Asset.from_record(h.asset))
        for h in hits
        if (score := h.score) is not None
    ]


async def _read_upload(upload: Any) -> bytes:
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if not isinstance(data, bytes):
        raise InvalidInput("image must be a file upload", field="by.image")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"image is larger than {MAX_UPLOAD_BYTES} bytes", field="by.image")
    return data


async def query_vector(info: Info, by: SimilarBy) -> tuple[list[float], str | None]:
    """The query vector, and the asset id to exclude (the query asset itself)."""
    runtime = info.context.runtime
    if by.asset_id is not None and by.asset_id is not strawberry.UNSET:
        asset_id = str(by.asset_id)
        return await runtime.query_vectors.of_asset(asset_id), asset_id
    if by.text is not None and by.text is not strawberry.UNSET:
        return await runtime.query_vectors.of_text(by.text), None
    if by.image:
        data = await _read_upload(by.image)
        name = getattr(by.image, "filename", None) or "upload"
        return await runtime.query_vectors.of_image(data, name), None
    raise InvalidInput("by needs one of assetId, text or image", field="by")


async def similar_assets(
    info: Info,
    by: SimilarBy,
    filter: AssetFilterInput | None = None,
    k: int = 10,
    min_score: Annotated[
        float | None,
        strawberry.argument(description="Drop hits scoring below this (score = (1 + cosine) / 2)"),
    ] = None,
    include_suggested: bool = False,
) -> SimilarResult:
    ctx = info.context
    ctx.require("viewer")
    try:
        if not 1 <= k <= ctx.settings.max_page_size:
            raise InvalidInput(f"k must be 1..{ctx.settings.max_page_size}", field="k")
        if min_score is not None and not 0.0 <= min_score <= 1.0:
            raise InvalidInput("minScore must be within [0, 1]", field="minScore")
        taxonomy = await ctx.runtime.taxonomy.current()
        vector, exclude = await query_vector(info, by)
        f = to_filter(filter, taxonomy, exclude_ids=(exclude,) if exclude else ())
        hits = await ctx.runtime.search.nearest(
            vector,
            k,
            f,
            min_score=min_score,
            include_suggested=include_suggested,
        )
        return SimilarAssets(hits=hits_from(hits), k=k)
    except (InvalidInput, NotFound) as exc:
        return error_result(exc, id=str(by.asset_id) if by.asset_id else None)  # type: ignore[return-value]
