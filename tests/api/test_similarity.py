"""similarAssets: filtered k-NN (filter inside the k-NN), exclusion of self, minScore."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.api.conftest import Api
from tests.api.factories import DIM, A, T

pytestmark = pytest.mark.opensearch


def near(cos: float, axis: int) -> tuple[float, ...]:
    """A unit vector at cosine ``cos`` from e1 (the query), off along ``axis``."""
    v = np.zeros(DIM)
    v[1] = cos
    v[axis] = math.sqrt(1 - cos * cos)
    return tuple(v.tolist())


def _asset(id: str, cos: float, axis: int, colour: str) -> A:
    return A(
        id=id,
        vector=near(cos, axis),
        tags=(T(attribute="category", value="jumper"), T(attribute="colour", value=colour)),
    )


CATALOGUE = [
    A(id="q", vector=near(1.0, 2), tags=(T(attribute="colour", value="navy"),)),
    _asset("n1", 0.99, 3, "navy"),  # nearest overall, but navy
    _asset("n2", 0.98, 4, "navy"),
    _asset("b1", 0.90, 5, "black"),  # nearest black
    _asset("b2", 0.80, 6, "black"),
    _asset("b3", 0.70, 7, "black"),
    _asset("b4", 0.10, 8, "black"),
]

QUERY = """
query($by: SimilarBy!, $filter: AssetFilterInput, $k: Int!, $min: Float) {
  similarAssets(by: $by, filter: $filter, k: $k, minScore: $min) {
    __typename
    ... on SimilarAssets { hits { score cosine asset { id } } }
    ... on NotFound { message id }
    ... on InvalidInput { message field }
  }
}"""
BLACK = {"tags": [{"attribute": "colour", "values": ["black"]}]}


async def _similar(api: Api, **variables: Any) -> dict[str, Any]:
    return (await api.data(QUERY, variables))["similarAssets"]  # type: ignore[no-any-return]


async def test_filtered_knn_returns_true_nearest_and_exactly_k(api: Api) -> None:
    await api.create(CATALOGUE)
    result = await _similar(api, by={"assetId": "q"}, filter=BLACK, k=3)
    hits = result["hits"]
    assert [h["asset"]["id"] for h in hits] == ["b1", "b2", "b3"]
    assert hits[0]["cosine"] == pytest.approx(0.90, abs=1e-4)
    assert hits[0]["score"] == pytest.approx((1 + 0.90) / 2, abs=1e-4)
    everything = await _similar(api, by={"assetId": "q"}, k=10)
    ids = [h["asset"]["id"] for h in everything["hits"]]
    assert ids[:2] == ["n1", "n2"]
    assert "q" not in ids
    assert len(ids) == 6


async def test_min_score_is_a_floor(api: Api) -> None:
    await api.create(CATALOGUE)
    result = await _similar(api, by={"assetId": "q"}, filter=BLACK, k=4, min=(1 + 0.75) / 2)
    assert [h["asset"]["id"] for h in result["hits"]] == ["b1", "b2"]


async def test_unknown_asset_and_bad_k(api: Api) -> None:
    await api.create(CATALOGUE[:1])
    missing = await _similar(api, by={"assetId": "nope"}, k=3)
    assert missing["__typename"] == "NotFound"
    assert missing["id"] == "nope"
    bad = await _similar(api, by={"assetId": "q"}, k=10_000)
    assert bad["field"] == "k"


async def test_by_text_and_by_uploaded_image(api: Api) -> None:
    await api.create(CATALOGUE)
    by_text = await _similar(api, by={"text": "a black jumper"}, filter=BLACK, k=2)
    assert by_text["__typename"] == "SimilarAssets"
    assert len(by_text["hits"]) == 2
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 30, 60)).save(buf, format="PNG")
    operations = {"query": QUERY, "variables": {"by": {"image": None}, "k": 3, "filter": BLACK}}
    response = await api.http.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.by.image"]}),
        },
        files={"0": ("photo.png", buf.getvalue(), "image/png")},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    assert len(body["data"]["similarAssets"]["hits"]) == 3
