"""A trained linear head (:class:`TunedHead`), its storable record and its content address.

logits = scale · (x @ Wᵀ) + b over the zero-shot head's own labels, so a tuned head is a
drop-in :class:`~tagtrail.tagging.heads.Head`: same labels, same mapping rules, calibrated
probabilities. The calibration map (a :class:`~tagtrail.learning.logit_maps.LogitMap`: a
temperature, possibly a scale and bias per label) is linear in the logits, so it is folded
into ``scale``, the rows of W and ``b``: a stored head predicts exactly what was calibrated,
with no separate step to forget. The summary keeps the map for reports
(:meth:`TunedHead.uncalibrated` folds it out again).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Literal

import msgspec
import numpy as np
import numpy.typing as npt

from tagtrail.errors import InvalidInput
from tagtrail.learning.logit_maps import LogitMap, MapKind, MapScore
from tagtrail.learning.losses import softmax
from tagtrail.learning.novelty import NoveltyRecord, NoveltySummary
from tagtrail.tagging.heads import HeadPrediction, predictions

FloatArray = npt.NDArray[np.float32]


#: "zero_shot": weights = gain · text weights + Δ (anchored); "none": a plain probe (Δ only).
Prior = Literal["zero_shot", "none"]


class CandidateScore(msgspec.Struct, kw_only=True, frozen=True):
    """Cross-validated quality of one candidate (``strength`` None: the zero-shot weights)."""

    prior: Prior
    strength: float | None  # λ of the L2 penalty on Δ
    loss: float  # out-of-fold mean loss after temperature scaling (lower is better)
    accuracy: float  # out-of-fold top-1 accuracy on positive examples
    temperature: float


class TrainingSummary(msgspec.Struct, kw_only=True, frozen=True):
    """What a head was trained on and how; stored with it so ``explainTag`` can say so."""

    training_fingerprint: str
    taxonomy_version: str
    base_version: str  # the zero-shot head it was initialised from and anchored to
    n_examples: int
    n_positive: int
    n_negative: int
    n_dropped: int = 0  # examples whose label the base head does not have
    prior: Prior = "zero_shot"  # the chosen candidate (see CandidateScore)
    strength: float | None = None  # None: the zero-shot weights were kept
    gain: float = 1.0  # weight of the zero-shot text weights in the result
    temperature: float = 1.0
    ece_before: float | None = None  # out-of-fold, before calibration
    ece_after: float | None = None  # out-of-fold, after (map fitted on the same predictions)
    cv: tuple[CandidateScore, ...] = ()
    note: str = ""
    # Added with the choice of calibration map; records stored before it read the defaults,
    # which describe them: their temperature was fitted by NLL and nothing else was applied.
    calibration_map: MapKind = "temperature_nll"
    class_scale: tuple[float, ...] = ()  # per label (empty: 1), as in LogitMap
    class_bias: tuple[float, ...] = ()  # per label in logit units (empty: 0)
    #: Every candidate map's out-of-fold ECE, each fold mapped by a map fitted without it.
    calibration_candidates: tuple[MapScore, ...] = ()

    @property
    def logit_map(self) -> LogitMap:
        """The calibration map folded into the head's weights."""
        return LogitMap(
            kind=self.calibration_map,
            temperature=self.temperature,
            class_scale=self.class_scale,
            class_bias=self.class_bias,
        )


class TunedHeadRecord(msgspec.Struct, kw_only=True, frozen=True):
    """A head as stored (JSON-friendly): float32 arrays as base64, little-endian, row-major."""

    version: str
    attribute: str
    labels: tuple[str, ...]
    dim: int
    scale: float
    weights: str  # (labels, dim) float32
    bias: str  # (labels,) float32, in logit units
    training: TrainingSummary
    # Its training vectors, summarised for audits (learning.novelty); None: trained before
    # heads kept one, or on too few assets. Not part of the version: it is derived from the
    # training set, which the version names by its fingerprint.
    novelty: NoveltyRecord | None = None


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()


def _from_b64(text: str, shape: tuple[int, ...]) -> FloatArray:
    flat = np.frombuffer(base64.b64decode(text), dtype="<f4")
    if flat.size != int(np.prod(shape)):
        raise ValueError(f"stored array has {flat.size} values, expected shape {shape}")
    out: FloatArray = flat.reshape(shape).astype(np.float32)
    return out


def tuned_version(
    attribute: str,
    labels: tuple[str, ...],
    weights: FloatArray,
    bias: FloatArray,
    scale: float,
    training_fingerprint: str,
    taxonomy_version: str,
) -> str:
    """``tuned:<attribute>:<12 hex>``: sha256 of the weights, the training set and taxonomy."""
    hasher = hashlib.sha256()
    meta = [attribute, list(labels), repr(float(scale)), training_fingerprint, taxonomy_version]
    hasher.update(json.dumps(meta, ensure_ascii=False).encode())
    hasher.update(np.ascontiguousarray(weights, dtype="<f4").tobytes())
    hasher.update(np.ascontiguousarray(bias, dtype="<f4").tobytes())
    return f"tuned:{attribute}:{hasher.hexdigest()[:12]}"


class TunedHead:
    """A linear softmax head trained from reviewer decisions (satisfies ``Head``)."""

    __slots__ = (
        "_attribute",
        "_bias",
        "_labels",
        "_novelty",
        "_scale",
        "_training",
        "_version",
        "_weights",
    )

    def __init__(
        self,
        *,
        attribute: str,
        labels: tuple[str, ...],
        weights: np.ndarray,
        bias: np.ndarray,
        scale: float,
        training: TrainingSummary,
        novelty: NoveltySummary | None = None,
    ) -> None:
        w = np.asarray(weights, dtype=np.float32)
        b = np.asarray(bias, dtype=np.float32).reshape(-1)
        if w.ndim != 2 or w.shape[0] != len(labels) or b.shape[0] != len(labels) or not labels:
            raise ValueError(f"weights {w.shape} / bias {b.shape} do not fit {len(labels)} labels")
        self._attribute, self._labels = attribute, tuple(labels)
        self._weights, self._bias, self._scale = w, b, float(scale)
        if novelty is not None and novelty.dim != w.shape[1]:
            raise ValueError(f"novelty prototypes have dim {novelty.dim}, weights {w.shape[1]}")
        self._training = training
        self._novelty = novelty
        self._version = tuned_version(
            attribute,
            self._labels,
            w,
            b,
            self._scale,
            training.training_fingerprint,
            training.taxonomy_version,
        )

    @property
    def attribute(self) -> str:
        return self._attribute

    @property
    def version(self) -> str:
        return self._version

    @property
    def labels(self) -> tuple[str, ...]:
        return self._labels

    @property
    def training(self) -> TrainingSummary:
        return self._training

    @property
    def novelty(self) -> NoveltySummary | None:
        """Its training vectors summarised (None: not kept, see :class:`TunedHeadRecord`)."""
        return self._novelty

    @property
    def weights(self) -> FloatArray:
        view = self._weights.view()
        view.flags.writeable = False
        return view

    @property
    def bias(self) -> FloatArray:
        view = self._bias.view()
        view.flags.writeable = False
        return view

    @property
    def scale(self) -> float:
        return self._scale

    def logits(self, vectors: np.ndarray) -> FloatArray:
        batch = np.asarray(vectors, dtype=np.float32)
        if batch.ndim != 2 or batch.shape[1] != self._weights.shape[1]:
            raise InvalidInput(
                f"expected vectors of shape (n, {self._weights.shape[1]}), got {batch.shape}",
                field="vectors",
            )
        out: FloatArray = (batch @ self._weights.T) * np.float32(self._scale) + self._bias
        return out

    def probabilities(self, vectors: np.ndarray) -> FloatArray:
        """(n, labels) calibrated softmax probabilities."""
        return softmax(self.logits(vectors)).astype(np.float32)

    def predict(self, vectors: np.ndarray) -> list[HeadPrediction]:
        return predictions(
            self.probabilities(vectors), self._labels, self._attribute, self._version
        )

    def uncalibrated(self) -> TunedHead:
        """The same head with its calibration map folded out (for before/after reports)."""
        fitted = self._training.logit_map
        n = len(self._labels)
        multiplier, offset = fitted.factors(n)  # class_scale / T and class_bias
        class_scale = multiplier * fitted.temperature
        return TunedHead(
            attribute=self._attribute,
            labels=self._labels,
            weights=self._weights / class_scale[:, None],
            bias=(self._bias - offset) / multiplier,
            scale=self._scale * fitted.temperature,
            training=msgspec.structs.replace(
                self._training,
                calibration_map="identity",
                temperature=1.0,
                class_scale=(),
                class_bias=(),
            ),
        )

    def to_record(self) -> TunedHeadRecord:
        return TunedHeadRecord(
            version=self._version,
            attribute=self._attribute,
            labels=self._labels,
            dim=int(self._weights.shape[1]),
            scale=self._scale,
            weights=_b64(self._weights),
            bias=_b64(self._bias),
            training=self._training,
            novelty=self._novelty.to_record() if self._novelty is not None else None,
        )

    @classmethod
    def from_record(cls, record: TunedHeadRecord) -> TunedHead:
        """Rebuild a stored head; refuses a record whose content no longer matches its version."""
        n = len(record.labels)
        head = cls(
            attribute=record.attribute,
            labels=record.labels,
            weights=_from_b64(record.weights, (n, record.dim)),
            bias=_from_b64(record.bias, (n,)),
            scale=record.scale,
            training=record.training,
            novelty=NoveltySummary.from_record(record.novelty) if record.novelty else None,
        )
        if head.version != record.version:
            raise ValueError(f"record {record.version} hashes to {head.version}: corrupted")
        return head
