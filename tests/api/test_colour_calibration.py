"""The colour analyser learns from reviewers too: decisions → calibration → gate → promote.

Each asset's colour was proposed by the analyser with a raw confidence; whether it was right
follows a known curve (right more often at higher confidence, but far less often than the
shipped default assumes for these scores), and the simulated reviewer confirms or corrects
accordingly. The calibration fitted from those decisions must beat the shipped default on
them (out of fold), pass the gate, and be used by a fresh process for new photos.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from opensearchpy import AsyncOpenSearch
from PIL import Image

from tagtrail.config import Settings
from tagtrail.store import Store
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

N = 120
DECIDE = """
mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) { __typename } }"""
TRAIN = """
mutation { trainHead(attribute: "colour") {
  __typename
  ... on HeadTrained { created skipped head { version kind challenger champion nExamples summary
    evaluation { method }
    calibration { method n nRight wouldPromote gateReasons
      current { version ece autoShare autoPrecision }
      candidate { version ece autoShare autoPrecision } } } }
  ... on InvalidInput { message field } } }"""
EXPLAIN = """
query($id: ID!) { explainTag(assetId: $id, attribute: "colour") { ... on TagExplanation {
  decision { probability tier }
  colourEvidence { rawConfidence calibrationVersion calibration } } } }"""
PROMOTE = """
mutation($version: String!) { promoteHead(attribute: "colour", version: $version) {
  __typename
  ... on HeadPromoted { head { version champion kind } reasons }
  ... on PromotionRefused { reasons } } }"""


def _assets() -> list[tuple[A, bool]]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(N):
        confidence = float(rng.uniform(0.05, 1.0))
        right = bool(rng.random() < 1.0 / (1.0 + np.exp(-8.0 * (confidence - 0.55))))
        asset = A(
            id=f"c-{i:03d}", tags=(T(attribute="colour", value="navy", probability=confidence),)
        )
        out.append((asset, right))
    return out


async def _review(api: Api, assets: list[tuple[A, bool]]) -> None:
    for asset, right in assets:
        base = {"assetId": asset.id, "attribute": "colour", "expectedRevision": 1}
        if right:
            result = await api.data(DECIDE, {"input": base})
            assert result["confirmTag"]["__typename"] == "TagDecision"
        else:
            result = await api.data(CORRECT, {"input": {**base, "value": "black"}})
            assert result["correctTag"]["__typename"] == "TagDecision"


def _photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 96), (27, 37, 65)).save(buf, format="PNG")
    return buf.getvalue()


async def test_colour_calibration_from_reviewer_decisions(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    assets = _assets()
    await api.create([a for a, _ in assets])
    # Too few decisions: a clear refusal that names the minimum, nothing stored.
    await _review(api, assets[:10])
    early = (await api.data(TRAIN))["trainHead"]
    assert early["__typename"] == "InvalidInput"
    assert "10 reviewer decisions" in early["message"]
    assert "at least 100" in early["message"]

    await _review(api, assets[10:])
    trained: dict[str, Any] = (await api.data(TRAIN))["trainHead"]
    assert trained["__typename"] == "HeadTrained", trained
    head = trained["head"]
    assert head["kind"] == "calibration"
    assert head["version"].startswith("calibration:colour:")
    assert head["challenger"]
    assert not head["champion"]
    assert head["evaluation"] is None
    c = head["calibration"]
    assert (c["n"], c["nRight"]) == (N, sum(r for _, r in assets))
    assert c["method"].startswith("out of fold")
    # The shipped default is over-confident for these scores; the fitted one is not.
    assert c["current"]["ece"] > 0.15
    assert c["candidate"]["ece"] < c["current"]["ece"] - 0.1
    assert c["wouldPromote"], c["gateReasons"]
    assert head["summary"].startswith(f"colour calibration {head['version']}, {N} reviewer")
    again = (await api.data(TRAIN))["trainHead"]
    assert (again["head"]["version"], again["created"]) == (head["version"], False)

    promoted = (await api.data(PROMOTE, {"version": head["version"]}))["promoteHead"]
    assert promoted["__typename"] == "HeadPromoted", promoted
    assert promoted["head"] == {"version": head["version"], "champion": True, "kind": "calibration"}

    # Another process uses it for new photos, and the provenance says so.
    fresh = Runtime(settings, store=Store(settings, client=indexed))
    tagger = await fresh.tagging.tagger()
    assert (tagger.colour_calibration.source or "").startswith(f"reviewer decisions: {N}")
    (outcome,) = await fresh.ingest.batch([IngestItem(name="navy.png", data=_photo())])
    assert outcome.status == "created"
    assert outcome.asset_id
    events = await api.events(outcome.asset_id)
    colour = next(e for e in events if e["attribute"] == "colour")
    calibration = colour["evidence"]["calibration"]
    assert calibration["source"].startswith(f"reviewer decisions: {N}")
    assert colour["probability"] == round(
        tagger.colour_calibration.apply_one(colour["evidence"]["raw_confidence"]), 4
    )
    # explainTag says which calibration turned the measurement into that probability.
    explained = (await api.data(EXPLAIN, {"id": outcome.asset_id}))["explainTag"]
    evidence = explained["colourEvidence"]
    assert evidence["rawConfidence"] == colour["evidence"]["raw_confidence"]
    assert evidence["calibrationVersion"] == tagger.colour_calibration.version
    assert evidence["calibration"].startswith("Platt p = σ(")
    assert f"reviewer decisions: {N}" in evidence["calibration"]
    assert explained["decision"]["probability"] == colour["probability"]
