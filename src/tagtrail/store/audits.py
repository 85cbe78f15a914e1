"""Sample audits of applied tags (``audits``): the sample, the queue and the answers.

A sampled tag is one document with a deterministic id (round, asset, attribute), created
put-if-absent, so drawing the same sample twice adds nothing. Answering sets ``answered``
under ``if_seq_no``: of two reviewers answering the same audit, one wins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from tagtrail.config import Settings
from tagtrail.errors import Conflict, NotFound
from tagtrail.store.events import bulk_failures, bulk_lines

_REOPEN = (
    "ctx._source.answered = false; "
    "for (f in ['correct', 'answered_by', 'answered_at', 'answer_event_id']) "
    "{ ctx._source.remove(f); }"
)


class AuditRepository:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name("audits")

    async def add(self, samples: Sequence[dict[str, Any]]) -> int:
        """Create sampled tags put-if-absent; returns how many were new."""
        if not samples:
            return 0
        body = bulk_lines(self.index, "create", ((s["audit_id"], s) for s in samples))
        # A batch job whose queue is read next: make the sample searchable now.
        response = await self.client.bulk(body=body, refresh=True)
        failed = bulk_failures(response, tolerate=frozenset({409}))
        if failed:
            raise RuntimeError(f"audit samples not stored: {next(iter(failed.values()))}")
        return sum(1 for item in response["items"] if item["create"]["status"] == 201)

    async def get(self, audit_id: str) -> tuple[dict[str, Any], int, int]:
        try:
            hit = await self.client.get(index=self.index, id=audit_id)
        except NotFoundError as exc:
            raise NotFound(f"audit {audit_id!r} does not exist") from exc
        return hit["_source"], int(hit["_seq_no"]), int(hit["_primary_term"])

    async def answer(
        self, audit_id: str, fields: dict[str, Any], *, seq_no: int, primary_term: int
    ) -> None:
        source, _, _ = await self.get(audit_id)
        try:
            await self.client.index(
                index=self.index,
                id=audit_id,
                body={**source, **fields},
                if_seq_no=seq_no,
                if_primary_term=primary_term,
            )
        except ConflictError as exc:
            raise Conflict(f"audit {audit_id!r} was answered meanwhile") from exc

    async def settle(self, answers: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Record answers found in the trail: (audit id, answer fields), once and for all."""
        if not answers:
            return
        body = bulk_lines(self.index, "update", ((i, {"doc": f}) for i, f in answers))
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
    ) -> tuple[list[dict[str, Any]], int]:
        """Unanswered audits of ``round``, stratum by stratum; (hits with sort values, total)."""
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
        return result["hits"]["hits"], int(result["hits"]["total"]["value"])

    async def scan(
        self,
        *,
        attribute: str | None = None,
        round: str | None = None,
        answered: bool | None = None,
        page: int = 1000,
    ) -> AsyncIterator[list[dict[str, Any]]]:
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
            yield [h["_source"] for h in hits]
            after = hits[-1]["sort"]
