"""explainTag: decision chain, colour evidence, history and human-confirmed exemplars."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.api.factories import ANALYSER, A, T
from tests.api.test_similarity import near

pytestmark = pytest.mark.opensearch

EXPLAIN = """
query($id: ID!, $attr: String!) {
  explainTag(assetId: $id, attribute: $attr) {
    __typename
    ... on TagExplanation {
      current { value tier state source }
      decision { kind actorType actorId value note rawLabel ruleId tier }
      reviewed { rawLabel topK { label score } ruleId probability tier tierReason
                 thresholds { high medium cap } analyser taxonomyVersion modelFingerprint }
      proposal { value }
      colourEvidence { foregroundShare findings { name family hex measuredHex coverage deltaE
                       alternatives { name family deltaE } } }
      history { kind actorType actorId fromValue toValue note at }
      exemplars(k: 3) { score tag { value state } asset { id } }
    }
    ... on NotFound { message id }
    ... on InvalidInput { message field }
  }
}"""
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) { __typename } }"""
CONFIRM = """
mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""


async def test_explain_navy(api: Api) -> None:
    await api.create(
        [
            A(
                id="x",
                vector=near(1.0, 2),
                tags=(T(attribute="colour", value="navy", probability=0.8),),
            ),
            A(id="e1", vector=near(0.95, 3), tags=(T(attribute="colour", value="black"),)),
            A(id="e2", vector=near(0.90, 4), tags=(T(attribute="colour", value="navy"),)),
            A(id="e3", vector=near(0.99, 5), tags=(T(attribute="colour", value="navy"),)),
        ]
    )
    # Humans decided e1 (corrected) and e2 (confirmed); e3 is nearer but only machine-tagged.
    for asset, query, extra in (
        ("e1", CORRECT, {"value": "black", "note": "dye lot"}),
        ("e2", CONFIRM, {}),
    ):
        inp = {"assetId": asset, "attribute": "colour", "expectedRevision": 1, **extra}
        assert (await api.data(query, {"input": inp}))[
            "correctTag" if query is CORRECT else "confirmTag"
        ]["__typename"] == "TagDecision"
    await api.refresh()
    inp = {
        "assetId": "x",
        "attribute": "colour",
        "expectedRevision": 1,
        "value": "black",
        "note": "it is black in the studio",
    }
    await api.data(CORRECT, {"input": inp})

    result = (await api.data(EXPLAIN, {"id": "x", "attr": "colour"}))["explainTag"]
    assert result["current"] == {
        "value": "black",
        "tier": "flagged",
        "state": "corrected",
        "source": "analyser_then_human",
    }
    # The value in force is the human correction; the analyser's decision it reviewed is
    # beside it, and no newer model proposed anything.
    assert result["decision"] == {
        "kind": "corrected",
        "actorType": "human",
        "actorId": "dev",
        "value": "black",
        "note": "it is black in the studio",
        "rawLabel": None,
        "ruleId": None,
        "tier": None,
    }
    assert result["proposal"] is None
    chain = result["reviewed"]
    assert chain["rawLabel"] == "raw navy"
    assert chain["ruleId"] == "default:navy"
    assert chain["topK"][0] == {"label": "raw navy", "score": 0.8}
    assert chain["thresholds"] == {"high": 0.95, "medium": 0.75, "cap": "auto_applied"}
    assert chain["tier"] == "flagged"
    assert "0.8" in chain["tierReason"]
    assert chain["analyser"] == ANALYSER
    assert chain["taxonomyVersion"] == api.taxonomy.attribute_version("colour")
    finding = result["colourEvidence"]["findings"][0]
    assert finding["name"] == "navy"
    assert finding["family"] == "blue"
    assert finding["alternatives"] == [{"name": "black", "family": "black", "deltaE": 9.7}]
    assert [(h["kind"], h["actorId"], h["fromValue"], h["toValue"]) for h in result["history"]] == [
        ("model_tagged", ANALYSER, None, "navy"),
        ("corrected", "dev", "navy", "black"),
    ]
    assert result["history"][1]["note"] == "it is black in the studio"
    exemplars = result["exemplars"]
    assert [e["asset"]["id"] for e in exemplars] == ["e1", "e2"]
    assert exemplars[0]["tag"] == {"value": "black", "state": "corrected"}


async def test_explain_unknowns(api: Api) -> None:
    await api.create([A(id="x", tags=(T(attribute="colour", value="navy"),))])
    missing = (await api.data(EXPLAIN, {"id": "nope", "attr": "colour"}))["explainTag"]
    assert missing["__typename"] == "NotFound"
    bad = (await api.data(EXPLAIN, {"id": "x", "attr": "fabric"}))["explainTag"]
    assert bad["__typename"] == "InvalidInput"
    assert bad["field"] == "attribute"
    untagged = (await api.data(EXPLAIN, {"id": "x", "attr": "pattern"}))["explainTag"]
    assert untagged["current"] is None
    assert untagged["decision"] is None
    assert untagged["reviewed"] is None
