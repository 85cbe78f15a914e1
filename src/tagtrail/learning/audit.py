"""Sample audits: measure the live precision of applied tags instead of assuming it.

**Sampling.** Applied tags are stratified by attribute × tier × segment (one segment key,
e.g. brand). A tag is in the sample iff u(asset_id, attribute, salt) < rate of its stratum,
where u is a sha256-derived number in [0, 1): no randomness and no state, so the same
tags and salt always give the same sample, a tag keeps its draw when it is re-tagged (its
u does not depend on the value or tier), and raising a rate only adds tags. Each sampled
tag carries its sampling weight 1/rate.

**Novelty.** A tag that a tuned head predicted, on an asset whose vector the head can judge,
also carries its asset's novelty for that head (``learning.novelty``): "novel" when the
vector is farther from every prototype of the head's training vectors than the head's
threshold (the 0.95 quantile of its training rows' own out-of-sample distances), otherwise
"familiar". Novelty splits the stratum (attribute × tier × segment × novelty), so novel tags,
a small share by construction, get audits of their own instead of the few a proportional
sample would give them; the report adds precision per attribute × tier × novelty over all
segments. Tags no head can judge (zero-shot heads, the colour analyser, a head stored
before heads kept a summary, a vector from another encoder) keep novelty None and the
stratum they had before.

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
from tagtrail.learning.novelty import Novelty
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
    novelty: Novelty | None = None  # None: no head judged it (see the module docstring)


class Stratum(msgspec.Struct, kw_only=True, frozen=True):
    attribute: str
    tier: str
    segment: str  # "brand=Kobo", "brand=(none)", or "all" for a whole attribute × tier
    novelty: Novelty | None = None

    @property
    def key(self) -> str:
        """ "attribute/tier/segment", then "/novelty=novel" (or familiar) when judged."""
        return f"{self.attribute}/{self.tier}/{self.label}"

    @property
    def label(self) -> str:
        """The segment, then "/novelty=…" when judged: how a report names the stratum."""
        suffix = f"/novelty={self.novelty}" if self.novelty is not None else ""
        return f"{self.segment}{suffix}"


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
    # For attribute × tier: strata with tags whose drawn audits are not all answered
    # ("brand=Kobo: 0 of 189 answered, 10000 tags"); while any is named, no "meets target".
    unaudited: tuple[str, ...] = ()


class AuditReport(msgspec.Struct, kw_only=True, frozen=True):
    target: float
    confidence: float
    strata: tuple[StratumPrecision, ...]  # attribute × tier × segment (× novelty)
    totals: tuple[StratumPrecision, ...]  # attribute × tier, over all segments
    # attribute × tier × novelty over all segments (segment "all"): only where judged
    novelty: tuple[StratumPrecision, ...] = ()


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
    return Stratum(attribute=tag.attribute, tier=tag.tier, segment=segment, novelty=tag.novelty)


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


class _Part(msgspec.Struct, frozen=True):
    """One stratum's share of a report row: its tags, audits drawn and answers."""

    stratum: Stratum
    population: int
    sampled: int
    answers: list[AuditAnswer]

    def gap(self) -> str | None:
        """Why this stratum lacks audits (None: every drawn audit is answered)."""
        drawn = max(self.sampled, len(self.answers))
        if self.population == 0 or (drawn and len(self.answers) >= min(drawn, self.population)):
            return None
        if not drawn:
            return f"{self.stratum.label}: no audit drawn ({self.population} tags)"
        return (
            f"{self.stratum.label}: {len(self.answers)} of {drawn} drawn audits answered "
            f"({self.population} tags)"
        )


def _precision(
    stratum: Stratum,
    parts: Sequence[_Part],
    target: float,
    confidence: float,
    *,
    aggregate: bool = False,
) -> StratumPrecision:
    """Population-weighted precision over ``parts`` (one stratum, or an attribute × tier).

    The estimate covers audited strata only, so an aggregate meets the target only when
    every stratum with tags has all its drawn audits answered; the others are named.
    """
    population = sum(p.population for p in parts)
    gaps = tuple(g for p in parts if (g := p.gap()) is not None) if aggregate else ()
    audited = [(p.population, p.answers) for p in parts if p.answers]
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
    verdict = _verdict(low, high, n_eff, len(hits), needed, target)
    if gaps and verdict == "meets target":
        verdict = "not enough evidence"
    return StratumPrecision(
        stratum=stratum,
        population=population,
        audited=len(hits),
        correct=sum(hits),
        precision=precision,
        low=low,
        high=high,
        effective_n=n_eff,
        verdict=verdict,
        audits_needed=needed,
        unaudited=gaps,
    )


def _whole(attribute: str, tier: str, novelty: Novelty | None = None) -> Stratum:
    return Stratum(attribute=attribute, tier=tier, segment=ALL_SEGMENTS, novelty=novelty)


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
    counted = {c.stratum: c for c in strata}
    estimated: Counter[Stratum] = Counter()
    for stratum, given in by_stratum.items():
        estimated[stratum] = round(sum(a.sample.weight for a in given))
    parts = [
        _Part(
            s,
            counted[s].population if s in counted else estimated[s],
            counted[s].sampled if s in counted else 0,
            by_stratum.get(s, []),
        )
        for s in sorted({*counted, *by_stratum}, key=lambda s: s.key)
    ]
    rows = [_precision(p.stratum, [p], target, confidence) for p in parts]
    totals: dict[tuple[str, str], list[_Part]] = {}
    for p in parts:
        totals.setdefault((p.stratum.attribute, p.stratum.tier), []).append(p)
    total_rows = [
        _precision(_whole(a, t), group, target, confidence, aggregate=True)
        for (a, t), group in sorted(totals.items())
    ]
    judged: dict[tuple[str, str, Novelty], list[_Part]] = {}
    for p in parts:
        if p.stratum.novelty is not None:
            key = (p.stratum.attribute, p.stratum.tier, p.stratum.novelty)
            judged.setdefault(key, []).append(p)
    novelty_rows = [
        _precision(_whole(a, t, n), group, target, confidence, aggregate=True)
        for (a, t, n), group in sorted(judged.items())
    ]
    return AuditReport(
        target=target,
        confidence=confidence,
        strata=tuple(rows),
        totals=tuple(total_rows),
        novelty=tuple(novelty_rows),
    )
