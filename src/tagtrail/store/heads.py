"""Head versions, their champion/challenger aliases and the promotion log (``heads``).

A head version is content-addressed and created put-if-absent, so every server of a
deployment sees the same bytes under the same version. An alias is one document per
(alias, attribute), moved only under ``if_seq_no`` so two admins promoting at once cannot
both win; every move also appends a promotion document (who, when, why, forced or not,
the gate's report), which is never updated.
"""

from __future__ import annotations

from typing import Any

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from tagtrail.config import Settings
from tagtrail.errors import Conflict

#: Listings page through every document with search_after (no silent cap).
PAGE = 1000


def alias_id(alias: str, attribute: str) -> str:
    return f"alias:{alias}:{attribute}"


class AliasState(msgspec.Struct, kw_only=True, frozen=True):
    """Where an alias points now, with the document version that guards moving it."""

    version: str | None = None
    seq_no: int | None = None
    primary_term: int | None = None


class HeadDocument(msgspec.Struct, kw_only=True, frozen=True):
    """A stored head version: what it is, who made it from what, and two payloads the layer
    that made them encoded and reads back (``record``: a tuned head's weights, or a colour
    calibration's mapping, by ``kind``; ``evaluation``: its report). Listings leave
    ``record`` out (None)."""

    attribute: str
    version: str
    kind: str = "tuned"  # or "calibration": the colour analyser's calibration
    created_at: str | None = None
    created_by: str | None = None
    taxonomy_version: str | None = None
    encoder: str | None = None  # the encoder whose vectors it was fitted on (or analyser)
    training_fingerprint: str | None = None
    n_examples: int = 0
    record: dict[str, object] | None = None
    evaluation: dict[str, object] | None = None


class Promotion(msgspec.Struct, kw_only=True, frozen=True):
    """One move of a champion or challenger alias (appended, never updated)."""

    created_at: str
    created_by: str
    forced: bool = False
    previous_version: str | None = None
    reasons: tuple[str, ...] = ()  # what the gate said (stored as evaluation.reasons)
    note: str | None = None
    # Where the alias moved (set when read back; the move itself names them).
    alias: str | None = None
    attribute: str | None = None
    version: str | None = None


class HeadRepository:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name("heads")
        self.page = PAGE

    async def save(self, doc: HeadDocument) -> bool:
        """Store a head version (its version is its id); False when it existed."""
        body = {**msgspec.to_builtins(doc), "doc_type": "head"}
        try:
            await self.client.create(index=self.index, id=f"head:{doc.version}", body=body)
        except ConflictError:
            return False
        return True

    async def get(self, version: str) -> HeadDocument | None:
        try:
            hit = await self.client.get(index=self.index, id=f"head:{version}")
        except NotFoundError:
            return None
        return msgspec.convert(hit["_source"], HeadDocument)

    async def _all(
        self, query: dict[str, Any], sort: list[dict[str, str]], source: Any
    ) -> list[dict[str, Any]]:
        """Every hit of ``query``; ``sort`` must end on a unique field so pages are exact."""
        page = self.page
        hits: list[dict[str, Any]] = []
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"query": query, "size": page, "sort": sort, "_source": source}
            if after is not None:
                body["search_after"] = after
            found = (await self.client.search(index=self.index, body=body))["hits"]["hits"]
            hits.extend(found)
            if len(found) < page:
                return hits
            after = found[-1]["sort"]

    async def versions(self, attribute: str | None = None) -> list[HeadDocument]:
        """Head versions (without weights), newest first."""
        filters: list[dict[str, Any]] = [{"term": {"doc_type": "head"}}]
        if attribute:
            filters.append({"term": {"attribute": attribute}})
        await self.client.indices.refresh(index=self.index)
        hits = await self._all(
            {"bool": {"filter": filters}},
            [{"created_at": "desc"}, {"version": "asc"}],  # versions are unique
            {"excludes": ["record"]},
        )
        return [msgspec.convert(h["_source"], HeadDocument) for h in hits]

    async def alias(self, alias: str, attribute: str) -> AliasState:
        """Where an alias points, read in real time (an empty state when it is unset)."""
        try:
            hit = await self.client.get(index=self.index, id=alias_id(alias, attribute))
        except NotFoundError:
            return AliasState()
        return AliasState(
            version=hit["_source"].get("version"),
            seq_no=int(hit["_seq_no"]),
            primary_term=int(hit["_primary_term"]),
        )

    async def aliases(self, alias: str) -> dict[str, str]:
        """attribute → version of every attribute's ``alias`` (real time, by id)."""
        await self.client.indices.refresh(index=self.index)  # rare: tagger builds, listings
        query = {"bool": {"filter": [{"term": {"doc_type": "alias"}}, {"term": {"alias": alias}}]}}
        hits = await self._all(query, [{"attribute": "asc"}], ["attribute"])  # one per attribute
        ids = [alias_id(alias, h["_source"]["attribute"]) for h in hits]
        if not ids:
            return {}
        found = await self.client.mget(index=self.index, body={"ids": ids})
        return {
            d["_source"]["attribute"]: d["_source"]["version"]
            for d in found["docs"]
            if d.get("found")
        }

    async def move_alias(
        self,
        alias: str,
        attribute: str,
        version: str,
        *,
        expected: AliasState,
        promotion: Promotion,
    ) -> None:
        """Point ``alias`` at ``version``; Conflict when it moved since it was read."""
        body = {
            "doc_type": "alias",
            "alias": alias,
            "attribute": attribute,
            "version": version,
            "created_at": promotion.created_at,
            "created_by": promotion.created_by,
        }
        try:
            if expected.seq_no is None:
                await self.client.create(index=self.index, id=alias_id(alias, attribute), body=body)
            else:
                await self.client.index(
                    index=self.index,
                    id=alias_id(alias, attribute),
                    body=body,
                    if_seq_no=expected.seq_no,
                    if_primary_term=expected.primary_term,
                )
        except ConflictError as exc:
            raise Conflict(f"the {alias} of {attribute} changed meanwhile; reload it") from exc
        log_id = f"promotion:{attribute}:{alias}:{promotion.created_at}:{version}"
        log: dict[str, Any] = {
            "doc_type": "promotion",
            "alias": alias,
            "attribute": attribute,
            "version": version,
            "created_at": promotion.created_at,
            "created_by": promotion.created_by,
            "forced": promotion.forced,
            "previous_version": promotion.previous_version,
            "evaluation": {"reasons": list(promotion.reasons)},
        }
        if promotion.note is not None:
            log["note"] = promotion.note
        await self.client.index(index=self.index, id=log_id, body=log)

    async def promotions(self, attribute: str | None = None) -> list[Promotion]:
        filters: list[dict[str, Any]] = [{"term": {"doc_type": "promotion"}}]
        if attribute:
            filters.append({"term": {"attribute": attribute}})
        await self.client.indices.refresh(index=self.index)
        # A version is promoted at most once per alias move: (time, attribute, alias, version)
        # tells promotions apart.
        sort = [{"created_at": "desc"}, {"attribute": "asc"}, {"alias": "asc"}, {"version": "asc"}]
        hits = await self._all({"bool": {"filter": filters}}, sort, True)
        return [_promotion(h["_source"]) for h in hits]


def _promotion(source: dict[str, Any]) -> Promotion:
    reasons = (source.get("evaluation") or {}).get("reasons") or ()
    return msgspec.convert({**source, "reasons": list(reasons)}, Promotion)
