"""What a decision's evidence says, typed once per kind.

A :class:`~tagtrail.domain.records.TagEvent` stores its evidence as plain JSON (the event
log is append-only: fields added since are missing from older events). The records here are
that JSON's shape, one per kind, used by whoever writes it (the colour analyser, the rules
that test other attributes) and whoever reads it back (``explainTag``, retag, learning):

- :class:`ColourAnalysis` (with :class:`ColourFinding`, :class:`ColourAlternative`): what the
  colour analyser measured; a colour decision's evidence is a :class:`ColourEvidence`, the
  analysis plus which finding it names and the calibration that made its probability.
- :class:`RuleDependencies`: the values of other attributes a mapping rule tested, used or
  not allowed to be used, under ``evidence.rule_dependencies``.

The readers return None for evidence of another kind or an unknown shape (it stays visible
raw in ``decision.evidence``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

from tagtrail.domain.calibration import Calibration

#: Evidence key of the values a mapping rule tested.
RULE_DEPENDENCIES = "rule_dependencies"


#: The colour analyser's name in its evidence (``tagtrail.colour/<version>``).
COLOUR_ANALYSER = "tagtrail.colour"
#: ΔE₀₀ of margin over the runner-up at which the confidence reaches 1 − 1/e.
MARGIN_SCALE = 3.0
#: The first analyser major version whose confidence is :func:`margin_confidence`; earlier
#: ones recorded the ratio (ΔE₂ − ΔE₁)/(ΔE₂ + ΔE₁).
MARGIN_SINCE = 2


def margin_confidence(nearest: float, runner_up: float) -> float:
    """The analyser's confidence in a name: 1 − exp(−(ΔE₂ − ΔE₁)/3), in [0, 1]."""
    return -math.expm1(-max(runner_up - nearest, 0.0) / MARGIN_SCALE)


class ColourAlternative(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    family: str
    delta_e: float


class ColourFinding(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    label: str
    family: str
    hex: str  # the palette colour's hex
    measured_hex: str  # the cluster's robust centre
    lab: tuple[float, float, float]  # the cluster's robust centre
    coverage: float  # share of product pixels
    delta_e: float  # CIEDE2000 from the measurement to the named colour
    alternatives: tuple[ColourAlternative, ...]
    # 1 − exp(−(ΔE₂ − ΔE₁) / 3), in [0, 1] (analyser 1.x: (ΔE₂ − ΔE₁) / (ΔE₂ + ΔE₁))
    confidence: float


class ColourAnalysis(msgspec.Struct, kw_only=True, frozen=True):
    analyser: str
    findings: tuple[ColourFinding, ...]  # by coverage, largest first
    foreground_share: float  # share of the frame analysed as product
    background_hex: str  # backdrop at the frame centre (border median when none was found)


class ColourEvidence(ColourAnalysis, kw_only=True, frozen=True):
    """A colour decision's evidence: the analysis, and what the decision took from it."""

    finding: int = 0  # which of the findings the decision names (0: the dominant colour)
    #: The analyser's ΔE-margin confidence before calibration (None: written before
    #: calibration existed; the finding's own confidence is the same number).
    raw_confidence: float | None = None
    calibration: Calibration | None = None  # None: written before calibration existed

    @property
    def confidence(self) -> float | None:
        """The uncalibrated confidence of the named finding."""
        if self.raw_confidence is not None:
            return self.raw_confidence
        if 0 <= self.finding < len(self.findings):
            return self.findings[self.finding].confidence
        return None

    @property
    def margin_confidence(self) -> float | None:
        """The uncalibrated confidence as the analyser computes it now: recorded by a
        margin analyser, read back from the stored ΔE to the named colour and to the
        runner-up for an older one (its recorded ratio is another scale: a calibration fitted
        on both would fit neither). Another analyser's recorded confidence stands."""
        name, _, version = self.analyser.partition("/")
        major = version.split(".")[0]
        if name != COLOUR_ANALYSER or not major.isdigit() or int(major) >= MARGIN_SINCE:
            return self.confidence
        if not 0 <= self.finding < len(self.findings):
            return None
        named = self.findings[self.finding]
        if not named.alternatives:
            return 1.0
        return margin_confidence(named.delta_e, named.alternatives[0].delta_e)


def colour_evidence(evidence: Mapping[str, Any] | None) -> ColourEvidence | None:
    """``evidence`` read as a colour decision's (None: another kind, or an unknown shape)."""
    if not evidence or "findings" not in evidence:
        return None
    try:
        return msgspec.convert(evidence, ColourEvidence, strict=False)
    except msgspec.ValidationError:
        return None


class RuleDependency(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A value a mapping rule tested, with where it came from."""

    attribute: str
    value: str | None
    source: str  # metadata, model, analyser or human
    #: The tier of a machine value, the state of a human decision (None: metadata).
    state: str | None = None
    probability: float | None = None
    event_id: str | None = None  # the human decision it used
    why: str | None = None  # why it could not be used (only in ``not_used``)


class RuleDependencies(msgspec.Struct, kw_only=True, frozen=True):
    rule_id: str | None
    depends_on: list[RuleDependency] = []
    not_used: list[RuleDependency] = []


def rule_dependencies(evidence: Mapping[str, Any] | None) -> RuleDependencies | None:
    """What the rule behind a decision tested (None: it tested nothing, or unknown shape)."""
    raw = (evidence or {}).get(RULE_DEPENDENCIES)
    if not isinstance(raw, dict):
        return None
    try:
        return msgspec.convert(raw, RuleDependencies, strict=False)
    except msgspec.ValidationError:
        return None
