"""TunedHead: a drop-in Head, stored as a record that cannot silently change."""

from __future__ import annotations

import base64

import msgspec
import numpy as np
import pytest

from tagtrail.errors import InvalidInput
from tagtrail.learning.head import TunedHead, TunedHeadRecord
from tagtrail.learning.train import train_head
from tagtrail.tagging.heads import TOP_K, Head, predict_all
from tests.learning.synthetic import ATTRIBUTE, World, make_world, training_set


@pytest.fixture(scope="module")
def world() -> World:
    return make_world(n_labels=7, text_noise=1.0, noise=1.8, seed=21)


@pytest.fixture(scope="module")
def head(world: World) -> TunedHead:
    x, y = world.draw(70, np.random.default_rng(21))
    return train_head(
        world.zero_shot(), training_set(world, x, y, prefix="h"), taxonomy_version="t"
    )


def test_predictions_have_the_head_shape(world: World, head: TunedHead) -> None:
    x, _ = world.draw(9, np.random.default_rng(1))
    as_head: Head = head  # the protocol the tagger uses
    predictions = predict_all({ATTRIBUTE: as_head}, x)[ATTRIBUTE]
    probs = head.probabilities(x)
    assert len(predictions) == 9
    for row, p in zip(probs, predictions, strict=True):
        assert p.head_version == head.version
        assert p.attribute == ATTRIBUTE
        assert len(p.top_k) == TOP_K
        scores = [s.score for s in p.top_k]
        assert scores == sorted(scores, reverse=True)
        assert p.label == head.labels[int(row.argmax())]
        assert p.probability == pytest.approx(float(row.max()))
    assert probs.sum(axis=1) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(InvalidInput, match="shape"):
        head.predict(np.zeros((2, 5), dtype=np.float32))


def test_record_round_trips_through_json(world: World, head: TunedHead) -> None:
    record = head.to_record()
    assert record.version == head.version
    assert record.dim == 32
    wire = msgspec.json.encode(record)
    restored = TunedHead.from_record(msgspec.json.decode(wire, type=TunedHeadRecord))
    assert restored.version == head.version
    assert restored.training == head.training
    x, _ = world.draw(5, np.random.default_rng(2))
    assert np.array_equal(restored.probabilities(x), head.probabilities(x))


def test_a_tampered_record_is_refused(head: TunedHead) -> None:
    record = head.to_record()
    weights = np.frombuffer(base64.b64decode(record.weights), dtype="<f4").copy()
    weights[3] += 0.01
    tampered = msgspec.structs.replace(record, weights=base64.b64encode(weights.tobytes()).decode())
    with pytest.raises(ValueError, match="corrupted"):
        TunedHead.from_record(tampered)
    with pytest.raises(ValueError, match="expected shape"):
        TunedHead.from_record(msgspec.structs.replace(record, dim=31))
