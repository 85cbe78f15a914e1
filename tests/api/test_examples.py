"""Example operations of the API validate against the schema (the docs' own GraphQL blocks
are checked in ``tests/test_docs.py``)."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from tagtrail.api.graphql.schema import build_schema
from tagtrail.config import load_settings

BUYER = """
query Buyer {
  searchAssets(
    filter: {
      tags: [
        {attribute: "category", values: ["outerwear"]}
        {attribute: "colour", values: ["black"]}
        {attribute: "material", values: ["wool"]}
      ]
      season: ["FW"]
      seasonYear: {gte: 2024, lte: 2026}
    }
    includeSuggested: true
    facets: [{attribute: "colour"}, {attribute: "category"}, {attribute: "material"},
             {field: BRAND}, {tagState: TIER, tagAttribute: "material"}]
    first: 20
  ) {
    ... on AssetSearch {
      totalCount
      edges { cursor node { id sku brand collection seasonYear revision
                            tags { attribute value label tier state probability reviewed } } }
      pageInfo { hasNextPage endCursor }
      facets { kind name values { value label count selected } }
    }
    ... on InvalidInput { message field }
  }
}"""

SIMILAR = """
{ similarAssets(by: {text: "navy peacoat"}, filter: {brand: ["Northwind"]}, k: 10,
                minScore: 0.6) {
    ... on SimilarAssets { hits { score cosine asset { id sku } } }
    ... on NotFound { message }
    ... on InvalidInput { message field } } }"""

REVIEW = """
query Queue {
  reviewQueue(filter: {season: ["FW"], seasonYear: {gte: 2026, lte: 2026},
                       tags: [{attribute: "colour", values: ["black"]},
                              {attribute: "category", values: ["knitwear"]}]},
              order: OLDEST_FIRST, first: 50) {
    ... on ReviewQueue { totalCount pageInfo { hasNextPage endCursor }
      items { asset { id revision } pendingTags { attribute value tier probability } } }
  }
}
mutation Confirm {
  confirmTag(input: {assetId: "a1", attribute: "category", expectedRevision: 1}) {
    __typename
    ... on TagDecision { revision asset { id revision tag(attribute: "category") { state } } }
    ... on Conflict { message currentRevision }
    ... on NotFound { message }
    ... on Forbidden { message requiredRole }
  }
}
mutation Correct {
  correctTag(input: {assetId: "a1", attribute: "colour", value: "navy", expectedRevision: 2,
                     note: "navy in daylight"}) {
    ... on TagDecision { revision event { kind fromValue toValue actorId } }
    ... on Conflict { message currentRevision }
    ... on InvalidInput { message field }
  }
}
mutation Bulk {
  confirmTags(input: {attribute: "category", items: [{assetId: "a1", expectedRevision: 3},
                                                      {assetId: "a2", expectedRevision: 1}]}) {
    ... on BulkTagDecision { succeeded failed
      items { assetId result { __typename ... on Conflict { currentRevision } } } }
  }
}"""

EXPLAIN = """
{ explainTag(assetId: "a1", attribute: "colour") {
    ... on TagExplanation {
      current { value label tier state source reviewed }
      decision { rawLabel topK { label score } ruleId probability tier tierReason
                 thresholds { high medium cap } modelFingerprint headVersion analyser
                 taxonomyVersion }
      colourEvidence { foregroundShare findings { name family hex measuredHex coverage deltaE
                       alternatives { name family deltaE } } }
      history { kind at actorType actorId fromValue toValue note }
      exemplars(k: 5) { score tag { value state } asset { id sku } }
    }
    ... on NotFound { message }
    ... on InvalidInput { message field } } }"""


@pytest.mark.parametrize("document", [BUYER, SIMILAR, REVIEW, EXPLAIN])
def test_example_validates(document: str) -> None:
    schema = build_schema(load_settings(environ={}))._schema
    assert validate(schema, parse(document)) == []
