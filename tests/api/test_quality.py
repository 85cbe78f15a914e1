"""``qualityReport`` (issue 20, part 1) on the real node, against numbers worked by hand.

Tiers count the machine tags first seen each day; the reliability diagram and the
corrections per segment count the machine proposals reviewers judged (confirmed: kept;
corrected or rejected: changed), whatever later decisions say of a human's value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.api.graphql.quality import QualityDimension
from tagtrail.config import Settings
from tagtrail.domain.cadence import HeadEvent
from tagtrail.domain.quality import DIMENSIONS
from tagtrail.learning.stats import wilson_interval
from tagtrail.store import Store, TaxonomyChange
from tagtrail.store.audits import AuditDocument
from tagtrail.usecases.metrics import Metrics
from tagtrail.usecases.quality import QualityGauges
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.factories import A, T
from tests.api.test_metrics import metrics, sample

pytestmark = pytest.mark.opensearch

REPORT = """
query($attribute: String, $segment: QualitySegment, $since: DateTime, $until: DateTime) {
  qualityReport(attribute: $attribute, segment: $segment, since: $since, until: $until) {
    __typename
    ... on QualityReport { since until attributes { attribute
        tiersByDay { day autoApplied flagged suggested total }
        reliability { n ece bins { lo hi n right meanConfidence observedRate } }
        corrections { dimension segment decided corrected rate low high } } }
    ... on InvalidInput { message field }
  }
}"""
DECIDE = """
mutation($input: TagDecisionInput!) { confirmTag(input: $input) { __typename } }"""
REJECT = DECIDE.replace("confirmTag", "rejectTag")
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) { __typename } }"""
WINDOW = {"since": "2026-01-01T00:00:00Z", "until": "2026-12-31T00:00:00Z"}


def _at(day: int) -> str:
    return f"2026-03-{day:02d}T10:00:00.000000Z"


def _asset(i: int, day: int, brand: str, p: float, pattern: float | None = None) -> A:
    tags = [T(attribute="category", value="jumper", probability=p)]
    if pattern is not None:
        tags.append(T(attribute="pattern", value="stripe", probability=pattern))
    return A(id=f"q{i}", at=_at(day), brand=brand, season="AW", tags=tuple(tags))


# Category tiers by the default thresholds (0.95 / 0.75): day 1 two auto and a flag, day 2 a
# flag and a suggestion.
CATALOGUE = [
    _asset(1, 1, "Northwind", 0.97, pattern=0.98),
    _asset(2, 1, "Northwind", 0.96),
    _asset(3, 1, "Kobo", 0.80),
    _asset(4, 2, "Kobo", 0.85),
    _asset(5, 2, "Kobo", 0.40),
]


def _decision(asset: str, attribute: str = "category", **more: Any) -> dict[str, Any]:
    return {"input": {"assetId": asset, "attribute": attribute, "expectedRevision": 1} | more}


async def _review(api: Api) -> None:
    """Northwind: both kept. Kobo: one kept (q4), one corrected (q3), one rejected (q5)."""
    assert (await api.data(DECIDE, _decision("q1")))["confirmTag"]["__typename"] == "TagDecision"
    assert (await api.data(DECIDE, _decision("q2")))["confirmTag"]["__typename"] == "TagDecision"
    corrected = await api.data(CORRECT, _decision("q3", value="cardigan"))
    assert corrected["correctTag"]["__typename"] == "TagDecision"
    assert (await api.data(DECIDE, _decision("q4")))["confirmTag"]["__typename"] == "TagDecision"
    assert (await api.data(REJECT, _decision("q5")))["rejectTag"]["__typename"] == "TagDecision"
    await api.refresh()


async def test_tiers_reliability_and_corrections_match_the_hand_count(api: Api) -> None:
    await api.create(CATALOGUE)
    await _review(api)
    report = (await api.data(REPORT, {**WINDOW}))["qualityReport"]
    assert report["__typename"] == "QualityReport", report
    by_attribute = {a["attribute"]: a for a in report["attributes"]}
    assert list(by_attribute) == ["category", "pattern"]  # taxonomy order
    category = by_attribute["category"]
    assert category["tiersByDay"] == [
        {"day": "2026-03-01", "autoApplied": 2, "flagged": 1, "suggested": 0, "total": 3},
        {"day": "2026-03-02", "autoApplied": 0, "flagged": 1, "suggested": 1, "total": 2},
    ]
    # Judged: 0.97 ✓, 0.96 ✓ (bin 14), 0.80 ✗ (bin 12), 0.85 ✓ (bin 12), 0.40 ✗ (bin 6).
    bins = {round(b["lo"] * 15): b for b in category["reliability"]["bins"] if b["n"]}
    assert {k: (b["n"], b["right"]) for k, b in bins.items()} == {
        14: (2, 2),
        12: (2, 1),
        6: (1, 0),
    }
    assert bins[14]["meanConfidence"] == pytest.approx(0.965, abs=1e-6)
    assert bins[12]["observedRate"] == 0.5
    ece = (abs(1.93 - 2) + abs(1.65 - 1) + abs(0.40 - 0)) / 5
    assert category["reliability"]["n"] == 5
    assert category["reliability"]["ece"] == pytest.approx(ece, abs=1e-6)
    # Worst first: Kobo 2 of 3 changed, season AW 2 of 5, the knitwear family (the category
    # applied now: q5's rejected jumper is not) 1 of 4, Northwind none.
    rows = [
        (r["dimension"], r["segment"], r["decided"], r["corrected"])
        for r in category["corrections"]
    ]
    assert rows == [
        ("brand", "Kobo", 3, 2),
        ("season", "AW", 5, 2),
        ("category_family", "knitwear", 4, 1),
        ("brand", "Northwind", 2, 0),
    ]
    kobo = category["corrections"][0]
    assert (kobo["low"], kobo["high"]) == pytest.approx(wilson_interval(2, 3))
    # Pattern: tagged, nothing judged.
    pattern = by_attribute["pattern"]
    assert pattern["tiersByDay"] == [
        {"day": "2026-03-01", "autoApplied": 1, "flagged": 0, "suggested": 0, "total": 1}
    ]
    assert pattern["reliability"]["n"] == 0
    assert pattern["reliability"]["ece"] is None
    assert pattern["corrections"] == []


async def test_filters_narrow_the_counts(api: Api) -> None:
    await api.create(CATALOGUE)
    await _review(api)
    segment = {"dimension": "BRAND", "value": "Kobo"}
    report = await api.data(REPORT, {**WINDOW, "attribute": "category", "segment": segment})
    (category,) = report["qualityReport"]["attributes"]
    assert [d["total"] for d in category["tiersByDay"]] == [1, 2]
    assert category["reliability"]["n"] == 3
    assert [(r["segment"], r["decided"]) for r in category["corrections"]] == [
        ("Kobo", 3),
        ("AW", 3),
        ("knitwear", 2),
    ]
    # A window before anything was seen or decided: nothing to count.
    early = {"since": "2025-01-01T00:00:00Z", "until": "2025-06-01T00:00:00Z"}
    assert (await api.data(REPORT, early))["qualityReport"]["attributes"] == []


async def test_a_correction_of_a_confirmation_still_says_the_machine_was_wrong(api: Api) -> None:
    await api.create(CATALOGUE[:1])
    assert (await api.data(DECIDE, _decision("q1")))["confirmTag"]["__typename"] == "TagDecision"
    again = {"input": {**_decision("q1")["input"], "expectedRevision": 2, "value": "cardigan"}}
    assert (await api.data(CORRECT, again))["correctTag"]["__typename"] == "TagDecision"
    await api.refresh()
    (category, _pattern) = (await api.data(REPORT, WINDOW))["qualityReport"]["attributes"]
    assert category["reliability"]["n"] == 1
    (row,) = [b for b in category["reliability"]["bins"] if b["n"]]
    assert row["right"] == 0
    assert row["meanConfidence"] == pytest.approx(0.97, abs=1e-6)


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"attribute": "sparkle"}, "attribute"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ({"since": "2024-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ({"segment": {"dimension": "BRAND", "value": " "}}, "segment"),
    ],
)
async def test_bad_input_is_named(api: Api, variables: dict[str, Any], field: str) -> None:
    result = (await api.data(REPORT, variables))["qualityReport"]
    assert result["__typename"] == "InvalidInput", result
    assert result["field"] == field


def test_the_graphql_dimensions_are_the_domain_s() -> None:
    assert [d.value for d in QualityDimension] == list(DIMENSIONS)


AUDITS = """
query($since: DateTime, $until: DateTime) {
  qualityReport(attribute: "pattern", since: $since, until: $until) {
    ... on QualityReport { attributes { attribute
        audits { week tier answered correct precision low high } } }
  }
}"""


async def test_audit_precision_by_week_and_tier(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    ids = [f"p{i}" for i in range(4)]
    await api.create([A(id=i, tags=(T(attribute="pattern", value="stripe"),)) for i in ids])
    runtime = Runtime(settings, store=Store(settings, client=indexed))
    assert (await runtime.audits.sample(round="r1", attribute="pattern")).sampled == 4
    for asset_id in ids[:3]:
        assert (await api.data(DECIDE, _decision(asset_id, "pattern")))["confirmTag"]
    assert (await api.data(CORRECT, _decision("p3", "pattern", value="check")))["correctTag"]
    await indexed.indices.refresh(index=settings.index_name("audits"))
    now = dt.datetime.now(dt.UTC)
    window = {"since": (now - dt.timedelta(days=30)).isoformat(), "until": now.isoformat()}
    (pattern,) = (await api.data(AUDITS, window))["qualityReport"]["attributes"]
    monday = (now - dt.timedelta(days=now.weekday())).date().isoformat()
    (week,) = pattern["audits"]
    low, high = wilson_interval(3, 4)  # every tag drawn: weights 1, Kish's n = 4
    assert week == {
        "week": monday,
        "tier": "auto_applied",
        "answered": 4,
        "correct": 3,
        "precision": 0.75,
        "low": pytest.approx(low),
        "high": pytest.approx(high),
    }


async def test_prometheus_gauges_show_auto_share_and_audited_precision(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    now = dt.datetime.now(dt.UTC)
    recent = (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    probabilities = [0.97, 0.98, 0.99, 0.80]  # three auto-applied, one flagged
    await api.create(
        [
            A(id=f"g{i}", at=recent, tags=(T(attribute="pattern", value="stripe", probability=p),))
            for i, p in enumerate(probabilities)
        ]
    )
    runtime = Runtime(settings, store=Store(settings, client=indexed))
    await runtime.audits.sample(round="r1", attribute="pattern")
    assert (await api.data(DECIDE, _decision("g0", "pattern")))["confirmTag"]
    assert (await api.data(CORRECT, _decision("g1", "pattern", value="check")))["correctTag"]
    await runtime.audits.report(round="r1", attribute="pattern")  # records the answers
    text = await metrics(api.http)
    assert sample(text, "tagtrail_auto_applied_share", attribute="pattern") == 0.75
    precision = sample(text, "tagtrail_audited_precision", attribute="pattern", tier="auto_applied")
    assert precision == 0.5


MARKERS = """
query($attribute: String, $since: DateTime, $until: DateTime) {
  qualityReport(attribute: $attribute, since: $since, until: $until) {
    ... on QualityReport { markers { at kind attribute version label } }
  }
}"""


async def test_promotions_and_taxonomy_applies_mark_the_time_axis(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    store = Store(settings, client=indexed)
    for attribute, day in (("category", 5), ("pattern", 6), ("category", 20)):
        await store.head_events.append(
            HeadEvent(
                event_id=f"promoted:{attribute}:{day}",
                attribute=attribute,
                step="promoted",
                at=f"2026-03-{day:02d}T00:00:00.000000Z",
                actor="admin",
                version=f"tuned:{attribute}:{day}",
            )
        )
    await store.taxonomies.record_change(
        TaxonomyChange(id="change:t2", version="t2", replaces="t1", created_at=_at(10))
    )
    await indexed.indices.refresh(index=settings.index_name("taxonomies"))
    window = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-15T00:00:00Z"}
    markers = (await api.data(MARKERS, window))["qualityReport"]["markers"]
    assert [(m["kind"], m["attribute"], m["version"]) for m in markers] == [
        ("promotion", "category", "tuned:category:5"),
        ("promotion", "pattern", "tuned:pattern:6"),
        ("taxonomy", None, "t2"),
    ]
    assert markers[0]["label"] == "admin promoted tuned:category:5 to champion"
    assert markers[2]["label"] == "taxonomy t2 applied (was t1)"
    only = await api.data(MARKERS, {**window, "attribute": "pattern"})
    kinds = [(m["kind"], m["version"]) for m in only["qualityReport"]["markers"]]
    assert kinds == [("promotion", "tuned:pattern:6"), ("taxonomy", "t2")]


EFFORT = """
query($since: DateTime, $until: DateTime) {
  qualityReport(since: $since, until: $until) {
    ... on QualityReport { effort {
        overall { reviewer decisions timedDecisions activeHours decisionsPerHour
                  medianSecondsPerDecision }
        reviewers { reviewer decisions timedDecisions medianSecondsPerDecision }
        fullyReviewedAssets medianSecondsPerAsset } }
  }
}"""


async def test_review_effort_from_the_time_each_card_was_shown(api: Api) -> None:
    def two(i: int) -> A:
        tags = (
            T(attribute="category", value="jumper", probability=0.8),  # flagged
            T(attribute="pattern", value="stripe", probability=0.97 if i == 1 else 0.5),
        )
        return A(id=f"e{i}", tags=tags)

    await api.create([two(1), two(2), two(3)])
    for asset, attribute, revision, shown in (
        ("e1", "category", 1, 2000),  # e1: nothing else pending
        ("e2", "category", 1, 1000),
        ("e2", "pattern", 2, None),  # untimed (an API client): a decision, no time
        ("e3", "category", 1, 5000),  # e3's pattern suggestion still waits
    ):
        decision = _decision(asset, attribute, expectedRevision=revision)
        if shown is not None:
            decision["input"]["shownMs"] = shown
        assert (await api.data(DECIDE, decision))["confirmTag"]["__typename"] == "TagDecision"
    await api.refresh()
    await api.client.indices.refresh(index=api.settings.index_name("tag_events"))
    now = dt.datetime.now(dt.UTC)
    window = {
        "since": (now - dt.timedelta(hours=3)).isoformat(),
        "until": (now + dt.timedelta(minutes=1)).isoformat(),
    }
    effort = (await api.data(EFFORT, window))["qualityReport"]["effort"]
    overall = effort["overall"]
    assert (overall["decisions"], overall["timedDecisions"]) == (4, 3)
    assert overall["activeHours"] in (1, 2)  # the decisions may straddle a clock hour
    assert overall["decisionsPerHour"] == 4 / overall["activeHours"]
    assert overall["medianSecondsPerDecision"] == 2.0
    (reviewer,) = effort["reviewers"]
    assert reviewer["decisions"] == 4
    # e1 (2 s) and e2 (1 s) are fully reviewed; e3 is not.
    assert effort["fullyReviewedAssets"] == 2
    assert effort["medianSecondsPerAsset"] == pytest.approx(1.5)


async def test_a_shown_time_out_of_range_is_refused(api: Api) -> None:
    await api.create(CATALOGUE[:1])
    for shown in (-1, 86_400_001):
        decision = _decision("q1", shownMs=shown)
        result = (
            await api.data(
                DECIDE.replace("__typename", "__typename ... on InvalidInput { field }"), decision
            )
        )["confirmTag"]
        assert result == {"__typename": "InvalidInput", "field": "shownMs"}
    assert len(await api.events("q1")) == 2  # nothing written


async def test_gauges_keep_their_values_when_the_store_cannot_answer(settings: Settings) -> None:
    gone = settings.with_changes(opensearch_url="http://127.0.0.1:9", opensearch_timeout_s=1)
    metrics = Metrics()
    metrics.auto_share.labels("category").set(0.5)
    store = Store(gone)
    try:
        await QualityGauges(store, metrics).refresh()  # logs, does not raise
    finally:
        await store.close()
    kept = metrics.registry.get_sample_value(
        "tagtrail_auto_applied_share", {"attribute": "category"}
    )
    assert kept == 0.5


NOVELTY = """
query($since: DateTime, $until: DateTime) {
  qualityReport(attribute: "pattern", since: $since, until: $until) {
    ... on QualityReport { attributes { corrections { dimension segment decided corrected } } }
  }
}"""


async def test_answered_audits_give_the_novelty_strata_their_corrections(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    # Answered audits of a tuned head's tags, as drawn and answered (novelty is judged when a
    # round is drawn, see tests/api/test_audit_novelty.py): novel 2 of 3 wrong, familiar 0 of 2.
    answers = [("novel", False), ("novel", False), ("novel", True)]
    answers += [("familiar", True), ("familiar", True)]
    store = Store(settings, client=indexed)
    await store.audits.add(
        [
            AuditDocument(
                audit_id=f"r1:n{i}:pattern",
                round="r1",
                asset_id=f"n{i}",
                attribute="pattern",
                value="stripe",
                tier="auto_applied",
                stratum=f"pattern/auto_applied/brand=Kobo/novelty={novelty}",
                novelty=novelty,  # type: ignore[arg-type]
                answered=True,
                correct=correct,
                answered_at=_at(3),
                answered_by="rita",
                answer_event_id=f"n{i}:2:0",
            )
            for i, (novelty, correct) in enumerate(answers)
        ]
    )
    report = await api.data(NOVELTY, WINDOW)
    (pattern,) = report["qualityReport"]["attributes"]
    assert pattern["corrections"] == [
        {"dimension": "novelty", "segment": "novel", "decided": 3, "corrected": 2},
        {"dimension": "novelty", "segment": "familiar", "decided": 2, "corrected": 0},
    ]
