"""Deterministic stratified audit samples and population-weighted precision."""

from __future__ import annotations

import random

import msgspec
import pytest

from tagtrail.domain.governance import Tier
from tagtrail.learning.audit import (
    AppliedTag,
    AuditAnswer,
    AuditSample,
    Stratum,
    StratumCount,
    audit_report,
    audits_needed,
    rate_to_show,
    sample_for_audit,
)
from tagtrail.learning.stats import wilson_interval


def test_audits_needed_reproduces_189_for_98_percent() -> None:
    assert audits_needed(0.98) == 189
    # It is the smallest error-free sample whose Wilson lower bound reaches the target.
    assert wilson_interval(189, 189)[0] >= 0.98 > wilson_interval(188, 188)[0]
    assert audits_needed(0.95) == 73
    assert audits_needed(0.98, confidence=0.99) == 326
    with pytest.raises(ValueError, match="target"):
        audits_needed(1.0)


def _tags() -> list[AppliedTag]:
    tags = []
    for i in range(3000):
        brand = ("Kobo", "Aster", "Linden")[i % 3]
        tier: Tier = "auto_applied" if i % 4 else "flagged"
        tags.append(
            AppliedTag(
                asset_id=f"asset-{i:05d}",
                attribute="category",
                value="coat",
                tier=tier,
                segments={"brand": brand},
            )
        )
        tags.append(
            AppliedTag(
                asset_id=f"asset-{i:05d}", attribute="colour", value="navy", tier="auto_applied"
            )
        )
    return tags


def test_sampling_is_deterministic_stratified_and_weighted() -> None:
    tags = _tags()
    plan = sample_for_audit(tags, rate=0.1, salt="audit-2026-01")
    shuffled = tags[:]
    random.Random(3).shuffle(shuffled)
    assert sample_for_audit(shuffled, rate=0.1, salt="audit-2026-01") == plan
    other = sample_for_audit(tags, rate=0.1, salt="audit-2026-02")
    assert {s.asset_id for s in other.samples} != {s.asset_id for s in plan.samples}
    strata = {c.stratum.key: c for c in plan.strata}
    assert sorted(strata) == [
        "category/auto_applied/brand=Aster",
        "category/auto_applied/brand=Kobo",
        "category/auto_applied/brand=Linden",
        "category/flagged/brand=Aster",
        "category/flagged/brand=Kobo",
        "category/flagged/brand=Linden",
        "colour/auto_applied/brand=(none)",
    ]
    assert strata["category/flagged/brand=Kobo"].population == 250
    assert strata["colour/auto_applied/brand=(none)"].population == 3000
    assert sum(c.population for c in plan.strata) == len(tags)
    for count in plan.strata:
        drawn = [s for s in plan.samples if s.stratum == count.stratum]
        assert len(drawn) == count.sampled
        # Binomial(N, 0.1): within ±5 standard deviations of the expected count.
        sd = (count.population * 0.1 * 0.9) ** 0.5
        assert abs(len(drawn) - 0.1 * count.population) < 5 * sd
    assert all(s.draw < s.rate == 0.1 and s.weight == pytest.approx(10.0) for s in plan.samples)
    # A higher rate only adds tags: the 10 % sample sits inside the 20 % one.
    wider = sample_for_audit(tags, rate=0.2, salt="audit-2026-01")
    assert {(s.asset_id, s.attribute) for s in plan.samples} <= {
        (s.asset_id, s.attribute) for s in wider.samples
    }


def test_rates_that_aim_at_enough_evidence_per_stratum() -> None:
    few = [
        AppliedTag(asset_id=f"rare-{i}", attribute="material", value="silk", tier="flagged")
        for i in range(100)
    ]
    plan = sample_for_audit([*_tags(), *few], rate=rate_to_show(0.98), salt="s", segment_key=None)
    counts = {c.stratum.key: c for c in plan.strata}
    assert counts["category/flagged/all"].rate == pytest.approx(189 / 750)
    assert counts["colour/auto_applied/all"].rate == pytest.approx(189 / 3000)
    assert counts["material/flagged/all"].rate == 1.0  # a small stratum is audited in full
    assert counts["material/flagged/all"].sampled == 100
    with pytest.raises(ValueError, match="rate"):
        sample_for_audit(few, rate=0.0, salt="s")


def _answers(stratum: Stratum, n: int, wrong: int, rate: float) -> list[AuditAnswer]:
    return [
        AuditAnswer(
            sample=AuditSample(
                asset_id=f"{stratum.segment}-{i}",
                attribute=stratum.attribute,
                value="v",
                stratum=stratum,
                rate=rate,
                weight=1 / rate,
                draw=0.0,
            ),
            correct=i >= wrong,
        )
        for i in range(n)
    ]


def _stratum(segment: str, tier: str = "auto_applied") -> Stratum:
    return Stratum(attribute="category", tier=tier, segment=segment)


def test_report_weights_strata_by_population() -> None:
    big, small = _stratum("brand=Kobo"), _stratum("brand=Aster")
    answers = _answers(big, 50, 0, 50 / 900) + _answers(small, 50, 25, 0.5)
    counts = [
        StratumCount(stratum=big, population=900, rate=50 / 900, sampled=50),
        StratumCount(stratum=small, population=100, rate=0.5, sampled=50),
    ]
    report = audit_report(answers, strata=counts, target=0.98)
    rows = {r.stratum.segment: r for r in report.strata}
    assert rows["brand=Aster"].precision == 0.5
    assert (rows["brand=Aster"].low, rows["brand=Aster"].high) == pytest.approx(
        wilson_interval(25, 50)
    )
    assert rows["brand=Aster"].verdict == "below target"
    assert rows["brand=Kobo"].precision == 1.0
    assert rows["brand=Kobo"].verdict == "not enough evidence"  # 50 < 189 error-free
    (total,) = report.totals
    assert total.stratum.segment == "all"
    assert total.population == 1000
    assert total.precision == pytest.approx((900 * 1.0 + 100 * 0.5) / 1000)  # not 0.75
    # Kish: weights 18 (×50) and 2 (×50) → (1000)² / (50·18² + 50·2²) = 60.98.
    assert total.effective_n == pytest.approx(1000**2 / (50 * 18**2 + 50 * 2**2))
    assert (total.low, total.high) == pytest.approx(
        wilson_interval(0.95 * total.effective_n, total.effective_n)
    )


@pytest.mark.parametrize(
    ("n", "wrong", "verdict"),
    [
        (200, 0, "meets target"),
        (150, 0, "not enough evidence"),
        (50, 10, "below target"),
        (400, 6, "inconclusive"),  # 0.985 [0.968, 0.993]: enough audits, interval spans 0.98
    ],
)
def test_verdicts(n: int, wrong: int, verdict: str) -> None:
    stratum = _stratum("brand=Kobo")
    (row,) = audit_report(_answers(stratum, n, wrong, 0.5), target=0.98).strata
    assert row.verdict == verdict
    assert row.audits_needed == 189
    assert row.population == 2 * n  # sized from the weights when no counts are given


def test_a_total_meets_its_target_only_when_every_stratum_is_audited() -> None:
    # Issue 17: 200 error-free audits of Kobo said "meets target" for the whole attribute ×
    # tier while Aster's 10,000 tags had no answered audit at all.
    kobo, aster = _stratum("brand=Kobo"), _stratum("brand=Aster")
    counts = [
        StratumCount(stratum=kobo, population=400, rate=0.5, sampled=200),
        StratumCount(stratum=aster, population=10_000, rate=0.0189, sampled=189),
    ]
    report = audit_report(_answers(kobo, 200, 0, 0.5), strata=counts, target=0.98)
    rows = {r.stratum.segment: r for r in report.strata}
    assert rows["brand=Kobo"].verdict == "meets target"  # Kobo on its own does
    (total,) = report.totals
    assert total.verdict == "not enough evidence"
    assert total.unaudited == ("brand=Aster: 0 of 189 drawn audits answered (10000 tags)",)
    answered = _answers(kobo, 200, 0, 0.5) + _answers(aster, 189, 0, 0.0189)
    (done,) = audit_report(answered, strata=counts, target=0.98).totals
    assert (done.verdict, done.unaudited) == ("meets target", ())
    no_draw = [
        *counts,
        StratumCount(stratum=_stratum("brand=Moss"), population=7, rate=1.0, sampled=0),
    ]
    (late,) = audit_report(answered, strata=no_draw, target=0.98).totals
    assert late.unaudited == ("brand=Moss: no audit drawn (7 tags)",)
    assert late.verdict == "not enough evidence"


def test_novelty_splits_strata_and_the_report_shows_it_over_segments() -> None:
    tags = [
        AppliedTag(
            asset_id=f"n-{i:04d}",
            attribute="category",
            value="coat",
            tier="auto_applied",
            segments={"brand": ("Kobo", "Aster")[i % 2]},
            novelty="novel" if i % 10 == 0 else "familiar",
        )
        for i in range(1000)
    ] + [AppliedTag(asset_id="zs", attribute="category", value="coat", tier="auto_applied")]
    plan = sample_for_audit(tags, rate=rate_to_show(0.98), salt="s")
    counts = {c.stratum.key: c for c in plan.strata}
    assert sorted(counts) == [
        "category/auto_applied/brand=(none)",  # not judged: the stratum it always had
        "category/auto_applied/brand=Aster/novelty=familiar",
        "category/auto_applied/brand=Kobo/novelty=familiar",
        "category/auto_applied/brand=Kobo/novelty=novel",
    ]
    novel = counts["category/auto_applied/brand=Kobo/novelty=novel"]
    assert (novel.population, novel.rate, novel.sampled) == (100, 1.0, 100)  # all of them
    assert counts["category/auto_applied/brand=Kobo/novelty=familiar"].population == 400
    # The draw does not depend on novelty: a tag judged again keeps its u.
    plain = sample_for_audit(
        [msgspec.structs.replace(t, novelty=None) for t in tags], rate=0.5, salt="s"
    )
    split = sample_for_audit(tags, rate=0.5, salt="s")
    assert {s.asset_id for s in plain.samples} == {s.asset_id for s in split.samples}

    answers = _answers(novel.stratum, 100, 20, 1.0)
    report = audit_report(answers, strata=plan.strata)
    by_novelty = {r.stratum.novelty: r for r in report.novelty}
    assert set(by_novelty) == {"novel", "familiar"}
    assert by_novelty["novel"].stratum.segment == "all"
    assert (by_novelty["novel"].audited, by_novelty["novel"].precision) == (100, 0.8)
    assert by_novelty["familiar"].audited == 0
    drawn = [
        counts[f"category/auto_applied/brand={b}/novelty=familiar"].sampled
        for b in ("Aster", "Kobo")
    ]
    assert by_novelty["familiar"].unaudited == (
        f"brand=Aster/novelty=familiar: 0 of {drawn[0]} drawn audits answered (500 tags)",
        f"brand=Kobo/novelty=familiar: 0 of {drawn[1]} drawn audits answered (400 tags)",
    )
    (total,) = report.totals
    assert total.population == 1001
    assert total.stratum.novelty is None
