from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tagtrail.domain.taxonomy import ModelLabel, Taxonomy
from tagtrail.errors import InvalidInput
from tagtrail.tagging.heads import (
    HeadPrediction,
    ZeroShotHead,
    build_brand_head_sets,
    build_zero_shot_heads,
    predict_all,
)
from tagtrail.tagging.taxonomy_files import load_taxonomy

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "taxonomy" / "default"
DIM = 64


class FakeTextEncoder:
    """Deterministic stand-in for CLIP's text tower: each text → a seeded random unit vector."""

    def __init__(self, fingerprint: str = "fake-encoder/1") -> None:
        self.fingerprint = fingerprint
        self.calls: list[int] = []

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            rows.append(np.random.default_rng(seed).standard_normal(DIM))
        matrix = np.array(rows, dtype=np.float32)
        out: np.ndarray = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
        return out


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(DEFAULT_ROOT)


def _prompt_mean(encoder: FakeTextEncoder, label: ModelLabel) -> np.ndarray:
    mean = encoder.encode_text(label.prompts).mean(axis=0)
    out: np.ndarray = (mean / np.linalg.norm(mean)).astype(np.float32)
    return out


def test_builds_one_head_per_model_attribute_in_one_encode_call(taxonomy: Taxonomy) -> None:
    encoder = FakeTextEncoder()
    heads = build_zero_shot_heads(taxonomy, encoder)
    expected = {a.name for a in taxonomy.attributes if a.source == "model"}
    assert set(heads) == expected
    assert "colour" not in heads
    assert len(encoder.calls) == 1
    for name, head in heads.items():
        assert head.attribute == name
        assert head.labels == tuple(m.label for m in taxonomy.attribute(name).vocabulary)
        assert head.version.startswith("zero-shot/")


def test_label_prompt_mean_wins(taxonomy: Taxonomy) -> None:
    encoder = FakeTextEncoder()
    heads = build_zero_shot_heads(taxonomy, encoder)
    category = taxonomy.attribute("category").vocabulary
    chosen = [category[0], category[12], category[-1]]
    vectors = np.stack([_prompt_mean(encoder, m) for m in chosen])
    predictions = heads["category"].predict(vectors)
    assert [p.label for p in predictions] == [m.label for m in chosen]
    for prediction in predictions:
        assert isinstance(prediction, HeadPrediction)
        assert prediction.attribute == "category"
        assert prediction.head_version == heads["category"].version
        assert len(prediction.top_k) == 5
        assert prediction.top_k[0].label == prediction.label
        assert prediction.probability == prediction.top_k[0].score
        scores = [s.score for s in prediction.top_k]
        assert scores == sorted(scores, reverse=True)
        assert prediction.probability > 0.5  # cosine 1 vs ~0 at logit scale 100


def test_probabilities_sum_to_one(taxonomy: Taxonomy) -> None:
    heads = build_zero_shot_heads(taxonomy, FakeTextEncoder())
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((9, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for head in heads.values():
        assert isinstance(head, ZeroShotHead)
        probs = head.probabilities(vectors)
        assert probs.shape == (9, len(head.labels))
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
        assert len(head.predict(vectors)) == 9


def test_small_vocabulary_top_k_is_all_labels(taxonomy: Taxonomy) -> None:
    heads = build_zero_shot_heads(taxonomy, FakeTextEncoder())
    vectors = np.ones((2, DIM), dtype=np.float32) / np.sqrt(DIM)
    (prediction, _) = heads["season_window"].predict(vectors)
    assert len(prediction.top_k) == 3
    assert sum(s.score for s in prediction.top_k) == pytest.approx(1.0, rel=1e-5)


def test_wrong_shape_is_rejected(taxonomy: Taxonomy) -> None:
    heads = build_zero_shot_heads(taxonomy, FakeTextEncoder())
    with pytest.raises(InvalidInput):
        heads["pattern"].predict(np.zeros((2, DIM + 1), dtype=np.float32))
    with pytest.raises(InvalidInput):
        heads["pattern"].predict(np.zeros(DIM, dtype=np.float32))


def test_version_changes_with_prompts_labels_and_encoder() -> None:
    encoder = FakeTextEncoder()
    vocab = [
        ModelLabel(label="plain", prompts=("a plain shirt",)),
        ModelLabel(label="striped", prompts=("a striped shirt",)),
    ]
    embeddings = {p: encoder.encode_text([p])[0] for m in vocab for p in m.prompts}
    embeddings["a plain white shirt"] = encoder.encode_text(["a plain white shirt"])[0]
    base = ZeroShotHead.from_prompt_embeddings("pattern", vocab, embeddings, "enc/1")
    same = ZeroShotHead.from_prompt_embeddings("pattern", vocab, embeddings, "enc/1")
    assert base.version == same.version
    edited = [ModelLabel(label="plain", prompts=("a plain white shirt",)), vocab[1]]
    assert (
        ZeroShotHead.from_prompt_embeddings("pattern", edited, embeddings, "enc/1").version
        != base.version
    )
    assert (
        ZeroShotHead.from_prompt_embeddings("pattern", vocab, embeddings, "enc/2").version
        != base.version
    )


def test_brand_head_sets(taxonomy: Taxonomy) -> None:
    encoder = FakeTextEncoder()
    sets = build_brand_head_sets(taxonomy, encoder)
    assert len(encoder.calls) == 1
    assert set(sets) == {None, "northwind", "linen_loom"}
    assert "storm parka" in sets["northwind"]["category"].labels
    assert "storm parka" not in sets[None]["category"].labels
    assert sets["northwind"]["category"].version != sets[None]["category"].version
    # No vocabulary of its own: the very same heads and versions.
    assert sets["northwind"]["pattern"] is sets[None]["pattern"]
    assert sets["linen_loom"] is sets[None]
    single = build_zero_shot_heads(taxonomy, FakeTextEncoder(), brand="Northwind")
    assert single["category"].version == sets["northwind"]["category"].version


def test_predict_all_is_fast(taxonomy: Taxonomy) -> None:
    heads = build_zero_shot_heads(taxonomy, FakeTextEncoder())
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((64, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    predict_all(heads, vectors)  # warm-up
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        results = predict_all(heads, vectors)
        best = min(best, time.perf_counter() - start)
    assert set(results) == set(heads)
    assert all(len(r) == 64 for r in results.values())
    assert best < 0.005, f"predict_all took {best * 1000:.2f} ms"
