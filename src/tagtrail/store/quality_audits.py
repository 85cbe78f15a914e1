"""The quality report over the audits: precision per tier and week, and the novelty strata.

Answered audits in the window, per attribute × tier × week with their sampling weights
(Σ w, Σ w·correct, Σ w²), and per attribute × novelty (answered, wrong).
"""

from __future__ import annotations

from tagtrail.domain.quality import AuditWeek, QualityQuery, SegmentCount
from tagtrail.store.quality_fields import MAX_ATTRIBUTES, TIERS, Clause, window_clause


def audits_body(query: QualityQuery) -> Clause:
    """Answered audits in the window, per attribute × tier × week (the segment filter is the
    audit's own segment, recorded when it was drawn)."""
    filters: list[Clause] = [
        {"term": {"answered": True}},
        window_clause("answered_at", query),
    ]
    if query.attribute is not None:
        filters.append({"term": {"attribute": query.attribute}})
    if query.segment is not None:
        filters.append({"term": {f"segment.{query.segment.dimension}": query.segment.value}})
    weeks = {
        "date_histogram": {
            "field": "answered_at",
            "calendar_interval": "week",
            "min_doc_count": 1,
            "format": "yyyy-MM-dd",
        },
        "aggs": {
            "weight": {"sum": {"field": "weight"}},
            "weight_squared": {
                "sum": {
                    "script": {
                        "source": "double w = doc['weight'].value; return w * w;",
                        "lang": "painless",
                    }
                }
            },
            "correct": {
                "filter": {"term": {"correct": True}},
                "aggs": {"weight": {"sum": {"field": "weight"}}},
            },
        },
    }
    tiers = {"terms": {"field": "tier", "size": len(TIERS) + 2}, "aggs": {"weeks": weeks}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": filters}},
        "aggs": {
            "attributes": {
                "terms": {"field": "attribute", "size": MAX_ATTRIBUTES},
                "aggs": {"tiers": tiers},
            }
        },
    }


def parse_audits(aggregations: Clause) -> dict[str, tuple[AuditWeek, ...]]:
    out: dict[str, tuple[AuditWeek, ...]] = {}
    for attribute in aggregations["attributes"]["buckets"]:
        out[attribute["key"]] = tuple(
            AuditWeek(
                week=week["key_as_string"],
                tier=tier["key"],
                answered=int(week["doc_count"]),
                correct=int(week["correct"]["doc_count"]),
                weight=float(week["weight"]["value"]),
                correct_weight=float(week["correct"]["weight"]["value"]),
                weight_squared=float(week["weight_squared"]["value"]),
            )
            for tier in attribute["tiers"]["buckets"]
            for week in tier["weeks"]["buckets"]
        )
    return out


def novelty_body(query: QualityQuery) -> Clause:
    """Answered audits judged novel or familiar, per attribute × novelty, and the wrong ones."""
    body = audits_body(query)
    body["query"]["bool"]["filter"].append({"exists": {"field": "novelty"}})
    strata = {
        "terms": {"field": "novelty", "size": 4},
        "aggs": {"wrong": {"filter": {"term": {"correct": False}}}},
    }
    body["aggs"]["attributes"]["aggs"] = {"novelty": strata}
    return body


def parse_novelty(aggregations: Clause) -> dict[str, tuple[SegmentCount, ...]]:
    return {
        attribute["key"]: tuple(
            SegmentCount(
                dimension="novelty",
                segment=str(stratum["key"]),
                decided=int(stratum["doc_count"]),
                corrected=int(stratum["wrong"]["doc_count"]),
            )
            for stratum in attribute["novelty"]["buckets"]
        )
        for attribute in aggregations["attributes"]["buckets"]
    }
