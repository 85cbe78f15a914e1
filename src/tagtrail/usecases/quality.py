"""The quality report (``qualityReport``, the ``/quality`` page): governance as outcomes.

Per attribute, over a window: the machine tiers of the tags first seen each day, the
reliability diagram of the proposals reviewers judged (probability against how often
reviewers kept the value) with its ECE, and the correction rate per segment with a Wilson
interval, worst first. OpenSearch does the counting (``store.quality``); this adds the
intervals and the order.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Sequence

from tagtrail.domain.quality import (
    MAX_MARKERS,
    AttributeQuality,
    AuditPrecision,
    AuditWeek,
    BinCount,
    QualityMarker,
    QualityQuery,
    QualityReport,
    QualitySegment,
    SegmentCorrections,
    SegmentCount,
    bin_edges,
    quality_window,
    reliability,
    worst_first,
)
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.errors import InvalidInput, StoreUnavailable
from tagtrail.learning.stats import wilson_interval
from tagtrail.store import Store
from tagtrail.store.quality import AttributeCounts
from tagtrail.usecases.audit_answers import settle
from tagtrail.usecases.metrics import Metrics
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce

log = logging.getLogger(__name__)

#: How stale the quality gauges may be when scraped, and how long recounting them may take.
GAUGES_TTL_S = 60.0
GAUGES_DEADLINE_S = 5.0
#: Open audits a report looks up answers for before counting (one page of the scan).
SETTLE_AT_MOST = 1000
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
        await self._record_answers(attribute)
        counts, audits, novelty, markers, effort = await asyncio.gather(
            self._store.quality.counts(query, families(taxonomy)),
            self._store.quality.audit_weeks(query),
            self._store.quality.audit_novelty(query),
            self._markers(query),
            self._store.quality.effort(query),
        )
        bins = tuple(BinCount(lo=lo, hi=hi) for lo, hi in bin_edges())
        for audited in {*audits, *novelty} - {c.attribute for c in counts}:
            # Audited, nothing else in the window.
            counts.append(AttributeCounts(attribute=audited, days=(), bins=bins, segments=()))
        found = {
            c.attribute: _attribute(c, audits.get(c.attribute, ()), novelty.get(c.attribute, ()))
            for c in counts
        }
        order = {name: i for i, name in enumerate(taxonomy.attribute_names)}
        return QualityReport(
            since=window.since,
            until=window.until,
            attributes=tuple(
                found[name]
                for name in sorted(found, key=lambda a: (order.get(a, len(order)), a))
                if _shows_something(found[name])
            ),
            markers=markers,
            effort=effort,
        )

    async def _markers(self, query: QualityQuery) -> tuple[QualityMarker, ...]:
        """Head (and colour calibration) promotions and taxonomy applies in the window."""
        between = (query.window.since.isoformat(), query.window.until.isoformat())
        promoted, applies = await asyncio.gather(
            self._store.head_events.page(
                size=MAX_MARKERS, attribute=query.attribute, steps=("promoted",), between=between
            ),
            self._store.taxonomies.changes_between(*between, size=MAX_MARKERS),
        )
        found = [
            QualityMarker(
                at=e.at,
                kind="promotion",
                attribute=e.attribute,
                version=e.version or "",
                label=e.explanation(),
            )
            for e in promoted.events
        ]
        found += [
            QualityMarker(
                at=c.created_at or "",
                kind="taxonomy",
                attribute=None,
                version=c.version,
                label=f"taxonomy {c.version} applied"
                + (f" (was {c.replaces})" if c.replaces else ""),
            )
            for c in applies
        ]
        return tuple(sorted(found, key=lambda m: (m.at, m.kind, m.version)))

    async def _record_answers(self, attribute: str | None) -> None:
        """Look in the trail for the answers of up to :data:`SETTLE_AT_MOST` open audits.

        An answer is recorded on its audit when something reads it (the audit queue and
        report do as they page); a reviewer who just answered would otherwise not see it.
        """
        pages = self._store.audits.scan(attribute=attribute, answered=False, page=SETTLE_AT_MOST)
        async for page in pages:
            await settle(self._store, page)
            break  # bounded: the rest are recorded by the queue, its report, the next report


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


def audit_precision(week: AuditWeek) -> AuditPrecision:
    """Population-weighted precision of one week's audits, Wilson on Kish's n."""
    precision = week.correct_weight / week.weight
    effective = week.weight**2 / week.weight_squared
    low, high = wilson_interval(precision * effective, effective)
    return AuditPrecision(
        week=week.week,
        tier=week.tier,
        answered=week.answered,
        correct=week.correct,
        precision=precision,
        low=low,
        high=high,
    )


def _shows_something(found: AttributeQuality) -> bool:
    """Something of the attribute was seen, judged or audited in the window."""
    return bool(found.tiers_by_day or found.corrections or found.audits or found.reliability.n)


def _attribute(
    counts: AttributeCounts, weeks: Sequence[AuditWeek], novelty: Sequence[SegmentCount]
) -> AttributeQuality:
    return AttributeQuality(
        attribute=counts.attribute,
        tiers_by_day=counts.days,
        reliability=reliability(counts.bins),
        corrections=worst_first([corrections(s) for s in (*counts.segments, *novelty)]),
        audits=tuple(audit_precision(w) for w in sorted(weeks, key=lambda w: (w.week, w.tier))),
    )


class QualityGauges:
    """``tagtrail_auto_applied_share`` and ``tagtrail_audited_precision`` over the default
    window, recounted on a scrape of ``/metrics`` when older than :data:`GAUGES_TTL_S` (one
    refresh at a time, within :data:`GAUGES_DEADLINE_S`; on failure the last values stay)."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._lock = asyncio.Lock()
        self._fresh_until = -math.inf

    async def refresh(self) -> None:
        if time.monotonic() < self._fresh_until:
            return
        async with self._lock:
            if time.monotonic() < self._fresh_until:
                return  # another scrape refreshed them while this one waited
            # Refreshed or not, not again before the TTL: an outage is not hammered.
            self._fresh_until = time.monotonic() + GAUGES_TTL_S
            window = quality_window(None, None, dt.datetime.now(dt.UTC))
            query = QualityQuery(window=window)
            try:
                async with asyncio.timeout(GAUGES_DEADLINE_S):
                    counts, audits = await asyncio.gather(
                        self._store.quality.counts(query, ()),
                        self._store.quality.audit_weeks(query),
                    )
            except (TimeoutError, StoreUnavailable) as exc:
                log.warning("quality gauges not refreshed: %s", exc or "deadline passed")
                return
            self._set(counts, audits)

    def _set(
        self, counts: Sequence[AttributeCounts], audits: dict[str, tuple[AuditWeek, ...]]
    ) -> None:
        m = self._metrics
        m.auto_share.clear()
        for c in counts:
            total = sum(d.total for d in c.days)
            if total:
                m.auto_share.labels(c.attribute).set(sum(d.auto_applied for d in c.days) / total)
        m.audited_precision.clear()
        for attribute, weeks in audits.items():
            for tier in sorted({w.tier for w in weeks}):
                mine = [w for w in weeks if w.tier == tier]
                weight = sum(w.weight for w in mine)
                if weight:
                    precision = sum(w.correct_weight for w in mine) / weight
                    m.audited_precision.labels(attribute, tier).set(precision)
