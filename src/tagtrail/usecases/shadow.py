"""Shadow mode: how a challenger's never-applied proposals agree with reviewers."""

from __future__ import annotations

from tagtrail.errors import NotFound
from tagtrail.learning.dataset import DECISION_KINDS
from tagtrail.learning.shadow import ShadowReport, shadow_report
from tagtrail.usecases.champions import CHALLENGER
from tagtrail.usecases.services import Services


async def challenger_agreement(
    services: Services, attribute: str, version: str | None = None
) -> ShadowReport:
    """The shadow report of ``version`` (default: the attribute's challenger)."""
    (await services.taxonomy()).attribute(attribute)  # InvalidInput naming known attributes
    if version is None:
        version = (await services.store.heads.alias(CHALLENGER, attribute)).version
        if version is None:
            raise NotFound(f"{attribute!r} has no challenger; train one first")
    events = await services.store.events.decisions(
        attribute, ["model_tagged", *sorted(DECISION_KINDS)]
    )
    return await services.infer(shadow_report, events, attribute, version)
