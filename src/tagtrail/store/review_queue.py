"""OpenSearch request bodies of the review queue (see ``store.holdout`` for its hold-out).

The queue is sorted on the queued tags themselves (nested sorts over the pending tags of the
requested attributes, or the human decisions a newer model disagrees with); the orders'
measures are defined in ``domain.review_value``, which is the reference the expected-value
script here is tested against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from tagtrail.domain.filters import SOURCE_EXCLUDES, AssetFilter
from tagtrail.domain.governance import DEFAULT_MEDIUM
from tagtrail.domain.review_value import MIN_MEDIUM
from tagtrail.store.queries import TIEBREAK, disagreement_clause, filter_clauses

Clause = dict[str, Any]

ReviewOrder = Literal[
    "oldest_first", "lowest_confidence_first", "uncertainty_first", "expected_value_first"
]
ReviewReason = Literal["pending", "disagreement", "holdout"]


class ReviewMedium(msgspec.Struct, kw_only=True, frozen=True):
    """The medium threshold per attribute in force (the expected value's cost of a missing
    value, see ``domain.review_value``)."""

    by_attribute: dict[str, float] = {}
    fallback: float = DEFAULT_MEDIUM


#: Painless, on one pending tag: ``domain.review_value.review_value`` (the expected value of
#: reviewing it), the medium threshold of its attribute from ``params``.
_REVIEW_VALUE = (
    "if (doc['tags.probability'].size() == 0) { return 0.0; }"
    " double p = doc['tags.probability'].value;"
    " String state = doc['tags.state'].value;"
    " if (state == 'flagged') { return 1.0 - p; }"
    " if (state != 'suggested') { return 0.0; }"
    " double m = params.medium.getOrDefault(doc['tags.attribute'].value, params.fallback);"
    " m = Math.min(Math.max(m, params.min_medium), 1.0);"
    " return p * (1.0 - m) / m;"
)


def _review_sort(
    order: ReviewOrder, reason: ReviewReason, nested: Clause, medium: ReviewMedium
) -> list[Clause]:
    """The sort of a review queue: the order's key over the queued tags, then the oldest
    tag, then the asset id. Tags without the key (documents projected before margins were
    kept) sort after those with one."""
    decided = reason == "disagreement"
    when = "tags.decided_at" if decided else "tags.first_seen_at"
    oldest = {when: {"order": "asc", "mode": "min", "nested": nested, "missing": "_last"}}
    if order == "oldest_first":
        return [oldest, TIEBREAK]

    def on(field: str, direction: str, mode: str) -> Clause:
        sort = {"order": direction, "mode": mode, "nested": nested, "missing": "_last"}
        return {field: {**sort, "unmapped_type": "float"}}

    if order == "lowest_confidence_first":
        first = on("tags.proposed_probability" if decided else "tags.probability", "asc", "min")
    elif order == "uncertainty_first":
        first = on("tags.proposed_margin" if decided else "tags.margin", "asc", "min")
    elif decided:  # expected value: the chance the decision in force is wrong, as seen anew
        first = on("tags.proposed_probability", "desc", "max")
    else:
        script = {
            "source": _REVIEW_VALUE,
            "lang": "painless",
            "params": {
                "medium": dict(medium.by_attribute),
                "fallback": medium.fallback,
                "min_medium": MIN_MEDIUM,
            },
        }
        first = {
            "_script": {
                "type": "number",
                "script": script,
                "order": "desc",
                "mode": "sum",
                "nested": nested,
            }
        }
    return [first, oldest, TIEBREAK]


def review_body(
    f: AssetFilter,
    attributes: Sequence[str],
    *,
    order: ReviewOrder,
    size: int,
    search_after: list[Any] | None = None,
    reason: ReviewReason = "pending",
    medium: ReviewMedium | None = None,
) -> dict[str, Any]:
    """Assets with pending tags (flagged or suggested), filtered like search over candidates.

    Sorting is on the pending tags themselves (nested sort), so "oldest", "lowest
    confidence" and "most uncertain" mean the oldest / least sure / smallest-margin tag *of
    the requested attributes*, and "expected value" the sum over them. With
    ``reason="disagreement"`` the queue holds human-decided tags a newer model disagrees
    with instead: oldest human decision first, the least sure or least decisive proposal
    first, or the surest proposal first (the likeliest wrong decision).
    """
    exists = [{"exists": {"field": f"pending.{a}"}} for a in attributes]
    pending: Clause = {"bool": {"should": exists, "minimum_should_match": 1}}
    if not attributes:
        pending = {"range": {"pending_count": {"gt": 0}}}
    on_tag: list[Clause] = [{"term": {"tags.needs_review": True}}]
    if reason == "disagreement":
        on_tag = [disagreement_clause()]
    if attributes:
        on_tag.append({"terms": {"tags.attribute": list(attributes)}})
    if reason == "disagreement":
        pending = {"nested": {"path": "tags", "query": {"bool": {"filter": on_tag}}}}
    nested = {"path": "tags", "filter": {"bool": {"filter": on_tag}}}
    body: dict[str, Any] = {
        "size": size,
        "track_total_hits": True,
        "sort": _review_sort(order, reason, nested, medium or ReviewMedium()),
        "query": {"bool": {"filter": [*filter_clauses(f, "candidates").values(), pending]}},
        "_source": {"excludes": SOURCE_EXCLUDES},
    }
    if search_after is not None:
        body["search_after"] = search_after
    return body
