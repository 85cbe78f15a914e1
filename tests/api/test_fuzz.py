"""GraphQL fuzzing: hostile values in every argument of every operation, against the real node.

Each operation has a valid baseline and, per argument, a pool of hostile values (empty and
huge strings, control characters, lone surrogates, unicode, negative and huge numbers, bad
enums, crafted cursors, bad dates, oneOf violations). Every hostile value is tried once on
its own against the baseline, then a seeded random mix of several at once. Whatever comes
back — a union result, a validation error, a tagtrail error — it must never be the masked
"Unexpected error." (an internal error), never a 500, and never OpenSearch refusing a request
we sent it (every input is checked before it reaches the store).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

SEED = 20261130
RANDOM_MIXES = 120


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


HUGE = "x" * 100_000
STRINGS: list[Any] = [
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x07b",
    "\ud800",  # a lone surrogate: valid JSON escape, not encodable as UTF-8
    "💥🧥",
    "\u202eevil",
    "ＡＢＣ",
    "..",
    ".",
    "a/b",
    "../../_search",
    "_all",
    "*",
    "%00",
    "?pretty",
    "' OR 1=1 --",
    '"}',
    "<script>",
    "null",
    "x" * 513,
    HUGE,
    123,  # wrong type: a GraphQL validation error
    None,
]
IDS = [*STRINGS, "f1", "F1", " f1 ", "f1\n", "é" * 300]
ATTRIBUTES = ["colour", "category", "Colour", "unknown_attr", *STRINGS]
INTS = [0, -1, 1, 2, 101, 1000, 2**31 - 1, -(2**31), 2**31, 1.5, "3", None]
FLOATS = [0.0, -0.0, -1.0, 0.5, 1.0, 1.0000001, 1e308, -1e308, "NaN", None]
DATES = [
    "now",
    "now-3y/y",
    "now+1M/d",
    "2024-01-01||+1M/d",
    "2024",
    "2024-05",
    "2024-05-01T10:00:00Z",
    "2024-02-30",
    "2024-13-01",
    "now-",
    "now-1.5d",
    "NOW",
    "-5",
    "1700000000000",
    "now-999999999999y",
    "2024-01-01T10:00:00+19:00",
    "9999-12-31T23:59:59.999999999Z",
    "",
    HUGE,
    "\ud800",
    None,
]
CURSORS = [
    "",
    "!!!",
    "====",
    HUGE,
    _cursor({"s": "newest", "v": [{"nested": {"a": 1}}, "x"]}),
    _cursor({"s": "newest", "v": ["not-a-date", "x"]}),
    _cursor({"s": "newest", "v": [1]}),
    _cursor({"s": "newest", "v": [1, "a", 2, "b", 3]}),
    _cursor({"s": "newest", "v": [2**70, "x"]}),
    _cursor({"s": "newest", "v": [1e308, "x"]}),
    _cursor({"s": "newest", "v": [True, "x"]}),
    _cursor({"s": "newest", "v": [-(2**63), "x" * 5000]}),
    _cursor({"s": "newest", "v": None}),
    _cursor({"s": "newest", "v": []}),
    _cursor({"s": "newest", "v": [1, None]}),
    _cursor({"s": "newest"}),
    _cursor({"s": "newest", "v": [1, "x"], "extra": 1}),
    _cursor({"s": "sku", "v": [None, None]}),
    _cursor({"s": "sku", "v": [5, "x"]}),
    _cursor({"s": "relevance", "v": ["x", "y"]}),
    _cursor({"s": "oldest_first", "v": [1.5, "x"]}),
    _cursor({"s": "lowest_confidence_first", "v": ["a", 1, "x"]}),
    _cursor({"s": "lowest_confidence_first", "v": [0.5, 1, "x"]}),
    _cursor([1, 2]),
    _cursor("just a string"),
    base64.urlsafe_b64encode(b"\xff\xfe not json").decode(),
    None,
]
LISTS = [[], ["black"], ["a"] * 101, [""], ["\x00"], [HUGE], ["\ud800"], [None], "black", None]


def _filters(rng: random.Random) -> Iterator[Any]:
    yield None
    yield {}
    for date in DATES:
        yield {"shootDate": {"gte": date}}
        yield {"shootDate": {"lte": date, "gte": "2024-06-01"}}
    yield {"shootDate": {"gte": "2024-06", "lte": "2024-05"}}
    yield {"seasonYear": {"gte": 2027, "lte": 2020}}
    yield {"seasonYear": {"gte": -(2**31), "lte": 2**31 - 1}}
    for values in LISTS:
        yield {"brand": values}
        yield {"tags": [{"attribute": "colour", "values": values}]}
    for attribute in ATTRIBUTES:
        yield {"tags": [{"attribute": attribute, "values": ["black"]}]}
        yield {"tagState": {"attribute": attribute}}
    yield {"tags": [{"attribute": "colour", "values": ["black"]}] * 21}
    yield {"tags": [{"attribute": "colour", "values": ["black"], "exact": "yes"}]}
    yield {"season": ["SS", "FW", "WINTER"], "sku": [HUGE], "photographer": ["\x00"]}
    yield {"tagState": {"tier": ["NOPE"]}}
    yield {"tagState": {"tier": ["FLAGGED"], "state": ["CONFIRMED"], "reviewed": True}}
    yield {"tagState": {"minProbability": 2.0}}
    yield {"tagState": {"minProbability": 0.9, "maxProbability": 0.1}}
    yield {"tagState": {"modelVersion": ["a"] * 101, "source": [""]}}
    yield {"unknownField": 1}
    yield "not an object"
    for _ in range(5):
        yield {"brand": [rng.choice(STRINGS)], "shootDate": {"gte": rng.choice(DATES)}}


FACETS = [
    None,
    [],
    [{"attribute": "colour"}],
    [{"attribute": "colour"}, {"attribute": "colour"}],
    [{"attribute": "unknown_attr"}],
    [{"attribute": "\x00"}],
    [{"attribute": HUGE}],
    [{"field": "BRAND", "size": 0}],
    [{"field": "BRAND", "size": 201}],
    [{"field": "BRAND", "size": -(2**31)}],
    [{"field": "NOPE"}],
    [{"tagState": "TIER", "tagAttribute": "unknown_attr"}],
    [{"tagState": "TIER", "tagAttribute": "\ud800"}],
    [{"attribute": "colour", "field": "BRAND"}],
    [{}],
    [{"field": "BRAND"}] * 21,
]

ASSET_FIELDS = """
  id revision
  tags(attributes: $attrs) { attribute value }
  tag(attribute: $attr) { value }
  pendingTags(attributes: $attrs) { attribute }
  history(attribute: $attr) { kind seq }
  embedding(includeVector: $vec) { dimensions }
"""

RESULTS = """
  __typename
  ... on InvalidInput { message field }
  ... on NotFound { message id }
  ... on Conflict { message currentRevision }
"""


def _q(document: str) -> str:
    return document.replace("%RESULTS", RESULTS).replace("%ASSET", ASSET_FIELDS)


OPERATIONS: dict[str, tuple[str, dict[str, Any], dict[str, list[Any]]]] = {
    "searchAssets": (
        _q("""query($filter: AssetFilterInput, $text: String, $facets: [FacetRequest!],
                 $first: Int!, $after: String, $sort: AssetSort, $k: Int!, $sugg: Boolean!) {
          searchAssets(filter: $filter, text: $text, facets: $facets, first: $first,
                       after: $after, sort: $sort, textNeighbours: $k, includeSuggested: $sugg) {
            %RESULTS ... on AssetSearch { totalCount edges { cursor node { id } }
                                    facets { name values { value count } } } } }"""),
        {"first": 2, "k": 0, "sugg": False},
        {
            "text": [*STRINGS, "navy peacoat", "a" * 501],
            "first": INTS,
            "after": CURSORS,
            "sort": ["RELEVANCE", "SKU", "NEWEST", "nope", 1, None],
            "k": [0, 1, -1, 1001, 2**31 - 1],
            "facets": FACETS,
            "sugg": [True, "yes", None],
        },
    ),
    "similarAssets": (
        _q("""query($by: SimilarBy!, $filter: AssetFilterInput, $k: Int!, $min: Float) {
          similarAssets(by: $by, filter: $filter, k: $k, minScore: $min) {
            %RESULTS ... on SimilarAssets { hits { score asset { id } } } } }"""),
        {"by": {"assetId": "f1"}, "k": 3},
        {
            "by": [
                *({"assetId": v} for v in IDS),
                *({"text": v} for v in [*STRINGS, "a" * 501, "navy coat"]),
                {"assetId": "f1", "text": "navy"},  # oneOf violations
                {},
                {"assetId": None},
                {"image": "not an upload"},
                None,
            ],
            "k": INTS,
            "min": FLOATS,
        },
    ),
    "reviewQueue": (
        _q("""query($filter: AssetFilterInput, $attrs: [String!], $first: Int!, $after: String,
                 $order: ReviewOrder!) {
          reviewQueue(filter: $filter, attributes: $attrs, first: $first, after: $after,
                      order: $order) {
            %RESULTS ... on ReviewQueue { totalCount items { cursor asset { id } } } } }"""),
        {"first": 2, "order": "OLDEST_FIRST"},
        {
            "attrs": [*LISTS, ["colour"] * 21, ["unknown_attr"], ["colour", "category"]],
            "first": INTS,
            "after": CURSORS,
            "order": ["LOWEST_CONFIDENCE_FIRST", "NEWEST", "", None],
        },
    ),
    "explainTag": (
        _q("""query($id: ID!, $attr: String!, $k: Int!) {
          explainTag(assetId: $id, attribute: $attr) {
            %RESULTS ... on TagExplanation { attribute history { kind } exemplars(k: $k) { score } }
          } }"""),
        {"id": "f1", "attr": "colour", "k": 2},
        {"id": IDS, "attr": ATTRIBUTES, "k": INTS},
    ),
    "asset": (
        _q("""query($id: ID!, $attrs: [String!], $attr: String!, $vec: Boolean!) {
          asset(id: $id) { %RESULTS ... on Asset { %ASSET } } }"""),
        {"id": "f1", "attr": "colour", "vec": False},
        {"id": IDS, "attrs": LISTS, "attr": ATTRIBUTES, "vec": [True, None]},
    ),
}
_SINGLE_INPUTS: dict[str, list[Any]] = {
    "assetId": IDS,
    "attribute": ATTRIBUTES,
    "expectedRevision": INTS,
    "note": [*STRINGS, "n" * 2001, "fine\nnote"],
}
for _name, _input in (
    ("confirmTag", "TagDecisionInput"),
    ("rejectTag", "TagDecisionInput"),
    ("correctTag", "TagCorrectionInput"),
):
    _base = {"assetId": "f2", "attribute": "colour", "expectedRevision": 1}
    _pools = dict(_SINGLE_INPUTS)
    if _name == "correctTag":
        _base["value"] = "navy"
        _pools["value"] = [*STRINGS, "navy", "not_a_value"]
    OPERATIONS[_name] = (
        f"mutation($input: {_input}!) {{ {_name}(input: $input) {{ {RESULTS} }} }}",
        {"input": _base},
        {"input": [{**_base, key: value} for key, pool in _pools.items() for value in pool]},
    )
for _name in ("confirmTags", "rejectTags", "correctTags"):
    _base = {"attribute": "colour", "items": [{"assetId": "f3", "expectedRevision": 1}]}
    if _name == "correctTags":
        _base["value"] = "navy"
    _items = [
        [],
        [{"assetId": v, "expectedRevision": 1} for v in IDS if isinstance(v, str)],
        [{"assetId": "f3", "expectedRevision": 1}] * 2,
        [{"assetId": f"id{i}", "expectedRevision": 1} for i in range(201)],
        [{"assetId": "f3", "expectedRevision": -(2**31)}],
        [{"assetId": "f3"}],
        None,
    ]
    OPERATIONS[_name] = (
        f"""mutation($input: BulkTagDecisionInput!) {{ {_name}(input: $input) {{
          __typename ... on InvalidInput {{ message field }}
          ... on BulkTagDecision {{ succeeded failed items {{ assetId result {{ {RESULTS} }} }} }}
        }} }}""",
        {"input": _base},
        {
            "input": [
                *({**_base, "items": items} for items in _items),
                *({**_base, "attribute": a} for a in ATTRIBUTES),
                *({**_base, "note": n} for n in [*STRINGS, "n" * 2001]),
                *({**_base, "value": v} for v in [*STRINGS, "not_a_value"]),
            ]
        },
    )

#: Documents with hostile literals: the parser and validation answer, never the resolvers.
RAW_DOCUMENTS = [
    '{ similarAssets(by: {assetId: "f1", text: "navy"}) { __typename } }',
    "{ similarAssets(by: {}) { __typename } }",
    '{ asset(id: "f1") { ... on Asset { id } } asset2: asset(id: "\\u0000") { __typename } }',
    "{ searchAssets(sort: NOPE) { __typename } }",
    "{ searchAssets(first: 99999999999) { __typename } }",
    '{ searchAssets(after: "' + "A" * 5000 + '") { __typename ... on InvalidInput { field } } }',
    "{ __schema { types { name } } }",
    "{ asset(id: ",
    "",
    "query { nope }",
    "mutation { confirmTag(input: {}) { __typename } }",
    'subscription { asset(id: "f1") }',
]


def _cases(rng: random.Random) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, (query, base, pools) in OPERATIONS.items():
        pools = {**pools, "filter": list(_filters(rng))} if "$filter" in query else pools
        for var, pool in pools.items():
            for value in pool:
                yield name, query, {**base, var: value}
    names = sorted(OPERATIONS)
    for _ in range(RANDOM_MIXES):
        name = rng.choice(names)
        query, base, pools = OPERATIONS[name]
        pools = {**pools, "filter": list(_filters(rng))} if "$filter" in query else pools
        variables = dict(base)
        for var in rng.sample(sorted(pools), k=min(3, len(pools))):
            variables[var] = rng.choice(pools[var])
        yield name, query, variables


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"text": response.text[:200], "status": response.status_code}


def _problems(status: int, body: Any) -> list[str]:
    if status >= 500:
        return [f"HTTP {status}"]
    problems = []
    for error in (body or {}).get("errors") or ():
        code = (error.get("extensions") or {}).get("code")
        if error.get("message") == "Unexpected error." or code == "INTERNAL_SERVER_ERROR":
            problems.append(f"masked internal error at {error.get('path')}")
        if code == "STORE_UNAVAILABLE":
            problems.append(f"store unavailable at {error.get('path')}: {error['message']}")
    if "the search was refused" in json.dumps(body):
        problems.append("OpenSearch refused a request: input not validated before the store")
    return problems


async def test_no_request_is_an_internal_error(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    colour = (T(attribute="colour", value="navy", probability=0.8),)
    category = (T(attribute="category", value="jumper", probability=0.6),)
    await api.create(
        [
            A(id="f1", tags=(*colour, *category), axis=2, sku="S1", shoot_date="2025-03-01"),
            A(id="f2", tags=colour, axis=3),
            A(id="f3", tags=colour, axis=4, sku=None),
            A(id="f4", tags=category, axis=5, at="2026-02-01T00:00:00.000000Z"),
        ]
    )
    rng = random.Random(SEED)
    failures: list[str] = []
    sent = 0
    for name, query, variables in _cases(rng):
        # json.dumps escapes lone surrogates ("\ud800"), exactly as a hostile client would.
        payload = json.dumps({"query": query, "variables": variables}, allow_nan=True)
        response = await api.http.post(
            "/graphql", content=payload, headers={"Content-Type": "application/json"}
        )
        sent += 1
        body = _json(response)
        for problem in _problems(response.status_code, body):
            failures.append(f"{name} {json.dumps(variables)[:300]}: {problem}")
    for document in RAW_DOCUMENTS:
        response = await api.http.post("/graphql", json={"query": document})
        sent += 1
        body = _json(response)
        failures += [f"{document[:80]}: {p}" for p in _problems(response.status_code, body)]
    assert sent > 500
    assert not failures, f"{len(failures)} of {sent} requests failed:\n" + "\n".join(failures[:40])
    assert "unexpected error in" not in caplog.text
