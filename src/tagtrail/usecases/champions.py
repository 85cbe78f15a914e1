"""Champion heads in the tagger: each attribute's ``champion`` alias, loaded from the store.

A champion trained for another taxonomy version or encoder (or unreadable) is logged and the
zero-shot head is kept. Apart from ``heads.py`` so that ``services.py`` can use it without
an import cycle.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from tagtrail.domain.calibration import Calibration
from tagtrail.learning.colour import CalibrationEvaluation
from tagtrail.learning.head import TunedHead, TunedHeadRecord
from tagtrail.store.heads import HeadRepository
from tagtrail.tagging.heads import Head
from tagtrail.tagging.pipeline import Tagger

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
CALIBRATION = "calibration"  # the kind of a stored colour calibration (not a head)


async def install_champions(heads: HeadRepository, tagger: Tagger) -> list[str]:
    """Put each attribute's stored champion into ``tagger``; returns the versions installed."""
    installed: list[str] = []
    for attribute, version in sorted((await heads.aliases(CHAMPION)).items()):
        base = tagger.zero_shot_heads.get(attribute)
        doc = await heads.get(version)
        if doc is not None and doc.get("kind") == CALIBRATION:
            why = install_calibration(tagger, doc)
            if why:
                log.warning("calibration %s of %s not used (%s)", version, attribute, why)
            else:
                installed.append(version)
            continue
        if base is None or doc is None or not doc.get("record"):
            log.warning("champion %s of %s is not usable here; zero-shot kept", version, attribute)
            continue
        try:
            head = TunedHead.from_record(msgspec.convert(doc["record"], TunedHeadRecord))
        except (ValueError, msgspec.ValidationError) as exc:
            log.warning("champion %s of %s cannot be loaded: %s", version, attribute, exc)
            continue
        why = _mismatch(doc, head, base, tagger)
        if why:
            log.warning("champion %s of %s not used (%s); zero-shot kept", version, attribute, why)
            continue
        tagger.use_head(head)
        installed.append(version)
    return installed


async def install_challengers(heads: HeadRepository, tagger: Tagger) -> list[str]:
    """Shadow mode: each attribute's trained challenger predicts beside its champion."""
    installed: list[str] = []
    champions = await heads.aliases(CHAMPION)
    for attribute, version in sorted((await heads.aliases(CHALLENGER)).items()):
        base = tagger.zero_shot_heads.get(attribute)
        if base is None or champions.get(attribute) == version:
            continue  # a calibration, or already the champion
        doc = await heads.get(version)
        if doc is None or doc.get("kind") == CALIBRATION or not doc.get("record"):
            continue
        try:
            head = TunedHead.from_record(msgspec.convert(doc["record"], TunedHeadRecord))
        except (ValueError, msgspec.ValidationError):
            continue
        if _mismatch(doc, head, base, tagger) is None:
            tagger.use_shadow_head(head)
            installed.append(version)
    return installed


def _mismatch(doc: dict[str, Any], head: TunedHead, base: Head, tagger: Tagger) -> str | None:
    wanted = tagger.taxonomy.attribute_version(head.attribute)
    if head.training.taxonomy_version != wanted:
        return f"taxonomy {head.training.taxonomy_version}, now {wanted}"
    if doc.get("encoder") != tagger.model_fingerprint:
        return f"encoder {doc.get('encoder')}, now {tagger.model_fingerprint}"
    if head.labels != base.labels:
        return "its labels differ from the zero-shot head's"
    return None


def stored_calibration(doc: dict[str, Any]) -> Calibration:
    """The calibration in a stored head version of kind ``calibration``."""
    return msgspec.convert(doc["record"], Calibration)


def calibration_evaluation(doc: dict[str, Any]) -> CalibrationEvaluation:
    """Its evaluation (listings leave the record out; this needs only the evaluation)."""
    return msgspec.convert(doc["evaluation"], CalibrationEvaluation)


def install_calibration(tagger: Tagger, doc: dict[str, Any]) -> str | None:
    """Use a stored colour calibration in ``tagger``; the reason when it does not fit."""
    wanted = tagger.taxonomy.attribute_version("colour")
    if doc.get("taxonomy_version") != wanted:
        return f"taxonomy {doc.get('taxonomy_version')}, now {wanted}"
    tagger.colour_calibration = stored_calibration(doc)
    return None
