"""Sample audits of applied tags (``audits``): the sample, the queue and the answers.

A sampled tag is one document with a deterministic id (round, asset, attribute), created
put-if-absent, so drawing the same sample twice adds nothing. Reviewers answer with ordinary
decisions in the trail; the first one found is recorded on the audit (``settle``), and only
an undo of that decision opens it again (``reopen_answered_by``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.domain.governance import Novelty, Tier
from tagtrail.store.events import bulk_failures, bulk_lines

_REOPEN = (
    "ctx._source.answered = false; "
    "for (f in ['correct', 'answered_by', 'answered_at', 'answer_event_id']) "
    "{ ctx._source.remove(f); }"
)


class RecordedAnswer(msgspec.Struct, kw_only=True, frozen=True):
    """A reviewer's answer to an audit, as found in the trail (kept with the audit)."""

    correct: bool
    answer_event_id: str
    answered_by: str
    answered_at: str


class AuditDocument(msgspec.Struct, kw_only=True, frozen=True):
    """A sampled tag to check (``audits``), with its answer once there is one."""

    audit_id: str  # round:asset:attribute
    round: str
    asset_id: str
    attribute: str
    value: str  # as drawn
    tier: Tier
    stratum: str  # attribute/tier/segment, then /novelty=… when judged
    segment: dict[str, str] = {}
    novelty: Novelty | None = None  # of the asset for the head that tagged it; None: not judged
    head_version: str | None = None
    tag_event_id: str | None = None  # the model event drawn
    weight: float = 1.0  # applied tags it stands for (1/rate)
    population: int = 0  # applied tags of its stratum when drawn
    sampled_at: str | None = None
    answered: bool = False
    correct: bool | None = None
    answer_event_id: str | None = None
    answered_by: str | None = None
    answered_at: str | None = None

    def with_answer(self, answer: RecordedAnswer) -> AuditDocument:
        return msgspec.structs.replace(self, answered=True, **msgspec.structs.asdict(answer))


class AuditPage(msgspec.Struct, kw_only=True, frozen=True):
    audits: list[AuditDocument]
    after: list[Any] | None  # the last hit's sort values: where the next page starts
    total: int


def _body(record: msgspec.Struct) -> dict[str, Any]:
    """The stored JSON: fields without a value are left out, as the reopen script leaves them."""
    return {k: v for k, v in msgspec.to_builtins(record).items() if v is not None}


class AuditRepository:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name("audits")

    async def add(self, samples: Sequence[AuditDocument]) -> int:
        """Create sampled tags put-if-absent; returns how many were new."""
        if not samples:
            return 0
        body = bulk_lines(self.index, "create", ((s.audit_id, _body(s)) for s in samples))
        # A batch job whose queue is read next: make the sample searchable now.
        response = await self.client.bulk(body=body, refresh=True)
        failed = bulk_failures(response, tolerate=frozenset({409}))
        if failed:
            raise RuntimeError(f"audit samples not stored: {next(iter(failed.values()))}")
        return sum(1 for item in response["items"] if item["create"]["status"] == 201)

    async def settle(self, answers: Sequence[tuple[str, RecordedAnswer]]) -> None:
        """Record answers found in the trail: (audit id, answer), once and for all."""
        if not answers:
            return
        docs = ((i, {"doc": {**_body(a), "answered": True}}) for i, a in answers)
        body = bulk_lines(self.index, "update", docs)
        # The queue read next must not show them again.
        response = await self.client.bulk(body=body, refresh=True)
        failed = bulk_failures(response, tolerate=frozenset())
        if failed:
            raise RuntimeError(f"audit answers not stored: {next(iter(failed.values()))}")

    async def reopen_answered_by(self, decision_ids: Sequence[str]) -> None:
        """Audits answered by these decisions are open again: a reviewer undid the answer
        (a mis-keyed one, say), so the audit returns to its round's queue."""
        if not decision_ids:
            return
        await self.client.update_by_query(
            index=self.index,
            body={
                "query": {"terms": {"answer_event_id": list(decision_ids)}},
                "script": {"lang": "painless", "source": _REOPEN},
            },
            refresh=True,
            conflicts="proceed",
        )

    async def queue(
        self,
        *,
        round: str,
        attribute: str | None,
        size: int,
        search_after: list[Any] | None,
    ) -> AuditPage:
        """Unanswered audits of ``round``, stratum by stratum."""
        filters: list[dict[str, Any]] = [
            {"term": {"answered": False}},
            {"term": {"round": round}},
        ]
        if attribute:
            filters.append({"term": {"attribute": attribute}})
        body: dict[str, Any] = {
            "query": {"bool": {"filter": filters}},
            "size": size,
            "sort": [{"stratum": "asc"}, {"audit_id": "asc"}],
            "track_total_hits": True,
        }
        if search_after:
            body["search_after"] = search_after
        result = await self.client.search(index=self.index, body=body)
        hits = result["hits"]["hits"]
        return AuditPage(
            audits=[msgspec.convert(h["_source"], AuditDocument) for h in hits],
            after=hits[-1]["sort"] if hits else None,
            total=int(result["hits"]["total"]["value"]),
        )

    async def scan(
        self,
        *,
        attribute: str | None = None,
        round: str | None = None,
        answered: bool | None = None,
        page: int = 1000,
    ) -> AsyncIterator[list[AuditDocument]]:
        """Every audit document (of an attribute, a round, answered or not), by id, by pages."""
        await self.client.indices.refresh(index=self.index)
        after: list[Any] | None = None
        terms = {"attribute": attribute, "round": round, "answered": answered}
        filters = [{"term": {k: v}} for k, v in terms.items() if v is not None]
        query: dict[str, Any] = {"bool": {"filter": filters}}
        while True:
            body: dict[str, Any] = {"query": query, "size": page, "sort": [{"audit_id": "asc"}]}
            if after:
                body["search_after"] = after
            hits = (await self.client.search(index=self.index, body=body))["hits"]["hits"]
            if not hits:
                return
            yield [msgspec.convert(h["_source"], AuditDocument) for h in hits]
            after = hits[-1]["sort"]
