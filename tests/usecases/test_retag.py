"""Re-tagging from stored vectors with new heads (an edited taxonomy): human decisions win,
the model's new opinion stays visible, and a second run changes nothing (resumable).

The encoder is ``random-init:tiny``, a small CLIP randomly initialised from a config.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.domain.decisions import Decision, build_decision
from tagtrail.domain.records import Actor, TagEvent, event_id, utc_now
from tagtrail.store import Store
from tagtrail.tagging.heads import Head, HeadPrediction
from tagtrail.tagging.pipeline import Tagger
from tagtrail.tagging.taxonomy_files import load_taxonomy_source
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.retag import RetagReport, retag_all
from tagtrail.usecases.runtime import Runtime

pytestmark = pytest.mark.opensearch


async def _retag(runtime: Runtime, tagger: Tagger) -> RetagReport:
    """``tagtrail retag`` with this tagger (not the runtime's own)."""
    minimum = runtime.settings.repropose_min_probability
    return await retag_all(
        runtime.store, tagger, runtime.inference, repropose_min_probability=minimum
    )


async def test_retag_keeps_human_decisions(
    settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    old = Runtime(settings, store=Store(settings, client=indexed))  # type: ignore[arg-type]
    taxonomy = await old.taxonomy.current()
    generate_catalogue(4, tmp_path, palette=taxonomy.palette, seed=9)
    files = sorted(p for p in tmp_path.iterdir() if p.name != "manifest.csv")
    outcomes = await old.ingest.batch([IngestItem(name=p.name, data=p.read_bytes()) for p in files])
    store = Store(settings, client=indexed)
    asset_id = outcomes[0].asset_id
    assert asset_id
    before = (await store.assets.get(asset_id)).source
    category = next(t for t in before["tags"] if t["attribute"] == "category")
    human_value = "peacoat" if category["value"] != "peacoat" else "trench_coat"
    correction = TagEvent(
        event_id=event_id(asset_id, 2, 0),
        asset_id=asset_id,
        attribute="category",
        kind="corrected",
        seq=2,
        at=utc_now(),
        actor=Actor(type="human", id="rita"),
        state="corrected",
        value=human_value,
        previous_value=category["value"],
        values=taxonomy.ancestors("category", human_value),
        terms=taxonomy.search_terms("category", human_value),
        taxonomy_version=taxonomy.attribute_version("category"),
    )
    await store.assets.apply(asset_id, 1, lambda _: [correction])
    await store.refresh()  # retag scans by search: the ingested assets must be searchable

    # New prompts → new zero-shot heads and a new taxonomy version; same encoder.
    edited = tmp_path / "taxonomy"
    shutil.copytree(settings.taxonomy_dir, edited)
    text = (edited / "taxonomy.yaml").read_text()
    (edited / "taxonomy.yaml").write_text(
        text.replace('"a product photo of a {label}"', '"a studio packshot of a {label}"')
    )
    # The taxonomy is one per deployment, stored: put the edited one in force (what
    # `taxonomy apply` does before migrating; retag re-decides here instead).
    _, source = load_taxonomy_source(edited)
    await store.taxonomies.save(source, at=utc_now(), by="test")
    in_force = await store.taxonomies.in_force()
    assert in_force is not None
    await store.taxonomies.move(
        in_force, source.version, replaces=in_force.version, applying=False, at=utc_now(), by="t"
    )
    newer_settings = settings.with_changes(taxonomy_dir=str(edited))
    newer = Runtime(newer_settings, store=Store(newer_settings, client=indexed))  # type: ignore[arg-type]
    other_settings = settings.with_changes(model="random-init:tiny@1")
    other = Runtime(other_settings, store=Store(other_settings, client=indexed))  # type: ignore[arg-type]
    skipped = await other.retag.run()
    assert skipped.other_encoder == 4
    assert skipped.retagged == 0
    first = await newer.retag.run()
    assert first.checked == 4
    assert first.retagged >= 1
    assert first.conflicts == 0
    after = (await store.assets.get(asset_id)).source
    tags = {t["attribute"]: t for t in after["tags"]}
    assert tags["category"]["value"] == human_value
    assert tags["category"]["state"] == "corrected"
    assert tags["category"]["source"] == "model_then_human"
    assert tags["category"]["proposed_head_version"] != category["head_version"]
    assert human_value in after["applied"]["category"]
    changed = [t for t in tags.values() if t["attribute"] not in ("category", "colour")]
    assert any(t["head_version"] != category["head_version"] for t in changed)
    assert after["revision"] == 3
    history = await store.events.for_asset(asset_id)
    assert [e.seq for e in history if e.kind == "model_tagged" and e.seq == 3]

    second = await newer.retag.run()
    assert second.retagged == 0
    assert second.up_to_date == 4
    assert (await store.assets.get(asset_id)).source == after
    assert await store.assets.reproject(asset_id) is False  # still exactly the fold of its events


class Retrained:
    """A newer head: the same top label as ``base`` at a chosen probability."""

    def __init__(
        self, base: Head, version: str, probability: float, label: str | None = None
    ) -> None:
        self.base, self._version, self.probability = base, version, probability
        self.label = label  # None: the base head's label

    @property
    def attribute(self) -> str:
        return self.base.attribute

    @property
    def version(self) -> str:
        return self._version

    @property
    def labels(self) -> tuple[str, ...]:
        return self.base.labels

    def predict(self, vectors: np.ndarray) -> list[HeadPrediction]:
        return [
            msgspec.structs.replace(
                p,
                label=self.label or p.label,
                probability=self.probability,
                head_version=self._version,
            )
            for p in self.base.predict(vectors)
        ]


async def test_rejected_value_comes_back_only_from_a_newer_confident_head(
    settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    runtime = Runtime(settings, store=Store(settings, client=indexed))  # type: ignore[arg-type]
    taxonomy = await runtime.taxonomy.current()
    generate_catalogue(2, tmp_path, palette=taxonomy.palette, seed=3)
    files = sorted(p for p in tmp_path.iterdir() if p.name != "manifest.csv")
    outcomes = await runtime.ingest.batch(
        [IngestItem(name=p.name, data=p.read_bytes()) for p in files]
    )
    asset_id = outcomes[0].asset_id
    assert asset_id
    store = runtime.store
    before = {t["attribute"]: t for t in (await store.assets.get(asset_id)).source["tags"]}
    rejected_value = before["pattern"]["value"]
    rejection = await runtime.review.decide(
        asset_id, 1, Decision(kind="rejected", attribute="pattern"), "rita"
    )
    tagger = await runtime.tagging.tagger()
    base = tagger.heads["pattern"]

    def pattern_tag(doc: dict[str, Any]) -> dict[str, Any]:
        return next(t for t in doc["tags"] if t["attribute"] == "pattern")

    # The head whose proposal was rejected, however sure: a proposal beside the rejection.
    await _retag(runtime, tagger)
    tag = pattern_tag((await store.assets.get(asset_id)).source)
    assert (tag["state"], tag.get("reproposal_of")) == ("rejected", None)
    assert not tag["applied"]
    assert not tag["needs_review"]
    # A newer head below the minimum (0.9 by default): still only a proposal, saying why.
    tagger.use_head(Retrained(base, "tuned:pattern:v2", 0.8))  # type: ignore[arg-type]
    await _retag(runtime, tagger)
    tag = pattern_tag((await store.assets.get(asset_id)).source)
    assert (tag["state"], tag["proposed_value"]) == ("rejected", rejected_value)
    assert tag["proposed_head_version"] == "tuned:pattern:v2"
    assert not tag["applied"]
    refused = await store.events.get(tag["proposed_event_id"])
    assert refused is not None
    assert "0.8 < re-propose minimum 0.9" in (refused.tier_reason or "")
    # A newer head at or above it: a suggestion again, for a human to decide again.
    tagger.use_head(Retrained(tagger.heads["pattern"], "tuned:pattern:v3", 0.97))  # type: ignore[arg-type]
    await _retag(runtime, tagger)
    doc = (await store.assets.get(asset_id)).source
    tag = pattern_tag(doc)
    assert (tag["value"], tag["state"], tag["tier"]) == (rejected_value, "suggested", "suggested")
    assert tag["reproposal_of"] == rejection.event.event_id
    assert tag["needs_review"]
    assert not tag["applied"]
    assert "pattern" in doc["pending"]
    event = await store.events.get(tag["event_id"])
    assert event is not None
    assert event.evidence is not None
    assert event.evidence["reproposal"]["rejected_by"] == "rita"
    assert "re-proposed by newer head tuned:pattern:v3" in (event.tier_reason or "")
    # Resumable and stable: a second run changes nothing (never auto-applies it).
    again = await _retag(runtime, tagger)
    assert again.retagged == 0
    assert (await store.assets.get(asset_id)).source == doc
    assert await store.assets.reproject(asset_id) is False


async def test_retag_follows_a_human_decision_on_a_rule_dependency(
    settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    """The longline cardigan: a season-window suggestion may not make it outerwear; once a
    human confirms the window (here written without the review path's re-mapping), the
    next retag re-evaluates the category with the human value, and then stays put."""
    runtime = Runtime(settings, store=Store(settings, client=indexed))  # type: ignore[arg-type]
    taxonomy = await runtime.taxonomy.current()
    generate_catalogue(1, tmp_path, palette=taxonomy.palette, seed=5)
    files = sorted(p for p in tmp_path.iterdir() if p.name != "manifest.csv")
    (outcome,) = await runtime.ingest.batch(
        [IngestItem(name=p.name, data=p.read_bytes()) for p in files]
    )
    asset_id = outcome.asset_id
    assert asset_id
    store = runtime.store
    await store.refresh()
    tagger = await runtime.tagging.tagger()
    heads = tagger.heads
    tagger.use_head(Retrained(heads["category"], "tuned:category:t1", 0.97, "longline cardigan"))  # type: ignore[arg-type]
    tagger.use_head(Retrained(heads["season_window"], "tuned:sw:t1", 0.3, "summer clothing"))  # type: ignore[arg-type]

    def tags(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {t["attribute"]: t for t in doc["tags"]}

    await _retag(runtime, tagger)
    stored = await store.assets.get(asset_id)
    before = tags(stored.source)
    assert (before["season_window"]["value"], before["season_window"]["tier"]) == (
        "spring_summer",
        "suggested",
    )
    assert (before["category"]["value"], before["category"]["rule_id"]) == (
        "cardigan",
        "longline_cardigan_default",
    )
    confirm = build_decision(
        Decision(kind="confirmed", attribute="season_window"),
        asset=stored.record(),
        actor_id="rita",
        taxonomy=taxonomy,
    )
    await store.assets.apply(asset_id, stored.revision, lambda _: [confirm])
    first = await _retag(runtime, tagger)
    assert first.retagged == 1
    after = tags((await store.assets.get(asset_id)).source)
    assert (after["category"]["value"], after["category"]["rule_id"]) == (
        "coatigan",
        "longline_cardigan_ss_window",
    )
    assert after["season_window"]["state"] == "confirmed"
    event = await store.events.get(after["category"]["event_id"])
    assert event is not None
    assert event.evidence is not None
    (dependency,) = event.evidence["rule_dependencies"]["depends_on"]
    assert (dependency["source"], dependency["event_id"]) == ("human", confirm.event_id)
    second = await _retag(runtime, tagger)
    assert second.retagged == 0
    assert await store.assets.reproject(asset_id) is False
