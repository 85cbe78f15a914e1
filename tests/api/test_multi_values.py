"""Multi-valued attributes (colour, material): a further value is a tag of its own — its own
evidence, tier and review — found by filters and facets beside the primary value."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tagtrail.store import Store
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

RESULT = """__typename
  ... on TagDecision { revision event { kind toValue }
    asset { tags(attributes: ["material"]) { slot value state applied } } }
  ... on InvalidInput { message field } ... on NotFound { message } ... on Conflict { message }"""
MUTATIONS = {
    name: f"mutation($input: {kind}!) {{ result: {name}(input: $input) {{ {RESULT} }} }}"
    for name, kind in [
        ("addTagValue", "TagValueInput"),
        ("removeTagValue", "TagDecisionInput"),
        ("confirmTag", "TagDecisionInput"),
        ("reopenTag", "TagDecisionInput"),
    ]
}
SEARCH = """query($values: [String!]!) {
  searchAssets(filter: {tags: [{attribute: "colour", values: $values}]}, first: 10,
               facets: [{attribute: "colour", size: 50}]) {
    ... on AssetSearch { edges { node { id } } facets { values { value count } } } } }"""
EXPLAIN = """query($id: ID!, $slot: String) {
  explainTag(assetId: $id, attribute: "colour", slot: $slot) { ... on TagExplanation {
    current { slot value state }
    colourEvidence { finding findings { name coverage } } } } }"""


def _hex(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def _striped(api: Api) -> bytes:
    """A garment of navy and mustard stripes (about 57 % / 43 %) on a light backdrop."""
    palette = {c.name: c.hex for c in api.taxonomy.palette.colours}
    navy, mustard = _hex(palette["navy"]), _hex(palette["mustard"])
    image = Image.new("RGB", (600, 800), (236, 236, 232))
    draw = ImageDraw.Draw(image)
    for top in range(120, 680, 70):
        draw.rectangle((120, top, 480, top + 40), fill=navy)
        draw.rectangle((120, top + 40, 480, top + 70), fill=mustard)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def _ingest(api: Api, data: bytes) -> str:
    runtime = Runtime(api.settings, store=Store(api.settings, client=api.client))
    (outcome,) = await runtime.ingest.batch([IngestItem(name="stripes.png", data=data)])
    assert outcome.status == "created", outcome
    assert outcome.asset_id
    return outcome.asset_id


async def test_a_two_colour_photo_carries_both_colours_each_with_its_evidence(api: Api) -> None:
    asset_id = await _ingest(api, _striped(api))
    source = await api.source(asset_id)
    colours = [t for t in source["tags"] if t["attribute"] == "colour"]
    assert [(t.get("slot"), t["value"]) for t in colours] == [
        (None, "navy"),
        ("mustard", "mustard"),
    ]
    assert all(t["applied"] for t in colours)  # exact palette colours: auto-applied
    assert {"navy", "mustard"} <= set(source["applied"]["colour"])
    events = [e for e in await api.events(asset_id) if e["attribute"] == "colour"]
    assert [(e.get("slot"), e["evidence"]["finding"]) for e in events] == [
        (None, 0),
        ("mustard", 1),
    ]
    await api.refresh()
    found = (await api.data(SEARCH, {"values": ["mustard"]}))["searchAssets"]
    assert [e["node"]["id"] for e in found["edges"]] == [asset_id]
    counts = {v["value"]: v["count"] for v in found["facets"][0]["values"]}
    assert counts["navy"] == 1  # the facet ignores its own filter: both colours counted
    assert counts["mustard"] == 1
    primary = (await api.data(EXPLAIN, {"id": asset_id, "slot": None}))["explainTag"]
    further = (await api.data(EXPLAIN, {"id": asset_id, "slot": "mustard"}))["explainTag"]
    assert primary["current"] == {"slot": None, "value": "navy", "state": "auto_applied"}
    assert primary["colourEvidence"]["finding"] == 0
    assert further["current"] == {"slot": "mustard", "value": "mustard", "state": "auto_applied"}
    assert further["colourEvidence"]["finding"] == 1
    names = [f["name"] for f in further["colourEvidence"]["findings"]]
    assert names[:2] == ["navy", "mustard"]


async def _do(api: Api, name: str, revision: int, **fields: Any) -> dict[str, Any]:
    data = {"assetId": "m", "attribute": "material", "expectedRevision": revision, **fields}
    result: dict[str, Any] = (await api.data(MUTATIONS[name], {"input": data}))["result"]
    return result


def _materials(result: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(t["slot"], t["value"], t["state"]) for t in result["asset"]["tags"]]


async def test_a_reviewer_adds_confirms_removes_and_restores_one_value(api: Api) -> None:
    await api.create(
        [
            A(
                id="m",
                tags=(
                    T(attribute="material", value="wool", probability=0.6, cap="suggested"),
                    T(
                        attribute="material",
                        value="polyester",
                        probability=0.4,
                        cap="suggested",
                        slot="polyester",
                    ),
                ),
            )
        ]
    )
    added = await _do(api, "addTagValue", 1, value="cashmere")
    assert added["__typename"] == "TagDecision", added
    assert _materials(added) == [
        (None, "wool", "suggested"),
        ("cashmere", "cashmere", "corrected"),
        ("polyester", "polyester", "suggested"),
    ]
    confirmed = await _do(api, "confirmTag", 2, slot="polyester")
    assert ("polyester", "polyester", "confirmed") in _materials(confirmed)
    removed = await _do(api, "removeTagValue", 3, slot="polyester")
    assert ("polyester", "polyester", "rejected") in _materials(removed)
    source = await api.source("m")
    assert source["applied"]["material"] == ["cashmere"]  # wool is only suggested
    assert "polyester" not in source["candidates"]["material"]
    # Undoing the removal restores the tag as it was before it: confirmed.
    restored = await _do(api, "reopenTag", 4, slot="polyester")
    assert ("polyester", "polyester", "confirmed") in _materials(restored)
    kinds = [e["kind"] for e in await api.events("m") if e.get("slot") == "polyester"]
    assert kinds == ["model_tagged", "confirmed", "rejected", "reopened"]


async def test_what_a_further_value_cannot_do_says_why(api: Api) -> None:
    await api.create(
        [
            A(
                id="m",
                tags=(
                    T(attribute="material", value="wool", probability=0.6, cap="suggested"),
                    T(attribute="category", value="jumper", probability=0.9),
                ),
            )
        ]
    )
    no_slot = await _do(api, "removeTagValue", 1)
    assert no_slot["__typename"] == "InvalidInput"
    assert no_slot["field"] == "slot"
    same = await _do(api, "addTagValue", 1, value="wool")
    assert same["__typename"] == "InvalidInput"
    assert "already is the material value" in same["message"]
    unknown = await _do(api, "addTagValue", 1, value="kevlar")
    assert unknown["__typename"] == "InvalidInput"
    assert unknown["field"] == "value"
    missing = await _do(api, "confirmTag", 1, slot="silk")
    assert missing["__typename"] == "NotFound"
    single = await _do(api, "addTagValue", 1, value="coat", attribute="category")
    assert single["__typename"] == "InvalidInput"
    assert "holds one value" in single["message"]
    assert (await api.source("m"))["revision"] == 1  # refusals wrote nothing
