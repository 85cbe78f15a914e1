"""GET /assets/{id}/thumbnail: kept at ingest, ETag = content hash, long private caching,
API-key roles, a clear 404 for assets ingested before thumbnails existed, back-fill."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import pytest
from PIL import Image

from tagtrail.api.auth import hash_key
from tagtrail.store import Store
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.runtime import Runtime
from tagtrail.usecases.thumbnails import Thumbnail, ThumbnailCache
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch
VIEWER = "tt_thumb-viewer"


def _photo(colour: tuple[int, int, int], size: tuple[int, int] = (900, 1200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG", quality=92)
    return out.getvalue()


async def _ingest(api: Api, data: bytes) -> str:
    runtime = Runtime(api.settings, store=Store(api.settings, client=api.client))
    (outcome,) = await runtime.ingest.batch([IngestItem(name="coat.jpg", data=data)])
    assert outcome.status in ("created", "exists"), outcome
    assert outcome.asset_id
    return outcome.asset_id


async def test_ingest_keeps_a_thumbnail_served_with_etag_and_cache_headers(api: Api) -> None:
    asset_id = await _ingest(api, _photo((30, 40, 120)))
    response = await api.http.get(f"/assets/{asset_id}/thumbnail")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/webp"
    etag = response.headers["etag"]
    assert etag == f'"{hashlib.sha256(response.content).hexdigest()}"'
    assert response.headers["cache-control"] == "private, max-age=31536000, immutable"
    with Image.open(io.BytesIO(response.content)) as img:
        assert img.format == "WEBP"
        assert max(img.size) <= 384
    again = await api.http.get(f"/assets/{asset_id}/thumbnail", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag


async def test_missing_thumbnail_and_unknown_asset_say_why(api: Api) -> None:
    await api.create([A(id="old", tags=(T(attribute="category", value="jumper"),))])
    old = await api.http.get("/assets/old/thumbnail")
    assert old.status_code == 404
    assert old.json()["error"] == "not_found"
    assert "ingest its file again" in old.json()["message"]
    unknown = await api.http.get("/assets/nope/thumbnail")
    assert unknown.status_code == 404
    assert "no asset 'nope'" in unknown.json()["message"]
    too_long = await api.http.get(f"/assets/{'x' * 600}/thumbnail")
    assert too_long.status_code == 400
    assert too_long.json()["field"] == "assetId"


async def test_reingesting_back_fills_a_missing_thumbnail(api: Api) -> None:
    data = _photo((200, 180, 20))
    asset_id = await _ingest(api, data)
    index = api.settings.index_name("thumbnails")
    await api.client.delete(index=index, id=asset_id, refresh=True)
    assert (await api.http.get(f"/assets/{asset_id}/thumbnail")).status_code == 404
    await _ingest(api, data)  # "exists": the asset is untouched, the thumbnail comes back
    assert (await api.http.get(f"/assets/{asset_id}/thumbnail")).status_code == 200
    assert len(await api.events(asset_id)) > 0


async def test_thumbnails_need_a_viewer_key(make_api: Any) -> None:
    api: Api = await make_api(api_keys=f"vera:viewer:{hash_key(VIEWER)}", dev=False)
    asset_id = await _ingest(api, _photo((90, 20, 20)))
    assert (await api.http.get(f"/assets/{asset_id}/thumbnail")).status_code == 401
    bad = await api.http.get(f"/assets/{asset_id}/thumbnail", headers={"X-API-Key": "tt_nope"})
    assert bad.status_code == 401
    ok = await api.http.get(
        f"/assets/{asset_id}/thumbnail", headers={"Authorization": f"Bearer {VIEWER}"}
    )
    assert ok.status_code == 200


def test_the_cache_keeps_the_latest_within_its_size() -> None:
    def thumb(n: int) -> Thumbnail:
        return Thumbnail(data=bytes(n), media_type="image/webp", width=1, height=1, etag=str(n))

    cache = ThumbnailCache(max_bytes=100)
    cache.put("a", thumb(40))
    cache.put("b", thumb(40))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", thumb(40))  # over 100 bytes: the least recent (b) goes
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None
    assert cache.size == 80
    cache.put("huge", thumb(101))  # larger than the whole cache: not kept
    assert cache.get("huge") is None
    assert ThumbnailCache(max_bytes=0).get("a") is None


async def test_a_served_thumbnail_comes_from_memory_next_time(make_api: Any) -> None:
    api: Api = await make_api()
    asset_id = await _ingest(api, _photo((10, 120, 200)))
    first = await api.http.get(f"/assets/{asset_id}/thumbnail")
    index = api.settings.index_name("thumbnails")
    await api.client.delete(index=index, id=asset_id, refresh=True)
    again = await api.http.get(f"/assets/{asset_id}/thumbnail")  # this server kept it
    assert again.status_code == 200
    assert again.content == first.content
    for other in (await make_api(), await make_api(thumbnail_cache_mb=0)):
        assert (await other.http.get(f"/assets/{asset_id}/thumbnail")).status_code == 404


async def test_graphql_inlines_thumbnails_of_a_page_in_one_answer(api: Api) -> None:
    asset_id = await _ingest(api, _photo((30, 120, 40)))
    await api.create([A(id="old", tags=(T(attribute="category", value="jumper"),))])
    served = (await api.http.get(f"/assets/{asset_id}/thumbnail")).content
    fields = "... on Asset { id thumbnail { url mediaType width height etag dataUrl } }"
    data = await api.data(  # two assets, one mget of thumbnails (the DataLoader batches)
        f"""query($a: ID!, $b: ID!) {{ fresh: asset(id: $a) {{ {fields} }}
             old: asset(id: $b) {{ {fields} }} }}""",
        {"a": asset_id, "b": "old"},
    )
    fresh, old = data["fresh"], data["old"]
    assert old["thumbnail"] is None  # ingested before thumbnails were kept
    thumb = fresh["thumbnail"]
    assert thumb["url"] == f"/assets/{asset_id}/thumbnail"
    assert thumb["mediaType"] == "image/webp"
    assert thumb["etag"] == hashlib.sha256(served).hexdigest()
    prefix = "data:image/webp;base64,"
    assert thumb["dataUrl"].startswith(prefix)
    assert base64.b64decode(thumb["dataUrl"][len(prefix) :]) == served
    with Image.open(io.BytesIO(served)) as img:
        assert (thumb["width"], thumb["height"]) == img.size
