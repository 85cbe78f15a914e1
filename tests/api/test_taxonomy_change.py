"""A taxonomy change on the real node: move, rename, split, retired value and a palette
label, previewed then applied to a catalogue with human decisions. No human decision is lost,
hierarchy filters find reviewed tags under their new parent, untouched assets keep their
revision, and the preview's counts are exactly what apply then changes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.domain.records import HUMAN_STATES
from tagtrail.errors import InvalidInput
from tagtrail.store import Store
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

CONFIRM = """
mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""
EXPLAIN = """
query($id: ID!) { explainTag(assetId: $id, attribute: "category") {
  ... on TagExplanation { decision { kind value note evidence } } } }"""
SEARCH = """
query($f: AssetFilterInput) { searchAssets(filter: $f, first: 50) {
  ... on AssetSearch { edges { node { id } } } } }"""

ASSETS = [
    A(
        id="move",
        tags=(T(attribute="category", value="cardigan"), T(attribute="pattern", value="solid")),
    ),
    A(id="rename", tags=(T(attribute="category", value="coatigan"),)),
    A(id="split", tags=(T(attribute="category", value="jumper"),)),
    A(id="split-model", tags=(T(attribute="category", value="jumper"),)),
    A(id="retire", tags=(T(attribute="material", value="mohair", probability=0.6),)),
    A(id="retire-model", tags=(T(attribute="material", value="mohair", probability=0.5),)),
    A(id="colour", brand=None, tags=(T(attribute="colour", value="navy"),)),  # no overlay
    A(
        id="untouched",
        tags=(T(attribute="category", value="dress"), T(attribute="pattern", value="stripe")),
    ),
]
HUMAN = [
    ("move", "category"),
    ("rename", "category"),
    ("split", "category"),
    ("retire", "material"),
    ("colour", "colour"),
]


def _edit(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _new_taxonomy(settings: Settings, root: Path) -> Path:
    new = root / "taxonomy-v2"
    shutil.copytree(settings.taxonomy_dir, new)

    def edit(data: Any) -> None:
        category = data["attributes"]["category"]
        values = category["values"]
        for v in values:
            if v["id"] == "cardigan":
                v["parent"] = "outerwear"  # a move: no migration needed
            if v["id"] == "coatigan":
                v["id"] = "longline_coat"
        at = next(i for i, v in enumerate(values) if v["id"] == "jumper")
        values[at : at + 1] = [
            {"id": "sweater", "label": "Sweater", "parent": "knitwear"},
            {"id": "pullover", "label": "Pullover", "parent": "knitwear"},
        ]
        for entry in category["vocabulary"]:
            if entry.get("maps_to") == "jumper":
                entry["maps_to"] = "sweater"
        for rule in category["rules"]:
            if rule.get("then") == "coatigan":
                rule["then"] = "longline_coat"
        material = data["attributes"]["material"]
        material["values"] = [v for v in material["values"] if v["id"] != "mohair"]
        material["vocabulary"] = [m for m in material["vocabulary"] if m.get("maps_to") != "mohair"]

    _edit(new / "taxonomy.yaml", edit)

    def relabel(data: Any) -> None:
        next(c for c in data["colours"] if c["name"] == "navy")["label"] = "Midnight Navy"

    _edit(new / "colours.yaml", relabel)
    return new


def _migrations(new: Path, steps: list[dict[str, Any]]) -> None:
    (new / "migrations.yaml").write_text(yaml.safe_dump({"migrations": steps}), encoding="utf-8")


STEPS = [
    {
        "id": "longline",
        "attribute": "category",
        "rename": {"from": "coatigan", "to": "longline_coat"},
    },
    {
        "id": "knit-split",
        "attribute": "category",
        "split": {"from": "jumper", "to": ["sweater", "pullover"]},
    },
    {"id": "no-mohair", "attribute": "material", "retire": ["mohair"]},
]


def _rows(report: Any) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(r) for r in report.rows]


async def test_taxonomy_change_keeps_every_human_decision(
    api: Api, settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    runtime = Runtime(settings, Store(settings, indexed))
    await api.create(ASSETS)
    for asset_id, attribute in HUMAN:
        base = {"assetId": asset_id, "attribute": attribute, "expectedRevision": 1}
        assert (await api.data(CONFIRM, {"input": base}))["confirmTag"]["__typename"] == (
            "TagDecision"
        )
    human_events = {
        a: [e for e in await api.events(a) if e["actor"]["type"] == "human"] for a, _ in HUMAN
    }
    revisions = {a.id: (await api.source(a.id))["revision"] for a in ASSETS}
    new = _new_taxonomy(settings, tmp_path)

    # Values that vanish with no migration saying where their tags go: refused, by name.
    with pytest.raises(InvalidInput, match="coatigan, jumper") as refused:
        await runtime.taxonomy_changes.preview(new)
    assert "category values" in refused.value.message
    _migrations(new, STEPS)

    preview = await runtime.taxonomy_changes.preview(new, sample=2)
    assert not preview.applied
    assert {"category", "material", "colour"} <= set(preview.attributes_moved)
    assert "pattern" not in preview.attributes_moved
    # Nothing was written by the preview.
    assert {a.id: (await api.source(a.id))["revision"] for a in ASSETS} == revisions

    applied = await runtime.taxonomy_changes.apply(new, sample=2)
    assert applied.applied
    assert _rows(applied) == _rows(preview)
    assert (applied.assets_changed, applied.events, applied.human_decisions_touched) == (
        preview.assets_changed,
        preview.events,
        preview.human_decisions_touched,
    )
    changed = {s.asset_id for r in applied.rows for s in r.sample}
    assert applied.assets_changed == len(ASSETS) - 1, changed
    assert applied.human_decisions_touched == 4  # move, rename, split, retire (colour: label)

    tags = {a.id: {t["attribute"]: t for t in (await api.source(a.id))["tags"]} for a in ASSETS}
    # Move: the reviewed cardigan is found under its new parent.
    moved = tags["move"]["category"]
    assert (moved["value"], moved["state"]) == ("cardigan", "confirmed")
    assert "outerwear" in moved["values"]
    assert "knitwear" not in moved["values"]
    found = await api.data(
        SEARCH, {"f": {"tags": [{"attribute": "category", "values": ["outerwear"]}]}}
    )
    assert "move" in {e["node"]["id"] for e in found["searchAssets"]["edges"]}
    # Rename: the human decision carried over, linked in the migration event.
    renamed = tags["rename"]["category"]
    assert (renamed["value"], renamed["state"]) == ("longline_coat", "confirmed")
    (migration,) = [e for e in await api.events("rename") if e["kind"] == "migrated"]
    assert migration["evidence"]["carried_event_id"] == human_events["rename"][0]["event_id"]
    assert migration["evidence"]["migration"] == "longline"
    assert migration["previous_value"] == "coatigan"
    # explainTag explains the value in force: the migration step, carrying the decision.
    explained = await api.data(EXPLAIN, {"id": "rename"})
    decision = explained["explainTag"]["decision"]
    assert (decision["kind"], decision["value"], decision["note"]) == (
        "migrated",
        "longline_coat",
        "rename coatigan → longline_coat",
    )
    assert decision["evidence"]["carried_event_id"] == human_events["rename"][0]["event_id"]
    # Split: the human decision goes back to review with the candidates.
    split = tags["split"]["category"]
    assert (split["value"], split["state"], split["needs_review"]) == ("sweater", "flagged", True)
    (event,) = [e for e in await api.events("split") if e["kind"] == "migrated"]
    assert event["evidence"]["candidates"] == ["sweater", "pullover"]
    assert tags["split-model"]["category"]["state"] == "suggested"
    # Retired: removed by an event; the decision stays in the trail.
    assert "material" not in tags["retire"]
    assert "material" not in tags["retire-model"]
    retired = [e for e in await api.events("retire") if e["kind"] == "retired"]
    assert [e["evidence"]["migration"] for e in retired] == ["no-mohair"]
    # Palette label: the reviewed colour keeps its decision, with the new label.
    assert (tags["colour"]["colour"]["label"], tags["colour"]["colour"]["state"]) == (
        "Midnight Navy",
        "confirmed",
    )
    # Untouched: same revision; the move's pattern tag did not change either.
    untouched = await api.source("untouched")
    assert untouched["revision"] == revisions["untouched"]
    # An asset the change touched records the taxonomy it was carried into.
    assert (await api.source("rename"))["taxonomy_version"] == applied.new_version
    assert untouched["taxonomy_version"] != applied.new_version
    assert tags["move"]["pattern"]["event_id"].endswith(":000001:01")
    # No human decision lost: every human event is still there, every one still decides
    # its tag, or was re-opened by a split, or removed by a named retirement.
    for asset_id, attribute in HUMAN:
        history = await api.events(asset_id)
        assert all(e in history for e in human_events[asset_id])
        tag = tags[asset_id].get(attribute)
        assert (tag is None and asset_id == "retire") or tag["state"] in (*HUMAN_STATES, "flagged")
    # Resumable and idempotent: a second run finds nothing to do.
    again = await runtime.taxonomy_changes.apply(new)
    assert (again.assets_changed, again.events) == (0, 0)
    # The projection still rebuilds identically from the events.
    store = Store(settings, client=indexed)
    for asset in ASSETS:
        assert await store.assets.reproject(asset.id) is False


async def test_bad_migrations_are_refused_by_name(
    api: Api, settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    runtime = Runtime(settings, Store(settings, indexed))
    new = _new_taxonomy(settings, tmp_path)
    _migrations(
        new,
        [
            *STEPS,
            {"id": "typo", "attribute": "category", "rename": {"from": "gilet", "to": "gillet"}},
        ],
    )
    with pytest.raises(InvalidInput, match=r"'typo'.*gillet is not a value"):
        await runtime.taxonomy_changes.preview(new)
    (new / "migrations.yaml").write_text("migrations: [{id: x, attribute: category}]")
    with pytest.raises(InvalidInput, match="exactly one of rename"):
        await runtime.taxonomy_changes.preview(new)
    with pytest.raises(InvalidInput, match="is not a taxonomy folder"):
        await runtime.taxonomy_changes.preview(tmp_path / "nowhere")


async def test_palette_change_renames_colours_from_stored_measurements(
    api: Api, settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    import io

    from PIL import Image

    from tagtrail.tagging.taxonomy_files import load_taxonomy
    from tagtrail.usecases.ingest import IngestItem
    from tagtrail.vision.colour import ColourAnalyser, ColourAnalysis

    runtime = Runtime(settings, Store(settings, indexed))
    photo = io.BytesIO()
    Image.new("RGB", (96, 96), (27, 37, 65)).save(photo, format="PNG")
    (outcome,) = await runtime.ingest.batch([IngestItem(name="navy.png", data=photo.getvalue())])
    assert outcome.asset_id
    before = next(
        t for t in (await api.source(outcome.asset_id))["tags"] if t["attribute"] == "colour"
    )
    assert before["value"] == "navy"
    new = tmp_path / "palette-v2"
    shutil.copytree(settings.taxonomy_dir, new)

    def move_navy(data: Any) -> None:
        next(c for c in data["colours"] if c["name"] == "navy")["hex"] = "#7090E0"

    _edit(new / "colours.yaml", move_navy)
    # What the analyser would call the stored measurement under the new palette.
    (event,) = [e for e in await api.events(outcome.asset_id) if e["attribute"] == "colour"]
    stored = msgspec.convert(event["evidence"], ColourAnalysis)
    expected = ColourAnalyser(load_taxonomy(new).palette).rename(stored).findings[0].name
    assert expected != "navy"

    preview = await runtime.taxonomy_changes.preview(new)
    assert preview.attributes_moved == ["colour"]  # a palette edit touches colour only
    applied = await runtime.taxonomy_changes.apply(new)
    assert _rows(applied) == _rows(preview)
    after = next(
        t for t in (await api.source(outcome.asset_id))["tags"] if t["attribute"] == "colour"
    )
    assert after["value"] == expected
    assert after["source"] == "analyser"
    (renamed,) = [
        e
        for e in await api.events(outcome.asset_id)
        if e["attribute"] == "colour" and e["seq"] == 2
    ]
    assert renamed["evidence"]["findings"][0]["lab"] == event["evidence"]["findings"][0]["lab"]
    assert renamed["taxonomy_version"] == load_taxonomy(new).attribute_version("colour")
    # Other attributes kept their events: only colour moved.
    assert {e["attribute"] for e in await api.events(outcome.asset_id) if e["seq"] == 2} == {
        "colour"
    }


PREVIEW = """
query($dir: String!) { taxonomyPreview(directory: $dir, sample: 1) {
  __typename
  ... on TaxonomyChange { newVersion attributesMoved assetsChanged events humanDecisionsTouched
    rows { attribute value segment assets valueChanges hierarchyChanges retired humanTouched
           sample { assetId oldValue newValue newState humanDecided } } }
  ... on InvalidInput { message field }
  ... on Forbidden { message } } }"""


async def test_preview_through_graphql_and_the_cli(
    api: Api,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio
    import json

    from tagtrail.cli import main

    await api.create(ASSETS[:3])
    new = _new_taxonomy(settings, tmp_path)
    refused = (await api.data(PREVIEW, {"dir": str(new)}))["taxonomyPreview"]
    assert refused["__typename"] == "InvalidInput"
    assert "no migration says where their tags go" in refused["message"]
    _migrations(new, STEPS)
    found = (await api.data(PREVIEW, {"dir": str(new)}))["taxonomyPreview"]
    assert found["__typename"] == "TaxonomyChange", found
    assert found["assetsChanged"] == 3
    rows = {(r["attribute"], r["value"], r["segment"]): r for r in found["rows"]}
    split = rows[("category", "jumper", "overall")]
    assert split["sample"] == [
        {
            "assetId": "split",
            "oldValue": "jumper",
            "newValue": "sweater",
            "newState": "suggested",
            "humanDecided": False,
        }
    ]
    assert rows[("category", "cardigan", "brand=Northwind")]["hierarchyChanges"] == 1
    nowhere = (await api.data(PREVIEW, {"dir": str(tmp_path / "nope")}))["taxonomyPreview"]
    assert "is not a taxonomy folder" in nowhere["message"]

    monkeypatch.setenv("TAGTRAIL_OPENSEARCH_URL", settings.effective_opensearch_url)
    monkeypatch.setenv("TAGTRAIL_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("TAGTRAIL_MODEL", settings.model)
    # No other server follows these indices: apply need not wait a refresh + deadline.
    monkeypatch.setenv("TAGTRAIL_TAXONOMY_APPLY_WAIT_S", "0.3")
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["taxonomy", "preview", str(new)]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out.splitlines()[0])["assets_changed"] == 3
    assert "3 of 3 assets would change" in out.out
    assert "preview" in out.err  # the progress bar
    assert await asyncio.to_thread(main, ["taxonomy", "apply", str(new)]) == 0
    assert ": in force for every server" in capsys.readouterr().out
    assert (await api.source("rename"))["revision"] == 2
    assert await asyncio.to_thread(main, ["taxonomy", "apply", str(new)]) == 0
    assert "0 of 3 assets changed" in capsys.readouterr().out


async def test_a_renamed_further_colour_keeps_its_slot_and_its_reviewer(
    api: Api, settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    from tagtrail.usecases.ingest import IngestItem
    from tests.api.test_multi_values import _striped

    runtime = Runtime(settings, Store(settings, indexed))
    (outcome,) = await runtime.ingest.batch([IngestItem(name="stripes.png", data=_striped(api))])
    asset_id = str(outcome.asset_id)
    confirm = """mutation($input: TagDecisionInput!) { confirmTag(input: $input) {
      ... on TagDecision { revision } } }"""
    inp = {"assetId": asset_id, "attribute": "colour", "slot": "mustard", "expectedRevision": 1}
    assert (await api.data(confirm, {"input": inp}))["confirmTag"] == {"revision": 2}
    new = tmp_path / "palette-v2"
    shutil.copytree(settings.taxonomy_dir, new)

    def rename(data: Any) -> None:
        next(c for c in data["colours"] if c["name"] == "mustard")["name"] = "ochre"

    _edit(new / "colours.yaml", rename)
    _migrations(
        new, [{"id": "ochre", "attribute": "colour", "rename": {"from": "mustard", "to": "ochre"}}]
    )
    preview = await runtime.taxonomy_changes.preview(new)
    applied = await runtime.taxonomy_changes.apply(new)
    assert _rows(applied) == _rows(preview)
    assert applied.human_decisions_touched == 1
    tags = (await api.source(asset_id))["tags"]
    colours = [(t.get("slot"), t["value"], t["state"]) for t in tags if t["attribute"] == "colour"]
    # The reviewer's decision moved to the new name in its slot; the analyser's re-naming of
    # the stored measurement agrees with it, so no second ochre appears.
    assert colours == [(None, "navy", "auto_applied"), ("mustard", "ochre", "confirmed")]
    await api.refresh()
    found = await api.data(SEARCH, {"f": {"tags": [{"attribute": "colour", "values": ["ochre"]}]}})
    assert [e["node"]["id"] for e in found["searchAssets"]["edges"]] == [asset_id]
