"""explainTag: "why is this tagged navy?" answered from the stored audit trail alone.

The decision chain explains the value *in force*: the event the effective tag comes from.
When a human decided the tag that is the human decision, with the machine decision the
human reviewed beside it (``reviewed``) and a newer model's later proposal (``proposal``,
never applied); otherwise it is the machine decision (raw label, top-k raw scores, the
mapping rule, thresholds and tier reason, versions). Colour evidence comes from the machine
decision's ``evidence``; the history from ``tag_events``; and exemplars are the nearest
assets (k-NN on the stored vector) whose value for the attribute a human confirmed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from tagtrail.api.graphql.context import Info
from tagtrail.api.graphql.errors import InvalidInputError, NotFoundError, error_result
from tagtrail.api.graphql.heads import HeadVersion, head_of_version
from tagtrail.api.graphql.records import object_type
from tagtrail.api.graphql.types import (
    Asset,
    LabelScore,
    Tag,
    TagEventRecord,
    described,
    history_records,
)
from tagtrail.domain import evidence as records
from tagtrail.domain.calibration import Calibration
from tagtrail.domain.evidence import rule_dependencies as read_rule_dependencies
from tagtrail.domain.records import TagEvent
from tagtrail.domain.records import Thresholds as ThresholdsRecord
from tagtrail.errors import InvalidInput, NotFound
from tagtrail.usecases.explain import MAX_EXEMPLARS, in_force


def _calibration_text(c: Calibration | None) -> str | None:
    if c is None:
        return None
    if c.kind != "platt":
        return "uncalibrated: the raw confidence is the probability"
    text = f"Platt p = σ({c.a:.3f}·confidence {c.b:+.3f}), {c.source or f'{c.n} outcomes'}"
    if c.ece_before is not None and c.ece_after is not None:
        text += f"; ECE {c.ece_before:.3f} → {c.ece_after:.3f} where fitted"
    return text


def _calibration_version(root: records.ColourEvidence) -> str | None:
    return root.calibration.version if root.calibration else None


def _calibration(root: records.ColourEvidence) -> str | None:
    return _calibration_text(root.calibration)


if TYPE_CHECKING:
    ColourAlternative = records.ColourAlternative
    ColourFinding = records.ColourFinding
    ColourEvidence = records.ColourEvidence
else:
    ColourAlternative = object_type(
        records.ColourAlternative,
        description="A nearby palette colour the measurement was compared with.",
        fields={"delta_e": "CIEDE2000 from the measured colour"},
    )
    ColourFinding = object_type(
        records.ColourFinding,
        exclude={"lab"},
        fields={
            "hex": "The palette swatch",
            "measured_hex": "What the pixels measured",
            "coverage": "Share of the product's pixels",
            "delta_e": "CIEDE2000 measured → swatch",
        },
        nested={records.ColourAlternative: ColourAlternative},
    )
    ColourEvidence = object_type(
        records.ColourEvidence,
        exclude={"analyser", "background_hex", "calibration"},
        fields={
            "finding": "Which of the findings this tag names: 0 the dominant colour, more for "
            "a further colour of the multi-valued colour attribute",
            "raw_confidence": "The analyser's ΔE-margin confidence before calibration",
        },
        nested={records.ColourFinding: ColourFinding},
        extra={
            "calibration_version": strawberry.field(
                resolver=_calibration_version,
                description="The calibration that turned it into the decision's probability",
            ),
            "calibration": strawberry.field(
                resolver=_calibration,
                description='For people, e.g. "Platt p = σ(8.109·confidence -0.629), shipped '
                'default: 1200 generated photos …"',
            ),
        },
    )


if TYPE_CHECKING:
    Thresholds = ThresholdsRecord
else:
    Thresholds = object_type(ThresholdsRecord, name="Thresholds")


@strawberry.type(
    description="A value a cross-attribute mapping rule tested: used (applied, human-decided "
    "or asset metadata) or not allowed to be used (a suggestion, a rejected value)."
)
class RuleDependency:
    attribute: str
    value: str | None
    source: str = strawberry.field(description="metadata, model, analyser or human")
    state: str | None = strawberry.field(description="Its tier, or the human decision")
    probability: float | None
    event_id: str | None = strawberry.field(description="The human decision it used")
    used: bool
    why_not: str | None = strawberry.field(description="Why it could not be used")


def rule_dependencies(evidence: dict[str, Any] | None) -> list[RuleDependency]:
    parsed = read_rule_dependencies(evidence)
    if parsed is None:
        return []
    return [
        RuleDependency(
            attribute=d.attribute,
            value=d.value,
            source=d.source,
            state=d.state,
            probability=d.probability,
            event_id=d.event_id,
            used=used,
            why_not=d.why,
        )
        for used, group in ((True, parsed.depends_on), (False, parsed.not_used))
        for d in group
    ]


@strawberry.type(description="How a value was reached, from the event that decided it.")
class DecisionChain:
    event_id: str
    at: str
    kind: str = strawberry.field(description="model_tagged, confirmed, rejected or corrected")
    state: str
    actor_type: str
    actor_id: str
    note: str | None
    raw_label: str | None
    top_k: list[LabelScore] = strawberry.field(description="Raw model scores, best first")
    rule_id: str | None = strawberry.field(description="The taxonomy mapping rule applied")
    value: str | None
    probability: float | None
    tier: str | None
    tier_reason: str | None
    thresholds: Thresholds | None
    model_fingerprint: str | None
    head_version: str | None
    analyser: str | None
    taxonomy_version: str | None
    evidence: JSON | None = strawberry.field(description="The raw evidence as stored")
    depends_on: list[RuleDependency] = strawberry.field(
        description="What the mapping rule tested on other attributes and metadata, with "
        "each value's source (empty: the rule tests nothing)"
    )


@strawberry.type
class Exemplar:
    score: float
    asset: Asset
    tag: Tag | None = strawberry.field(description="The human-decided tag of the attribute")


@strawberry.type
class TagExplanation:
    asset_id: strawberry.ID
    attribute: str
    current: Tag | None = strawberry.field(description="The effective tag now (null: none)")
    decision: DecisionChain | None = strawberry.field(
        description="The decision in force: the human decision when a human decided the "
        "tag, else the machine decision the tag comes from (null: no tag)"
    )
    reviewed: DecisionChain | None = strawberry.field(
        description="For a human decision in force: the machine decision the human reviewed"
    )
    proposal: DecisionChain | None = strawberry.field(
        description="For a human decision in force: a newer model's later proposal, shown "
        "beside it and never applied (the tag's proposedValue)"
    )
    colour_evidence: ColourEvidence | None
    history: list[TagEventRecord]
    _vector: strawberry.Private[list[float] | None]
    _head_version: strawberry.Private[str | None]

    @described(
        "The trained head that made the newest machine decision (for a human decision in "
        "force: its later proposal, if any): what it was trained on and its measured "
        "precision (null when a zero-shot head or the colour analyser decided)."
    )
    async def head(self, info: Info) -> HeadVersion | None:
        return await head_of_version(info, self._head_version)

    @described(
        "The k nearest assets whose value for this attribute a human confirmed or corrected."
    )
    async def exemplars(self, info: Info, k: int = 5) -> list[Exemplar]:
        if not 1 <= k <= MAX_EXEMPLARS:
            raise InvalidInput(f"k must be 1..{MAX_EXEMPLARS}", field="k")
        if self._vector is None:
            return []
        runtime = info.context.runtime
        hits = await runtime.explain.exemplars(self._vector, self.attribute, str(self.asset_id), k)
        out = []
        for h in hits:
            asset = Asset.from_record(h.asset)
            score = h.score or 0.0  # k-NN hits always carry one
            out.append(Exemplar(score=score, asset=asset, tag=asset.tag(self.attribute)))
        return out


ExplainResult = Annotated[
    TagExplanation | NotFoundError | InvalidInputError, strawberry.union("ExplainResult")
]


def decision_chain(e: TagEvent) -> DecisionChain:
    return DecisionChain(
        event_id=e.event_id,
        at=e.at,
        kind=e.kind,
        state=e.state,
        actor_type=e.actor.type,
        actor_id=e.actor.id,
        note=e.note,
        raw_label=e.raw_label,
        top_k=list(e.top_k),
        rule_id=e.rule_id,
        value=e.value,
        probability=e.probability,
        tier=e.tier,
        tier_reason=e.tier_reason,
        thresholds=e.thresholds,
        model_fingerprint=e.actor.model_fingerprint,
        head_version=e.actor.head_version,
        analyser=e.actor.analyser,
        taxonomy_version=e.taxonomy_version,
        evidence=cast(JSON, e.evidence),
        depends_on=rule_dependencies(e.evidence),
    )


async def explain_tag(
    info: Info,
    asset_id: strawberry.ID,
    attribute: str,
    slot: Annotated[
        str | None,
        strawberry.argument(description="A further value of a multi-valued attribute"),
    ] = None,
) -> ExplainResult:
    ctx = info.context
    ctx.require("viewer")
    try:
        found = await ctx.runtime.explain.explain(str(asset_id), attribute, slot)
    except (InvalidInput, NotFound) as exc:
        return error_result(exc, id=str(asset_id))  # type: ignore[return-value]
    chain = in_force(found.events, found.asset.tag(attribute, slot))
    machine = chain.machine
    newest = next((e for e in reversed(found.events) if e.kind == "model_tagged"), None)
    return TagExplanation(
        asset_id=asset_id,
        attribute=attribute,
        current=Asset.from_record(found.asset).tag(attribute, slot),
        decision=decision_chain(chain.decision) if chain.decision else None,
        reviewed=decision_chain(chain.reviewed) if chain.reviewed else None,
        proposal=decision_chain(chain.proposal) if chain.proposal else None,
        colour_evidence=records.colour_evidence(machine.evidence) if machine else None,
        history=history_records(found.events),
        _vector=found.vector,
        _head_version=newest.actor.head_version if newest else None,
    )
