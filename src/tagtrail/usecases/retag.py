"""Re-tag stored assets from their stored vectors (a newer model head or taxonomy).

No pixels are needed: heads, mapping and tiers run on the vector in the asset document.
Each changed attribute becomes a new ``model_tagged`` event at the asset's next revision,
so the history shows what changed and why — and human decisions still win the fold.
Stored colour tags are re-tiered from their stored measurement when another colour
calibration is in force (:mod:`colour_retier`). Resumable: an asset whose tags already say
what the current heads and calibration decide (value, tier, rule, head version; a moved
taxonomy version alone is no change) is skipped, so an interrupted run simply continues where
it stopped. Cross-attribute rules see the asset's human decisions (see
:mod:`tagtrail.domain.taxonomy.dependencies`), so a reviewer's correction of a dependency is
followed here too, not only on the review path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import numpy as np
from threadpoolctl import threadpool_limits

from tagtrail.domain.decisions import slot_for
from tagtrail.domain.metadata import AssetMetadata
from tagtrail.domain.records import (
    Actor,
    ModelDecision,
    Tag,
    TagEvent,
    human_decided,
    key_of,
    tag_key,
    utc_now,
)
from tagtrail.domain.reproposal import repropose
from tagtrail.domain.taxonomy.dependencies import known_from_tags
from tagtrail.errors import Conflict
from tagtrail.store import Store, StoredAsset
from tagtrail.tagging.pipeline import Tagger
from tagtrail.usecases import colour_retier
from tagtrail.usecases.ingest import model_event
from tagtrail.usecases.workers import Worker

RETAG_FIELDS = (  # what a retag (and its preview) reads of each asset
    "asset_id",
    "vector",
    "brand",
    "season",
    "collection",
    "tags",
    "revision",
    "model_fingerprint",
)


class RetagReport(msgspec.Struct, kw_only=True):
    checked: int = 0
    retagged: int = 0
    events: int = 0
    up_to_date: int = 0
    conflicts: int = 0
    other_encoder: int = 0  # vectors from another encoder: those assets need a re-ingest


def model_changed(decision: ModelDecision, current: dict[str, Any] | None) -> bool:
    """Whether ``decision`` differs from the stored tag (for a human-decided tag: from the
    model's last proposal on it): only then does a re-tag write an event.

    The taxonomy version alone is no change: an edit that leaves the value, tier, rule and
    head as they were writes nothing (a typo fix must not rewrite the catalogue)."""
    if current is None:
        return True
    if human_decided(current.get("state"), current.get("source")):
        # Compare with the model's last proposal on it, not with the human's decision.
        seen = (
            current.get("proposed_value") or current.get("value"),
            current.get("proposed_head_version") or current.get("head_version"),
        )
        return seen != (decision.value, decision.actor.head_version)
    return (
        current.get("value"),
        current.get("tier"),
        current.get("rule_id"),
        current.get("head_version"),
    ) != (
        decision.value,
        decision.tier,
        decision.rule_id,
        decision.actor.head_version,
    )


def _tag(raw: dict[str, Any] | None) -> Tag | None:
    return msgspec.convert(raw, Tag) if raw is not None else None


def plan_decisions(
    tagger: Tagger,
    docs: list[dict[str, Any]],
    repropose_min_probability: float,
    measured: Sequence[dict[str, Any] | None] | None = None,
) -> list[list[ModelDecision]]:
    """The changed decisions for each document (empty when it is already up to date).

    A value a human rejected comes back only as a suggestion, from a newer head at or above
    ``repropose_min_probability`` (:func:`tagtrail.domain.reproposal.repropose`).
    ``measured``: per document, its stored colour measurement
    (:func:`colour_retier.stored_measurements`), re-tiered with the calibration in force.
    """
    with threadpool_limits(limits=1, user_api="blas"):  # small matmuls: spinning BLAS
        # threads on two shared cores cost far more than they give
        plans = _plan(tagger, docs, repropose_min_probability)
    for i, (doc, evidence) in enumerate(zip(docs, measured or (), strict=False)):
        if evidence is not None and colour_retier.needs_retier(tagger, evidence):
            meta = AssetMetadata(
                brand=doc.get("brand"), season=doc.get("season"), collection=doc.get("collection")
            )
            again = in_slots(doc, tagger.recolour(evidence, meta))
            plans[i] = plans[i] + colour_retier.retiered(doc, again)
    return plans


def _plan(
    tagger: Tagger, docs: list[dict[str, Any]], repropose_min_probability: float
) -> list[list[ModelDecision]]:
    vectors = np.array([d["vector"] for d in docs], dtype=np.float32)
    metas = [
        AssetMetadata(brand=d.get("brand"), season=d.get("season"), collection=d.get("collection"))
        for d in docs
    ]
    # Rules depend on the stored human decisions (and on stored colour: no pixels here).
    stored = [[msgspec.convert(t, Tag) for t in d.get("tags") or ()] for d in docs]
    known = [known_from_tags(tags) for tags in stored]
    tagged = tagger.tag_vectors(vectors, metas, [None] * len(docs), known)
    plans: list[list[ModelDecision]] = []
    for doc, result in zip(docs, tagged, strict=True):
        current = {_key(t): t for t in doc.get("tags", [])}
        decisions = [
            repropose(d, _tag(current.get(key_of(d))), repropose_min_probability)
            for d in in_slots(doc, result.decisions)
        ]
        plans.append(changed_decisions(doc, decisions))
    return plans


def _key(raw: dict[str, Any]) -> str:
    return tag_key(str(raw["attribute"]), raw.get("slot"))


class _Placed(msgspec.Struct, frozen=True):
    """A stored tag's place: all :func:`slot_for` reads of it."""

    attribute: str
    slot: str | None = None
    value: str | None = None


def in_slots(doc: dict[str, Any], decisions: Sequence[ModelDecision]) -> list[ModelDecision]:
    """Further values in the slot already holding their value (a renamed value keeps its
    slot), else in a new one named after the value."""
    tags = [msgspec.convert(raw, _Placed) for raw in doc.get("tags") or ()]
    return [
        d
        if d.slot is None or d.value is None
        else msgspec.structs.replace(d, slot=slot_for(tags, d.attribute, d.value))
        for d in decisions
    ]


def changed_decisions(
    doc: dict[str, Any], decisions: Sequence[ModelDecision]
) -> list[ModelDecision]:
    """The decisions (already in their slots: :func:`in_slots`) that differ from the stored
    tags, plus a withdrawal (value None: a ``retired`` event) of each further value of a
    re-decided attribute the model no longer proposes. A further value a reviewer decided
    stays: human decisions win."""
    current = {_key(t): t for t in doc.get("tags", [])}
    slotted = list(decisions)
    out = [d for d in slotted if model_changed(d, current.get(key_of(d)))]
    proposed = {key_of(d) for d in slotted}
    decided = {d.attribute for d in slotted}
    for key, raw in current.items():
        slot = raw.get("slot")
        if slot is None or key in proposed or raw["attribute"] not in decided:
            continue
        if human_decided(raw.get("state"), raw.get("source")):
            continue
        out.append(withdrawal(raw))
    return out


def withdrawal(raw: dict[str, Any]) -> ModelDecision:
    """The model no longer proposes this further value: its tag is removed by an event."""
    return ModelDecision(
        attribute=str(raw["attribute"]),
        slot=raw.get("slot"),
        value=None,
        actor=Actor(
            type="model",
            id=str(raw.get("model_version") or "model"),
            model_fingerprint=raw.get("model_version"),
        ),
        evidence={"withdrawn": raw.get("value"), "was": raw.get("event_id")},
    )


def events_for(stored: StoredAsset, decisions: list[ModelDecision]) -> list[TagEvent]:
    """The events of the asset's next revision for these decisions."""
    at = utc_now()
    seq = stored.revision + 1
    return [model_event(stored.asset_id, n, d, at, seq=seq) for n, d in enumerate(decisions)]


async def retag_all(
    store: Store,
    tagger: Tagger,
    inference: Worker,
    *,
    repropose_min_probability: float,
    page: int = 256,
    progress: Callable[[int], None] | None = None,
) -> RetagReport:
    assets = store.assets
    report = RetagReport()
    await store.refresh()  # a batch job: start from every write made so far
    async for docs in assets.scan(RETAG_FIELDS, page=page):
        # Heads only make sense on vectors of the encoder they were built for.
        usable = [
            d
            for d in docs
            if d.get("vector") and d.get("model_fingerprint") == tagger.model_fingerprint
        ]
        report.other_encoder += len(docs) - len(usable)
        report.checked += len(docs) - len(usable)
        if progress is not None:
            progress(len(docs))
        if not usable:
            continue
        measured = await colour_retier.stored_measurements(store.events, usable)
        plans = await inference.run(
            plan_decisions, tagger, usable, repropose_min_probability, measured
        )
        for doc, decisions in zip(usable, plans, strict=True):
            report.checked += 1
            if not decisions:
                report.up_to_date += 1
                continue
            try:
                _, written = await assets.apply(
                    doc["asset_id"],
                    int(doc.get("revision", 0)),
                    lambda stored, ds=decisions: events_for(stored, ds),  # type: ignore[misc]
                )
            except Conflict:
                report.conflicts += 1  # changed meanwhile; the next run picks it up
                continue
            report.retagged += 1
            report.events += len(written)
    await store.refresh()
    return report
