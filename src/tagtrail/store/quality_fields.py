"""What the quality report's requests share: fields, tiers and the window clause."""

from __future__ import annotations

from typing import Any, Final

from tagtrail.domain.quality import QualityDimension, QualityQuery

Clause = dict[str, Any]

#: Attributes per report: more than any taxonomy here has (the default has 8).
MAX_ATTRIBUTES: Final = 64
TIERS: Final = ("auto_applied", "flagged", "suggested")
#: Where each segment dimension lives on the asset document.
SEGMENT_FIELDS: Final[dict[QualityDimension, str]] = {
    "brand": "brand",
    "season": "season",
    "shot_type": "applied.shot_type",
    "category_family": "applied.category",
}


def window_clause(field: str, query: QualityQuery) -> Clause:
    w = query.window
    return {"range": {field: {"gte": w.since.isoformat(), "lt": w.until.isoformat()}}}
