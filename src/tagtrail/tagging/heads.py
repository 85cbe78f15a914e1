"""Classifier heads (pipeline stage 3): image vectors → labels in the model's own vocabulary.

Every head is a versioned object behind :class:`Head`, so tuned heads trained from
reviewer decisions slot in beside the zero-shot ones and the audit trail can name the
exact head that produced a prediction. Zero-shot heads score an image vector against the
mean text embedding of each label's prompt ensemble, CLIP-style.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from tagtrail.domain.records import LabelScore
from tagtrail.domain.taxonomy import ModelLabel, Taxonomy
from tagtrail.errors import InvalidInput

#: CLIP's learned temperature (exp(4.6052)); zero-shot logits are cosine similarity × 100.
CLIP_LOGIT_SCALE = 100.0
TOP_K = 5

FloatArray = npt.NDArray[np.float32]


class HeadPrediction(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    label: str  # top-1 model label
    probability: float
    top_k: tuple[LabelScore, ...]  # best first, at most TOP_K
    head_version: str


def predictions(
    probs: np.ndarray, labels: Sequence[str], attribute: str, version: str
) -> list[HeadPrediction]:
    """One prediction per row of ``probs`` (n, labels): the top-k labels, best first.

    A stable sort on −p: ties go to the earlier label, identically on every machine.
    """
    k = min(TOP_K, len(labels))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    out: list[HeadPrediction] = []
    for idx_row, p_row in zip(order.tolist(), probs.tolist(), strict=True):
        top_k = tuple(LabelScore(label=labels[i], score=p_row[i]) for i in idx_row)
        out.append(
            HeadPrediction(
                attribute=attribute,
                label=top_k[0].label,
                probability=top_k[0].score,
                top_k=top_k,
                head_version=version,
            )
        )
    return out


class TextEncoder(Protocol):
    """The text tower of the vision model (CLIP's text encoder, or a test fake)."""

    @property
    def fingerprint(self) -> str:
        """Identifies the model weights; part of every zero-shot head version."""
        ...

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), d) L2-normalised float embeddings."""
        ...


class Head(Protocol):
    @property
    def attribute(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def labels(self) -> tuple[str, ...]: ...

    def predict(self, vectors: np.ndarray) -> list[HeadPrediction]:
        """``vectors``: (n, d) L2-normalised float32 image embeddings; one result per row."""
        ...


class AnchorHead(Head, Protocol):
    """A head that training can start from: one row per label in a matrix of text
    embeddings (``ZeroShotHead``)."""

    @property
    def label_matrix(self) -> FloatArray: ...


def _l2_normalise(matrix: np.ndarray) -> FloatArray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    out: FloatArray = matrix / np.maximum(norms, np.float32(1e-12))
    return out


def _softmax(logits: FloatArray) -> FloatArray:
    shifted = logits - logits.max(axis=1, keepdims=True)  # avoids overflow at scale 100
    exp = np.exp(shifted)
    out: FloatArray = exp / exp.sum(axis=1, keepdims=True)
    return out


def zero_shot_version(
    fingerprint: str, attribute: str, vocabulary: Sequence[ModelLabel], logit_scale: float
) -> str:
    """Changes whenever the weights, the labels or any prompt change."""
    payload = {
        "encoder": fingerprint,
        "attribute": attribute,
        "labels": [[m.label, list(m.prompts)] for m in vocabulary],
        "logit_scale": logit_scale,
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "zero-shot/" + hashlib.sha256(text.encode()).hexdigest()[:12]


class ZeroShotHead:
    """Softmax over cosine similarities with the labels' prompt-ensemble embeddings."""

    __slots__ = ("_attribute", "_labels", "_logit_scale", "_matrix", "_version")

    def __init__(
        self,
        *,
        attribute: str,
        labels: Sequence[str],
        label_matrix: np.ndarray,
        version: str,
        logit_scale: float = CLIP_LOGIT_SCALE,
    ) -> None:
        matrix = np.asarray(label_matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(labels) or not labels:
            raise ValueError(f"label_matrix {matrix.shape} does not match {len(labels)} labels")
        self._attribute = attribute
        self._labels = tuple(labels)
        self._matrix = _l2_normalise(matrix)
        self._version = version
        self._logit_scale = float(logit_scale)

    @classmethod
    def from_prompt_embeddings(
        cls,
        attribute: str,
        vocabulary: Sequence[ModelLabel],
        embeddings: Mapping[str, np.ndarray],
        fingerprint: str,
        logit_scale: float = CLIP_LOGIT_SCALE,
    ) -> ZeroShotHead:
        """Average each label's prompt embeddings and re-normalise (prompt ensembling)."""
        rows = [
            _l2_normalise(np.mean([embeddings[p] for p in m.prompts], axis=0)) for m in vocabulary
        ]
        return cls(
            attribute=attribute,
            labels=[m.label for m in vocabulary],
            label_matrix=np.stack(rows),
            version=zero_shot_version(fingerprint, attribute, vocabulary, logit_scale),
            logit_scale=logit_scale,
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
    def label_matrix(self) -> FloatArray:
        """(labels, d) unit vectors, one per label (a read-only view)."""
        view = self._matrix.view()
        view.flags.writeable = False
        return view

    def probabilities(self, vectors: np.ndarray) -> FloatArray:
        """(n, labels) softmax probabilities: one matmul for the whole batch."""
        batch = np.asarray(vectors, dtype=np.float32)
        if batch.ndim != 2 or batch.shape[1] != self._matrix.shape[1]:
            raise InvalidInput(
                f"expected vectors of shape (n, {self._matrix.shape[1]}), got {batch.shape}",
                field="vectors",
            )
        logits: FloatArray = (batch @ self._matrix.T) * np.float32(self._logit_scale)
        return _softmax(logits)

    def predict(self, vectors: np.ndarray) -> list[HeadPrediction]:
        return predictions(
            self.probabilities(vectors), self._labels, self._attribute, self._version
        )


def _encode_prompts(text_encoder: TextEncoder, prompts: Iterable[str]) -> dict[str, np.ndarray]:
    """One ``encode_text`` call for every distinct prompt: the text tower batches well."""
    unique = list(dict.fromkeys(prompts))
    if not unique:
        return {}
    encoded = np.asarray(text_encoder.encode_text(unique), dtype=np.float32)
    if encoded.ndim != 2 or encoded.shape[0] != len(unique):
        raise ValueError(f"encode_text returned {encoded.shape} for {len(unique)} prompts")
    normalised = _l2_normalise(encoded)
    return {prompt: normalised[i] for i, prompt in enumerate(unique)}


def _model_attributes(taxonomy: Taxonomy) -> list[str]:
    return [a.name for a in taxonomy.attributes if a.source == "model"]


def build_brand_head_sets(
    taxonomy: Taxonomy, text_encoder: TextEncoder
) -> dict[str | None, dict[str, Head]]:
    """Heads for the base taxonomy (key None) and for every brand with its own vocabulary.

    A brand with no vocabulary of its own shares the base heads (same objects, same version).
    All prompts of all attributes and brands are encoded in one call.
    """
    names = _model_attributes(taxonomy)
    vocabularies: dict[str | None, dict[str, tuple[ModelLabel, ...]]] = {
        None: {n: taxonomy.vocabulary_for(n) for n in names}
    }
    for brand in taxonomy.brands:
        own = {n: taxonomy.vocabulary_for(n, brand.id) for n in names}
        if own != vocabularies[None]:
            vocabularies[brand.id] = own
    embeddings = _encode_prompts(
        text_encoder,
        (
            p
            for per_attr in vocabularies.values()
            for v in per_attr.values()
            for m in v
            for p in m.prompts
        ),
    )
    fingerprint = text_encoder.fingerprint
    base: dict[str, Head] = {
        n: ZeroShotHead.from_prompt_embeddings(n, v, embeddings, fingerprint)
        for n, v in vocabularies[None].items()
    }
    out: dict[str | None, dict[str, Head]] = {None: base}
    for brand in taxonomy.brands:
        per_attr = vocabularies.get(brand.id)
        if per_attr is None:
            out[brand.id] = base
            continue
        out[brand.id] = {
            n: base[n]
            if v == vocabularies[None][n]
            else ZeroShotHead.from_prompt_embeddings(n, v, embeddings, fingerprint)
            for n, v in per_attr.items()
        }
    return out


def build_zero_shot_heads(
    taxonomy: Taxonomy, text_encoder: TextEncoder, *, brand: str | None = None
) -> dict[str, Head]:
    """One zero-shot head per ``source: model`` attribute (with ``brand``'s vocabulary)."""
    names = _model_attributes(taxonomy)
    vocabularies = {n: taxonomy.vocabulary_for(n, brand) for n in names}
    embeddings = _encode_prompts(
        text_encoder, (p for v in vocabularies.values() for m in v for p in m.prompts)
    )
    return {
        n: ZeroShotHead.from_prompt_embeddings(n, v, embeddings, text_encoder.fingerprint)
        for n, v in vocabularies.items()
    }


def predict_all(heads: Mapping[str, Head], vectors: np.ndarray) -> dict[str, list[HeadPrediction]]:
    """Every head over the same batch; each head is one matmul over all rows."""
    batch = np.ascontiguousarray(vectors, dtype=np.float32)
    return {name: head.predict(batch) for name, head in heads.items()}
