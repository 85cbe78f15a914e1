"""Synthetic vectors with known labels: Gaussian clusters on the unit sphere.

Each label has a centre; an image vector is its centre plus noise (plus an optional brand
"style" direction), normalised. The zero-shot text weights are the centres blurred by
``text_noise``: small noise makes a good zero-shot head, large noise a weak one. ``shared``
gives every image centre a common direction and ``gap`` every text vector another one, as
in CLIP, where image and text embeddings sit in two narrow cones (the "modality gap").
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np

from tagtrail.learning.dataset import TrainingExample, TrainingSet, make_training_set
from tagtrail.tagging.heads import ZeroShotHead

ATTRIBUTE = "category"


def unit(a: np.ndarray) -> np.ndarray:
    out: np.ndarray = a / np.linalg.norm(a, axis=-1, keepdims=True)
    return out


class World(msgspec.Struct, kw_only=True, frozen=True, eq=False):
    labels: tuple[str, ...]
    centres: np.ndarray  # (labels, d) unit vectors
    text: np.ndarray  # (labels, d) zero-shot text weights
    styles: dict[str, np.ndarray]  # brand → unit style direction
    noise: float

    def zero_shot(self, version: str = "zero-shot/test") -> ZeroShotHead:
        return ZeroShotHead(
            attribute=ATTRIBUTE, labels=self.labels, label_matrix=self.text, version=version
        )

    def draw(
        self, n: int, rng: np.random.Generator, *, brand: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(n, d) float32 unit vectors and their true label indices."""
        y = rng.integers(0, len(self.labels), n)
        noise = unit(rng.standard_normal((n, self.centres.shape[1]))) * self.noise
        style = self.styles[brand] if brand is not None else 0.0
        return unit(self.centres[y] + noise + style).astype(np.float32), y


def make_world(
    *,
    n_labels: int = 6,
    dim: int = 32,
    noise: float = 0.9,
    text_noise: float = 0.3,
    brands: tuple[str, ...] = (),
    style: float = 1.0,
    shared: float = 0.0,
    gap: float = 0.0,
    seed: int = 0,
) -> World:
    rng = np.random.default_rng(seed)
    own = unit(rng.standard_normal((n_labels, dim)))
    text = unit(own + text_noise * unit(rng.standard_normal((n_labels, dim))))
    text = unit(gap * unit(rng.standard_normal(dim)) + text)
    centres = unit(shared * unit(rng.standard_normal(dim)) + own)
    return World(
        labels=tuple(f"label{i}" for i in range(n_labels)),
        centres=centres,
        text=text.astype(np.float32),
        styles={b: style * unit(rng.standard_normal(dim)) for b in brands},
        noise=noise,
    )


def training_set(
    world: World,
    vectors: np.ndarray,
    y: np.ndarray,
    *,
    prefix: str,
    segments: Callable[[int], dict[str, str]] | None = None,
    label_of: Callable[[int, int], int] | None = None,
) -> TrainingSet:
    """One positive example per vector; ``label_of(i, y)`` may falsify labels on purpose."""
    examples = []
    vector_of = {}
    for i, truth in enumerate(y.tolist()):
        asset = f"{prefix}-{i:05d}"
        label = world.labels[label_of(i, truth) if label_of else truth]
        examples.append(
            TrainingExample(
                example_id=f"{asset}:+{label}",
                asset_id=asset,
                attribute=ATTRIBUTE,
                value=label,
                label=label,
                polarity="positive",
                row=0,
                segments=segments(i) if segments else {},
            )
        )
        vector_of[asset] = vectors[i]
    return make_training_set(ATTRIBUTE, examples, vector_of)


def accuracy(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == y).mean())
