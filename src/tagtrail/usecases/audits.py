"""Sample audits: draw applied model tags to check, and report their measured precision.

:meth:`Audits.sample` draws a deterministic, stratified sample (attribute × tier × segment,
hash-based, see ``learning.audit``) of the model tags applied now and stores it with its
sampling weights. Reviewers answer with ordinary decisions in the trail (confirm: right;
correct or reject: wrong): the first human decision on a sampled tag after the draw is its
audit answer, recorded on the audit once found (``usecases.audit_answers``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from tagtrail.domain.records import utc_now
from tagtrail.errors import InvalidInput
from tagtrail.learning import audit as learned
from tagtrail.learning.audit import (
    AppliedTag,
    AuditAnswer,
    AuditReport,
    AuditSample,
    StratumCount,
    rate_to_show,
    sample_for_audit,
    stratum_of,
)
from tagtrail.store import Store
from tagtrail.store.audits import AuditDocument
from tagtrail.usecases.audit_answers import settle
from tagtrail.usecases.head_data import segments_of

MODEL_TIERS = ("auto_applied", "flagged")
_QUEUE_PAGES = 10  # pages of unanswered audits looked through per queue request
_QUEUE_PAGE = 100  # audits per page, however few the caller asks for


class SampleResult(msgspec.Struct, kw_only=True, frozen=True):
    round: str
    population: int
    sampled: int
    added: int  # new audit documents (0 when the same round was drawn before)
    strata: tuple[StratumCount, ...]


def _applied(doc: dict[str, Any], attribute: str | None) -> list[AppliedTag]:
    out = []
    for tag in doc.get("tags") or ():
        if attribute and tag.get("attribute") != attribute:
            continue
        if tag.get("slot") is not None:
            continue  # audits measure the primary value's precision (per attribute × tier)
        if tag.get("state") in MODEL_TIERS and tag.get("value"):
            out.append(
                AppliedTag(
                    asset_id=doc["asset_id"],
                    attribute=tag["attribute"],
                    value=tag["value"],
                    tier=tag["state"],
                    segments=segments_of(doc),
                )
            )
    return out


class QueuedAudit(msgspec.Struct, kw_only=True, frozen=True):
    audit_id: str
    round: str
    asset_id: str
    attribute: str
    value: str
    tier: str
    stratum: str
    weight: float
    revision: int  # the asset's revision now: answer with expectedRevision = this


class Audits:
    """Audit rounds: sample applied tags, answer them in the queue, report precision."""

    def __init__(self, store: Store, *, max_page_size: int) -> None:
        self._store = store
        self._max_page_size = max_page_size

    async def sample(
        self,
        *,
        round: str,
        attribute: str | None = None,
        segment_key: str | None = "brand",
        target: float = 0.98,
    ) -> SampleResult:
        """Draw round ``round`` (its salt): enough per stratum to show ``target`` if it holds."""
        await self._store.refresh()
        tags: list[AppliedTag] = []
        head_of: dict[tuple[str, str], tuple[AppliedTag, dict[str, Any]]] = {}
        fields = ("asset_id", "brand", "season", "tags")
        async for page in self._store.assets.scan(fields):
            for doc in page:
                for tag in _applied(doc, attribute):
                    tags.append(tag)
                    stored = next(
                        t
                        for t in doc["tags"]
                        if t["attribute"] == tag.attribute and t.get("slot") is None
                    )
                    head_of[(tag.asset_id, tag.attribute)] = (tag, stored)
        plan = sample_for_audit(
            tags, rate=rate_to_show(target), salt=round, segment_key=segment_key
        )
        population = {c.stratum: c.population for c in plan.strata}
        at = utc_now()
        docs: list[AuditDocument] = []
        for s in plan.samples:
            applied, stored_tag = head_of[(s.asset_id, s.attribute)]
            docs.append(
                AuditDocument(
                    audit_id=f"{round}:{s.asset_id}:{s.attribute}",
                    round=round,
                    asset_id=s.asset_id,
                    attribute=s.attribute,
                    value=s.value,
                    tier=applied.tier,
                    stratum=s.stratum.key,
                    segment=dict(applied.segments),
                    head_version=stored_tag.get("head_version"),
                    tag_event_id=stored_tag.get("event_id"),
                    weight=s.weight,
                    population=population[s.stratum],
                    sampled_at=at,
                )
            )
        added = await self._store.audits.add(docs)
        return SampleResult(
            round=round,
            population=len(tags),
            sampled=len(plan.samples),
            added=added,
            strata=plan.strata,
        )

    async def report(
        self, *, round: str, attribute: str | None = None, target: float = 0.98
    ) -> AuditReport:
        """Population-weighted precision per stratum (and attribute × tier) for round ``round``."""
        audits = [
            a
            async for page in self._store.audits.scan(attribute=attribute, round=round)
            for a in await settle(self._store, page)
        ]
        strata: dict[str, StratumCount] = {}
        answers = []
        for audit in audits:
            tag = AppliedTag(
                asset_id=audit.asset_id,
                attribute=audit.attribute,
                value=audit.value,
                tier=audit.tier,
                segments=audit.segment,
            )
            segment = audit.stratum.split("/", 2)[2]
            key = segment.split("=", 1)[0] if "=" in segment else None
            stratum = stratum_of(tag, key)
            weight = audit.weight
            count = strata.get(stratum.key) or StratumCount(
                stratum=stratum, population=audit.population, rate=1 / weight, sampled=0
            )
            strata[stratum.key] = msgspec.structs.replace(count, sampled=count.sampled + 1)
            if not audit.answered:
                continue
            sample = AuditSample(
                asset_id=tag.asset_id,
                attribute=tag.attribute,
                value=tag.value,
                stratum=stratum,
                rate=1 / weight,
                weight=weight,
                draw=0.0,
            )
            answers.append(AuditAnswer(sample=sample, correct=bool(audit.correct)))
        return learned.audit_report(answers, strata=tuple(strata.values()), target=target)

    async def queue(
        self, *, round: str, attribute: str | None = None, first: int = 20
    ) -> list[QueuedAudit]:
        """Sampled tags nobody has decided yet, stratum by stratum (answer with confirm/correct)."""
        if not 1 <= first <= self._max_page_size:
            raise InvalidInput(f"first must be 1..{self._max_page_size}", field="first")
        out: list[QueuedAudit] = []
        after: list[Any] | None = None
        for _ in range(_QUEUE_PAGES):
            page = await self._store.audits.queue(
                round=round, attribute=attribute, size=max(first, _QUEUE_PAGE), search_after=after
            )
            if not page.audits:
                break
            after = page.after
            # Answers found in the trail are recorded, so they leave the queue for good.
            audits = [a for a in await settle(self._store, page.audits) if not a.answered]
            docs = await self._store.assets.get_many([a.asset_id for a in audits])
            for audit, doc in zip(audits, docs, strict=True):
                if doc is None:
                    continue
                out.append(
                    QueuedAudit(
                        audit_id=audit.audit_id,
                        round=audit.round,
                        asset_id=audit.asset_id,
                        attribute=audit.attribute,
                        value=audit.value,
                        tier=audit.tier,
                        stratum=audit.stratum,
                        weight=audit.weight,
                        revision=doc.revision,
                    )
                )
                if len(out) == first:
                    return out
        return out
