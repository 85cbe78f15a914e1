"""The taxonomy query (type-ahead, facet labels) and the review queue's headVersion filter."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

TAXONOMY = """query($brand: String) { taxonomy(brand: $brand) { version attributes {
  name label kind values { id label parent path depth family hex synonyms } } } }"""


async def test_taxonomy_lists_values_with_hierarchy_and_swatches(api: Api) -> None:
    data = (await api.data(TAXONOMY))["taxonomy"]
    assert data["version"] == api.taxonomy.version
    attributes = {a["name"]: a for a in data["attributes"]}
    assert set(attributes) == set(api.taxonomy.attribute_names)
    category = {v["id"]: v for v in attributes["category"]["values"]}
    child = next(v for v in category.values() if v["parent"])
    parent = category[child["parent"]]
    assert child["path"][-1] == child["label"]
    assert child["path"][:-1] == parent["path"]
    assert child["depth"] == parent["depth"] + 1
    colours = {v["id"]: v for v in attributes["colour"]["values"]}
    navy = colours["navy"]
    assert navy["hex"].startswith("#")
    assert navy["family"]
    assert all(v["hex"] is None for v in category.values())


async def test_taxonomy_refuses_a_bad_brand_naming_it(api: Api) -> None:
    body = await api(TAXONOMY, {"brand": "x" * 600})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "brand" in body["errors"][0]["message"]


async def test_review_queue_filters_by_head_version(api: Api) -> None:
    await api.create(
        [
            A(id="h1", tags=(T(attribute="pattern", value="stripe", probability=0.8),)),
            A(id="h2", tags=(T(attribute="pattern", value="check", probability=0.5),)),
        ]
    )
    query = """query($head: [String!]) { reviewQueue(filter: {tagState: {attribute: "pattern",
      headVersion: $head}}) { ... on ReviewQueue { totalCount items { asset { id } } } } }"""
    hit = (await api.data(query, {"head": ["zero-shot@1"]}))["reviewQueue"]
    assert sorted(i["asset"]["id"] for i in hit["items"]) == ["h1", "h2"]
    miss = (await api.data(query, {"head": ["tuned:pattern:abc"]}))["reviewQueue"]
    assert miss["totalCount"] == 0
