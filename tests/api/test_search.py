"""searchAssets: the buyer query, multi-select facets, ancestors, families, suggestions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch


def _a(
    id: str,
    category: str,
    colour: str,
    material: str,
    season: str,
    year: int,
    *,
    colour_p: float = 0.97,
    material_p: float = 0.97,
) -> A:
    return A(
        id=id,
        season=season,
        season_year=year,
        collection=f"{season}{year % 100}",
        sku=f"SKU-{id}",
        photographer="K. Tanaka",
        shoot_date=f"{year}-03-01",
        tags=(
            T(attribute="category", value=category),
            T(attribute="colour", value=colour, probability=colour_p),
            T(attribute="material", value=material, probability=material_p),
        ),
    )


CATALOGUE = [
    _a("a1", "peacoat", "black", "wool", "FW", 2025),
    _a("a2", "parka", "black", "wool", "FW", 2024, colour_p=0.85),  # flagged: still applied
    _a("a3", "peacoat", "navy", "wool", "FW", 2025),
    _a("a4", "jumper", "black", "wool", "FW", 2025),
    _a("a5", "peacoat", "black", "cotton", "FW", 2025),
    _a("a6", "trench_coat", "black", "wool", "SS", 2025),
    _a("a7", "peacoat", "black", "wool", "FW", 2021),
    _a("a8", "peacoat", "black", "wool", "FW", 2025, material_p=0.5),  # wool only suggested
    _a("a9", "blazer", "charcoal", "wool", "FW", 2026),
]

BUYER_QUERY = """
query Buyer($filter: AssetFilterInput, $suggested: Boolean! = false) {
  searchAssets(filter: $filter, includeSuggested: $suggested, first: 10, facets: [
      {attribute: "colour"}, {attribute: "material"}, {attribute: "category"},
      {field: SEASON}, {tagState: TIER, tagAttribute: "colour"}]) {
    __typename
    ... on AssetSearch {
      totalCount
      edges { cursor node { id sku collection seasonYear tag(attribute: "colour") { value tier } } }
      facets { kind name tagAttribute values { value label count selected } }
      pageInfo { hasNextPage endCursor }
    }
    ... on InvalidInput { message field }
  }
}"""

BUYER_FILTER: dict[str, Any] = {
    "tags": [
        {"attribute": "colour", "values": ["black"]},
        {"attribute": "material", "values": ["wool"]},
        {"attribute": "category", "values": ["outerwear"]},
    ],
    "season": ["FW"],
    "seasonYear": {"gte": 2024, "lte": 2026},
}


def _facets(result: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {f["name"]: {v["value"]: v["count"] for v in f["values"]} for f in result["facets"]}


def _ids(result: dict[str, Any]) -> set[str]:
    return {e["node"]["id"] for e in result["edges"]}


async def test_buyer_query_with_multi_select_facets(api: Api) -> None:
    await api.create(CATALOGUE)
    result = (await api.data(BUYER_QUERY, {"filter": BUYER_FILTER}))["searchAssets"]
    assert result["__typename"] == "AssetSearch"
    assert _ids(result) == {"a1", "a2"}
    assert result["totalCount"] == 2
    facets = _facets(result)
    # Each facet applies every filter except its own (hand-computed from CATALOGUE).
    assert facets["colour"] == {"black": 2, "navy": 1, "blue": 1, "charcoal": 1, "grey": 1}
    assert facets["material"] == {"wool": 2, "cotton": 1}  # a8's wool is only suggested
    assert facets["category"] == {
        "outerwear": 2,
        "coat": 2,
        "peacoat": 1,
        "parka": 1,
        "knitwear": 1,
        "jumper": 1,
    }
    assert facets["season"] == {"FW": 2, "SS": 1}
    assert facets["tier"] == {"auto_applied": 1, "flagged": 1}
    colour = next(f for f in result["facets"] if f["name"] == "colour")
    black = next(v for v in colour["values"] if v["value"] == "black")
    assert black["selected"]
    assert black["label"] == "Black"
    navy = next(v for v in colour["values"] if v["value"] == "navy")
    assert not navy["selected"]


async def test_multi_select_within_a_facet_is_or(api: Api) -> None:
    await api.create(CATALOGUE)
    flt = {
        **BUYER_FILTER,
        "tags": [{"attribute": "colour", "values": ["black", "navy"]}, *BUYER_FILTER["tags"][1:]],
    }
    result = (await api.data(BUYER_QUERY, {"filter": flt}))["searchAssets"]
    assert _ids(result) == {"a1", "a2", "a3"}
    assert _facets(result)["colour"]["black"] == 2  # its own filter does not narrow it
    assert _facets(result)["material"] == {"wool": 3, "cotton": 1}


async def test_include_suggested_widens_to_candidates(api: Api) -> None:
    await api.create(CATALOGUE)
    result = await api.data(BUYER_QUERY, {"filter": BUYER_FILTER, "suggested": True})
    assert _ids(result["searchAssets"]) == {"a1", "a2", "a8"}


SIMPLE = """
query($filter: AssetFilterInput, $text: String, $k: Int! = 100, $first: Int! = 20,
      $after: String, $sort: AssetSort) {
  searchAssets(filter: $filter, text: $text, textNeighbours: $k, first: $first, after: $after,
               sort: $sort) {
    ... on AssetSearch { totalCount textMode edges { score node { id } }
                         pageInfo { hasNextPage endCursor } }
    ... on InvalidInput { message field }
  }
}"""


async def _search_ids(api: Api, **variables: Any) -> list[str]:
    result = (await api.data(SIMPLE, variables))["searchAssets"]
    return [e["node"]["id"] for e in result["edges"]]


async def test_category_by_ancestor_and_colour_by_family_or_name(api: Api) -> None:
    await api.create(CATALOGUE)

    def tags(attr: str, *values: str, exact: bool = False) -> dict[str, Any]:
        return {"tags": [{"attribute": attr, "values": list(values), "exact": exact}]}

    assert set(await _search_ids(api, filter=tags("category", "outerwear"))) == {
        "a1",
        "a2",
        "a3",
        "a5",
        "a6",
        "a7",
        "a8",
        "a9",
    }
    assert set(await _search_ids(api, filter=tags("category", "coat"))) == {
        "a1",
        "a2",
        "a3",
        "a5",
        "a6",
        "a7",
        "a8",
    }  # not the blazer (a jacket)
    assert set(await _search_ids(api, filter=tags("colour", "blue"))) == {"a3"}
    assert set(await _search_ids(api, filter=tags("colour", "blue", exact=True))) == set()
    assert set(await _search_ids(api, filter=tags("colour", "navy", exact=True))) == {"a3"}
    assert set(await _search_ids(api, filter=tags("colour", "grey"))) == {"a9"}


async def test_metadata_and_tag_state_filters(api: Api) -> None:
    await api.create(CATALOGUE)
    assert set(await _search_ids(api, filter={"sku": ["sku-a4"]})) == {"a4"}  # normalised
    assert set(await _search_ids(api, filter={"collection": ["FW21"]})) == {"a7"}
    assert set(await _search_ids(api, filter={"shootDate": {"gte": "2026-01-01"}})) == {"a9"}
    flagged = {"tagState": {"attribute": "colour", "tier": ["FLAGGED"]}}
    assert set(await _search_ids(api, filter=flagged)) == {"a2"}
    band = {"tagState": {"attribute": "material", "maxProbability": 0.6}}
    assert set(await _search_ids(api, filter=band)) == {"a8"}
    unreviewed = {"tagState": {"reviewed": True}}
    assert await _search_ids(api, filter=unreviewed) == []


async def test_free_text_matches_synonyms(api: Api) -> None:
    await api.create(CATALOGUE)
    result = (await api.data(SIMPLE, {"text": "reefer", "k": 0}))["searchAssets"]
    assert result["textMode"] == "LEXICAL"
    assert {e["node"]["id"] for e in result["edges"]} == {"a1", "a3", "a5", "a7", "a8"}


async def test_pagination_is_stable_and_capped(api: Api) -> None:
    await api.create(CATALOGUE)
    seen: list[str] = []
    after = None
    while True:
        result = await api.data(SIMPLE, {"first": 4, "after": after, "sort": "SKU"})
        page = result["searchAssets"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"a{i}" for i in range(1, 10)]
    too_big = (await api.data(SIMPLE, {"first": 1000}))["searchAssets"]
    assert too_big == {"message": too_big["message"], "field": "first"}
    wrong = (await api.data(SIMPLE, {"first": 2, "after": after}))["searchAssets"]
    assert wrong["field"] == "after"  # a cursor of another sort


async def test_vectors_absent_unless_requested(api: Api) -> None:
    await api.create(CATALOGUE[:2])
    query = """query($inc: Boolean!) { searchAssets(first: 5) { ... on AssetSearch { edges {
        node { id embedding(includeVector: $inc) { dimension values } } } } } }"""
    body = await api(query, {"inc": False})
    assert "vector" not in str(body)
    assert all(
        e["node"]["embedding"]["values"] is None for e in body["data"]["searchAssets"]["edges"]
    )
    body = await api(query, {"inc": True})
    values = body["data"]["searchAssets"]["edges"][0]["node"]["embedding"]["values"]
    assert len(values) == 512


async def test_unknown_attribute_is_invalid_input(api: Api) -> None:
    flt = {"tags": [{"attribute": "fabric", "values": ["wool"]}]}
    result = (await api.data(SIMPLE, {"filter": flt}))["searchAssets"]
    assert result["field"] == "filter.tags"
