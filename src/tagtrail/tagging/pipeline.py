"""Stages 2-5 for a batch of decoded images: vectors, head predictions, colour, mapping, tiers.

:class:`Tagger` is synchronous and CPU-bound by design; callers run it off the event loop.
It returns :class:`TaggedImage` records from which the store layer writes events and
documents — the tagger itself never touches OpenSearch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from tagtrail.domain.calibration import Calibration
from tagtrail.domain.governance import TierDecision, decide_tier
from tagtrail.domain.metadata import AssetMetadata
from tagtrail.domain.records import Actor, LabelScore, ModelDecision, Thresholds
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.dependencies import EVIDENCE_KEY, Dependencies, Known
from tagtrail.domain.taxonomy.mapping import AssetContext, map_label
from tagtrail.tagging.heads import Head, HeadPrediction, build_brand_head_sets, predict_all
from tagtrail.vision.colour import ColourAnalyser, ColourAnalysis
from tagtrail.vision.colour_calibration import load_colour_calibration

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

    from tagtrail.vision.encode import ClipEncoder

COLOUR_ATTRIBUTE = "colour"
# Multi-valued attributes (``kind: multi``) hold further values beside the primary one:
# a colour covering at least this share of the product (a navy-and-white stripe is navy and
# white), and a label the model finds at least this fraction as likely as its top label
# (softmax heads share one unit of probability, so a blend shows as a near second).
FURTHER_COLOUR_MIN_COVERAGE = 0.15
FURTHER_VALUE_MIN_RATIO = 0.5
MAX_FURTHER_VALUES = 3


class TaggedImage(msgspec.Struct, kw_only=True, frozen=True):
    vector: list[float]
    decisions: tuple[ModelDecision, ...]
    unmapped: tuple[str, ...] = ()  # "attribute: raw label" the taxonomy has no rule for


@dataclass(frozen=True)
class PreparedImages:
    pixels: torch.Tensor | None
    colours: tuple[ColourAnalysis, ...]


class Tagger:
    def __init__(
        self,
        taxonomy: Taxonomy,
        encoder: ClipEncoder,
        head_sets: dict[str | None, dict[str, Head]],
        colour: ColourAnalyser,
        colour_calibration: Calibration | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.encoder = encoder
        self.head_sets = head_sets  # None: the base vocabulary; else a brand's own labels too
        self.heads = head_sets[None]
        # The zero-shot heads as built: trained heads start from (and anchor to) these.
        self.zero_shot_heads: dict[str, Head] = dict(self.heads)
        # Challengers in shadow mode: they predict beside the champion, never applied.
        self.shadow_heads: dict[str, Head] = {}
        self.colour = colour
        # Raw ΔE-margin confidence → P(right); tiers apply to the calibrated probability.
        self.colour_calibration = colour_calibration or Calibration()
        self._order = taxonomy.mapping_order or taxonomy.attribute_names

    @property
    def model_fingerprint(self) -> str:
        return self.encoder.fingerprint

    def use_head(self, head: Head) -> None:
        """Replace the base head of ``head.attribute`` wherever a head set shares it.

        Brands with a vocabulary of their own for that attribute keep their own head.
        """
        base = self.heads.get(head.attribute)
        if base is None:
            raise ValueError(f"no head for attribute {head.attribute!r}")
        for heads in {id(h): h for h in self.head_sets.values()}.values():
            if heads.get(head.attribute) is base:
                heads[head.attribute] = head

    def use_shadow_head(self, head: Head) -> None:
        """Let ``head`` predict beside the champion; its proposals go into the evidence."""
        if head.attribute not in self.heads:
            raise ValueError(f"no head for attribute {head.attribute!r}")
        self.shadow_heads[head.attribute] = head

    def prepare(self, images: Sequence[Image]) -> PreparedImages:
        """The CPU work around the encoder: pixel tensors and colour analysis.

        Kept apart from :meth:`tag_prepared` so a pipeline can run it for the next batch
        while the encoder's forward pass works on this one.
        """
        if not images:
            return PreparedImages(pixels=None, colours=())
        pixels = self.encoder.preprocess(list(images))
        return PreparedImages(
            pixels=pixels, colours=tuple(self.colour.analyse(im) for im in images)
        )

    def prepared_from(self, crops: np.ndarray, colours: Sequence[ColourAnalysis]) -> PreparedImages:
        """:meth:`prepare`'s result from work done elsewhere (distributed ingest's CPU
        tasks): centre crops (n, crop, crop, 3) uint8 and their colour analyses."""
        from tagtrail.vision.encode import normalise_crops

        if len(crops) == 0:
            return PreparedImages(pixels=None, colours=())
        return PreparedImages(
            pixels=normalise_crops(crops, self.encoder.image), colours=tuple(colours)
        )

    def tag_prepared(
        self, prepared: PreparedImages, metadata: Sequence[AssetMetadata]
    ) -> list[TaggedImage]:
        """Forward pass, heads, mapping and tiers for a prepared batch."""
        if prepared.pixels is None:
            return []
        vectors = self.encoder.forward_pixels(prepared.pixels)
        return self.tag_vectors(vectors, metadata, prepared.colours)

    def tag(self, images: Sequence[Image], metadata: Sequence[AssetMetadata]) -> list[TaggedImage]:
        """prepare + tag_prepared in one call (pipelines call the two halves separately)."""
        return self.tag_prepared(self.prepare(images), metadata)

    def tag_vectors(
        self,
        vectors: np.ndarray,
        metadata: Sequence[AssetMetadata],
        colours: Sequence[ColourAnalysis | None],
        known: Sequence[Mapping[str, Known]] | None = None,
    ) -> list[TaggedImage]:
        """Heads + mapping + tiers from stored or fresh vectors (re-tagging uses this).

        ``known``: per row, the asset's stored tags as rule dependencies (re-tagging): human
        decisions win over the model's values, and stored values stand in for attributes
        not decided again (colour without pixels).
        """
        # Brands with vocabulary of their own get their own heads: group rows by head set.
        groups: dict[str | None, list[int]] = {}
        for i, meta in enumerate(metadata):
            brand = self.taxonomy.brand(meta.brand)
            key = brand.id if brand is not None and brand.id in self.head_sets else None
            groups.setdefault(key, []).append(i)
        per_row: dict[int, dict[str, HeadPrediction]] = {}
        for key, rows in groups.items():
            predictions = predict_all(self.head_sets[key], vectors[rows])
            for j, row in enumerate(rows):
                per_row[row] = {name: preds[j] for name, preds in predictions.items()}
        shadows = predict_all(self.shadow_heads, vectors) if self.shadow_heads else {}
        results = []
        for i, _meta in enumerate(metadata):
            meta = metadata[i]
            per_attribute = per_row[i]
            stored = known[i] if known is not None else None
            decisions, unmapped = self._decide(per_attribute, colours[i], meta, stored)
            if shadows:
                shadow = {name: preds[i] for name, preds in shadows.items()}
                # The shadow head proposes an attribute's primary value only.
                decisions = [
                    d if d.slot is not None else self._with_shadow(d, shadow.get(d.attribute), meta)
                    for d in decisions
                ]
            results.append(
                TaggedImage(
                    vector=vectors[i].astype(float).tolist(),
                    decisions=tuple(decisions),
                    unmapped=tuple(unmapped),
                )
            )
        return results

    def _decide(
        self,
        predictions: dict[str, HeadPrediction],
        colour: ColourAnalysis | None,
        meta: AssetMetadata,
        known: Mapping[str, Known] | None = None,
    ) -> tuple[list[ModelDecision], list[str]]:
        context = AssetContext(
            season=meta.season, brand=meta.brand, collection=meta.collection, mapped={}
        )
        # Rules of later attributes see only applied or human-decided values (governance).
        deps = Dependencies(known)
        decisions: list[ModelDecision] = []
        unmapped: list[str] = []
        for name in self._order:
            attribute = self.taxonomy.attribute(name)
            if attribute.source == "colour_analyser":
                if colour is not None and colour.findings:
                    found = self._colour_decisions(colour, meta)
                    decisions.extend(found)
                    deps.decided(found[0])
                continue
            prediction = predictions.get(name)
            if prediction is None:
                continue
            context = msgspec.structs.replace(context, mapped=deps.mapped())
            result = map_label(self.taxonomy, name, prediction.label, context)
            if result is None:
                unmapped.append(f"{name}: {prediction.label}")
                continue
            tier = decide_tier(prediction.probability, attribute.governance, attribute=name)
            used = deps.evidence(self.taxonomy, result, context)
            decisions.append(
                self._decision(
                    name,
                    result.value,
                    result.rule_id,
                    prediction.label,
                    tuple(
                        LabelScore(label=s.label, score=round(float(s.score), 6))
                        for s in prediction.top_k
                    ),
                    float(prediction.probability),
                    tier,
                    meta,
                    Actor(
                        type="model",
                        id=self.encoder.fingerprint,
                        model_fingerprint=self.encoder.fingerprint,
                        head_version=prediction.head_version,
                    ),
                    {EVIDENCE_KEY: used} if used is not None else None,
                )
            )
            deps.decided(decisions[-1])
            if attribute.kind == "multi":
                decisions.extend(self._further_values(decisions[-1], prediction, meta, context))
        return decisions, unmapped

    def _further_values(
        self,
        primary: ModelDecision,
        prediction: HeadPrediction,
        meta: AssetMetadata,
        context: AssetContext,
    ) -> list[ModelDecision]:
        """Labels nearly as likely as the top one, as further values (one slot each)."""
        name = primary.attribute
        governance = self.taxonomy.attribute(name).governance
        out: list[ModelDecision] = []
        seen = {primary.value}
        for score in prediction.top_k[1:]:
            if score.score < FURTHER_VALUE_MIN_RATIO * prediction.probability:
                break  # best first: the rest are less likely still
            mapped = map_label(self.taxonomy, name, score.label, context)
            if mapped is None or mapped.value in seen:
                continue
            seen.add(mapped.value)
            probability = float(score.score)
            tier = decide_tier(probability, governance, attribute=name)
            decision = self._decision(
                name,
                mapped.value,
                mapped.rule_id,
                score.label,
                primary.top_k,
                probability,
                tier,
                meta,
                primary.actor,
                None,
            )
            out.append(msgspec.structs.replace(decision, slot=mapped.value))
            if len(out) == MAX_FURTHER_VALUES:
                break
        return out

    def recolour(self, evidence: dict[str, Any], meta: AssetMetadata) -> list[ModelDecision]:
        """The colour decisions (primary, then further colours) from a stored colour event's
        evidence, named against this tagger's palette and calibrated by its calibration
        (none: no measurement stored)."""
        try:
            stored = msgspec.convert(evidence, ColourAnalysis)
        except msgspec.ValidationError:
            return []
        if not stored.findings:
            return []
        return self._colour_decisions(self.colour.rename(stored), meta)

    def _colour_decisions(self, colour: ColourAnalysis, meta: AssetMetadata) -> list[ModelDecision]:
        """The dominant colour, then (multi-valued colour) each further named colour covering
        enough of the product, each with its own measurement as evidence."""
        out = [self._colour_decision(colour, meta, 0)]
        if self.taxonomy.attribute(COLOUR_ATTRIBUTE).kind != "multi":
            return out
        seen = {out[0].value}
        for index, finding in enumerate(colour.findings[1:], start=1):
            if finding.coverage < FURTHER_COLOUR_MIN_COVERAGE or finding.name in seen:
                continue
            seen.add(finding.name)
            decision = self._colour_decision(colour, meta, index)
            out.append(msgspec.structs.replace(decision, slot=finding.name))
            if len(out) > MAX_FURTHER_VALUES:
                break
        return out

    def _with_shadow(
        self, decision: ModelDecision, shadow: HeadPrediction | None, meta: AssetMetadata
    ) -> ModelDecision:
        """The decision with the shadow head's proposal in its evidence (never applied)."""
        if shadow is None or shadow.head_version == decision.actor.head_version:
            return decision
        context = AssetContext(season=meta.season, brand=meta.brand, collection=meta.collection)
        mapped = map_label(self.taxonomy, decision.attribute, shadow.label, context)
        governance = self.taxonomy.attribute(decision.attribute).governance
        tier = decide_tier(shadow.probability, governance, attribute=decision.attribute)
        proposal = {
            "head_version": shadow.head_version,
            "value": mapped.value if mapped is not None else None,
            "raw_label": shadow.label,
            "probability": round(float(shadow.probability), 6),
            "tier": tier.tier,
        }
        evidence = {**(decision.evidence or {}), "shadow": proposal}
        return msgspec.structs.replace(decision, evidence=evidence)

    def _decision(
        self,
        attribute: str,
        value: str,
        rule_id: str | None,
        raw_label: str,
        top_k: tuple[LabelScore, ...],
        probability: float,
        tier: TierDecision,
        meta: AssetMetadata,
        actor: Actor,
        evidence: dict[str, Any] | None,
    ) -> ModelDecision:
        tx = self.taxonomy
        found = tx.value(attribute, value, meta.brand)
        return ModelDecision(
            attribute=attribute,
            value=value,
            label=found.label if found else value,
            values=tx.ancestors(attribute, value, meta.brand),
            family=tx.colour_family(value) if attribute == COLOUR_ATTRIBUTE else None,
            terms=tx.search_terms(attribute, value, meta.brand),
            raw_label=raw_label,
            top_k=top_k,
            probability=probability,
            tier=tier.tier,
            tier_reason=tier.reason,
            thresholds=Thresholds(high=tier.high, medium=tier.medium, cap=tier.cap),
            rule_id=rule_id,
            taxonomy_version=tx.attribute_version(attribute),
            actor=actor,
            evidence=evidence,
        )

    def _colour_decision(
        self, colour: ColourAnalysis, meta: AssetMetadata, index: int = 0
    ) -> ModelDecision:
        top = colour.findings[index]
        governance = self.taxonomy.attribute(COLOUR_ATTRIBUTE).governance
        calibration = self.colour_calibration
        probability = round(calibration.apply_one(float(top.confidence)), 4)
        tier = decide_tier(probability, governance, attribute=COLOUR_ATTRIBUTE)
        top_k = (
            LabelScore(label=top.name, score=round(float(top.delta_e), 3)),
            *tuple(
                LabelScore(label=alt.name, score=round(float(alt.delta_e), 3))
                for alt in top.alternatives
            ),
        )
        return self._decision(
            COLOUR_ATTRIBUTE,
            top.name,
            "palette:nearest-ciede2000",
            top.name,
            top_k,
            probability,
            tier,
            meta,
            Actor(type="analyser", id=colour.analyser, analyser=colour.analyser),
            {
                "kind": "colour",
                "score_meaning": "top_k scores are CIEDE2000 ΔE (lower is nearer)",
                "probability_meaning": "the calibrated probability that the colour is right",
                "raw_confidence": float(top.confidence),
                "finding": index,  # which of the findings this decision names
                "calibration": {"version": calibration.version, **msgspec.to_builtins(calibration)},
                **msgspec.to_builtins(colour),
            },
        )


def build_tagger(taxonomy: Taxonomy, encoder: ClipEncoder) -> Tagger:
    head_sets = build_brand_head_sets(taxonomy, encoder)
    analyser = ColourAnalyser(taxonomy.palette)
    return Tagger(taxonomy, encoder, head_sets, analyser, load_colour_calibration())
