"""The quality report's counts, aggregated by OpenSearch over assets, audits and decisions.

Search requests with ``size: 0`` only, whatever the catalogue's size. Over the asset projection
(this module):
per attribute (nested over the tags) the machine tiers of the tags first seen each day in
the window and the reliability bins of the machine proposals reviewers judged in it; per
segment (brand, season, shot type, category family, as top-level terms) the judged
proposals and how many reviewers changed. Over the audits (``quality_audits``): per
attribute × tier × week the answered audits with their sampling weights, and the novelty
strata. Over the trail (``review_effort``): reviewers' decisions, the hours they worked and
the median time a card was shown, and the median review time per fully reviewed asset.
Bucket counts are fixed (days or weeks in the
window, :data:`MAX_SEGMENTS`, :data:`MAX_ATTRIBUTES`, 15 bins), never a number the caller
sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.domain.quality import (
    MAX_SEGMENTS,
    AuditWeek,
    BinCount,
    QualityQuery,
    ReviewEffort,
    SegmentCount,
    TierDay,
    bin_edges,
)
from tagtrail.store.quality_audits import (
    audits_body,
    novelty_body,
    parse_audits,
    parse_novelty,
)
from tagtrail.store.quality_fields import (
    MAX_ATTRIBUTES,
    SEGMENT_FIELDS,
    TIERS,
    Clause,
    window_clause,
)
from tagtrail.store.review_effort import effort_body, parse_effort, reviewed_assets_body


class AttributeCounts(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    days: tuple[TierDay, ...]
    bins: tuple[BinCount, ...]
    segments: tuple[SegmentCount, ...]


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
                window_clause("tags.decided_at", query),
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
            "filter": window_clause("tags.first_seen_at", query),
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
