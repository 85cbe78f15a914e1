"""Build assets for API tests exactly as the ingest pipeline stores them.

Model events (``model_tagged``, seq 1, deterministic ids) are appended to ``tag_events``
and the asset document — metadata + ``projection_fields(events)`` + vector — is indexed,
the same shape ``usecases.ingest`` writes. Vectors are chosen by the test
(unit vectors along chosen axes make nearest neighbours exact to reason about).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.domain.governance import Governance, decide_tier
from tagtrail.domain.projection import projection_fields
from tagtrail.domain.records import Actor, LabelScore, TagEvent, Thresholds, event_id
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.store import Store

DIM = 512
MODEL = "clip-test@0123abcd"
HEAD = "zero-shot@1"
ANALYSER = "colour-analyser/1"


class T(msgspec.Struct, kw_only=True, frozen=True):
    """A tag to create: attribute, value and the model's probability (tier follows)."""

    attribute: str
    value: str
    probability: float = 0.97
    cap: str = "auto_applied"
    slot: str | None = None  # a further value of a multi-valued attribute
    head: str = HEAD  # the head version that predicted it
    runner_up: float | None = None  # the head's second score (default 1 − probability)


class A(msgspec.Struct, kw_only=True, frozen=True):
    """An asset to create."""

    id: str
    tags: tuple[T, ...] = ()
    vector: tuple[float, ...] | None = None
    axis: int | None = None  # shorthand: unit vector along this axis (+ `mix` on axis 0)
    mix: float = 0.0
    sku: str | None = None
    brand: str | None = "Northwind"
    collection: str | None = None
    season: str | None = None
    season_year: int | None = None
    photographer: str | None = None
    shoot_date: str | None = None
    at: str = "2026-01-01T00:00:00.000000Z"
    model: str = MODEL  # the encoder fingerprint its vector is stored under


def unit(axis: int, mix: float = 0.0) -> list[float]:
    v = np.zeros(DIM, dtype=np.float64)
    v[axis] = 1.0
    v[0] += mix
    out: list[float] = (v / np.linalg.norm(v)).tolist()
    return out


def model_event(tx: Taxonomy, a: A, n: int, t: T) -> TagEvent:
    governance = Governance(cap=t.cap)  # type: ignore[arg-type]
    tier = decide_tier(t.probability, governance, attribute=t.attribute)
    colour = t.attribute == "colour"
    actor = (
        Actor(type="analyser", id=ANALYSER, analyser=ANALYSER)
        if colour
        else Actor(type="model", id=MODEL, model_fingerprint=MODEL, head_version=t.head)
    )
    evidence: dict[str, Any] | None = None
    if colour:
        evidence = {
            "kind": "colour",
            "analyser": ANALYSER,
            "foreground_share": 0.42,
            "background_hex": "#FAFAF9",
            "findings": [
                {
                    "name": t.value,
                    "label": t.value,
                    "family": tx.colour_family(t.value),
                    "hex": "#1B2541",
                    "measured_hex": "#1C2643",
                    "lab": (15.1, 3.2, -17.9),
                    "coverage": 0.81,
                    "delta_e": 1.2,
                    "confidence": t.probability,
                    "alternatives": [{"name": "black", "family": "black", "delta_e": 9.7}],
                }
            ],
        }
    value = tx.value(t.attribute, t.value, a.brand)
    return TagEvent(
        event_id=event_id(a.id, 1, n),
        asset_id=a.id,
        attribute=t.attribute,
        slot=t.slot,
        kind="model_tagged",
        seq=1,
        at=a.at,
        actor=actor,
        state=tier.tier,
        value=t.value,
        label=value.label if value else t.value,
        values=tx.ancestors(t.attribute, t.value, a.brand),
        family=tx.colour_family(t.value) if colour else None,
        terms=tx.search_terms(t.attribute, t.value, a.brand),
        raw_label=f"raw {t.value.replace('_', ' ')}",
        top_k=(
            LabelScore(label=f"raw {t.value}", score=t.probability),
            LabelScore(
                label="raw other",
                score=round(1 - t.probability if t.runner_up is None else t.runner_up, 6),
            ),
        ),
        probability=t.probability,
        tier=tier.tier,
        tier_reason=tier.reason,
        thresholds=Thresholds(high=tier.high, medium=tier.medium, cap=tier.cap),
        taxonomy_version=tx.attribute_version(t.attribute),
        rule_id=f"default:{t.value}",
        evidence=evidence,
    )


def document(tx: Taxonomy, a: A, events: Sequence[TagEvent]) -> dict[str, Any]:
    meta = {
        k: getattr(a, k)
        for k in (
            "sku",
            "brand",
            "collection",
            "season",
            "season_year",
            "photographer",
            "shoot_date",
        )
    }
    vector = list(a.vector) if a.vector is not None else unit(a.axis or 1, a.mix)
    doc: dict[str, Any] = {
        "asset_id": a.id,
        "content_hash": f"sha-{a.id}",
        "filename": f"{a.id}.jpg",
        **{k: v for k, v in meta.items() if v is not None},
        "ingested_at": a.at,
        "updated_at": a.at,
        "format": "jpeg",
        "width": 800,
        "height": 1000,
        "byte_size": 12345,
        "model_fingerprint": a.model,
        "model_untrained": True,
        "taxonomy_version": tx.version,
        "vector": vector,
    }
    doc.update(projection_fields(events))
    return doc


async def create_assets(
    client: AsyncOpenSearch, settings: Settings, tx: Taxonomy, assets: Sequence[A]
) -> dict[str, dict[str, Any]]:
    """Create ``assets`` (events + documents) and make them searchable; returns the docs."""
    store = Store(settings, client=client)
    docs: dict[str, dict[str, Any]] = {}
    body: list[Any] = []
    for a in assets:
        events = [model_event(tx, a, n, t) for n, t in enumerate(a.tags)]
        await store.events.append_revision(events)
        doc = document(tx, a, events)
        docs[a.id] = doc
        body += [{"create": {"_index": store.assets.index, "_id": a.id}}, doc]
    if body:
        result = await client.bulk(body=body, refresh=True)
        assert not result["errors"], result
    await client.indices.refresh(index=store.events.index)
    return docs
