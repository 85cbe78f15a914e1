"""Sample audits: measure the live precision of applied tags instead of assuming it.

**Sampling.** Applied tags are stratified by attribute × tier × segment (one segment key,
e.g. brand). A tag is in the sample iff u(asset_id, attribute, salt) < rate of its stratum,
where u is a sha256-derived number in [0, 1): no randomness and no state, so the same
tags and salt always give the same sample, a tag keeps its draw when it is re-tagged (its
u does not depend on the value or tier), and raising a rate only adds tags. Each sampled
tag carries its sampling weight 1/rate.

**Report.** Per stratum the precision of the audited tags (equal weights within a stratum)
with a Wilson 95 % interval; per attribute × tier the population-weighted precision over
its segments, Σ N_h·p_h / Σ N_h, with a Wilson interval on the Kish effective sample size
(an approximation that stays inside [0, 1] and is exact for a single stratum). A verdict
says whether the target is met, missed, or whether there is not enough evidence yet.

**How many audits.** With zero errors in n audits the Wilson lower bound is n / (n + z²);
it reaches a target t once n ≥ t·z² / (1 − t). For t = 0.98 at 95 % (z = 1.96): 188.2, so
189 error-free audits. (The rule of three, 3 / (1 − t) = 150, is the one-sided 95 % exact
bound; the two-sided exact Clopper–Pearson bound needs 183. The Wilson figure is the one
the report applies, so it is the one :func:`audits_needed` returns.)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import msgspec

from tagtrail.domain.governance import Tier
from tagtrail.learning.stats import unit_hash, wilson_interval, z_value

ALL_SEGMENTS = "all"
Verdict = Literal["meets target", "below target", "inconclusive", "not enough evidence"]
#: (stratum, its population) → sampling rate in (0, 1].
RateFor = Callable[["Stratum", int], float]


class AppliedTag(msgspec.Struct, kw_only=True, frozen=True):
    asset_id: str
    attribute: str
    value: str
    tier: Tier
    segments: dict[str, str] = {}


class Stratum(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    tier: str
    segment: str  # "brand=Kobo", "brand=(none)", or "all" for a whole attribute × tier

    @property
    def key(self) -> str:
        return f"{self.attribute}/{self.tier}/{self.segment}"


class AuditSample(msgspec.Struct, kw_only=True, frozen=True):
    asset_id: str
    attribute: str
    value: str
    stratum: Stratum
    rate: float
    weight: float  # 1 / rate: how many population tags this audit stands for
    draw: float  # u(asset_id, attribute, salt); sampled because draw < rate


class StratumCount(msgspec.Struct, kw_only=True, frozen=True):
    stratum: Stratum
    population: int
    rate: float
    sampled: int


class AuditPlan(msgspec.Struct, kw_only=True, frozen=True):
    salt: str
    segment_key: str | None
    samples: tuple[AuditSample, ...]  # sorted by stratum, then asset id
    strata: tuple[StratumCount, ...]


class AuditAnswer(msgspec.Struct, kw_only=True, frozen=True):
    sample: AuditSample
    correct: bool  # the reviewer confirmed the tag (a correction or rejection: False)


class StratumPrecision(msgspec.Struct, kw_only=True, frozen=True):
    stratum: Stratum
    population: int
    audited: int
    correct: int
    precision: float | None  # population-weighted; None before any audit
    low: float  # Wilson interval
    high: float
    effective_n: float  # = audited within one stratum; Kish's n for an aggregate
    verdict: Verdict
    audits_needed: int  # error-free audits that would show the target


class AuditReport(msgspec.Struct, kw_only=True, frozen=True):
    target: float
    confidence: float
    strata: tuple[StratumPrecision, ...]  # attribute × tier × segment
    totals: tuple[StratumPrecision, ...]  # attribute × tier, over all segments


def audits_needed(target: float, confidence: float = 0.95) -> int:
    """Error-free audits for the Wilson lower bound to reach ``target``: ⌈t·z²/(1 − t)⌉."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target}")
    z = z_value(confidence)
    return math.ceil(target * z * z / (1.0 - target) - 1e-9)


def audit_draw(asset_id: str, attribute: str, salt: str) -> float:
    return unit_hash(asset_id, attribute, salt)


def stratum_of(tag: AppliedTag, segment_key: str | None) -> Stratum:
    if segment_key is None:
        segment = ALL_SEGMENTS
    else:
        segment = f"{segment_key}={tag.segments.get(segment_key, '(none)')}"
    return Stratum(attribute=tag.attribute, tier=tag.tier, segment=segment)


def rate_to_show(target: float = 0.98, confidence: float = 0.95, *, floor: float = 0.01) -> RateFor:
    """Rates that expect :func:`audits_needed` audits per stratum (all of a small one)."""
    needed = audits_needed(target, confidence)
    return lambda _stratum, population: min(1.0, max(floor, needed / max(population, 1)))


def sample_for_audit(
    tags: Iterable[AppliedTag],
    *,
    rate: float | RateFor,
    salt: str,
    segment_key: str | None = "brand",
) -> AuditPlan:
    """The deterministic stratified sample of ``tags`` (one per asset and attribute)."""
    by_stratum: dict[Stratum, list[AppliedTag]] = {}
    for tag in tags:
        by_stratum.setdefault(stratum_of(tag, segment_key), []).append(tag)
    samples: list[AuditSample] = []
    counts: list[StratumCount] = []
    for stratum in sorted(by_stratum, key=lambda s: s.key):
        members = by_stratum[stratum]
        r = rate(stratum, len(members)) if callable(rate) else rate
        if not 0.0 < r <= 1.0:
            raise ValueError(f"rate for {stratum.key} must be in (0, 1], got {r}")
        drawn = [
            AuditSample(
                asset_id=t.asset_id,
                attribute=t.attribute,
                value=t.value,
                stratum=stratum,
                rate=r,
                weight=1.0 / r,
                draw=u,
            )
            for t in sorted(members, key=lambda t: t.asset_id)
            if (u := audit_draw(t.asset_id, t.attribute, salt)) < r
        ]
        samples.extend(drawn)
        counts.append(
            StratumCount(stratum=stratum, population=len(members), rate=r, sampled=len(drawn))
        )
    return AuditPlan(
        salt=salt, segment_key=segment_key, samples=tuple(samples), strata=tuple(counts)
    )


def _verdict(
    low: float, high: float, n: float, audited: int, needed: int, target: float
) -> Verdict:
    if audited and high < target:
        return "below target"
    if audited and low >= target:
        return "meets target"
    if n < needed:
        return "not enough evidence"
    return "inconclusive"


def _precision(
    stratum: Stratum,
    parts: Sequence[tuple[int, list[AuditAnswer]]],
    target: float,
    confidence: float,
) -> StratumPrecision:
    """Population-weighted precision over ``parts``: (population, answers) per stratum."""
    population = sum(n for n, _ in parts)
    audited = [(n, a) for n, a in parts if a]
    covered = sum(n for n, _ in audited)
    # Each answer stands for N_h / n_h tags of its stratum.
    weights = [n / len(a) for n, a in audited for _ in a]
    hits = [x.correct for _, a in audited for x in a]
    n_eff = sum(weights) ** 2 / sum(w * w for w in weights) if weights else 0.0
    precision = (
        sum(w for w, h in zip(weights, hits, strict=True) if h) / covered if covered else None
    )
    low, high = wilson_interval((precision or 0.0) * n_eff, n_eff, confidence)
    needed = audits_needed(target, confidence)
    return StratumPrecision(
        stratum=stratum,
        population=population,
        audited=len(hits),
        correct=sum(hits),
        precision=precision,
        low=low,
        high=high,
        effective_n=n_eff,
        verdict=_verdict(low, high, n_eff, len(hits), needed, target),
        audits_needed=needed,
    )


def audit_report(
    answers: Iterable[AuditAnswer],
    *,
    strata: Sequence[StratumCount] = (),
    target: float = 0.98,
    confidence: float = 0.95,
) -> AuditReport:
    """Precision per stratum and per attribute × tier from reviewers' audit answers.

    ``strata`` (from the :class:`AuditPlan`) gives each stratum's population; a stratum
    missing from it is sized from its answers' weights (Σ 1/rate).
    """
    by_stratum: dict[Stratum, list[AuditAnswer]] = {}
    for answer in answers:
        by_stratum.setdefault(answer.sample.stratum, []).append(answer)
    population = {c.stratum: c.population for c in strata}
    estimated: Counter[Stratum] = Counter()
    for stratum, given in by_stratum.items():
        estimated[stratum] = round(sum(a.sample.weight for a in given))
    sizes = {s: population.get(s, estimated[s]) for s in {*population, *by_stratum}}
    rows = [
        _precision(s, [(sizes[s], by_stratum.get(s, []))], target, confidence)
        for s in sorted(sizes, key=lambda s: s.key)
    ]
    totals: dict[tuple[str, str], list[tuple[int, list[AuditAnswer]]]] = {}
    for s in sorted(sizes, key=lambda s: s.key):
        totals.setdefault((s.attribute, s.tier), []).append((sizes[s], by_stratum.get(s, [])))
    total_rows = [
        _precision(Stratum(attribute=a, tier=t, segment=ALL_SEGMENTS), parts, target, confidence)
        for (a, t), parts in sorted(totals.items())
    ]
    return AuditReport(
        target=target, confidence=confidence, strata=tuple(rows), totals=tuple(total_rows)
    )
