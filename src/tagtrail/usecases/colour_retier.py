"""Stored colour tags re-tiered with the colour calibration in force (retag and its preview).

Colour is measured from pixels, which a retag does not have; but every colour event keeps its
measurement (raw confidence and findings) as evidence. When the calibration in force is not
the one that turned that measurement into a probability (a calibration was promoted since),
the same measurement is calibrated again, so a photo stored earlier gets the probability and
tier a fresh upload of it gets now. Only tags the model decided are re-tiered, and only where
the probability or tier changes: human decisions, and values a human rejected that a newer
head proposes again, wait for a human.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tagtrail.domain.evidence import colour_evidence
from tagtrail.domain.records import HUMAN_STATES, ModelDecision, tag_key
from tagtrail.store import EventLog
from tagtrail.tagging.pipeline import COLOUR_ATTRIBUTE, Tagger


async def stored_measurements(
    events: EventLog, docs: Sequence[dict[str, Any]]
) -> list[dict[str, Any] | None]:
    """Per document, the evidence of its newest colour measurement (None: none stored)."""
    ids = [str(d["asset_id"]) for d in docs]
    latest = await events.latest(ids, COLOUR_ATTRIBUTE)
    return [latest[i].evidence if i in latest else None for i in ids]


def calibrated_by(evidence: dict[str, Any]) -> str | None:
    """The version of the calibration that made the stored probability (None: unknown)."""
    parsed = colour_evidence(evidence)
    return parsed.calibration.version if parsed and parsed.calibration else None


def needs_retier(tagger: Tagger, evidence: dict[str, Any] | None) -> bool:
    return bool(evidence) and calibrated_by(evidence or {}) != tagger.colour_calibration.version


def retiered(doc: dict[str, Any], decisions: Sequence[ModelDecision]) -> list[ModelDecision]:
    """Of the colour decisions re-made from the stored measurement (in their slots), those
    that change a model-decided tag's probability or tier, the value staying the same."""
    current = {tag_key(str(t["attribute"]), t.get("slot")): t for t in doc.get("tags") or ()}
    out: list[ModelDecision] = []
    for decision in decisions:
        tag = current.get(tag_key(decision.attribute, decision.slot))
        if tag is None or tag.get("state") in HUMAN_STATES or tag.get("reproposal_of"):
            continue
        if tag.get("value") != decision.value:
            continue  # a palette rename is the taxonomy migration's to make
        if (tag.get("probability"), tag.get("tier")) != (decision.probability, decision.tier):
            out.append(decision)
    return out
