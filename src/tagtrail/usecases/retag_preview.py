"""What a retag would change, before anything is written: the impact preview.

Runs the same plan as :func:`retag.retag_all` (heads, mapping and tiers on stored vectors)
and writes nothing. Per attribute and per segment (overall, brand, category family, season,
shot type) it counts the tags that would change value, change tier, become applied or stop
being applied, and the human-decided tags whose value stays (the model's new opinion is only
recorded beside them as a proposal). Each row keeps a deterministic sample of assets (the
smallest hashes of their ids), so two previews of the same catalogue show the same examples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from tagtrail.domain.governance import is_applied
from tagtrail.domain.records import HUMAN_STATES, ModelDecision, key_of, tag_key
from tagtrail.store import Store
from tagtrail.tagging.pipeline import Tagger
from tagtrail.usecases import colour_retier
from tagtrail.usecases.head_data import segments_of
from tagtrail.usecases.retag import RETAG_FIELDS, plan_decisions
from tagtrail.usecases.sampling import StratifiedSample
from tagtrail.usecases.workers import Worker

OVERALL = "overall"


class ImpactSample(msgspec.Struct, kw_only=True, frozen=True):
    asset_id: str
    old_value: str | None
    new_value: str | None
    old_tier: str | None
    new_tier: str | None
    human_decided: bool  # True: the value in force stays; the new value is a proposal


class ImpactRow(msgspec.Struct, kw_only=True):
    attribute: str
    segment: str  # "overall" or "key=value"
    changed: int = 0  # tags with any change (value, tier, head or taxonomy version)
    value_changes: int = 0  # applied value would change (model-decided tags only)
    tier_changes: int = 0
    newly_applied: int = 0
    no_longer_applied: int = 0
    human_decided: int = 0  # human-decided tags: value kept, new proposal recorded
    human_disagreements: int = 0  # ... of which the new proposal differs from the human value
    sample: list[ImpactSample] = []


class RetagPreview(msgspec.Struct, kw_only=True):
    head_versions: dict[str, str]  # attribute → head version that would decide
    checked: int = 0
    would_retag: int = 0  # assets that would get new events
    other_encoder: int = 0  # vectors from another encoder: not retagged (need a re-ingest)
    rows: list[ImpactRow] = []


class _Collector:
    """Accumulates rows with a bounded, deterministic sample per row."""

    def __init__(self, sample: int) -> None:
        self.rows: dict[tuple[str, str], ImpactRow] = {}
        self.samples: StratifiedSample[ImpactSample] = StratifiedSample(sample, "preview")

    def add(self, segments: list[str], change: ImpactSample, attribute: str) -> None:
        old_applied = change.old_tier is not None and is_applied(change.old_tier)  # type: ignore[arg-type]
        new_applied = change.new_tier is not None and is_applied(change.new_tier)  # type: ignore[arg-type]
        for segment in (OVERALL, *segments):
            key = (attribute, segment)
            row = self.rows.setdefault(key, ImpactRow(attribute=attribute, segment=segment))
            row.changed += 1
            if change.human_decided:
                row.human_decided += 1
                row.human_disagreements += change.new_value != change.old_value
            else:
                row.value_changes += change.new_value != change.old_value
                row.tier_changes += change.new_tier != change.old_tier
                row.newly_applied += new_applied and not old_applied
                row.no_longer_applied += old_applied and not new_applied
            self.samples.offer(key, change.asset_id, change)

    def finish(self) -> list[ImpactRow]:
        out = []
        for key in sorted(self.rows, key=lambda k: (k[0], k[1] != OVERALL, k[1])):
            row = self.rows[key]
            row.sample = self.samples.take(key)
            out.append(row)
        return out


def _impact(decision: ModelDecision, current: dict[str, Any] | None) -> ImpactSample:
    human = current is not None and current.get("state") in HUMAN_STATES
    return ImpactSample(
        asset_id="",
        old_value=current.get("value") if current else None,
        new_value=decision.value,
        old_tier=(current.get("tier") if current and not human else None),
        new_tier=None if human else decision.tier,
        human_decided=human,
    )


async def retag_preview(
    store: Store,
    tagger: Tagger,
    inference: Worker,
    *,
    repropose_min_probability: float,
    attribute: str | None = None,
    sample: int = 3,
    page: int = 256,
    progress: Callable[[int], None] | None = None,
) -> RetagPreview:
    """What ``retag`` would change now (optionally for one attribute); writes nothing."""
    if attribute is not None:
        tagger.taxonomy.attribute(attribute)  # InvalidInput naming the known attributes
    collector = _Collector(max(0, min(sample, 50)))
    preview = RetagPreview(
        head_versions={a: h.version for a, h in sorted(tagger.heads.items())},
    )
    await store.refresh()
    async for docs in store.assets.scan(RETAG_FIELDS, page=page):
        usable = [
            d
            for d in docs
            if d.get("vector") and d.get("model_fingerprint") == tagger.model_fingerprint
        ]
        preview.other_encoder += len(docs) - len(usable)
        preview.checked += len(docs)
        minimum = repropose_min_probability
        measured = await colour_retier.stored_measurements(store.events, usable)
        plans = (
            await inference.run(plan_decisions, tagger, usable, minimum, measured) if usable else []
        )
        for doc, decisions in zip(usable, plans, strict=True):
            current = {tag_key(t["attribute"], t.get("slot")): t for t in doc.get("tags", [])}
            chosen = [d for d in decisions if attribute in (None, d.attribute)]
            preview.would_retag += bool(decisions)
            segments = [f"{k}={v}" for k, v in segments_of(doc).items()]
            for d in chosen:
                change = msgspec.structs.replace(
                    _impact(d, current.get(key_of(d))), asset_id=str(doc["asset_id"])
                )
                collector.add(segments, change, d.attribute)
        if progress is not None:
            progress(len(docs))
    preview.rows = collector.finish()
    return preview
