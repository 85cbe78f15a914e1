"""The quality report's counts, aggregated by OpenSearch over assets, audits and decisions.

Search requests with ``size: 0`` only, whatever the catalogue's size. Over the asset projection:
per attribute (nested over the tags) the machine tiers of the tags first seen each day in
the window and the reliability bins of the machine proposals reviewers judged in it; per
segment (brand, season, shot type, category family, as top-level terms) the judged
proposals and how many reviewers changed. Over the audits: per attribute × tier × week the
answered audits with their sampling weights. Over the trail: reviewers' decisions, the hours
they worked and the median time a card was shown; and over the assets nothing is pending on,
the median review time per asset. Bucket counts are fixed (days or weeks in the
window, :data:`MAX_SEGMENTS`, :data:`MAX_ATTRIBUTES`, 15 bins), never a number the caller
sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Final

import msgspec
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.domain.quality import (
    MAX_REVIEWERS,
    MAX_SEGMENTS,
    AuditWeek,
    BinCount,
    QualityDimension,
    QualityQuery,
    ReviewEffort,
    ReviewerEffort,
    SegmentCount,
    TierDay,
    bin_edges,
)

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


class AttributeCounts(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    days: tuple[TierDay, ...]
    bins: tuple[BinCount, ...]
    segments: tuple[SegmentCount, ...]


def _window(field: str, query: QualityQuery) -> Clause:
    w = query.window
    return {"range": {field: {"gte": w.since.isoformat(), "lt": w.until.isoformat()}}}


def _attribute_terms(query: QualityQuery, aggs: Clause) -> Clause:
    """Per attribute, inside ``tags``: one bucket, or the attributes present."""
    if query.attribute is not None:
        terms: Clause = {"terms": {"field": "tags.attribute", "include": [query.attribute]}}
    else:
        terms = {"terms": {"field": "tags.attribute", "size": MAX_ATTRIBUTES}}
    return {**terms, "aggs": aggs}


def _judged(query: QualityQuery) -> Clause:
    """Machine proposals a reviewer decided within the window (on one tag)."""
    return {
        "bool": {
            "filter": [
                {"exists": {"field": "tags.judged_right"}},
                _window("tags.decided_at", query),
            ]
        }
    }


def _corrections(query: QualityQuery) -> Clause:
    return {
        "nested": {"path": "tags"},
        "aggs": {
            "attributes": _attribute_terms(
                query,
                {
                    "judged": {
                        "filter": _judged(query),
                        "aggs": {"wrong": {"filter": {"term": {"tags.judged_right": False}}}},
                    }
                },
            )
        },
    }


def _segment_aggs(query: QualityQuery, families: Sequence[str]) -> Clause:
    aggs: Clause = {}
    for dimension, field in SEGMENT_FIELDS.items():
        terms: Clause = {"field": field, "size": MAX_SEGMENTS}
        if dimension == "category_family":
            if not families:
                continue
            terms["include"] = sorted(families)  # applied.category also holds the leaves
        aggs[f"segment_{dimension}"] = {"terms": terms, "aggs": {"tags": _corrections(query)}}
    return aggs


def _tag_aggs(query: QualityQuery) -> Clause:
    ranges = [{"from": lo, "to": hi} for lo, hi in bin_edges()]
    ranges[-1]["to"] = 1.0 + 1e-6  # the last bin holds 1.0
    per_attribute = {
        "seen": {
            "filter": _window("tags.first_seen_at", query),
            "aggs": {
                "days": {
                    "date_histogram": {
                        "field": "tags.first_seen_at",
                        "calendar_interval": "day",
                        "min_doc_count": 1,
                        "format": "yyyy-MM-dd",
                    },
                    "aggs": {"tiers": {"terms": {"field": "tags.tier", "size": len(TIERS) + 2}}},
                }
            },
        },
        "judged": {
            "filter": _judged(query),
            "aggs": {
                "bins": {
                    "range": {"field": "tags.judged_probability", "ranges": ranges},
                    "aggs": {
                        "confidence": {"sum": {"field": "tags.judged_probability"}},
                        "right": {"filter": {"term": {"tags.judged_right": True}}},
                    },
                }
            },
        },
    }
    return {
        "nested": {"path": "tags"},
        "aggs": {"attributes": _attribute_terms(query, per_attribute)},
    }


def quality_body(query: QualityQuery, families: Sequence[str]) -> Clause:
    """The request: the segment filter as the query, every count as an aggregation."""
    body: Clause = {"size": 0, "track_total_hits": False}
    if query.segment is not None:
        field = SEGMENT_FIELDS[query.segment.dimension]
        body["query"] = {"bool": {"filter": [{"term": {field: query.segment.value}}]}}
    body["aggs"] = {"tags": _tag_aggs(query), **_segment_aggs(query, families)}
    return body


def _days(bucket: Clause) -> tuple[TierDay, ...]:
    days = []
    for day in bucket["seen"]["days"]["buckets"]:
        counts = {t["key"]: int(t["doc_count"]) for t in day["tiers"]["buckets"]}
        days.append(TierDay(day=day["key_as_string"], **{t: counts.get(t, 0) for t in TIERS}))
    return tuple(days)


def _bins(bucket: Clause) -> tuple[BinCount, ...]:
    found = bucket["judged"]["bins"]["buckets"]
    return tuple(
        BinCount(
            lo=lo,
            hi=hi,
            n=int(b["doc_count"]),
            confidence_sum=float(b["confidence"]["value"] or 0.0),
            right=int(b["right"]["doc_count"]),
        )
        for (lo, hi), b in zip(bin_edges(), found, strict=True)
    )


def _segments(aggregations: Clause) -> dict[str, list[SegmentCount]]:
    """Per attribute, every segment with a judged proposal."""
    out: dict[str, list[SegmentCount]] = {}
    for dimension in SEGMENT_FIELDS:
        for segment in aggregations.get(f"segment_{dimension}", {}).get("buckets", []):
            for attr in segment["tags"]["attributes"]["buckets"]:
                judged = attr["judged"]
                if not judged["doc_count"]:
                    continue
                out.setdefault(attr["key"], []).append(
                    SegmentCount(
                        dimension=dimension,
                        segment=str(segment["key"]),
                        decided=int(judged["doc_count"]),
                        corrected=int(judged["wrong"]["doc_count"]),
                    )
                )
    return out


def parse_quality(aggregations: Clause) -> list[AttributeCounts]:
    segments = _segments(aggregations)
    return [
        AttributeCounts(
            attribute=bucket["key"],
            days=_days(bucket),
            bins=_bins(bucket),
            segments=tuple(segments.get(bucket["key"], ())),
        )
        for bucket in aggregations["tags"]["attributes"]["buckets"]
    ]


def audits_body(query: QualityQuery) -> Clause:
    """Answered audits in the window, per attribute × tier × week (the segment filter is the
    audit's own segment, recorded when it was drawn)."""
    filters: list[Clause] = [
        {"term": {"answered": True}},
        _window("answered_at", query),
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
        _window("at", query),
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
        _window("updated_at", query),
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


class QualityIndex:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name("assets")
        self.audits = settings.index_name("audits")
        self.events = settings.index_name("tag_events")

    async def effort(self, query: QualityQuery) -> ReviewEffort:
        """Reviewers' decisions and time in the window, overall and per reviewer."""
        decisions, assets = await asyncio.gather(
            self.client.search(index=self.events, body=effort_body(query)),
            self.client.search(index=self.index, body=reviewed_assets_body(query)),
        )
        return parse_effort(decisions, assets)

    async def audit_novelty(self, query: QualityQuery) -> dict[str, tuple[SegmentCount, ...]]:
        """Per attribute, its answered audits in the window by novelty stratum."""
        result = await self.client.search(index=self.audits, body=novelty_body(query))
        return parse_novelty(result["aggregations"])

    async def audit_weeks(self, query: QualityQuery) -> dict[str, tuple[AuditWeek, ...]]:
        """Per attribute, its answered audits in the window by tier and week."""
        result = await self.client.search(index=self.audits, body=audits_body(query))
        return parse_audits(result["aggregations"])

    async def counts(self, query: QualityQuery, families: Sequence[str]) -> list[AttributeCounts]:
        """Each attribute's counts (those with a tag on some asset of the segment)."""
        body = quality_body(query, families)
        result = await self.client.search(index=self.index, body=body)
        return parse_quality(result["aggregations"])
