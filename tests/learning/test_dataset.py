"""Reviewer decisions → training examples (pure: events and vectors in)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from tagtrail.domain.records import Actor, TagEvent, event_id
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.mapping import AssetContext
from tagtrail.learning.dataset import (
    examples_from_events,
    labels_from_mapping,
    labels_from_taxonomy,
)
from tagtrail.tagging.taxonomy_files import load_taxonomy

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "taxonomy" / "default"
RITA = Actor(type="human", id="rita")
MODEL = Actor(type="model", id="clip", head_version="zero-shot/1")
LABELS = labels_from_mapping(
    {"peacoat": "pea coat", "trench_coat": "trench coat", "parka": "parka"}
)


def event(
    asset: str,
    seq: int,
    kind: str,
    value: str | None,
    previous: str | None = None,
    *,
    actor: Actor = RITA,
    attribute: str = "category",
) -> TagEvent:
    return TagEvent(
        event_id=event_id(asset, seq, 0),
        asset_id=asset,
        attribute=attribute,
        kind=kind,
        seq=seq,
        at=f"2026-01-01T00:00:{seq:02d}.000000Z",
        actor=actor,  # type: ignore[arg-type]
        state=kind if kind != "model_tagged" else "auto_applied",  # type: ignore[arg-type]
        value=value,
        previous_value=previous,
    )


def vectors(*assets: str, dim: int = 4) -> dict[str, np.ndarray]:
    return {a: np.arange(1, dim + 1, dtype=np.float32) + i for i, a in enumerate(assets)}


def test_each_kind_of_decision_becomes_its_examples() -> None:
    events = [
        event("a1", 1, "model_tagged", "peacoat", actor=MODEL),  # not a human: ignored
        event("a1", 2, "confirmed", "peacoat"),
        event("a2", 2, "corrected", "trench_coat", previous="peacoat"),
        event("a3", 2, "rejected", "parka"),
        event("a4", 2, "confirmed", "peacoat", attribute="pattern"),  # another attribute
    ]
    ts = examples_from_events(
        events,
        attribute="category",
        vectors=vectors("a1", "a2", "a3", "a4"),
        label_for=LABELS,
        segments={"a2": {"brand": "Kobo", "season": "FW"}},
    )
    got = [(e.asset_id, e.label, e.polarity) for e in ts.examples]
    assert got == [
        ("a1", "pea coat", "positive"),
        ("a2", "trench coat", "positive"),
        ("a2", "pea coat", "negative"),  # the value the reviewer corrected away from
        ("a3", "parka", "negative"),
    ]
    assert ts.examples[1].segments == {"brand": "Kobo", "season": "FW"}
    assert ts.vectors.shape == (3, 4)  # one row per asset, shared by its examples
    assert ts.examples[1].row == ts.examples[2].row
    assert np.linalg.norm(ts.vectors, axis=1) == pytest.approx(1.0)


def test_the_newest_human_decision_wins_and_gaps_are_counted() -> None:
    events = [
        event("a1", 2, "confirmed", "peacoat"),
        event("a1", 5, "corrected", "parka", previous="peacoat"),  # supersedes the confirm
        event("a2", 3, "confirmed", "peacoat"),  # no vector (an older encoder's asset)
        event("a3", 3, "confirmed", "blazer"),  # no model label for this value
    ]
    ts = examples_from_events(
        events, attribute="category", vectors=vectors("a1", "a3"), label_for=LABELS
    )
    assert [(e.label, e.polarity) for e in ts.examples] == [
        ("parka", "positive"),
        ("pea coat", "negative"),
    ]
    assert ts.skipped == {"no_label": 1, "no_vector": 1}


def test_order_of_events_and_vectors_does_not_matter() -> None:
    events = [event(f"a{i}", 2, "confirmed", "peacoat") for i in range(20)]
    events += [event(f"b{i}", 2, "rejected", "parka") for i in range(10)]
    vecs = vectors(*(f"a{i}" for i in range(20)), *(f"b{i}" for i in range(10)))
    one = examples_from_events(events, attribute="category", vectors=vecs, label_for=LABELS)
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)
    other_vecs = dict(reversed(list(vecs.items())))
    two = examples_from_events(shuffled, attribute="category", vectors=other_vecs, label_for=LABELS)
    assert one.examples == two.examples
    assert np.array_equal(one.vectors, two.vectors)
    assert one.fingerprint == two.fingerprint
    assert len(one.fingerprint) == 64


def test_fingerprint_changes_with_labels_and_vectors() -> None:
    events = [event("a1", 2, "confirmed", "peacoat"), event("a2", 2, "rejected", "parka")]
    vecs = vectors("a1", "a2")
    base = examples_from_events(events, attribute="category", vectors=vecs, label_for=LABELS)
    moved = dict(vecs, a2=vecs["a2"] * -1)
    other_vector = examples_from_events(
        events, attribute="category", vectors=moved, label_for=LABELS
    )
    relabelled = examples_from_events(
        [events[0], event("a2", 2, "confirmed", "parka")],
        attribute="category",
        vectors=vecs,
        label_for=LABELS,
    )
    assert len({base.fingerprint, other_vector.fingerprint, relabelled.fingerprint}) == 3


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(DEFAULT_ROOT)


def test_taxonomy_labels_invert_rules_in_the_asset_context(taxonomy: Taxonomy) -> None:
    contexts = {
        "ss": AssetContext(season="SS26"),
        "fw": AssetContext(season="FW26"),
        "none": AssetContext(),
    }
    label_for = labels_from_taxonomy(taxonomy, contexts)

    def label(asset: str, value: str) -> str | None:
        return label_for(event(asset, 2, "confirmed", value), value)

    # In spring/summer only "longline cardigan" maps to coatigan.
    assert label("ss", "coatigan") == "longline cardigan"
    assert label("fw", "coatigan") is None
    # In winter both labels map to cardigan; the one that always does is the target.
    assert label("fw", "cardigan") == "cardigan"
    assert label("none", "cardigan") == "cardigan"
    # Many labels to one value: the first in vocabulary order.
    assert label("none", "jumper") == "sweater"
    assert label("unknown-asset", "parka") == "parka"
