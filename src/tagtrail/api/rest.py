"""Plain HTTP endpoints besides GraphQL: image ingest (multipart upload)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body
from litestar.response import Response

from tagtrail.api.auth import Principal, require
from tagtrail.api.dto import ErrorOut, UploadOut, asset_out
from tagtrail.usecases.thumbnails import Thumbnails
from tagtrail.usecases.upload import Uploads, parse_metadata_json

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@dataclass
class AssetUpload:
    image: UploadFile
    metadata: str | None = None


@post(
    "/assets",
    status_code=201,
    summary="Upload one product photo",
    tags=["assets"],
    responses={
        200: ResponseSpec(UploadOut, description="These exact bytes were stored before"),
        400: ResponseSpec(ErrorOut, description="Unusable image or metadata (field named)"),
        401: ResponseSpec(ErrorOut, description="No API key, or an unknown one"),
        403: ResponseSpec(ErrorOut, description="The key's role is below reviewer"),
        503: ResponseSpec(ErrorOut, description="OpenSearch unreachable; see Retry-After"),
    },
)
async def create_asset(
    uploads: Uploads,
    principal: Principal | None,
    data: Annotated[
        AssetUpload,
        Body(
            media_type=RequestEncodingType.MULTI_PART,
            description="form field `image` (the file) and `metadata` (a JSON object: sku, "
            "brand, collection, photographer, shoot_date, ...)",
            examples=[Example(summary="metadata", value={"metadata": '{"sku": "NW-1001"}'})],
        ),
    ],
) -> Response[UploadOut]:
    """Ingest one product photo (needs a reviewer key).

    201 with the new asset and its tags; 200 with the stored asset when these exact bytes
    were ingested before; 400 naming the problem when the image or metadata is unusable;
    503 with Retry-After when OpenSearch cannot be reached.
    """
    require(principal, "reviewer")
    metadata = parse_metadata_json(data.metadata)
    payload = await data.image.read()
    result = await uploads.upload(payload, data.image.filename or "upload", metadata)
    body = UploadOut(
        status="created" if result.status == "created" else "exists", asset=asset_out(result.asset)
    )
    return Response(body, status_code=201 if result.status == "created" else 200)


# A thumbnail never changes for an asset id (the id is the hash of the original's bytes), but
# it sits behind an API key: browsers may keep it for a year, shared caches may not.
THUMBNAIL_CACHE = "private, max-age=31536000, immutable"


@get(
    "/assets/{asset_id:str}/thumbnail",
    summary="An asset's thumbnail (WebP, at most 384 px)",
    tags=["assets"],
    media_type="image/webp",
    responses={
        304: ResponseSpec(None, description="If-None-Match matched the ETag: keep your copy"),
        401: ResponseSpec(ErrorOut, description="No API key, or an unknown one"),
        404: ResponseSpec(ErrorOut, description="No such asset, or no thumbnail kept for it"),
        503: ResponseSpec(ErrorOut, description="OpenSearch unreachable; see Retry-After"),
    },
)
async def asset_thumbnail(
    request: Request[Any, Any, Any],
    thumbnails: Thumbnails,
    principal: Principal | None,
    asset_id: str,
) -> Response[bytes]:
    """The small WebP kept at ingest (EXIF-rotated, sRGB); needs a viewer key.

    `ETag` is the sha256 of the bytes; `If-None-Match` with it answers 304. 404 when the
    asset is unknown or was ingested before thumbnails were kept (ingest its file again).
    """
    require(principal, "viewer")
    thumb = await thumbnails.get(asset_id)
    etag = f'"{thumb.etag}"'
    headers = {"ETag": etag, "Cache-Control": THUMBNAIL_CACHE}
    match = request.headers.get("if-none-match", "")
    if etag in {t.strip().removeprefix("W/") for t in match.split(",")} or match.strip() == "*":
        return Response(b"", status_code=304, headers=headers)
    return Response(thumb.data, media_type=thumb.media_type, headers=headers)


def rest_handlers() -> list[Any]:
    return [create_asset, asset_thumbnail]
