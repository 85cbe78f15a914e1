"""Taxonomy migrations on assets the model re-decides (vectors of the serving encoder): a
split sends human decisions back to review and no model event replaces them, a rejection
stays a rejection, and a change writes nothing for the tags it does not change."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
import yaml
from opensearchpy import AsyncOpenSearch
from PIL import Image

from tagtrail.config import Settings
from tagtrail.store import Store
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import DIM, A, T

pytestmark = pytest.mark.opensearch

DECIDE = """mutation($input: TagDecisionInput!) {
  confirmTag(input: $input) { __typename ... on TagDecision { revision } } }"""
CORRECT = """mutation($input: TagCorrectionInput!) {
  correctTag(input: $input) { __typename ... on TagDecision { revision } } }"""
REJECT = """mutation($input: TagDecisionInput!) {
  rejectTag(input: $input) { __typename ... on TagDecision { revision } } }"""


def _runtime(settings: Settings, client: AsyncOpenSearch, directory: Path | None = None) -> Runtime:
    if directory is not None:
        settings = settings.with_changes(taxonomy_dir=str(directory))
    return Runtime(settings, Store(settings, client))


def _vector(seed: int) -> tuple[float, ...]:
    v = np.random.default_rng(seed).normal(size=DIM)
    return tuple((v / np.linalg.norm(v)).tolist())


def _copy(settings: Settings, root: Path, name: str) -> Path:
    new = root / name
    shutil.copytree(settings.taxonomy_dir, new)
    return new


def _edit(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _migrations(new: Path, steps: list[dict[str, Any]]) -> None:
    (new / "migrations.yaml").write_text(yaml.safe_dump({"migrations": steps}), encoding="utf-8")


def _split_shirt(settings: Settings, root: Path) -> Path:
    new = _copy(settings, root, "split")

    def edit(data: Any) -> None:
        category = data["attributes"]["category"]
        values = category["values"]
        at = next(i for i, v in enumerate(values) if v["id"] == "shirt")
        values[at : at + 1] = [
            {"id": "dress_shirt", "label": "Dress Shirt", "parent": "tops"},
            {"id": "overshirt", "label": "Overshirt", "parent": "tops"},
        ]
        for entry in category["vocabulary"]:
            if entry.get("maps_to") == "shirt":
                entry["maps_to"] = "dress_shirt"

    _edit(new / "taxonomy.yaml", edit)
    split = {"from": "shirt", "to": ["dress_shirt", "overshirt"]}
    _migrations(new, [{"id": "shirts", "attribute": "category", "split": split}])
    return new


def _category(doc: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in doc["tags"] if t["attribute"] == "category")


async def test_a_split_sends_human_decisions_to_review_and_the_model_only_proposes(
    api: Api, settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    runtime = _runtime(settings, indexed)
    fingerprint = (await runtime.tagging.tagger()).model_fingerprint
    ids = {"confirmed": 4, "corrected": 4, "rejected": 2, "model": 2}
    assets = [
        A(
            id=f"{kind}-{i}",
            vector=_vector(10 * n + i),
            model=fingerprint,
            tags=(T(attribute="category", value="t_shirt" if kind == "corrected" else "shirt"),),
        )
        for n, (kind, count) in enumerate(ids.items())
        for i in range(count)
    ]
    await api.create(assets)
    for asset in assets:
        kind = asset.id.split("-")[0]
        base = {"assetId": asset.id, "attribute": "category", "expectedRevision": 1}
        mutation = {"confirmed": DECIDE, "corrected": CORRECT, "rejected": REJECT}.get(kind)
        if mutation is not None:
            inp = {**base, "value": "shirt"} if kind == "corrected" else base
            result = next(iter((await api.data(mutation, {"input": inp})).values()))
            assert result["__typename"] == "TagDecision", result
    before = {a.id: _category(await api.source(a.id)) for a in assets}
    new = _split_shirt(settings, tmp_path)

    preview = await runtime.taxonomy_changes.preview(new)
    applied = await runtime.taxonomy_changes.apply(new)
    assert applied.other_encoder == 0  # every asset is re-decided by the model
    assert msgspec.to_builtins(applied.rows) == msgspec.to_builtins(preview.rows)
    assert applied.human_decisions_touched == 10

    def check(tags: dict[str, dict[str, Any]]) -> None:
        for asset_id, tag in tags.items():
            kind, old = asset_id.split("-")[0], before[asset_id]
            if kind == "model":
                assert tag["source"] == "model", tag
                continue
            # The reviewer's decision is in force: its source and reviewer are kept.
            assert (tag["source"], tag["decided_by"]) == (old["source"], old["decided_by"]), tag
            assert tag["value"] == "dress_shirt"
            if kind == "rejected":  # "not a shirt": none of the shirts, until a human decides
                assert (tag["state"], tag["applied"], tag["reviewed"]) == ("rejected", False, True)
            else:  # back to review, still applied
                assert (tag["state"], tag["applied"], tag["needs_review"]) == (
                    "flagged",
                    True,
                    True,
                )
            if tag.get("proposed_value") is not None:  # the model's guess stands beside it
                assert tag["proposed_event_id"].split(":")[1] >= "000003"

    check({a.id: _category(await api.source(a.id)) for a in assets})
    for asset in assets:
        if not asset.id.startswith("model"):
            kinds = [e["kind"] for e in await api.events(asset.id) if e["seq"] == 3]
            assert kinds[0] == "migrated", kinds
            assert "retired" not in kinds, kinds

    # Nor does a later re-tag under the new taxonomy replace them; apply again is a no-op.
    await _runtime(settings, indexed, new).retag.run()
    check({a.id: _category(await api.source(a.id)) for a in assets})
    again = await runtime.taxonomy_changes.apply(new)
    assert (again.assets_changed, again.events) == (0, 0)
    # A reviewer then decides again.
    revision = (await api.source("confirmed-0"))["revision"]
    inp = {"assetId": "confirmed-0", "attribute": "category", "expectedRevision": revision}
    assert (await api.data(DECIDE, {"input": inp}))["confirmTag"]["__typename"] == "TagDecision"
    tag = _category(await api.source("confirmed-0"))
    assert (tag["value"], tag["state"], tag["source"]) == (
        "dress_shirt",
        "confirmed",
        "model_then_human",
    )
    store = Store(settings, client=indexed)
    for asset in assets:
        assert await store.assets.reproject(asset.id) is False


def _rename_coatigan_and_mustard(settings: Settings, root: Path) -> Path:
    new = _copy(settings, root, "renamed")

    def category(data: Any) -> None:
        values = data["attributes"]["category"]
        next(v for v in values["values"] if v["id"] == "coatigan")["id"] = "longline_coat"
        for rule in values["rules"]:
            if rule.get("then") == "coatigan":
                rule["then"] = "longline_coat"

    def palette(data: Any) -> None:
        next(c for c in data["colours"] if c["name"] == "mustard")["name"] = "ochre"

    _edit(new / "taxonomy.yaml", category)
    _edit(new / "colours.yaml", palette)
    _migrations(
        new,
        [
            {
                "id": "longline",
                "attribute": "category",
                "rename": {"from": "coatigan", "to": "longline_coat"},
            },
            {"id": "ochre", "attribute": "colour", "rename": {"from": "mustard", "to": "ochre"}},
        ],
    )
    return new


def _photo(rgb: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 96), rgb).save(out, format="PNG")
    return out.getvalue()


async def test_a_change_writes_nothing_for_tags_it_does_not_change(
    api: Api, settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    runtime = _runtime(settings, indexed)
    fingerprint = (await runtime.tagging.tagger()).model_fingerprint
    colours = [(27, 37, 65), (190, 50, 44), (30, 77, 43)]  # navy, warm red, forest green
    outcomes = await runtime.ingest.batch(
        [IngestItem(name=f"p{i}.png", data=_photo(rgb)) for i, rgb in enumerate(colours)]
    )
    photos = [str(o.asset_id) for o in outcomes]
    await api.create(
        [
            A(
                id="coat",
                vector=_vector(1),
                model=fingerprint,
                tags=(T(attribute="category", value="coatigan"),),
            ),
            # Stored by another head version: the model re-decides it.
            A(
                id="redecided",
                vector=_vector(2),
                model=fingerprint,
                tags=(T(attribute="category", value="hoodie"),),
            ),
        ]
    )
    confirm = {"assetId": "coat", "attribute": "category", "expectedRevision": 1}
    assert (await api.data(DECIDE, {"input": confirm}))["confirmTag"]["__typename"] == (
        "TagDecision"
    )
    docs = {i: await api.source(i) for i in [*photos, "coat", "redecided"]}
    touched = {
        i for i, d in docs.items() if {t["value"] for t in d["tags"]} & {"coatigan", "mustard"}
    }
    new = _rename_coatigan_and_mustard(settings, tmp_path)

    preview = await runtime.taxonomy_changes.preview(new)
    applied = await runtime.taxonomy_changes.apply(new)
    assert msgspec.to_builtins(applied.rows) == msgspec.to_builtins(preview.rows)
    assert (applied.assets_changed, applied.events) == (preview.assets_changed, preview.events)
    assert {"category", "colour"} <= set(applied.attributes_moved)
    # Only the assets with a changed tag got a revision, and only for their changed tags.
    assert applied.assets_changed == len(touched | {"redecided"})
    for asset_id, doc in docs.items():
        after = await api.source(asset_id)
        written = [e for e in await api.events(asset_id) if e["seq"] > doc["revision"]]
        if asset_id in touched or asset_id == "redecided":
            assert after["revision"] == doc["revision"] + 1
            # Migrated and re-decided assets alike record the taxonomy they were carried into.
            assert after["taxonomy_version"] == applied.new_version
        else:
            assert (after["revision"], written) == (doc["revision"], []), asset_id
            assert after["taxonomy_version"] == doc["taxonomy_version"]
    assert [e["kind"] for e in await api.events("redecided") if e["seq"] == 2] == ["model_tagged"]
    coat = _category(await api.source("coat"))
    assert (coat["value"], coat["state"]) == ("longline_coat", "confirmed")

    # Relabelling the release (nothing else) moves no attribute and writes nothing.
    relabelled = _copy(settings, tmp_path / "relabel", "v3")
    shutil.rmtree(relabelled)
    shutil.copytree(new, relabelled)
    (relabelled / "migrations.yaml").unlink()
    _edit(relabelled / "taxonomy.yaml", lambda data: data.update(label="default-2026.12"))
    served = _runtime(settings, indexed, new)
    label_only = await served.taxonomy_changes.preview(relabelled)
    assert label_only.attributes_moved == []
    assert (label_only.assets_changed, label_only.events) == (0, 0)
    assert (await served.taxonomy_changes.apply(relabelled)).events == 0
