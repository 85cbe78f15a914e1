"""Proposing a rejected value again: only a newer head, only above a configured confidence.

A reviewer's rejection wins the fold, so a later model decision on that attribute is only a
proposal beside it. For a re-tag this module decides whether the new decision may put the
rejected value in front of reviewers again: the head (or analyser) must not be the one whose
proposal the human rejected — heads only move forward, by promotion, so another version is a
newer one — and its probability must reach ``min_probability``
(``TAGTRAIL_REPROPOSE_MIN_PROBABILITY``). It then becomes a *suggestion* (never applied: a
human decides again), and its tier reason and ``evidence.reproposal`` say so. Otherwise it
stays a proposal beside the rejection, and its tier reason says why.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tagtrail.domain.projection import REPROPOSAL
from tagtrail.domain.records import HUMAN_STATES, ModelDecision, Tag

REFUSED = "reproposal_refused"


def _maker(head_version: str | None, analyser: str | None) -> str | None:
    return head_version or analyser


def _reason(decision: ModelDecision, text: str) -> str:
    return f"{decision.tier_reason}; {text}" if decision.tier_reason else text


def _with(decision: ModelDecision, key: str, facts: dict[str, Any], reason: str) -> ModelDecision:
    changes: dict[str, Any] = {
        "tier_reason": _reason(decision, reason),
        "evidence": {**(decision.evidence or {}), key: facts},
    }
    if key == REPROPOSAL:
        changes["tier"] = "suggested"
    return msgspec.structs.replace(decision, **changes)


def repropose(
    decision: ModelDecision, current: Tag | None, min_probability: float
) -> ModelDecision:
    """``decision`` as it may stand beside ``current`` (the asset's tag of its attribute)."""
    if current is None:
        return decision
    if current.reproposal_of and current.state not in HUMAN_STATES:
        # Re-proposed earlier and not decided yet: a suggestion until a human decides.
        pending = {"rejected_event_id": current.reproposal_of, "pending": True}
        text = f"re-proposal of a rejected value (event {current.reproposal_of}) awaiting review"
        return _with(decision, REPROPOSAL, pending, f"{text} → suggested")
    if current.state != "rejected" or decision.value != current.value:
        return decision
    rejected_head = _maker(current.head_version, current.analyser)
    head = _maker(decision.actor.head_version, decision.actor.analyser)
    p = decision.probability if decision.probability is not None else 0.0
    facts: dict[str, Any] = {
        "rejected_event_id": current.event_id,
        "rejected_value": current.value,
        "rejected_by": current.decided_by,
        "rejected_at": current.decided_at,
        "rejected_head_version": rejected_head,
        "head_version": head,
        "probability": p,
        "min_probability": min_probability,
    }
    who = f"{current.decided_by} rejected {current.value!r} at {current.decided_at}"
    if head is None or head == rejected_head:
        text = f"{who}; head {head} made the rejected proposal: kept as a proposal, not re-proposed"
        return _with(decision, REFUSED, {**facts, "why": "same head"}, text)
    if p < min_probability:
        text = (
            f"{who}; newer head {head} but {p:.4g} < re-propose minimum {min_probability:.4g}: "
            "kept as a proposal, not re-proposed"
        )
        return _with(decision, REFUSED, {**facts, "why": "below minimum"}, text)
    text = (
        f"{who} (head {rejected_head}); re-proposed by newer head {head} at {p:.4g} ≥ "
        f"re-propose minimum {min_probability:.4g} → suggested, for a human to decide again"
    )
    return _with(decision, REPROPOSAL, facts, text)
