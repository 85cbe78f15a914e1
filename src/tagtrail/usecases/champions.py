"""Champion heads in the tagger: each attribute's ``champion`` alias, loaded from the store.

A champion trained for another taxonomy version or encoder (or unreadable) is logged and the
zero-shot head is kept; :func:`refuse_unfit` applies the same check before a promotion, so
such a version is refused up front instead of being ignored after it. Apart from
``heads.py`` so that ``tagger_provider.py`` can use it without an import cycle.
"""

from __future__ import annotations

import logging

import msgspec

from tagtrail.domain.calibration import Calibration
from tagtrail.errors import InvalidInput
from tagtrail.learning.colour import CalibrationEvaluation
from tagtrail.learning.head import TunedHead, TunedHeadRecord
from tagtrail.store.heads import HeadDocument, HeadRepository
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
        doc = await heads.get(version)
        if doc is None:
            log.warning("champion %s of %s is not stored; zero-shot kept", version, attribute)
            continue
        head, why = fitted_head(doc, tagger)
        if why:
            log.warning("champion %s of %s not used (%s)", version, attribute, why)
        elif head is None:
            tagger.colour_calibration = stored_calibration(doc)
            installed.append(version)
        else:
            tagger.use_head(head)
            installed.append(version)
    return installed


async def install_challengers(heads: HeadRepository, tagger: Tagger) -> list[str]:
    """Shadow mode: each attribute's trained challenger predicts beside its champion."""
    installed: list[str] = []
    champions = await heads.aliases(CHAMPION)
    for attribute, version in sorted((await heads.aliases(CHALLENGER)).items()):
        if champions.get(attribute) == version:
            continue  # already the champion
        doc = await heads.get(version)
        if doc is None or doc.kind == CALIBRATION:
            continue
        head, why = fitted_head(doc, tagger)
        if head is not None and why is None:
            tagger.use_shadow_head(head)
            installed.append(version)
    return installed


def fitted_head(doc: HeadDocument, tagger: Tagger) -> tuple[TunedHead | None, str | None]:
    """A stored head version as ``tagger`` would use it, or why it cannot serve there.

    One check for loading a champion and for promoting one, so a version the gate lets
    through is never ignored afterwards. A colour calibration gives no head (None, None).
    """
    attribute = doc.attribute
    if doc.kind == CALIBRATION:
        return None, _calibration_mismatch(doc, tagger)
    base = tagger.zero_shot_heads.get(attribute)
    if base is None:
        return None, f"{attribute!r} has no model head in taxonomy {tagger.taxonomy.version}"
    if not doc.record:
        return None, "its weights are not stored"
    try:
        head = TunedHead.from_record(msgspec.convert(doc.record, TunedHeadRecord))
    except (ValueError, msgspec.ValidationError) as exc:
        return None, f"it cannot be loaded: {exc}"
    return head, _mismatch(doc, head, base, tagger)


def _mismatch(doc: HeadDocument, head: TunedHead, base: Head, tagger: Tagger) -> str | None:
    """Everything that differs from what ``tagger`` runs (None: nothing)."""
    found: list[str] = []
    wanted = tagger.taxonomy.attribute_version(head.attribute)
    if head.training.taxonomy_version != wanted:
        found.append(
            f"it was trained for taxonomy version {head.training.taxonomy_version} of "
            f"{head.attribute}, but {wanted} is in force"
        )
    if doc.encoder != tagger.model_fingerprint:
        found.append(
            f"it was trained on vectors of encoder {doc.encoder}, but the encoder "
            f"in force is {tagger.model_fingerprint}"
        )
    if head.labels != base.labels:
        found.append("its labels differ from the zero-shot head's")
    return "; ".join(found) or None


def _calibration_mismatch(doc: HeadDocument, tagger: Tagger) -> str | None:
    found: list[str] = []
    wanted = tagger.taxonomy.attribute_version("colour")
    if doc.taxonomy_version != wanted:
        found.append(
            f"it was fitted for taxonomy version {doc.taxonomy_version} of colour, "
            f"but {wanted} is in force"
        )
    analyser = doc.encoder  # the colour analyser whose confidence it calibrates
    if analyser is not None and analyser != tagger.colour.version:
        found.append(
            f"it was fitted for analyser {analyser}, but the analyser in force is "
            f"{tagger.colour.version}"
        )
    return "; ".join(found) or None


def refuse_unfit(doc: HeadDocument, tagger: Tagger) -> None:
    """InvalidInput naming what differs when ``tagger`` could not use this head version."""
    _, why = fitted_head(doc, tagger)
    if why:
        raise InvalidInput(
            f"{doc.version} cannot become the champion of {doc.attribute}: {why}. "
            "It would be ignored and the catalogue would keep the heads in force; train it "
            "again on this deployment's taxonomy and encoder",
            field="version",
        )


def stored_calibration(doc: HeadDocument) -> Calibration:
    """The calibration in a stored head version of kind ``calibration``."""
    return msgspec.convert(doc.record, Calibration)


def calibration_evaluation(doc: HeadDocument) -> CalibrationEvaluation:
    """Its evaluation (listings leave the record out; this needs only the evaluation)."""
    return msgspec.convert(doc.evaluation, CalibrationEvaluation)
