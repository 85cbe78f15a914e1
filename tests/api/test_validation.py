"""Clear answers to bad input: empty and malformed ids, bad dates and ranges, crafted cursors,
oversized text and filter lists — each an InvalidInput naming the field (or NotFound for an
id that names nothing), checked before anything reaches OpenSearch.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest

from tagtrail.domain.limits import (
    MAX_ATTRIBUTE_FILTERS,
    MAX_FACETS,
    MAX_FILTER_VALUES,
    MAX_NOTE_CHARS,
    MAX_TEXT_CHARS,
)
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

NAVY = T(attribute="colour", value="navy", probability=0.8)  # flagged: in the review queue
JUMPER = T(attribute="category", value="jumper", probability=0.6)  # suggested
CATALOGUE = [
    A(id="v1", tags=(NAVY, JUMPER), axis=2, sku="S-1", shoot_date="2025-03-01"),
    A(id="v2", tags=(NAVY,), axis=3, sku="S-2", shoot_date="2024-11-15"),
    A(id="v3", tags=(JUMPER,), axis=4, sku=None, at="2026-02-01T00:00:00.000000Z"),
    A(id="v4", tags=(NAVY, JUMPER), axis=5, sku="S-0", at="2025-06-01T00:00:00.000000Z"),
]
INVALID = "__typename ... on InvalidInput { message field }"
RESULT = INVALID + " ... on NotFound { message id }"


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


async def _one(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The one field's result. The body is ASCII JSON, so lone surrogates travel escaped."""
    payload = json.dumps({"query": query, "variables": variables})
    response = await api.http.post(
        "/graphql", content=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body["errors"]
    [value] = body["data"].values()
    result: dict[str, Any] = value
    return result


# -- ids -----------------------------------------------------------------------------------
ASSET = f"query($id: ID!) {{ asset(id: $id) {{ {RESULT} ... on Asset {{ assetId: id }} }} }}"
EXPLAIN = f"""query($id: ID!) {{ explainTag(assetId: $id, attribute: "colour") {{ {RESULT} }} }}"""
SIMILAR = f"query($id: ID!) {{ similarAssets(by: {{assetId: $id}}) {{ {RESULT} }} }}"
MUTATIONS = {
    name: f"""mutation($id: ID!) {{ {name}(input: {{assetId: $id, attribute: "colour",
              expectedRevision: 1 {extra}}}) {{ {RESULT} }} }}"""
    for name, extra in (
        ("confirmTag", ""),
        ("rejectTag", ""),
        ("correctTag", ', value: "black"'),
    )
}
BULK = {
    name: f"""mutation($id: ID!) {{ {name}(input: {{attribute: "colour" {extra},
              items: [{{assetId: $id, expectedRevision: 1}}]}}) {{ __typename
              ... on BulkTagDecision {{ failed items {{ result {{ {RESULT} }} }} }} }} }}"""
    for name, extra in (
        ("confirmTags", ""),
        ("rejectTags", ""),
        ("correctTags", ', value: "black"'),
    )
}


async def test_empty_ids_name_nothing(api: Api) -> None:
    await api.create(CATALOGUE[:1])
    for empty in ("", "   ", "\t"):
        await _empty_id(api, empty)


async def _empty_id(api: Api, empty: str) -> None:
    assert (await _one(api, ASSET, {"id": empty}))["__typename"] == "NotFound"
    assert (await _one(api, EXPLAIN, {"id": empty}))["__typename"] == "NotFound"
    similar = await _one(api, SIMILAR, {"id": empty})
    assert (similar["__typename"], similar["field"]) == ("InvalidInput", "by.assetId")
    for name, query in MUTATIONS.items():
        assert (await _one(api, query, {"id": empty}))["__typename"] == "NotFound", name
    for name, query in BULK.items():
        bulk = await _one(api, query, {"id": empty})
        assert bulk["failed"] == 1, name
        assert bulk["items"][0]["result"]["__typename"] == "NotFound", name


async def test_malformed_ids_are_invalid_input_naming_the_field(api: Api) -> None:
    await api.create(CATALOGUE[:1])
    for bad in ("x" * 513, "é" * 257, "a\x00b", "a\nb", "\x1b[31mred", "\ud800"):
        await _malformed_id(api, bad)


async def _malformed_id(api: Api, bad: str) -> None:
    for query, field in ((ASSET, "id"), (EXPLAIN, "assetId"), (SIMILAR, "by.assetId")):
        result = await _one(api, query, {"id": bad})
        assert (result["__typename"], result["field"]) == ("InvalidInput", field), query
    for name, query in MUTATIONS.items():
        result = await _one(api, query, {"id": bad})
        assert (result["__typename"], result["field"]) == ("InvalidInput", "assetId"), name
    for name, query in BULK.items():
        item = (await _one(api, query, {"id": bad}))["items"][0]["result"]
        assert (item["__typename"], item["field"]) == ("InvalidInput", "assetId"), name


async def test_long_but_valid_ids_are_simply_not_found(api: Api) -> None:
    result = await _one(api, ASSET, {"id": "x" * 512})
    assert result["__typename"] == "NotFound"


# -- dates and ranges ----------------------------------------------------------------------
SEARCH = f"""
query($filter: AssetFilterInput, $text: String, $first: Int! = 20, $after: String,
      $sort: AssetSort, $facets: [FacetRequest!]) {{
  searchAssets(filter: $filter, text: $text, textNeighbours: 0, first: $first, after: $after,
               sort: $sort, facets: $facets) {{
    {INVALID}
    ... on AssetSearch {{ edges {{ node {{ id }} }} pageInfo {{ hasNextPage endCursor }} }}
  }}
}}"""


async def _ids(api: Api, **variables: Any) -> set[str]:
    result = await _one(api, SEARCH, variables)
    assert result["__typename"] == "AssetSearch", result
    return {e["node"]["id"] for e in result["edges"]}


DATE_RANGES: list[tuple[str | None, str | None, set[str] | None]] = [
    ("2025", None, {"v1"}),
    ("2025-03", "2025-03", {"v1"}),  # lte rounds up to the end of March
    ("2024-11-15", "2024-11-15", {"v2"}),
    ("2024-11-15T00:00:00Z", "2025-03-01T23:59:59.999Z", {"v1", "v2"}),
    ("2024-01-01T00:00:00+01:00", None, {"v1", "v2"}),
    ("2024-01-01||+1y/y", None, {"v1"}),
    (None, "now", {"v1", "v2"}),
    ("now-300y/y", "now+1d", {"v1", "v2"}),
    ("2025-03-01", "2025-02-28", None),  # empty: gte after lte
]


#: Every form the check accepts, as OpenSearch's strict_date_optional_time and date math do.
GOOD_DATES = [
    "2024",
    "2024-05",
    "2024-05-01",
    "2024-05-01T10",
    "2024-05-01T10Z",
    "2024-05-01T10:00",
    "2024-05-01T10:00:00",
    "2024-05-01T10:00:00Z",
    "2024-05-01T10:00:00.123Z",
    "2024-05-01T10:00:00,123456789Z",
    "2024-05-01T10:00:00+01:00",
    "2024-05-01T10:00:00-0530",
    "2024-05-01T10:00:00+18",
    "9999-12-31",
    "0001-01-01",
    "now",
    "now/d",
    "now-3y/y",
    "now+1M/d",
    "now-1w/w+2h/H-30m+15s",
    "now+999999y",
    "2024-01-01||",
    "2024-01-01||+1M/d",
    "2024||-1y",
]


async def test_dates_accepted_as_opensearch_reads_them(api: Api) -> None:
    await api.create(CATALOGUE)
    for date, bound in itertools.product(GOOD_DATES, ("gte", "lte")):
        result = await _one(api, SEARCH, {"filter": {"shootDate": {bound: date}}})
        assert result["__typename"] == "AssetSearch", (date, bound, result)
    for gte, lte, expected in DATE_RANGES:
        flt = {"shootDate": {"gte": gte, "lte": lte}}
        if expected is not None:
            assert await _ids(api, filter=flt) == expected, flt
        else:
            result = await _one(api, SEARCH, {"filter": flt})
            assert (result["__typename"], result["field"]) == ("InvalidInput", "filter.shootDate")


BAD_DATES = [
    "",
    "2024-1-1",
    "2024-02-30",
    "2024-13-01",
    "2024-01-01 10:00",
    "NOW",
    "now-",
    "now-1.5d",
    "now-3Y",
    "now--3d",
    "-5",
    "1700000000000",
    "10000-01-01",
    "2024-01-01T25:00",
    "x" * 65,
    "2024-01-01T10:00+19:00",
    "now-3y//y",
    "now||-1d",
    "yesterday",
]


async def test_bad_dates_are_invalid_input_naming_the_bound(api: Api) -> None:
    for bad, bound in itertools.product(BAD_DATES, ("gte", "lte")):
        result = await _one(api, SEARCH, {"filter": {"shootDate": {bound: bad}}})
        assert result["__typename"] == "InvalidInput", (bound, result)
        assert result["field"] == f"filter.shootDate.{bound}"
        assert f"filter.shootDate.{bound}" in result["message"]


async def test_inverted_ranges_are_invalid_input(api: Api) -> None:
    season = await _one(api, SEARCH, {"filter": {"seasonYear": {"gte": 2026, "lte": 2024}}})
    assert (season["__typename"], season["field"]) == ("InvalidInput", "filter.seasonYear")
    band = {"tagState": {"minProbability": 0.9, "maxProbability": 0.2}}
    prob = await _one(api, SEARCH, {"filter": band})
    assert (prob["__typename"], prob["field"]) == ("InvalidInput", "filter.tagState")
    high = await _one(api, SEARCH, {"filter": {"tagState": {"minProbability": 1.5}}})
    assert high["field"] == "filter.tagState.minProbability"


# -- cursors -------------------------------------------------------------------------------
QUEUE = f"""query($after: String, $order: ReviewOrder!) {{
  reviewQueue(first: 1, after: $after, order: $order) {{
    {INVALID} ... on ReviewQueue {{ items {{ asset {{ id }} }} pageInfo {{ endCursor }} }} }} }}"""


async def test_every_sort_pages_through_everything_with_its_own_cursors(api: Api) -> None:
    """Real cursors (missing sku and shoot dates included) pass the cursor checks."""
    await api.create(CATALOGUE)
    for sort in ("RELEVANCE", "NEWEST", "OLDEST", "SHOOT_DATE_DESC", "SHOOT_DATE_ASC", "SKU"):
        await _page_through(api, sort)


async def _page_through(api: Api, sort: str) -> None:
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await _one(api, SEARCH, {"first": 1, "after": after, "sort": sort})
        assert page["__typename"] == "AssetSearch", page
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == ["v1", "v2", "v3", "v4"], sort


async def test_review_queue_pages_with_its_own_cursors(api: Api) -> None:
    await api.create(CATALOGUE)
    for order in ("OLDEST_FIRST", "LOWEST_CONFIDENCE_FIRST"):
        await _page_queue(api, order)


async def _page_queue(api: Api, order: str) -> None:
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await _one(api, QUEUE, {"after": after, "order": order})
        assert page["__typename"] == "ReviewQueue", page
        seen += [i["asset"]["id"] for i in page["items"]]
        after = page["pageInfo"]["endCursor"]
        if after is None:
            break
    assert sorted(seen) == ["v1", "v2", "v3", "v4"], order


CRAFTED = [
    "not base64 at all!",
    "A" * 3000,
    _cursor({"s": "newest", "v": [{"$gt": 1}, "x"]}),  # a nested object
    _cursor({"s": "newest", "v": ["2026-01-01", "x"]}),  # a date where epoch millis go
    _cursor({"s": "newest", "v": [1]}),  # too few values
    _cursor({"s": "newest", "v": [1, "x", 2]}),  # too many
    _cursor({"s": "newest", "v": [2**64, "x"]}),  # beyond a long
    _cursor({"s": "newest", "v": [True, "x"]}),
    _cursor({"s": "newest", "v": [1, "x" * 600]}),
    _cursor({"s": "newest", "v": [1, "x"], "more": "fields"}),
    _cursor({"s": "relevance", "v": [1.0, "x"]}),  # another sort's cursor
    _cursor([1, "x"]),
]


async def test_crafted_cursors_are_invalid_input_on_after(api: Api) -> None:
    await api.create(CATALOGUE[:2])
    for cursor in CRAFTED:
        search = await _one(api, SEARCH, {"after": cursor, "sort": "NEWEST"})
        assert (search["__typename"], search["field"]) == ("InvalidInput", "after"), cursor
        queue = await _one(api, QUEUE, {"after": cursor, "order": "OLDEST_FIRST"})
        assert (queue["__typename"], queue["field"]) == ("InvalidInput", "after"), cursor


async def test_a_cursor_of_the_right_shape_but_wrong_kinds_per_sort(api: Api) -> None:
    """Valid JSON scalars, right count, but a keyword where the sort has a number."""
    await api.create(CATALOGUE[:2])
    for order, values in (
        ("lowest_confidence_first", ["low", 1, "x"]),
        ("oldest_first", [0.5, "x"]),
    ):
        cursor = _cursor({"s": order, "v": values})
        queue = await _one(api, QUEUE, {"after": cursor, "order": order.upper()})
        assert (queue["__typename"], queue["field"]) == ("InvalidInput", "after")
    cursor = _cursor({"s": "sku", "v": [5, "x"]})
    search = await _one(api, SEARCH, {"after": cursor, "sort": "SKU"})
    assert (search["__typename"], search["field"]) == ("InvalidInput", "after")


# -- caps ----------------------------------------------------------------------------------
async def test_free_text_caps_and_characters(api: Api) -> None:
    long_text = "a" * (MAX_TEXT_CHARS + 1)
    result = await _one(api, SEARCH, {"text": long_text})
    assert (result["__typename"], result["field"]) == ("InvalidInput", "text")
    assert str(MAX_TEXT_CHARS) in result["message"]
    for bad in ("\x00", "navy\ud800coat", "\x1b[2J"):
        result = await _one(api, SEARCH, {"text": bad})
        assert (result["__typename"], result["field"]) == ("InvalidInput", "text")
    assert (await _one(api, SEARCH, {"text": "navy\ncoat"}))["__typename"] == "AssetSearch"
    similar = f"query($t: String!) {{ similarAssets(by: {{text: $t}}) {{ {RESULT} }} }}"
    result = await _one(api, similar, {"t": long_text})
    assert (result["__typename"], result["field"]) == ("InvalidInput", "by.text")


async def test_note_cap(api: Api) -> None:
    await api.create(CATALOGUE[:1])
    query = f"""mutation($note: String) {{ confirmTag(input: {{assetId: "v1",
        attribute: "colour", expectedRevision: 1, note: $note}}) {{ {RESULT} }} }}"""
    result = await _one(api, query, {"note": "n" * (MAX_NOTE_CHARS + 1)})
    assert (result["__typename"], result["field"]) == ("InvalidInput", "note")
    bulk = f"""mutation($note: String) {{ confirmTags(input: {{attribute: "colour",
        note: $note, items: [{{assetId: "v1", expectedRevision: 1}}]}}) {{ {INVALID} }} }}"""
    result = await _one(api, bulk, {"note": "n" * (MAX_NOTE_CHARS + 1)})
    assert (result["__typename"], result["field"]) == ("InvalidInput", "note")
    assert (await api.source("v1"))["revision"] == 1  # nothing written


OVER_CAPS: list[tuple[dict[str, Any], str]] = [
    (
        {"tags": [{"attribute": "colour", "values": ["v"] * (MAX_FILTER_VALUES + 1)}]},
        "filter.tags.values",
    ),
    (
        {"tags": [{"attribute": "colour", "values": ["navy"]}] * (MAX_ATTRIBUTE_FILTERS + 1)},
        "filter.tags",
    ),
    ({"brand": ["b"] * (MAX_FILTER_VALUES + 1)}, "filter.brand"),
    ({"collection": ["c"] * (MAX_FILTER_VALUES + 1)}, "filter.collection"),
    ({"sku": ["s"] * (MAX_FILTER_VALUES + 1)}, "filter.sku"),
    ({"photographer": ["p"] * (MAX_FILTER_VALUES + 1)}, "filter.photographer"),
    (
        {"tagState": {"modelVersion": ["m"] * (MAX_FILTER_VALUES + 1)}},
        "filter.tagState.modelVersion",
    ),
    ({"brand": ["x" * 513]}, "filter.brand"),
    ({"sku": ["a\x00"]}, "filter.sku"),
    ({"tags": [{"attribute": "colour", "values": ["\ud800"]}]}, "filter.tags.values"),
]


async def test_filter_list_caps(api: Api) -> None:
    for flt, field in OVER_CAPS:
        result = await _one(api, SEARCH, {"filter": flt})
        assert (result["__typename"], result["field"]) == ("InvalidInput", field), field


async def test_exactly_at_the_caps_is_fine(api: Api) -> None:
    await api.create(CATALOGUE)
    values = ["navy", *(f"v{i}" for i in range(MAX_FILTER_VALUES - 1))]
    flt = {"tags": [{"attribute": "colour", "values": values}], "brand": values}
    assert await _ids(api, filter=flt) == set()  # no such brand, but a fine question
    facets = [
        {"tagState": dim, "tagAttribute": attribute}
        for dim in ("TIER", "STATE", "REVIEWED", "MODEL_VERSION", "SOURCE")
        for attribute in ("colour", "category", "material", "pattern", "neckline")
    ]
    result = await _one(api, SEARCH, {"facets": facets[:MAX_FACETS]})
    assert result["__typename"] == "AssetSearch"
    result = await _one(api, SEARCH, {"facets": facets[: MAX_FACETS + 1]})
    assert (result["__typename"], result["field"]) == ("InvalidInput", "facets")
    queue = f"""query($a: [String!]) {{ reviewQueue(attributes: $a) {{ {INVALID} }} }}"""
    many = await _one(api, queue, {"a": ["colour"] * (MAX_ATTRIBUTE_FILTERS + 1)})
    assert (many["__typename"], many["field"]) == ("InvalidInput", "attributes")


# -- REST ----------------------------------------------------------------------------------
async def test_upload_metadata_errors_name_the_field(api: Api) -> None:
    """Refused before the image is tagged; a bad year is the caller's, not a store failure."""
    cases = {
        '{"season_year": 99999999999999999999}': "metadata.season_year",
        '{"sku": "a\\u0000b"}': "metadata.sku",
        '{"shoot_date": "2024-02-30"}': "metadata.shoot_date",
        '{"season": "winter"}': "metadata.season",
        '{"lining": "' + "x" * 300 + '"}': "metadata.fields.lining",
        "[1, 2]": "metadata",
    }
    for metadata, field in cases.items():
        response = await api.http.post(
            "/assets",
            files={"image": ("x.jpg", b"not decoded yet", "image/jpeg")},
            data={"metadata": metadata},
        )
        assert response.status_code == 400, (metadata, response.text)
        body = response.json()
        assert body["error"] == "invalid_input"
        assert body["field"] == field, (metadata, body)
