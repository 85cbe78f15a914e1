"""The learning loop through the public API on the real node: review → train → evaluate →
gate → promote → retag, and a promotion the gate refuses (then forced, with a note).

Vectors are clustered per true shot type, so a head trained on the reviewers' decisions
beats the (random-init) zero-shot head everywhere.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.cli import main
from tagtrail.config import Settings
from tagtrail.errors import InvalidInput
from tagtrail.learning.evaluate import ScoredExample, evaluation_report
from tagtrail.learning.head import TrainingSummary, TunedHead
from tagtrail.store import Store
from tagtrail.usecases import heads as uc
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import DIM, A, T

pytestmark = pytest.mark.opensearch

SHOTS = ("flat_lay", "on_model", "ghost_mannequin", "detail")
BRANDS = ("Northwind", "Acme")

DECIDE = """
mutation($input: TagDecisionInput!) {
  confirmTag(input: $input) { __typename }
}"""
CORRECT = """
mutation($input: TagCorrectionInput!) {
  correctTag(input: $input) { __typename }
}"""
TRAIN = """
mutation {
  trainHead(attribute: "shot_type") {
    __typename
    ... on HeadTrained { created skipped head { version kind champion challenger nExamples
      evaluation { method championVersion wouldPromote gateReasons
        segments { segment n accuracy macroF1 ece autoN autoCoverage autoPrecision
                   autoPrecisionLow autoPrecisionHigh } } } }
    ... on InvalidInput { message field }
  }
}"""
PROMOTE = """
mutation($version: String!, $force: Boolean!, $note: String) {
  promoteHead(attribute: "shot_type", version: $version, force: $force, note: $note) {
    __typename
    ... on HeadPromoted { previousVersion forced note reasons head { version champion } }
    ... on PromotionRefused { version reasons }
    ... on InvalidInput { message field }
    ... on NotFound { message }
  }
}"""
EXPLAIN = """
query($id: ID!) { explainTag(assetId: $id, attribute: "shot_type") {
  ... on TagExplanation { head { version summary nExamples } } } }"""
HEADS = """
query { heads(attribute: "shot_type") { version champion challenger } }"""
PREVIEW = """
query($attribute: String, $sample: Int!) { retagPreview(attribute: $attribute, sample: $sample) {
  __typename
  ... on RetagPreview { checked wouldRetag otherEncoder headVersions
    rows { attribute segment changed valueChanges tierChanges newlyApplied noLongerApplied
           humanDecided humanDisagreements
           sample { assetId oldValue newValue oldTier newTier humanDecided } } }
  ... on InvalidInput { message field }
  ... on Forbidden { message } } }"""


def _runtime(settings: Settings, client: AsyncOpenSearch) -> Runtime:
    return Runtime(settings, store=Store(settings, client=client))


def _catalogue(fingerprint: str, per: int = 6) -> list[tuple[A, str]]:
    """Assets with vectors clustered by true shot type; the model's tag is right half the time."""
    rng = np.random.default_rng(7)
    out = []
    for b, brand in enumerate(BRANDS):
        for k, truth in enumerate(SHOTS):
            for i in range(per):
                v = np.zeros(DIM)
                v[10 + k] = 1.0
                v += rng.normal(0.0, 0.4 / np.sqrt(DIM), DIM)
                proposed = truth if i % 2 == 0 else SHOTS[(k + 1) % len(SHOTS)]
                asset = A(
                    id=f"h-{b}-{k}-{i}",
                    brand=brand,
                    vector=tuple((v / np.linalg.norm(v)).tolist()),
                    tags=(
                        T(attribute="shot_type", value=proposed, probability=0.6),
                        T(attribute="category", value="jumper", probability=0.97),
                    ),
                    model=fingerprint,
                )
                out.append((asset, truth))
    return out


async def _review(api: Api, catalogue: list[tuple[A, str]]) -> None:
    for asset, truth in catalogue:
        proposed = asset.tags[0].value
        base = {"assetId": asset.id, "attribute": "shot_type", "expectedRevision": 1}
        if proposed == truth:
            result = await api.data(DECIDE, {"input": base})
            assert result["confirmTag"]["__typename"] == "TagDecision"
        else:
            result = await api.data(CORRECT, {"input": {**base, "value": truth}})
            assert result["correctTag"]["__typename"] == "TagDecision"


async def test_review_train_promote_retag(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    # Another server process: it checks the champion aliases (here at every use).
    runtime = _runtime(settings.with_changes(heads_refresh_s=0.001), indexed)
    zero_shot = (await runtime.tagging.tagger()).heads["shot_type"].version
    catalogue = _catalogue((await runtime.tagging.tagger()).model_fingerprint)
    await api.create([a for a, _ in catalogue])
    await _review(api, catalogue)

    trained = (await api.data(TRAIN))["trainHead"]
    assert trained["__typename"] == "HeadTrained", trained
    head = trained["head"]
    version = head["version"]
    assert version.startswith("tuned:shot_type:")
    assert head["challenger"]
    assert not head["champion"]
    assert head["nExamples"] >= len(catalogue)
    evaluation = head["evaluation"]
    assert evaluation["championVersion"] == zero_shot
    assert evaluation["wouldPromote"], evaluation["gateReasons"]
    overall = evaluation["segments"][0]
    assert overall["segment"] == "overall"
    assert overall["n"] == len(catalogue)
    assert overall["accuracy"] >= 0.9
    names = {s["segment"] for s in evaluation["segments"]}
    assert {"brand=Northwind", "brand=Acme", "category_family=knitwear"} <= names
    assert {f"shot_type={s}" for s in SHOTS} <= names

    # Training again on the same decisions gives the same version (deterministic).
    again = (await api.data(TRAIN))["trainHead"]
    assert again["head"]["version"] == version
    assert again["created"] is False

    promoted = (await api.data(PROMOTE, {"version": version, "force": False}))["promoteHead"]
    assert promoted["__typename"] == "HeadPromoted", promoted
    assert promoted["head"] == {"version": version, "champion": True}
    assert promoted["forced"] is False
    listed = (await api.data(HEADS))["heads"]
    assert listed == [{"version": version, "champion": True, "challenger": True}]
    twice = (await api.data(PROMOTE, {"version": version, "force": False}))["promoteHead"]
    assert twice["__typename"] == "PromotionRefused"

    await asyncio.sleep(0.01)
    assert (await runtime.tagging.tagger()).heads["shot_type"].version == version
    # A fresh process loads the champion; retag applies it, human decisions still win.
    fresh = _runtime(settings, indexed)
    assert (await fresh.tagging.tagger()).heads["shot_type"].version == version
    # The impact preview first: it writes nothing and predicts exactly what retag does.
    preview = (await api.data(PREVIEW, {"sample": 2}))["retagPreview"]
    assert preview["__typename"] == "RetagPreview", preview
    assert f"shot_type: {version}" in preview["headVersions"]
    assert (preview["checked"], preview["wouldRetag"]) == (len(catalogue), len(catalogue))
    rows = {(r["attribute"], r["segment"]): r for r in preview["rows"]}
    shot_rows = rows[("shot_type", "overall")]
    assert shot_rows["humanDecided"] == shot_rows["changed"] == len(catalogue)
    assert shot_rows["valueChanges"] == 0  # every shot type is human-decided: values stay
    assert rows[("shot_type", "brand=Acme")]["changed"] == len(catalogue) // 2
    assert all(len(r["sample"]) == min(2, r["changed"]) for r in preview["rows"])
    assert all(s["humanDecided"] for s in shot_rows["sample"])
    again = (await api.data(PREVIEW, {"sample": 2}))["retagPreview"]
    assert again == preview  # deterministic, and nothing was written
    only = (await api.data(PREVIEW, {"attribute": "category", "sample": 0}))["retagPreview"]
    assert {r["attribute"] for r in only["rows"]} <= {"category"}
    assert all(r["sample"] == [] for r in only["rows"])
    bad = (await api.data(PREVIEW, {"attribute": "nope", "sample": 1}))["retagPreview"]
    assert bad["__typename"] == "InvalidInput"
    assert "unknown attribute 'nope'" in bad["message"]

    report = await fresh.retag.run()
    assert report.retagged == preview["wouldRetag"]
    disagreements = value_changes = 0
    for asset, truth in catalogue:
        source = await api.source(asset.id)
        tags = {t["attribute"]: t for t in source["tags"]}
        disagreements += tags["shot_type"]["proposed_value"] != truth
        value_changes += tags["category"]["value"] != "jumper"
    assert shot_rows["humanDisagreements"] == disagreements
    category = rows.get(("category", "overall"), {"valueChanges": 0})
    assert category["valueChanges"] == value_changes
    asset, truth = catalogue[1]
    events = await api.events(asset.id)
    retagged = [e for e in events if e["kind"] == "model_tagged" and e["seq"] == 3]
    shot = [e for e in retagged if e["attribute"] == "shot_type"]
    assert shot
    assert shot[0]["actor"]["head_version"] == version
    explained = (await api.data(EXPLAIN, {"id": asset.id}))["explainTag"]
    assert explained["head"]["version"] == version
    assert explained["head"]["summary"].startswith(f"shot_type head {version}, ")
    assert "reviewer decisions" in explained["head"]["summary"]
    category = await api.data(EXPLAIN.replace('"shot_type"', '"category"'), {"id": asset.id})
    assert category["explainTag"]["head"] is None  # a zero-shot head decided
    source = await api.source(asset.id)
    tag = next(t for t in source["tags"] if t["attribute"] == "shot_type")
    assert (tag["value"], tag["state"]) == (truth, "corrected")
    assert tag["proposed_head_version"] == version


def _scored(brand: str, i: int, right: bool) -> ScoredExample:
    return ScoredExample(
        example_id=f"e{brand}{i}",
        asset_id=f"a{brand}{i}",
        label="flat lay" if i % 2 else "person wearing",
        predicted=("flat lay" if i % 2 else "person wearing") if right else "close-up detail",
        probability=0.9,
        segments={"brand": brand},
    )


async def _store_rogue(runtime: Runtime) -> TunedHead:
    """A stored candidate whose evaluation fails brand Kobo (trained on wrong Kobo labels)."""
    # The candidate was trained on Kobo decisions that were wrong: it fails Kobo's photos.
    old = [_scored(b, i, True) for b in ("Kobo", "Aster") for i in range(40)]
    new = [_scored(b, i, b != "Kobo" or i >= 30) for b in ("Kobo", "Aster") for i in range(40)]
    # Trained for this taxonomy and encoder (anything else is refused before the gate).
    tagger = await runtime.tagging.tagger()
    labels = tagger.zero_shot_heads["shot_type"].labels
    head = TunedHead(
        attribute="shot_type",
        labels=labels,
        weights=np.eye(len(labels), 4, dtype=np.float32),
        bias=np.zeros(len(labels), dtype=np.float32),
        scale=10.0,
        training=TrainingSummary(
            training_fingerprint="f",
            taxonomy_version=tagger.taxonomy.attribute_version("shot_type"),
            base_version="zs",
            n_examples=80,
            n_positive=80,
            n_negative=0,
        ),
    )
    evaluation = uc.StoredEvaluation(
        candidate=evaluation_report(new, attribute="shot_type", head_version=head.version),
        champion=evaluation_report(old, attribute="shot_type", head_version="zero-shot"),
    )
    assert await runtime.heads.store_head(
        head, evaluation, actor="ml", encoder=tagger.model_fingerprint
    )

    return head


async def test_gate_refuses_a_rogue_brand_and_force_records_the_note(
    settings: Settings, indexed: AsyncOpenSearch
) -> None:
    runtime = _runtime(settings, indexed)
    head = await _store_rogue(runtime)

    refused = await runtime.heads.promote("shot_type", head.version, actor="ana")
    assert not refused.promoted
    kobo = [r for r in refused.reasons if r.startswith("brand=Kobo: macro-F1 ")]
    assert len(kobo) == 1
    assert "worse than margin 0.05" in kobo[0]
    assert not any(r.startswith("brand=Aster") for r in refused.reasons)
    assert (await runtime.store.heads.alias(uc.CHAMPION, "shot_type")).version is None
    shown = await runtime.heads.evaluate("shot_type", head.version)
    assert not shown.gate.promote

    with pytest.raises(InvalidInput):
        await runtime.heads.promote("shot_type", head.version, actor="ana", force=True)
    forced = await runtime.heads.promote(
        "shot_type", head.version, actor="ana", force=True, note="Kobo relabel pending"
    )
    assert forced.promoted
    assert forced.forced
    assert (await runtime.store.heads.alias(uc.CHAMPION, "shot_type")).version == head.version
    (logged,) = await runtime.store.heads.promotions("shot_type")
    assert (logged.forced, logged.note, logged.created_by) == (True, "Kobo relabel pending", "ana")
    assert (logged.alias, logged.attribute, logged.version) == (
        "champion",
        "shot_type",
        head.version,
    )
    assert any("brand=Kobo" in r for r in logged.reasons)
    # Forced, it is what the tagger of this process uses from now on.
    assert (await runtime.tagging.tagger()).heads["shot_type"].version == head.version
    infos = await runtime.heads.versions("shot_type")
    assert [(i.version, i.champion, i.challenger) for i in infos] == [(head.version, True, False)]


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("TAGTRAIL_OPENSEARCH_URL", settings.effective_opensearch_url)
    monkeypatch.setenv("TAGTRAIL_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("TAGTRAIL_MODEL", settings.model)
    return settings


async def test_cli_evaluate_promote_list(
    env: Settings, indexed: AsyncOpenSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    head = await _store_rogue(_runtime(env, indexed))
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["heads", "evaluate", "shot_type"]) == 2  # no challenger
    assert "has no challenger" in capsys.readouterr().err
    args = ["heads", "evaluate", "shot_type", "--version", head.version]
    assert await asyncio.to_thread(main, args) == 0
    out = capsys.readouterr().out
    assert json.loads(out.splitlines()[0])["gate"]["promote"] is False
    assert "brand=Kobo" in out
    assert "gate refuses:" in out
    promote = ["heads", "--actor", "ana", "promote", "shot_type", head.version]
    assert await asyncio.to_thread(main, promote) == 1
    assert "brand=Kobo: macro-F1" in capsys.readouterr().out
    assert await asyncio.to_thread(main, [*promote, "--force"]) == 2  # a note is required
    assert "needs a note" in capsys.readouterr().err
    assert await asyncio.to_thread(main, [*promote, "--force", "--note", "relabel pending"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["forced"] is True
    assert await asyncio.to_thread(main, ["heads", "list", "shot_type"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert (json.loads(line)["version"], json.loads(line)["champion"]) == (head.version, True)
    # Training with no reviewer decisions is an error that says so.
    assert await asyncio.to_thread(main, ["heads", "train", "shot_type"]) == 2
    assert "no reviewer decisions" in capsys.readouterr().err
    # The retag preview on an empty catalogue: a progress bar, a table, nothing to change.
    assert await asyncio.to_thread(main, ["retag", "--preview", "--sample", "1"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.splitlines()[0])["would_retag"] == 0
    assert "0 of 0 assets would change" in captured.out
    assert "preview" in captured.err  # tqdm's bar
    assert await asyncio.to_thread(main, ["retag", "--preview", "--attribute", "nope"]) == 2
    assert "unknown attribute 'nope'" in capsys.readouterr().err


async def test_head_mutations_need_admin_and_answer_expected_errors(make_api: Any) -> None:
    from tagtrail.api.auth import hash_key

    keys = f"rob:reviewer:{hash_key('tt_rob')},ada:admin:{hash_key('tt_ada')}"
    api: Api = await make_api(api_keys=keys, dev=False)
    variables = {"version": "tuned:shot_type:000000000000", "force": False}
    denied = (await api.data(PROMOTE, variables, key="tt_rob"))["promoteHead"]
    assert denied["__typename"] == "Forbidden"
    assert (await api.data(TRAIN, key="tt_rob"))["trainHead"]["__typename"] == "Forbidden"
    missing = (await api.data(PROMOTE, variables, key="tt_ada"))["promoteHead"]
    assert missing["__typename"] == "NotFound"
    forced = (await api.data(PROMOTE, {**variables, "force": True}, key="tt_ada"))["promoteHead"]
    assert forced == {"__typename": "InvalidInput", "message": forced["message"], "field": "note"}
    untrained = (await api.data(TRAIN, key="tt_ada"))["trainHead"]
    assert untrained["__typename"] == "InvalidInput"
    assert "no reviewer decisions" in untrained["message"]
    colour = TRAIN.replace('"shot_type"', '"colour"')
    assert (await api.data(colour, key="tt_ada"))["trainHead"]["field"] == "attribute"
    assert (await api.data(HEADS, key="tt_rob"))["heads"] == []
    preview = (await api.data(PREVIEW, {"sample": 1}, key="tt_rob"))["retagPreview"]
    assert preview["__typename"] == "Forbidden"
    huge = (await api.data(PREVIEW, {"sample": 51}, key="tt_ada"))["retagPreview"]
    assert (huge["__typename"], huge["field"]) == ("InvalidInput", "sample")


async def test_decisions_scan_pages_and_filters(api: Api, settings: Settings) -> None:
    await api.create(
        [A(id=f"p{i}", tags=(T(attribute="shot_type", value="detail"),)) for i in range(5)]
    )
    for i in range(5):
        base = {"assetId": f"p{i}", "attribute": "shot_type", "expectedRevision": 1}
        assert (await api.data(DECIDE, {"input": base}))["confirmTag"][
            "__typename"
        ] == "TagDecision"
    store = Store(settings, client=api.client)
    found = await store.events.decisions("shot_type", ["confirmed", "corrected"], page=2)
    assert sorted(e.asset_id for e in found) == [f"p{i}" for i in range(5)]
    assert {e.kind for e in found} == {"confirmed"}
    assert await store.events.decisions("shot_type", ["rejected"]) == []
    assert await store.events.decisions("category", ["confirmed"]) == []
