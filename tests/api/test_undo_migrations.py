"""Undo and training labels through taxonomy migrations: an undo returns to the state before
the decision it undoes, carried into today's taxonomy (never the old value or hierarchy), and
the training label of every decided tag is the value its document holds."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.learning.dataset import TrainingSet
from tagtrail.store import Store
from tagtrail.tagging.taxonomy_files import load_taxonomy
from tagtrail.usecases.head_data import training_set
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api, ApiFactory
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

DECIDE = """mutation($input: TagCorrectionInput!) {
  result: correctTag(input: $input) { ...R } }"""
RESULT = """fragment R on TagDecisionResult { __typename
  ... on TagDecision { revision asset { tag(attribute: "category") {
        value state values needsReview reviewed source taxonomyVersion } } }
  ... on InvalidInput { message field } ... on Conflict { currentRevision } }"""
MUTATION = {
    kind: f"""mutation($input: TagDecisionInput!) {{ result: {kind}(input: $input) {{ ...R }} }}
{RESULT}"""
    for kind in ("confirmTag", "reopenTag")
}
MUTATION["correctTag"] = DECIDE + RESULT
SEARCH = """query($f: AssetFilterInput) { searchAssets(filter: $f, first: 50) {
  ... on AssetSearch { edges { node { id } } } } }"""
# Renames (coatigan, peacoat) and a move (cardigan from knitwear to outerwear).
STEPS = [
    {
        "id": "longline",
        "attribute": "category",
        "rename": {"from": "coatigan", "to": "longline_coat"},
    },
    {"id": "pea-coat", "attribute": "category", "rename": {"from": "peacoat", "to": "pea_coat"}},
]
RENAMES = {"coatigan": "longline_coat", "peacoat": "pea_coat"}


def _new_taxonomy(settings: Settings, root: Path) -> Path:
    new = root / "taxonomy-v2"
    shutil.copytree(settings.taxonomy_dir, new)
    path = new / "taxonomy.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    category = data["attributes"]["category"]
    for v in category["values"]:
        v["id"] = RENAMES.get(v["id"], v["id"])
        if v["id"] == "cardigan":
            v["parent"] = "outerwear"
    for entry in (*category["vocabulary"], *category["rules"]):
        for key in ("maps_to", "then"):
            if entry.get(key) in RENAMES:
                entry[key] = RENAMES[entry[key]]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (new / "migrations.yaml").write_text(yaml.safe_dump({"migrations": STEPS}), encoding="utf-8")
    return new


async def _do(api: Api, kind: str, asset: str, revision: int, **extra: Any) -> dict[str, Any]:
    variables = {
        "input": {"assetId": asset, "attribute": "category", "expectedRevision": revision, **extra}
    }
    result: dict[str, Any] = (await api.data(MUTATION[kind], variables))["result"]
    return result


async def _migrate(api: Api, make_api: ApiFactory, indexed: AsyncOpenSearch, tmp: Path) -> Api:
    """Apply the change; the answer is an API serving the new taxonomy."""
    new = _new_taxonomy(api.settings, tmp)
    await Runtime(api.settings, Store(api.settings, indexed)).taxonomy_changes.apply(new)
    return await make_api(taxonomy_dir=str(new))


async def test_undo_after_a_rename_or_move_restores_the_proposal_in_todays_taxonomy(
    api: Api, make_api: ApiFactory, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    flagged = 0.8  # between the medium and the high threshold: flagged for review
    await api.create(
        [
            A(id="rename", tags=(T(attribute="category", value="coatigan", probability=flagged),)),
            A(id="move", tags=(T(attribute="category", value="cardigan", probability=flagged),)),
        ]
    )
    for asset_id in ("rename", "move"):
        assert (await _do(api, "confirmTag", asset_id, 1))["revision"] == 2
    new_api = await _migrate(api, make_api, indexed, tmp_path)
    version = load_taxonomy(Path(new_api.settings.taxonomy_dir)).attribute_version("category")

    renamed = await _do(new_api, "reopenTag", "rename", 3)
    assert renamed["__typename"] == "TagDecision", renamed
    # Before the fix: coatigan, confirmed (the undo took back the migration, not the decision).
    assert renamed["asset"]["tag"] == {
        "value": "longline_coat",
        "state": "flagged",
        "values": ["longline_coat", "outerwear"],
        "needsReview": True,
        "reviewed": False,
        "source": "model",
        "taxonomyVersion": version,
    }
    moved = await _do(new_api, "reopenTag", "move", 3)
    assert moved["__typename"] == "TagDecision", moved
    tag = moved["asset"]["tag"]
    # Before the fix: cardigan, confirmed, under knitwear (the old hierarchy).
    assert (tag["value"], tag["state"], tag["values"]) == (
        "cardigan",
        "flagged",
        ["cardigan", "outerwear"],
    )
    await new_api.refresh()
    found = await new_api.data(
        SEARCH, {"f": {"tags": [{"attribute": "category", "values": ["outerwear"]}]}}
    )
    assert sorted(e["node"]["id"] for e in found["searchAssets"]["edges"]) == ["move", "rename"]
    # The document is the fold of its events: a rebuild changes nothing.
    store = Store(new_api.settings, indexed)
    assert not await store.assets.reproject("rename")
    assert not await store.assets.reproject("move")


async def test_undo_of_a_correction_carries_the_value_it_returns_to(
    api: Api, make_api: ApiFactory, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    await api.create(
        [
            A(id="from-moved", tags=(T(attribute="category", value="cardigan", probability=0.8),)),
            A(id="from-renamed", tags=(T(attribute="category", value="peacoat", probability=0.8),)),
        ]
    )
    for asset_id in ("from-moved", "from-renamed"):
        corrected = await _do(api, "correctTag", asset_id, 1, value="trench_coat")
        assert corrected["revision"] == 2, corrected
    new_api = await _migrate(api, make_api, indexed, tmp_path)
    # trench_coat did not change, so no migration event: the undo re-expands cardigan itself.
    assert (await new_api.source("from-moved"))["revision"] == 2
    moved = await _do(new_api, "reopenTag", "from-moved", 2)
    assert moved["__typename"] == "TagDecision", moved
    version = load_taxonomy(Path(new_api.settings.taxonomy_dir)).attribute_version("category")
    tag = moved["asset"]["tag"]
    assert (tag["value"], tag["state"], tag["values"], tag["taxonomyVersion"]) == (
        "cardigan",
        "flagged",
        ["cardigan", "outerwear"],
        version,
    )
    # The asset held trench_coat when peacoat was renamed, so no event of its own carried
    # the proposal: the undo carries it through the stored change. Before the fix it was
    # refused ("would bring back category 'peacoat', which taxonomy ... no longer has").
    assert (await new_api.source("from-renamed"))["revision"] == 2
    renamed = await _do(new_api, "reopenTag", "from-renamed", 2)
    assert renamed["__typename"] == "TagDecision", renamed
    assert renamed["asset"]["tag"] == {
        "value": "pea_coat",
        "state": "flagged",
        "values": ["pea_coat", "coat", "outerwear"],
        "needsReview": True,
        "reviewed": False,
        "source": "model",
        "taxonomyVersion": version,
    }
    store = Store(new_api.settings, indexed)
    assert not await store.assets.reproject("from-renamed")  # the document is its events' fold


async def _training(api: Api, indexed: AsyncOpenSearch) -> TrainingSet:
    runtime = Runtime(api.settings, Store(api.settings, indexed))
    return await training_set(
        runtime.store.assets, runtime.store.events, "category", await runtime.tagging.tagger()
    )


def _labels(data: TrainingSet) -> list[tuple[str, str, str]]:
    return [(e.asset_id, e.value, e.polarity) for e in data.examples]


async def test_training_labels_follow_renames_and_repeated_undo(
    api: Api, make_api: ApiFactory, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    runtime = Runtime(api.settings, Store(api.settings, indexed))
    fingerprint = (await runtime.tagging.tagger()).model_fingerprint
    await api.create(
        [
            A(
                id=name,
                axis=n + 2,
                model=fingerprint,
                tags=(T(attribute="category", value="peacoat", probability=0.8),),
            )
            for n, name in enumerate(("confirmed", "twice"))
        ]
    )
    assert (await _do(api, "confirmTag", "confirmed", 1))["revision"] == 2
    # confirm peacoat → correct trench_coat → undo → undo: each undo takes back one decision.
    assert (await _do(api, "confirmTag", "twice", 1))["revision"] == 2
    assert (await _do(api, "correctTag", "twice", 2, value="trench_coat"))["revision"] == 3
    assert (await _do(api, "reopenTag", "twice", 3))["asset"]["tag"]["value"] == "peacoat"
    again = (await _do(api, "reopenTag", "twice", 4))["asset"]["tag"]
    # Before the fix the second undo brought trench_coat back while training used peacoat.
    assert (again["value"], again["state"]) == ("peacoat", "flagged")
    assert _labels(await _training(api, indexed)) == [("confirmed", "peacoat", "positive")]
    assert (await _do(api, "correctTag", "twice", 5, value="trench_coat"))["revision"] == 6
    assert _labels(await _training(api, indexed)) == [
        ("confirmed", "peacoat", "positive"),
        ("twice", "trench_coat", "positive"),
        ("twice", "peacoat", "negative"),
    ]
    new_api = await _migrate(api, make_api, indexed, tmp_path)
    tag = (await new_api.source("confirmed"))["tags"][0]
    assert (tag["value"], tag["state"]) == ("pea_coat", "confirmed")
    after = await _training(new_api, indexed)
    # Before the fix: the confirmation named peacoat, which today's taxonomy has no label for,
    # so it gave no example (1 before the rename, 0 after).
    assert ("confirmed", "pea_coat", "positive") in _labels(after)
    assert ("twice", "trench_coat", "positive") in _labels(after)
