"""Which decisions the gate keeps out of training: audit answers and the random hold-out."""

from __future__ import annotations

from tagtrail.learning.holdout_checks import KeptOut
from tagtrail.usecases.audit_answers import answered_assets
from tagtrail.usecases.services import Services

__all__ = ["KeptOut", "kept_out"]


async def kept_out(services: Services, attribute: str) -> KeptOut:
    """Assets answered in an audit of ``attribute`` and the hold-out share in force."""
    return KeptOut(
        audited=await answered_assets(services, attribute),
        holdout_share=services.settings.holdout_share,
    )
