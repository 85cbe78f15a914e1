"""Confidence tiers (pipeline stage 5): what a prediction's probability allows to happen.

Three tiers per attribute: at or above ``high`` a tag is applied; between ``medium`` and
``high`` it is applied *and* flagged for review; below ``medium`` it is only a suggestion
that reviewers see and that is never applied. An attribute may be capped (material is a
suggestion the editor confirms, however sure the model is). The decision carries a human
sentence so "why is this tagged navy?" can be answered from the audit trail alone.
"""

from __future__ import annotations

import math
from typing import Final, Literal, get_args

import msgspec

from tagtrail.errors import InvalidInput

Tier = Literal["auto_applied", "flagged", "suggested"]
#: An asset's vector against the training vectors of the head that tagged it: farther than
#: the head's threshold from all of them ("novel") or not ("familiar"); see learning.novelty.
Novelty = Literal["novel", "familiar"]

#: Tiers from least to most trusted; a cap keeps a decision at or below its tier.
TIER_ORDER: Final[tuple[Tier, ...]] = ("suggested", "flagged", "auto_applied")
TIERS: Final[frozenset[str]] = frozenset(get_args(Tier))

DEFAULT_HIGH: Final = 0.95
DEFAULT_MEDIUM: Final = 0.75


class Governance(msgspec.Struct, kw_only=True, frozen=True):
    """Per-attribute thresholds and the most trusted tier it may ever reach."""

    high: float = DEFAULT_HIGH
    medium: float = DEFAULT_MEDIUM
    cap: Tier = "auto_applied"


class TierDecision(msgspec.Struct, kw_only=True, frozen=True):
    """The tier chosen for one prediction, with the inputs that chose it (for the audit)."""

    tier: Tier
    reason: str
    probability: float
    high: float
    medium: float
    cap: Tier
    capped: bool


def tier_rank(tier: Tier) -> int:
    """0 for suggested, 1 for flagged, 2 for auto_applied."""
    return TIER_ORDER.index(tier)


def is_applied(tier: Tier) -> bool:
    """Flagged tags are applied too (and queued for review); suggestions never are."""
    return tier in ("auto_applied", "flagged")


def _fmt(value: float, other: float) -> str:
    # Short numbers for people, but never so short that 0.9499 reads as "0.95 < 0.95".
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    other_text = f"{other:.4f}".rstrip("0").rstrip(".")
    if text == other_text and value != other:
        return repr(value)
    return text if "." in text else f"{value:.1f}"


def decide_tier(
    probability: float, governance: Governance, *, attribute: str | None = None
) -> TierDecision:
    """Apply the thresholds, then the attribute's cap."""
    if not isinstance(probability, int | float) or math.isnan(probability):
        raise InvalidInput(
            f"probability must be a number, got {probability!r}", field="probability"
        )
    if not 0.0 <= probability <= 1.0:
        raise InvalidInput(f"probability {probability} is outside [0, 1]", field="probability")
    p = float(probability)
    high, medium, cap = governance.high, governance.medium, governance.cap
    if p >= high:
        tier: Tier = "auto_applied"
        reason = f"{_fmt(p, high)} ≥ high {_fmt(high, p)}"
    elif p >= medium:
        tier = "flagged"
        reason = f"{_fmt(p, high)} < high {_fmt(high, p)} and ≥ medium {_fmt(medium, p)}"
    else:
        tier = "suggested"
        reason = f"{_fmt(p, medium)} < medium {_fmt(medium, p)}"
    capped = tier_rank(tier) > tier_rank(cap)
    if capped:
        who = f"attribute {attribute}" if attribute else "this attribute"
        reason = f"{reason} but {who} is capped at {cap}"
        tier = cap
    else:
        reason = f"{reason} → {tier}"
    return TierDecision(
        tier=tier,
        reason=reason,
        probability=p,
        high=high,
        medium=medium,
        cap=cap,
        capped=capped,
    )
