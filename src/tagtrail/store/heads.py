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


class HeadRepository:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name("heads")
        self.page = PAGE

    async def save(self, doc: dict[str, Any]) -> bool:
        """Store a head version (``doc["version"]`` is its id); False when it existed."""
        try:
            await self.client.create(
                index=self.index, id=f"head:{doc['version']}", body={**doc, "doc_type": "head"}
            )
        except ConflictError:
            return False
        return True

    async def get(self, version: str) -> dict[str, Any] | None:
        try:
            hit = await self.client.get(index=self.index, id=f"head:{version}")
        except NotFoundError:
            return None
        source: dict[str, Any] = hit["_source"]
        return source

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

    async def versions(self, attribute: str | None = None) -> list[dict[str, Any]]:
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
        return [h["_source"] for h in hits]

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
        promotion: dict[str, Any],
    ) -> None:
        """Point ``alias`` at ``version``; Conflict when it moved since it was read."""
        body = {
            "doc_type": "alias",
            "alias": alias,
            "attribute": attribute,
            "version": version,
            "created_at": promotion.get("created_at"),
            "created_by": promotion.get("created_by"),
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
        log_id = f"promotion:{attribute}:{alias}:{promotion.get('created_at')}:{version}"
        await self.client.index(
            index=self.index,
            id=log_id,
            body={
                **promotion,
                "doc_type": "promotion",
                "alias": alias,
                "attribute": attribute,
                "version": version,
            },
        )

    async def promotions(self, attribute: str | None = None) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = [{"term": {"doc_type": "promotion"}}]
        if attribute:
            filters.append({"term": {"attribute": attribute}})
        await self.client.indices.refresh(index=self.index)
        # A version is promoted at most once per alias move: (time, attribute, alias, version)
        # tells promotions apart.
        sort = [{"created_at": "desc"}, {"attribute": "asc"}, {"alias": "asc"}, {"version": "asc"}]
        hits = await self._all({"bool": {"filter": filters}}, sort, True)
        return [h["_source"] for h in hits]
