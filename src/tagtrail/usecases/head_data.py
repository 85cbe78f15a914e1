"""The training set of an attribute: human decisions joined with vectors and segments."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from tagtrail.domain.records import TagEvent
from tagtrail.domain.taxonomy.mapping import AssetContext
from tagtrail.learning.dataset import (
    DECISION_KINDS,
    TrainingSet,
    examples_from_events,
    labels_from_taxonomy,
)
from tagtrail.store import AssetRepository, EventLog, StoredAsset
from tagtrail.tagging.pipeline import Tagger

SEGMENT_KEYS = ("brand", "category_family", "season", "shot_type")


def _tag_value(source: dict[str, Any], attribute: str) -> dict[str, Any] | None:
    return next((t for t in source.get("tags") or () if t.get("attribute") == attribute), None)


def segments_of(source: dict[str, Any]) -> dict[str, str]:
    """brand, category family (the top ancestor), season and shot type of an asset."""
    out: dict[str, str] = {}
    for key in ("brand", "season"):
        if source.get(key):
            out[key] = str(source[key])
    category = _tag_value(source, "category")
    if category and category.get("values"):
        out["category_family"] = str(category["values"][-1])
    shot = _tag_value(source, "shot_type")
    if shot and shot.get("value"):
        out["shot_type"] = str(shot["value"])
    return out


async def training_set(
    assets: AssetRepository, events_log: EventLog, attribute: str, tagger: Tagger
) -> TrainingSet:
    """Every human decision in force on ``attribute`` with its asset's vector, segments and
    context. The labels come from the fold of each decided asset's history of the attribute
    (the same fold as its document), not from the decision events alone."""
    decisions: list[TagEvent] = await events_log.decisions(attribute, sorted(DECISION_KINDS))
    ids = sorted({e.asset_id for e in decisions})
    events: list[TagEvent] = []
    stored: dict[str, StoredAsset] = {}
    vectors: dict[str, np.ndarray] = {}
    skipped_other_encoder = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        events.extend(await events_log.of_attribute(attribute, chunk))
        stored.update(await assets.lookup(chunk))
        found = await assets.vectors(chunk)
        for asset_id, vector in zip(chunk, found, strict=True):
            doc = stored.get(asset_id)
            if doc is None or vector is None:
                continue
            if doc.source.get("model_fingerprint") != tagger.model_fingerprint:
                skipped_other_encoder += 1
                continue
            vectors[asset_id] = np.asarray(vector, dtype=np.float32)
    contexts = {
        a: AssetContext(
            brand=s.source.get("brand"),
            season=s.source.get("season"),
            collection=s.source.get("collection"),
        )
        for a, s in stored.items()
    }
    built = examples_from_events(
        events,
        attribute=attribute,
        vectors=vectors,
        label_for=labels_from_taxonomy(tagger.taxonomy, contexts),
        segments={a: segments_of(s.source) for a, s in stored.items()},
    )
    if skipped_other_encoder:
        skipped = dict(built.skipped)
        skipped["other_encoder"] = skipped_other_encoder
        built = msgspec.structs.replace(built, skipped=dict(sorted(skipped.items())))
    return built
