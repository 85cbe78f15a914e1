from __future__ import annotations

import pytest

from tagtrail.domain.governance import Governance, decide_tier, is_applied, tier_rank
from tagtrail.errors import InvalidInput

DEFAULT = Governance()


@pytest.mark.parametrize(
    ("probability", "tier"),
    [
        (1.0, "auto_applied"),
        (0.95, "auto_applied"),
        (0.9499999, "flagged"),
        (0.75, "flagged"),
        (0.7499999, "suggested"),
        (0.0, "suggested"),
    ],
)
def test_boundaries(probability: float, tier: str) -> None:
    assert decide_tier(probability, DEFAULT).tier == tier


def test_reason_is_a_sentence() -> None:
    assert decide_tier(0.97, DEFAULT).reason == "0.97 ≥ high 0.95 → auto_applied"
    flagged = decide_tier(0.8, DEFAULT)
    assert flagged.reason == "0.8 < high 0.95 and ≥ medium 0.75 → flagged"
    assert decide_tier(0.5, DEFAULT).reason == "0.5 < medium 0.75 → suggested"
    # Just under a threshold must not print as equal to it.
    assert "0.95 < high 0.95" not in decide_tier(0.9499999, DEFAULT).reason


def test_cap_keeps_material_a_suggestion() -> None:
    material = Governance(cap="suggested")
    decision = decide_tier(0.97, material, attribute="material")
    assert decision.tier == "suggested"
    assert decision.capped
    assert decision.reason == "0.97 ≥ high 0.95 but attribute material is capped at suggested"
    assert (decision.high, decision.medium, decision.cap) == (0.95, 0.75, "suggested")
    low = decide_tier(0.3, material, attribute="material")
    assert low.tier == "suggested"
    assert not low.capped


def test_cap_at_flagged() -> None:
    gov = Governance(cap="flagged")
    assert decide_tier(0.99, gov).tier == "flagged"
    assert decide_tier(0.8, gov).tier == "flagged"
    assert "this attribute is capped at flagged" in decide_tier(0.99, gov).reason


def test_custom_thresholds() -> None:
    gov = Governance(high=0.9, medium=0.5)
    assert decide_tier(0.9, gov).tier == "auto_applied"
    assert decide_tier(0.5, gov).tier == "flagged"


def test_is_applied_and_rank() -> None:
    assert is_applied("auto_applied")
    assert is_applied("flagged")
    assert not is_applied("suggested")
    assert tier_rank("suggested") < tier_rank("flagged") < tier_rank("auto_applied")


@pytest.mark.parametrize("bad", [-0.01, 1.01, float("nan")])
def test_rejects_bad_probability(bad: float) -> None:
    with pytest.raises(InvalidInput):
        decide_tier(bad, DEFAULT)
