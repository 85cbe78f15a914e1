"""Which decisions the gate keeps out of training: audit answers and the random hold-out."""

from __future__ import annotations

from tagtrail.learning.holdout_checks import KeptOut
from tagtrail.store import Store
from tagtrail.usecases.audit_answers import answered_assets

__all__ = ["KeptOut", "kept_out"]


async def kept_out(store: Store, attribute: str, holdout_share: float) -> KeptOut:
    """Assets answered in an audit of ``attribute`` and the hold-out share in force."""
    return KeptOut(audited=await answered_assets(store, attribute), holdout_share=holdout_share)
