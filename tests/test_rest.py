"""POST /assets: multipart ingest over HTTP, against the real node.

Uses ``random-init:tiny``, a small randomly initialised CLIP built from a config.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from opensearchpy import AsyncOpenSearch
from PIL import Image

from tagtrail.api.auth import mint_key
from tagtrail.app import create_app
from tagtrail.config import Settings

pytestmark = pytest.mark.opensearch


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (256, 256), (245, 245, 245))
    image.paste(Image.new("RGB", (140, 180), colour), (58, 38))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


async def test_upload_creates_then_recognises_the_same_bytes(
    settings: Settings, indexed: AsyncOpenSearch
) -> None:
    data = _jpeg((27, 37, 65))
    meta = '{"sku": "TT-1", "brand": "Northwind", "collection": "FW26", "lining": "quilted"}'
    async with AsyncTestClient(create_app(settings)) as http:
        first = await http.post(
            "/assets", files={"image": ("navy.jpg", data, "image/jpeg")}, data={"metadata": meta}
        )
        assert first.status_code == 201, first.text
        asset = first.json()["asset"]
        assert asset["sku"] == "tt-1" or asset["sku"] == "TT-1"
        assert asset["season"] == "FW"
        assert asset["seasonYear"] == 2026
        assert asset["fields"] == {"lining": "quilted"}
        assert "vector" not in asset
        tags = {t["attribute"]: t for t in asset["tags"]}
        assert tags["colour"]["value"] == "navy"
        assert all(t["tier"] in ("auto_applied", "flagged", "suggested") for t in tags.values())
        assert all(t["eventId"] and t["decidedBy"] for t in tags.values())
        again = await http.post("/assets", files={"image": ("copy.jpg", data, "image/jpeg")})
        assert again.status_code == 200
        assert again.json()["status"] == "exists"
        assert again.json()["asset"]["id"] == asset["id"]
        assert again.json()["asset"]["tags"] == asset["tags"]
    await indexed.indices.refresh(index=settings.index_name("assets"))  # type: ignore[attr-defined]
    count = await indexed.count(index=settings.index_name("assets"))  # type: ignore[attr-defined]
    assert count["count"] == 1


@pytest.mark.parametrize(
    ("files", "data", "needle"),
    [
        ({"image": ("notes.txt", b"hello", "text/plain")}, {}, "not an image"),
        ({"image": ("x.jpg", b"", "image/jpeg")}, {}, "empty"),
        ({"image": ("ok.jpg", None, "image/jpeg")}, {"metadata": "{not json"}, "metadata"),
        ({"image": ("ok.jpg", None, "image/jpeg")}, {"metadata": "[1, 2]"}, "metadata"),
        ({"image": ("ok.jpg", None, "image/jpeg")}, {"metadata": '{"season": "winter"}'}, "season"),
    ],
)
async def test_bad_uploads_are_refused_clearly(
    settings: Settings,
    indexed: AsyncOpenSearch,
    files: dict[str, tuple[str, bytes | None, str]],
    data: dict[str, str],
    needle: str,
) -> None:
    name, payload, ctype = files["image"]
    body = payload if payload is not None else _jpeg((200, 50, 43))
    async with AsyncTestClient(create_app(settings)) as http:
        response = await http.post("/assets", files={"image": (name, body, ctype)}, data=data)
    assert response.status_code == 400, response.text
    assert needle in response.json()["message"].lower()
    await indexed.indices.refresh(index=settings.index_name("assets"))  # type: ignore[attr-defined]
    count = await indexed.count(index=settings.index_name("assets"))  # type: ignore[attr-defined]
    assert count["count"] == 0


async def test_upload_needs_a_reviewer_key(
    settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    viewer, reviewer = mint_key("vera", "viewer"), mint_key("rob", "reviewer")
    keyed = settings.with_changes(api_keys=f"{viewer.env_entry},{reviewer.env_entry}")
    files = {"image": ("red.jpg", _jpeg((200, 50, 43)), "image/jpeg")}
    async with AsyncTestClient(create_app(keyed)) as http:
        anonymous = await http.post("/assets", files=files)
        assert anonymous.status_code == 401
        wrong = await http.post("/assets", files=files, headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401
        low = await http.post(
            "/assets", files=files, headers={"Authorization": f"Bearer {viewer.key}"}
        )
        assert low.status_code == 403
        await indexed.indices.refresh(index=settings.index_name("assets"))  # type: ignore[attr-defined]
        count = await indexed.count(index=settings.index_name("assets"))  # type: ignore[attr-defined]
        assert count["count"] == 0
        ok = await http.post(
            "/assets", files=files, headers={"Authorization": f"Bearer {reviewer.key}"}
        )
        assert ok.status_code == 201, ok.text


async def test_concurrent_duplicate_uploads_one_creates(
    settings: Settings, indexed: AsyncOpenSearch
) -> None:
    data = _jpeg((120, 30, 40))
    async with AsyncTestClient(create_app(settings)) as http:
        answers = await asyncio.gather(
            *(
                http.post(
                    "/assets",
                    files={"image": (f"dup{i}.jpg", data, "image/jpeg")},
                    data={"metadata": json.dumps({"sku": f"DUP-{i}"})},
                )
                for i in range(2)
            )
        )
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    created = next(a.json() for a in answers if a.status_code == 201)
    existing = next(a.json() for a in answers if a.status_code == 200)
    assert existing["status"] == "exists"
    # The second answer is the stored asset the first one created: same tags, same sku.
    assert existing["asset"]["id"] == created["asset"]["id"]
    assert existing["asset"]["sku"] == created["asset"]["sku"]
    assert existing["asset"]["tags"] == created["asset"]["tags"]
    index = settings.index_name("tag_events")
    await indexed.indices.refresh(index=index)  # type: ignore[attr-defined]
    events = await indexed.search(  # type: ignore[attr-defined]
        index=index, body={"query": {"term": {"asset_id": created["asset"]["id"]}}, "size": 100}
    )
    stored = {h["_source"]["event_id"] for h in events["hits"]["hits"]}
    assert stored == {t["eventId"] for t in created["asset"]["tags"]}
    assert len({h["_source"]["at"] for h in events["hits"]["hits"]}) == 1  # one upload's events


def test_upload_is_typed_in_openapi(settings: Settings, indexed: AsyncOpenSearch) -> None:
    from litestar.testing import TestClient

    with TestClient(create_app(settings)) as http:
        schema = http.get("/schema/openapi.json").json()
    post = schema["paths"]["/assets"]["post"]
    ok = post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("/UploadOut")
    assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == ok
    assert post["responses"]["503"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorOut"
    )
    tag = schema["components"]["schemas"]["TagOut"]["properties"]
    assert {"attribute", "value", "tier", "state", "eventId", "decidedBy", "rawLabel"} <= set(tag)
