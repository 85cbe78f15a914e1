"""What the review queue's orders measure: a decision's margin and the value of a review.

**Margin** (``uncertainty_first``): how decisively a machine chose its value. For a head, the
top-1 minus the top-2 probability of its distribution (``top_k``, best first): 0 is a tie,
1 a certainty. Every value taken from one prediction (a multi-valued attribute's further
values) carries that prediction's margin. For the colour analyser, whose ``top_k`` holds ΔE
distances and no probabilities, its own margin measure: the ΔE-margin confidence
1 − exp(−(ΔE₂ − ΔE₁)/3) of the named finding (``domain.evidence``), also 0 for a tie and
near 1 for a clear winner. Unknown (None) for a decision without two scores or another
analyser's, and for a value a human gave.

**Expected value of a review** (``expected_value_first``): the expected cost a review
removes, in units of one wrong applied tag, assuming the reviewer confirms a right value and
rejects a wrong one:

* a *flagged* tag is applied: a wrong one (probability 1 − p) is served by search, facets
  and exports until reviewed, so the review is worth 1 − p;
* a *suggestion* is not applied: a right one (probability p) is a value the asset is
  missing, so the review is worth p · c, where c is what a missing value costs against a
  wrong one.

c is not a new knob: the attribute's medium threshold m is where applying and not applying
cost the same, (1 − m) · 1 = m · c, so c = (1 − m) / m (m = 0.75: a missing value costs a
third of a wrong one). The value is then continuous at the threshold (1 − m on both sides)
and falls off away from it: a sure flagged tag is probably right already, an unlikely
suggestion probably wrong. An asset's value is the sum over its pending tags of the
requested attributes: the review page shows them together. The store computes the same
number in the search engine (``store.review_queue``); this is the reference it is tested against.
"""

from __future__ import annotations

from collections.abc import Sequence

from tagtrail.domain.evidence import colour_evidence
from tagtrail.domain.records import LabelScore, ModelDecision

#: Medium thresholds are clamped into [MIN_MEDIUM, 1] for the cost of a missing value: a
#: threshold of 0 would make a missing value infinitely worse than a wrong one.
MIN_MEDIUM = 0.01
_DIGITS = 6


def head_margin(top_k: Sequence[LabelScore]) -> float | None:
    """Top-1 minus top-2 probability (None without two scores)."""
    if len(top_k) < 2:
        return None
    first, second = sorted((float(s.score) for s in top_k), reverse=True)[:2]
    return round(min(max(first - second, 0.0), 1.0), _DIGITS)


def margin_of(decision: ModelDecision) -> float | None:
    """The margin of a machine decision (see the module docstring); None when unknown."""
    colour = colour_evidence(decision.evidence)
    if colour is not None:
        found = colour.margin_confidence
        return None if found is None else round(min(max(found, 0.0), 1.0), _DIGITS)
    if decision.actor.type != "model":
        return None  # an analyser's top_k is not a probability distribution
    return head_margin(decision.top_k)


def missing_cost(medium: float) -> float:
    """What a missing right value costs against a wrong applied one, (1 − m) / m."""
    m = min(max(medium, MIN_MEDIUM), 1.0)
    return (1.0 - m) / m


def review_value(state: str, probability: float | None, medium: float) -> float:
    """The expected value of reviewing one pending tag (0 for no probability, or a tag that
    is not pending)."""
    if probability is None:
        return 0.0
    if state == "flagged":
        return 1.0 - probability
    if state == "suggested":
        return probability * missing_cost(medium)
    return 0.0
