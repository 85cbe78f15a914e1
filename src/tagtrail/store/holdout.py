"""The hold-out in review-queue requests (see ``domain.holdout``, the same hash in Python).

The pending queue leaves hold-out assets out, whatever its order; the hold-out queue holds
only them, in hash order, so which of them a reviewer sees first never depends on the
model's confidence or on age.
"""

from __future__ import annotations

from typing import Any, Final

from tagtrail.store.queries import TIEBREAK

Clause = dict[str, Any]

#: Painless: ``domain.holdout.holdout_rank`` of the document's ``asset_id``. Longs masked
#: to 32 bits (a product may wrap a long; its low 32 bits stay right).
_RANK: Final = (
    "String s = doc['asset_id'].value; long h = 2166136261L;"
    " for (int i = 0; i < s.length(); ++i) {"
    " h = ((h ^ (long) s.charAt(i)) * 16777619L) & 4294967295L; }"
    " h = h ^ (h >>> 16); h = (h * 2246822507L) & 4294967295L;"
    " h = h ^ (h >>> 13); h = (h * 3266489909L) & 4294967295L;"
    " h = h ^ (h >>> 16); double rank = h / 4294967296.0;"
)


def holdout_clause(share: float) -> Clause:
    """Assets in the hold-out of ``share``."""
    source = f"{_RANK} return rank < params.share;"
    script = {"source": source, "lang": "painless", "params": {"share": share}}
    return {"script": {"script": script}}


def split_queue(body: dict[str, Any], *, holdout: bool, share: float) -> dict[str, Any]:
    """A pending review-queue ``body`` without the hold-out (``holdout`` False), or with
    the hold-out alone, sorted by its rank (then asset id) instead of the body's order."""
    query = body["query"]["bool"]
    if not holdout:
        if share > 0:
            query["must_not"] = [*query.get("must_not", ()), holdout_clause(share)]
        return body
    query["filter"] = [*query["filter"], holdout_clause(share)]
    rank = {"source": f"{_RANK} return rank;", "lang": "painless"}
    body["sort"] = [{"_script": {"type": "number", "script": rank, "order": "asc"}}, TIEBREAK]
    return body
