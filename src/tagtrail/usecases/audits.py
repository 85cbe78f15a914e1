"""Sample audits: draw applied model tags to check, and report their measured precision.

:meth:`Audits.sample` draws a deterministic, stratified sample (attribute × tier × segment,
hash-based, see ``learning.audit``) of the model tags applied now and stores it with its
sampling weights. Reviewers answer with ordinary decisions in the trail (confirm: right;
correct or reject: wrong): the first human decision on a sampled tag after the draw is its
audit answer, recorded on the audit once found (``usecases.audit_answers``).

**Novelty.** While sampling, each tag a tuned head applied is judged against that head's
summary of its training vectors (``learning.novelty``), read once per head version from
``heads``: its asset's vector (read with the page of assets it came in, and judged in one
batch per page and head) is novel or familiar, and the stratum says which. Tags of heads
without a summary are not judged; :attr:`SampleResult.novelty_notes` says which heads and
why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np

from tagtrail.domain.governance import Novelty
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
from tagtrail.learning.novelty import NoveltyRecord, NoveltySummary
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
    # Why tags of tuned heads were not judged novel or familiar ("<head version>: why").
    novelty_notes: tuple[str, ...] = ()


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


#: asset id → (its stored vector, the encoder it came from), for one page of assets.
PageVectors = dict[str, tuple[list[float] | None, str | None]]


class _StoredNovelty(msgspec.Struct, kw_only=True, frozen=True):
    """The part of a stored tuned head's record that audits read."""

    novelty: NoveltyRecord | None = None


class _Judge(msgspec.Struct, kw_only=True, frozen=True, eq=False):
    summary: NoveltySummary
    encoder: str | None  # vectors of another encoder are not judged


class _Novelties:
    """Each tagging head's novelty summary, read from ``heads`` once per sample (no cache
    beyond it: a head version never changes, but the next sample reads afresh)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._judges: dict[str, _Judge | None] = {}
        self._notes: dict[str, str] = {}
        self._unjudged: dict[str, int] = {}  # head version → tags left unjudged (vectors)

    async def judge(self, version: str) -> _Judge | None:
        if version not in self._judges:
            self._judges[version] = await self._read(version)
        return self._judges[version]

    async def _read(self, version: str) -> _Judge | None:
        doc = await self._store.heads.get(version)
        if doc is None or doc.kind != "tuned":
            return None  # zero-shot heads and the colour analyser: nothing trained on
        try:
            stored = msgspec.convert(doc.record or {}, _StoredNovelty)
            summary = NoveltySummary.from_record(stored.novelty) if stored.novelty else None
        except (msgspec.ValidationError, ValueError) as exc:
            self._notes[version] = f"{version}: unreadable novelty summary ({exc})"
            return None
        if summary is None:
            self._notes[version] = (
                f"{version}: no novelty summary (stored before heads kept one, or trained "
                "on too few assets); its tags are not judged"
            )
            return None
        return _Judge(summary=summary, encoder=doc.encoder)

    def skipped(self, version: str, n: int) -> None:
        self._unjudged[version] = self._unjudged.get(version, 0) + n

    def notes(self) -> tuple[str, ...]:
        unjudged = {
            v: f"{v}: {n} tags not judged (no vector of the encoder it was trained on)"
            for v, n in self._unjudged.items()
        }
        return tuple(text for _, text in sorted((self._notes | unjudged).items()))

    async def mark(
        self, tags: Sequence[tuple[AppliedTag, str | None]], vectors: PageVectors
    ) -> list[AppliedTag]:
        """``tags`` (each with its head version) with their novelty, one batch per head.

        ``vectors``: asset id → (vector, encoder fingerprint) of this page of assets."""
        out = [t for t, _ in tags]
        by_head: dict[str, list[int]] = {}
        for i, (_, version) in enumerate(tags):
            if version:
                by_head.setdefault(version, []).append(i)
        for version, members in sorted(by_head.items()):
            judge = await self.judge(version)
            if judge is None:
                continue
            usable = [
                i
                for i in members
                if (found := vectors.get(out[i].asset_id)) is not None
                and isinstance(found[0], list)
                and len(found[0]) == judge.summary.dim
                and (judge.encoder is None or found[1] == judge.encoder)
            ]
            if len(usable) < len(members):
                self.skipped(version, len(members) - len(usable))
            if not usable:
                continue
            batch = np.asarray([vectors[out[i].asset_id][0] for i in usable], dtype=np.float32)
            for i, novel in zip(usable, judge.summary.novel(batch).tolist(), strict=True):
                flag: Novelty = "novel" if novel else "familiar"
                out[i] = msgspec.structs.replace(out[i], novelty=flag)
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
        novelty: bool = True,
    ) -> SampleResult:
        """Draw round ``round`` (its salt): enough per stratum to show ``target`` if it holds.

        With ``novelty`` the tags of tuned heads are also stratified by their asset's
        novelty for the head (see the module docstring)."""
        await self._store.refresh()
        tags: list[AppliedTag] = []
        head_of: dict[tuple[str, str], tuple[AppliedTag, dict[str, Any]]] = {}
        novelties = _Novelties(self._store)
        fields = ["asset_id", "brand", "season", "tags"]
        if novelty:
            fields += ["vector", "model_fingerprint"]
        async for page in self._store.assets.scan(fields):
            found: list[tuple[AppliedTag, dict[str, Any]]] = []
            vectors: PageVectors = {}
            for doc in page:
                # The page's vectors live as long as the page: judged below, then dropped.
                vectors[doc["asset_id"]] = (doc.pop("vector", None), doc.get("model_fingerprint"))
                for tag in _applied(doc, attribute):
                    stored = next(
                        t
                        for t in doc["tags"]
                        if t["attribute"] == tag.attribute and t.get("slot") is None
                    )
                    found.append((tag, stored))
            judged = [t for t, _ in found]
            if novelty:
                judged = await novelties.mark(
                    [(t, stored.get("head_version")) for t, stored in found], vectors
                )
            for tag, (_, stored) in zip(judged, found, strict=True):
                tags.append(tag)
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
                    novelty=applied.novelty,
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
            novelty_notes=novelties.notes(),
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
                novelty=audit.novelty,
            )
            segment = audit.stratum.split("/", 2)[2]
            if audit.novelty is not None:
                segment = segment.removesuffix(f"/novelty={audit.novelty}")
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
