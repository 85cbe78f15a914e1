"""Shadow mode on the real node: a trained challenger predicts beside the champion on new
photos, its proposals are stored (never applied), and its agreement with what reviewers then
decide is reported beside the champion's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.store import Store
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import DIM, A, T

pytestmark = pytest.mark.opensearch

SHOTS = ("flat_lay", "on_model", "ghost_mannequin", "detail")
DECIDE = """
mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) { __typename } }"""
TRAIN = """
mutation { trainHead(attribute: "shot_type") {
  __typename ... on HeadTrained { head { version } } } }"""
SHADOW = """
query($version: String) { shadowReport(attribute: "shot_type", version: $version) {
  __typename
  ... on ShadowReport { version n challengerAgreed championAgreed challengerAgreement
                        challengerLow challengerHigh championAgreement }
  ... on NotFound { message }
  ... on InvalidInput { message } } }"""


def _batch(prefix: str, fingerprint: str, per: int, seed: int) -> list[tuple[A, str]]:
    """Vectors clustered by true shot type; the stored model tag is right half the time."""
    rng = np.random.default_rng(seed)
    out = []
    for k, truth in enumerate(SHOTS):
        for i in range(per):
            v = np.zeros(DIM)
            v[10 + k] = 1.0
            v += rng.normal(0.0, 0.4 / np.sqrt(DIM), DIM)
            proposed = truth if i % 2 == 0 else SHOTS[(k + 1) % len(SHOTS)]
            tag = T(attribute="shot_type", value=proposed, probability=0.6)
            vector = tuple((v / np.linalg.norm(v)).tolist())
            out.append(
                (A(id=f"{prefix}-{k}-{i}", vector=vector, tags=(tag,), model=fingerprint), truth)
            )
    return out


async def _review(api: Api, batch: list[tuple[A, str]], revision: int) -> None:
    for asset, truth in batch:
        source = await api.source(asset.id)
        tag = next(t for t in source["tags"] if t["attribute"] == "shot_type")
        base = {"assetId": asset.id, "attribute": "shot_type", "expectedRevision": revision}
        if tag["value"] == truth:
            assert (await api.data(DECIDE, {"input": base}))["confirmTag"]["__typename"] == (
                "TagDecision"
            )
        else:
            result = await api.data(CORRECT, {"input": {**base, "value": truth}})
            assert result["correctTag"]["__typename"] == "TagDecision"


async def test_challenger_in_shadow_mode(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    runtime = Runtime(settings.with_changes(heads_refresh_s=0.001), Store(settings, indexed))
    fingerprint = (await runtime.tagging.tagger()).model_fingerprint
    assert (await api.data(SHADOW))["shadowReport"]["__typename"] == "NotFound"  # no challenger
    trained_on = _batch("t", fingerprint, 6, 7)
    await api.create([a for a, _ in trained_on])
    await _review(api, trained_on, 1)
    version = (await api.data(TRAIN))["trainHead"]["head"]["version"]

    # New photos (here: new vectors) are tagged by the champion with the challenger beside it.
    fresh = _batch("n", fingerprint, 5, 8)
    await api.create([a for a, _ in fresh])
    tagger = await runtime.tagging.tagger()
    assert tagger.shadow_heads["shot_type"].version == version
    champion = tagger.heads["shot_type"].version
    assert champion != version
    await runtime.retag.run()
    shadowed = 0
    for asset, _ in fresh:
        events = await api.events(asset.id)
        model = [e for e in events if e["attribute"] == "shot_type" and e["seq"] == 2]
        (event,) = model
        shadow: dict[str, Any] = event["evidence"]["shadow"]
        assert shadow["head_version"] == version
        assert event["actor"]["head_version"] == champion  # the champion decided
        tag = next(t for t in (await api.source(asset.id))["tags"] if t["attribute"] == "shot_type")
        assert tag["head_version"] == champion  # the shadow proposal is never applied
        assert tag["value"] == event["value"]
        shadowed += shadow["value"] != event["value"]
    assert shadowed > 0  # they disagree somewhere, or the report would say nothing

    await _review(api, fresh, 2)
    report = (await api.data(SHADOW))["shadowReport"]
    assert report["__typename"] == "ShadowReport", report
    assert (report["version"], report["n"]) == (version, len(fresh))
    # Trained on the reviewers' decisions, the challenger agrees with them far more often.
    assert report["challengerAgreement"] >= 0.9
    assert report["challengerAgreement"] > report["championAgreement"] + 0.3
    assert report["challengerLow"] <= report["challengerAgreement"] <= report["challengerHigh"]
    bad = (await api.data(SHADOW.replace('"shot_type"', '"nope"')))["shadowReport"]
    assert bad["__typename"] == "InvalidInput"
    # Shadow mode off: no challenger predicts.
    off = Runtime(settings.with_changes(shadow=False), Store(settings, indexed))
    assert (await off.tagging.tagger()).shadow_heads == {}


async def test_photos_tagged_before_the_challenger_count_once_reviewers_decide_them(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    """The catalogue was tagged before the challenger existed and nothing re-tagged it: the
    decisions reviewers make afterwards still judge it (its proposal computed from each
    stored vector), while the decisions it was trained on never do."""
    runtime = Runtime(settings, Store(settings, indexed))
    fingerprint = (await runtime.tagging.tagger()).model_fingerprint
    trained_on = _batch("t", fingerprint, 6, 7)
    older = _batch("o", fingerprint, 5, 9)
    await api.create([a for a, _ in trained_on + older])
    await _review(api, trained_on, 1)
    version = (await api.data(TRAIN))["trainHead"]["head"]["version"]
    before = (await api.data(SHADOW))["shadowReport"]
    assert (before["version"], before["n"]) == (version, 0)  # its training decisions: none

    await _review(api, older, 1)
    report = (await api.data(SHADOW_COMPUTED))["shadowReport"]
    assert report["__typename"] == "ShadowReport", report
    assert (report["n"], report["computed"]) == (len(older), len(older))
    assert report["challengerAgreement"] >= 0.9
    assert report["challengerAgreement"] > report["championAgreement"] + 0.3
    # The same report whichever version is named (the challenger's, by default).
    named = (await api.data(SHADOW_COMPUTED, {"version": version}))["shadowReport"]
    assert named == report


SHADOW_COMPUTED = """
query($version: String) { shadowReport(attribute: "shot_type", version: $version) {
  __typename
  ... on ShadowReport { version n computed challengerAgreement championAgreement } } }"""
