"""The quality report's review effort: reviewers' decisions in the trail, time per asset.

Over ``tag_events``: confirm, correct and reject decisions in the window, overall and per
reviewer, with the distinct clock hours they fell in and the median ``shown_ms``; over the
assets nothing is pending on: the median ``review_ms`` (the decisions in force's times).
"""

from __future__ import annotations

from typing import Final

from tagtrail.domain.quality import MAX_REVIEWERS, QualityQuery, ReviewEffort, ReviewerEffort
from tagtrail.store.quality_fields import SEGMENT_FIELDS, Clause, window_clause

#: Painless: the clock hour (UTC) of a decision, for counting the hours reviewers worked.
_HOUR = "doc['at'].value.toInstant().toEpochMilli() / 3600000L"
DECISION_KINDS: Final = ("confirmed", "corrected", "rejected")


def _effort_aggs() -> Clause:
    return {
        "hours": {"cardinality": {"script": {"source": _HOUR, "lang": "painless"}}},
        "timed": {
            "filter": {"exists": {"field": "shown_ms"}},
            "aggs": {"median": {"percentiles": {"field": "shown_ms", "percents": [50]}}},
        },
    }


def effort_body(query: QualityQuery) -> Clause:
    """Reviewers' decisions in the window (of the attribute): overall and per reviewer."""
    filters: list[Clause] = [
        {"term": {"actor.type": "human"}},
        {"terms": {"kind": list(DECISION_KINDS)}},
        window_clause("at", query),
    ]
    if query.attribute is not None:
        filters.append({"term": {"attribute": query.attribute}})
    return {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"filter": filters}},
        "aggs": {
            **_effort_aggs(),
            "reviewers": {
                "terms": {"field": "actor.id", "size": MAX_REVIEWERS},
                "aggs": _effort_aggs(),
            },
        },
    }


def reviewed_assets_body(query: QualityQuery) -> Clause:
    """Assets with nothing pending whose decisions in force were timed, updated in the
    window (of the segment): the median of their review time."""
    filters: list[Clause] = [
        {"term": {"pending_count": 0}},
        {"exists": {"field": "review_ms"}},
        window_clause("updated_at", query),
    ]
    if query.segment is not None:
        field = SEGMENT_FIELDS[query.segment.dimension]
        filters.append({"term": {field: query.segment.value}})
    return {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"filter": filters}},
        "aggs": {"median": {"percentiles": {"field": "review_ms", "percents": [50]}}},
    }


def _median(percentiles: Clause) -> float | None:
    value = next(iter(percentiles["values"].values()), None)
    return None if value is None else float(value)


def _reviewer(name: str, count: int, bucket: Clause) -> ReviewerEffort:
    timed = bucket["timed"]
    return ReviewerEffort(
        reviewer=name,
        decisions=count,
        timed_decisions=int(timed["doc_count"]),
        active_hours=int(bucket["hours"]["value"]),
        median_shown_ms=_median(timed["median"]) if timed["doc_count"] else None,
    )


def parse_effort(decisions: Clause, assets: Clause) -> ReviewEffort:
    aggs = decisions["aggregations"]
    reviewers = tuple(
        _reviewer(str(b["key"]), int(b["doc_count"]), b) for b in aggs["reviewers"]["buckets"]
    )
    n_assets = int(assets["hits"]["total"]["value"])
    return ReviewEffort(
        overall=_reviewer("all", int(decisions["hits"]["total"]["value"]), aggs),
        reviewers=reviewers,
        fully_reviewed_assets=n_assets,
        median_asset_ms=_median(assets["aggregations"]["median"]) if n_assets else None,
    )
