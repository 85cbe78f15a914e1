"""Plain HTTP endpoints besides GraphQL: image ingest (multipart upload)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import Body
from litestar.response import Response

from tagtrail.api.auth import Principal, require
from tagtrail.api.dto import UploadOut, asset_out
from tagtrail.domain.metadata import parse_metadata
from tagtrail.errors import InvalidInput
from tagtrail.usecases.services import Services
from tagtrail.usecases.upload import parse_metadata_json, upload

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@dataclass
class AssetUpload:
    image: UploadFile
    metadata: str | None = None


@post(
    "/assets",
    status_code=201,
    summary="Upload one product photo",
    responses={},
    tags=["assets"],
)
async def create_asset(
    services: Services,
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
    try:  # fail fast, naming the field, before the image is read and tagged
        parse_metadata(metadata)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=f"metadata.{exc.field or ''}".rstrip(".")) from exc
    payload = await data.image.read()
    result = await upload(services, payload, data.image.filename or "upload", metadata)
    body = UploadOut(
        status="created" if result.status == "created" else "exists", asset=asset_out(result.asset)
    )
    return Response(body, status_code=201 if result.status == "created" else 200)


def rest_handlers() -> list[Any]:
    return [create_asset]
