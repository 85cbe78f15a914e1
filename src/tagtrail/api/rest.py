"""Plain HTTP endpoints besides GraphQL: image ingest (multipart upload)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Request, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Response

from tagtrail.api.auth import Principal, Role, app_keyring, key_from_headers, require
from tagtrail.errors import InvalidInput, NotFound
from tagtrail.services import Services


@dataclass
class AssetUpload:
    image: UploadFile
    metadata: str | None = None


def _authorize(request: Request[Any, Any, Any], role: Role) -> Principal:
    """The caller, when its API key allows ``role``; Unauthorized/Forbidden otherwise."""
    services: Services = request.app.state.services
    ring = app_keyring(request.app.state, services.settings)
    return require(ring.authenticate(key_from_headers(request.headers)), role)


@post("/assets", status_code=201)
async def create_asset(
    request: Request[Any, Any, Any],
    data: Annotated[AssetUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Response[dict[str, Any]]:
    """Ingest one product photo: form field ``image`` (file) and ``metadata`` (JSON object).

    201 with the new asset and its tags; 200 with the stored asset when these exact bytes
    were ingested before; 400 naming the problem when the image or metadata is unusable.
    """
    from tagtrail.ingest.service import IngestItem, ingest
    from tagtrail.store.assets import AssetStore

    _authorize(request, "reviewer")
    services: Services = request.app.state.services
    metadata: dict[str, Any] | None = None
    if data.metadata:
        try:
            metadata = msgspec.json.decode(data.metadata)
        except msgspec.DecodeError as exc:
            raise InvalidInput(f"metadata is not valid JSON: {exc}", field="metadata") from exc
        if not isinstance(metadata, dict):
            raise InvalidInput("metadata must be a JSON object", field="metadata")
    payload = await data.image.read()
    name = data.image.filename or "upload"
    [outcome] = await ingest(
        services, [IngestItem(name=name, data=payload, metadata=metadata)], refresh="wait_for"
    )
    if outcome.status == "rejected":
        raise InvalidInput(outcome.error or f"{name}: rejected", field="image")
    if outcome.status == "failed":
        raise RuntimeError(outcome.error)
    if outcome.status == "exists" and outcome.asset_id:
        stored = await AssetStore(services.client, services.settings).get(outcome.asset_id)
        return Response({"status": "exists", "asset": stored.source}, status_code=200)
    if outcome.document is None:
        raise NotFound("asset was not written")
    return Response({"status": "created", "asset": outcome.document}, status_code=201)


def rest_handlers() -> list[Any]:
    return [create_asset]
