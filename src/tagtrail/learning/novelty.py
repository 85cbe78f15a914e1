"""Novelty: how far a vector is from everything a head was trained on (pure numpy).

A tuned head keeps a compact summary of its training vectors (one L2-normalised row per
asset): up to :data:`MAX_PROTOTYPES` unit **prototypes** and a **threshold**. An asset's
*novelty distance* is its cosine distance to the nearest prototype,
``d(x) = 1 − maxⱼ x·pⱼ``; the asset is **novel** for that head when ``d(x) > threshold``,
and **familiar** otherwise. Audits stratify by it (``learning.audit``), so precision is
measured on the part of the catalogue that looks least like the training data.

**Prototypes.** With at most :data:`MAX_PROTOTYPES` training rows, the rows themselves.
Otherwise spherical k-means (centroids are normalised means) with k = :data:`MAX_PROTOTYPES`,
k-means++ seeding from a fixed seed and at most :data:`MAX_ITER` Lloyd steps, fitted on at
most :data:`MAX_FIT_ROWS` rows spread evenly over the canonical row order. Deterministic:
the same training set gives the same prototypes.

**Threshold.** The ``quantile`` (default :data:`QUANTILE`, 0.95; the ``higher`` order
statistic) of the training rows' *out-of-sample* distances: with the rows as prototypes,
each row's distance to the nearest *other* row; with k-means, each row's distance to the
prototypes of a fit without its fold (:data:`FOLDS` folds by row order, same k, same seed),
and for rows beyond the :data:`MAX_FIT_ROWS` that fitted the prototypes, their distance to
those. In-sample distances are optimistic (a row is close to the centroid it pulled towards
itself, and even a leave-one-out centroid keeps the neighbours it gathered), so a threshold
from them would call far more than 5 % of new vectors from the training distribution
novel; the cross-fitted one is the distance that about 95 % of them stay within (slightly
more: the fold fits saw 4/5 of the rows). Fewer than :data:`MIN_ROWS` training rows: no
summary (a 0.95 quantile of a handful of distances says little), and audits do not judge
that head's tags.
"""

from __future__ import annotations

import base64
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from tagtrail.domain.governance import Novelty as Novelty  # re-exported

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

QUANTILE = 0.95
MAX_PROTOTYPES = 64
MAX_FIT_ROWS = 4096
MAX_ITER = 25
MIN_ROWS = 20
FOLDS = 5
SEED = 19  # k-means++ seeding: fixed, so the same rows give the same prototypes
_CHUNK = 4096  # rows per distance batch (bounded memory for large training sets)


class NoveltyRecord(msgspec.Struct, kw_only=True, frozen=True):
    """A novelty summary as stored with its head: prototypes float32 base64, row-major."""

    prototypes: str  # (count, dim) float32, little-endian
    count: int
    dim: int
    threshold: float  # cosine distance; above it a vector is novel
    quantile: float  # of the training rows' out-of-sample distances
    n_rows: int  # training rows summarised
    method: Literal["rows", "kmeans"] = "kmeans"


def _pack(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()


def _unpack(text: str, shape: tuple[int, int]) -> FloatArray:
    flat = np.frombuffer(base64.b64decode(text), dtype="<f4")
    if flat.size != shape[0] * shape[1]:
        raise ValueError(f"stored prototypes have {flat.size} values, expected shape {shape}")
    out: FloatArray = flat.reshape(shape).astype(np.float32)
    return out


def _normalise(x: np.ndarray) -> FloatArray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: FloatArray = (x / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


class NoveltySummary(msgspec.Struct, kw_only=True, frozen=True, eq=False):
    """A head's training vectors, summarised: prototypes and a distance threshold."""

    prototypes: FloatArray  # (count, dim) unit rows
    threshold: float
    quantile: float = QUANTILE
    n_rows: int = 0
    method: Literal["rows", "kmeans"] = "kmeans"

    @property
    def dim(self) -> int:
        return int(self.prototypes.shape[1])

    def distances(self, vectors: np.ndarray) -> FloatArray:
        """(n,) cosine distance of each row of ``vectors`` to its nearest prototype.

        Rows are normalised first (stored vectors are unit already); batches of rows keep
        the (rows × prototypes) similarity matrix small."""
        batch = np.asarray(vectors, dtype=np.float32)
        if batch.ndim != 2 or batch.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {batch.shape}")
        out = np.empty(batch.shape[0], dtype=np.float32)
        for start in range(0, batch.shape[0], _CHUNK):
            rows = _normalise(batch[start : start + _CHUNK])
            out[start : start + len(rows)] = 1.0 - (rows @ self.prototypes.T).max(axis=1)
        return out

    def novel(self, vectors: np.ndarray) -> BoolArray:
        """(n,) True where a row is farther than the threshold from every prototype."""
        flags: BoolArray = self.distances(vectors) > np.float32(self.threshold)
        return flags

    def to_record(self) -> NoveltyRecord:
        return NoveltyRecord(
            prototypes=_pack(self.prototypes),
            count=int(self.prototypes.shape[0]),
            dim=self.dim,
            threshold=self.threshold,
            quantile=self.quantile,
            n_rows=self.n_rows,
            method=self.method,
        )

    @classmethod
    def from_record(cls, record: NoveltyRecord) -> NoveltySummary:
        return cls(
            prototypes=_unpack(record.prototypes, (record.count, record.dim)),
            threshold=record.threshold,
            quantile=record.quantile,
            n_rows=record.n_rows,
            method=record.method,
        )


def _spread(n: int, m: int) -> npt.NDArray[np.int64]:
    """``m`` row indices spread evenly over ``range(n)`` (all of them when n ≤ m)."""
    if n <= m:
        return np.arange(n, dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, m).round().astype(np.int64))


def _seed(x: FloatArray, k: int, rng: np.random.Generator) -> FloatArray:
    """k-means++ on cosine distance: each next centre drawn ∝ squared distance."""
    chosen = [int(rng.integers(x.shape[0]))]
    nearest = 1.0 - x @ x[chosen[0]]
    for _ in range(1, k):
        weights = np.maximum(nearest.astype(np.float64), 0.0) ** 2
        total = weights.sum()
        if total <= 0.0:  # fewer distinct rows than k: take the next unused ones
            pick = next(i for i in range(x.shape[0]) if i not in chosen)
        else:
            pick = int(rng.choice(x.shape[0], p=weights / total))
        chosen.append(pick)
        nearest = np.minimum(nearest, 1.0 - x @ x[pick])
    centres: FloatArray = x[chosen].copy()
    return centres


def _lloyd(
    x: FloatArray, k: int, max_iter: int, seed: int
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Spherical k-means: (unit centroids, assignment of each row)."""
    centres = _seed(x, k, np.random.default_rng(seed))
    assign = np.full(x.shape[0], -1, dtype=np.int64)
    for _ in range(max_iter):
        sims = x @ centres.T
        new = sims.argmax(axis=1).astype(np.int64)
        if np.array_equal(new, assign):
            break
        assign = new
        # Row sums per cluster as one product (np.add.at was most of a head's novelty fit).
        members = np.zeros((k, x.shape[0]), dtype=x.dtype)
        members[assign, np.arange(x.shape[0])] = 1.0
        sums = members @ x
        empty = np.flatnonzero(np.bincount(assign, minlength=k) == 0)
        if empty.size:  # re-seed each empty cluster with the worst-fitted rows
            worst = np.argsort(sims[np.arange(x.shape[0]), assign], kind="stable")
            sums[empty] = x[worst[: empty.size]]
        centres = _normalise(sums)
    return centres, assign


def _nearest_other(x: FloatArray) -> FloatArray:
    """Each row's distance to the nearest *other* row (rows as their own prototypes)."""
    out = np.empty(x.shape[0], dtype=np.float32)
    for start in range(0, x.shape[0], _CHUNK):
        sims = x[start : start + _CHUNK] @ x.T
        idx = np.arange(sims.shape[0])
        sims[idx, start + idx] = -np.inf
        out[start : start + sims.shape[0]] = 1.0 - sims.max(axis=1)
    return out


def _cross_fitted(x: FloatArray, k: int, max_iter: int, seed: int, folds: int) -> FloatArray:
    """Each row's distance to the nearest of ``k`` prototypes fitted without its fold."""
    out = np.empty(x.shape[0], dtype=np.float32)
    fold = np.arange(x.shape[0]) % folds
    for f in range(folds):
        rest = x[fold != f]
        if rest.shape[0] <= k:
            prototypes = rest
        else:
            prototypes, _ = _lloyd(rest, k, max_iter, seed)
        probe = NoveltySummary(prototypes=prototypes, threshold=0.0)
        out[fold == f] = probe.distances(x[fold == f])
    return out


def fit_novelty(
    vectors: np.ndarray,
    *,
    quantile: float = QUANTILE,
    max_prototypes: int = MAX_PROTOTYPES,
    max_fit_rows: int = MAX_FIT_ROWS,
    min_rows: int = MIN_ROWS,
    max_iter: int = MAX_ITER,
    seed: int = SEED,
    folds: int = FOLDS,
) -> NoveltySummary | None:
    """The novelty summary of a head's training rows, or None with fewer than ``min_rows``."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < max(min_rows, 2) or x.shape[1] == 0:
        return None
    x = _normalise(x)
    n = x.shape[0]
    method: Literal["rows", "kmeans"] = "rows" if n <= max_prototypes else "kmeans"
    if method == "rows":
        centres, fitted = x.copy(), np.arange(n)
    else:
        fitted = _spread(n, max_fit_rows)
        centres, _ = _lloyd(x[fitted], max_prototypes, max_iter, seed)
    summary = NoveltySummary(
        prototypes=centres, threshold=0.0, quantile=quantile, n_rows=n, method=method
    )
    distances = summary.distances(x)  # out of sample for rows that did not fit the centroids
    if method == "rows":
        distances[fitted] = _nearest_other(x)
    else:
        distances[fitted] = _cross_fitted(x[fitted], max_prototypes, max_iter, seed, folds)
    threshold = float(np.quantile(distances.astype(np.float64), quantile, method="higher"))
    return msgspec.structs.replace(summary, threshold=threshold)
