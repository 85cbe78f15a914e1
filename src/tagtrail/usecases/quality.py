"""The quality report (``qualityReport``, the ``/quality`` page): governance as outcomes.

Per attribute, over a window: the machine tiers of the tags first seen each day, the
reliability diagram of the proposals reviewers judged (probability against how often
reviewers kept the value) with its ECE, and the correction rate per segment with a Wilson
interval, worst first. OpenSearch does the counting (``store.quality``); this adds the
intervals and the order.
"""

from __future__ import annotations

import datetime as dt

from tagtrail.domain.quality import (
    AttributeQuality,
    QualityQuery,
    QualityReport,
    QualitySegment,
    SegmentCorrections,
    SegmentCount,
    quality_window,
    reliability,
    worst_first,
)
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.errors import InvalidInput
from tagtrail.learning.stats import wilson_interval
from tagtrail.store import Store
from tagtrail.store.quality import AttributeCounts
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce

#: The segment dimension whose values are the roots of this attribute's hierarchy.
FAMILY_ATTRIBUTE = "category"


class QualityReports:
    def __init__(self, store: Store, taxonomy: TaxonomyInForce) -> None:
        self._store = store
        self._taxonomy = taxonomy

    async def report(
        self,
        *,
        attribute: str | None = None,
        segment: QualitySegment | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> QualityReport:
        window = quality_window(since, until, dt.datetime.now(dt.UTC))
        taxonomy = await self._taxonomy.current()
        if attribute is not None:
            taxonomy.attribute(attribute)  # unknown: InvalidInput naming the known ones
        if segment is not None and not segment.value.strip():
            raise InvalidInput("a segment needs a value", field="segment")
        query = QualityQuery(window=window, attribute=attribute, segment=segment)
        counts = await self._store.quality.counts(query, families(taxonomy))
        order = {name: i for i, name in enumerate(taxonomy.attribute_names)}
        counts.sort(key=lambda c: (order.get(c.attribute, len(order)), c.attribute))
        return QualityReport(
            since=window.since,
            until=window.until,
            attributes=tuple(_attribute(c) for c in counts if _in_window(c)),
        )


def families(taxonomy: Taxonomy) -> tuple[str, ...]:
    """The category families: the roots of the category hierarchy (none without one)."""
    if FAMILY_ATTRIBUTE not in taxonomy.attribute_names:
        return ()
    return tuple(v.id for v in taxonomy.attribute(FAMILY_ATTRIBUTE).values if v.parent is None)


def corrections(count: SegmentCount) -> SegmentCorrections:
    low, high = wilson_interval(count.corrected, count.decided)
    return SegmentCorrections(
        dimension=count.dimension,
        segment=count.segment,
        decided=count.decided,
        corrected=count.corrected,
        rate=count.corrected / count.decided,
        low=low,
        high=high,
    )


def _in_window(counts: AttributeCounts) -> bool:
    """Something of the attribute was seen or judged in the window."""
    return bool(counts.days or counts.segments or any(b.n for b in counts.bins))


def _attribute(counts: AttributeCounts) -> AttributeQuality:
    return AttributeQuality(
        attribute=counts.attribute,
        tiers_by_day=counts.days,
        reliability=reliability(counts.bins),
        corrections=worst_first([corrections(s) for s in counts.segments]),
    )
