"""Per-request GraphQL context: shared services, the caller, and request-scoped loaders.

Authentication happens here, once per request, but never fails the request by itself:
health and version stay public, queries raise UNAUTHENTICATED, and mutations answer with
an ``Unauthenticated``/``Forbidden`` union result — each resolver states the role it needs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec
import strawberry
from litestar import Request
from strawberry.dataloader import DataLoader
from strawberry.litestar import BaseContext

from tagtrail.api.auth import Principal, Role, app_keyring, key_from_headers, require
from tagtrail.config import Settings
from tagtrail.errors import Unauthorized
from tagtrail.services import Services
from tagtrail.store.assets import AssetStore
from tagtrail.store.records import TagEvent

_EVENTS_PAGE = 10_000


class Loaders:
    """DataLoaders batch per request: N assets asking for vectors or history → one request."""

    def __init__(self, services: Services) -> None:
        self._client = services.client
        self._settings = services.settings
        self.sources = DataLoader(self._load_sources)
        self.vectors = DataLoader(self._load_vectors)
        self.history = DataLoader(self._load_history)

    async def _mget(self, ids: list[str], fields: dict[str, Any]) -> list[dict[str, Any] | None]:
        result = await self._client.mget(
            index=self._settings.index_name("assets"), body={"ids": ids}, params=fields
        )
        return [d["_source"] if d.get("found") else None for d in result["docs"]]

    async def _load_sources(self, ids: list[str]) -> list[dict[str, Any] | None]:
        return await self._mget(ids, {"_source_excludes": "vector"})

    async def _load_vectors(self, ids: list[str]) -> list[list[float] | None]:
        docs = await self._mget(ids, {"_source_includes": "vector"})
        return [d.get("vector") if d else None for d in docs]

    async def _load_history(self, ids: list[str]) -> list[list[TagEvent]]:
        result = await self._client.search(
            index=self._settings.index_name("tag_events"),
            body={
                "query": {"terms": {"asset_id": ids}},
                "size": _EVENTS_PAGE,
                "sort": [{"seq": "asc"}, {"at": "asc"}, {"event_id": "asc"}],
            },
        )
        grouped: dict[str, list[TagEvent]] = defaultdict(list)
        for hit in result["hits"]["hits"]:
            event = msgspec.convert(hit["_source"], TagEvent)
            grouped[event.asset_id].append(event)
        return [grouped.get(i, []) for i in ids]


class Context(BaseContext, kw_only=True):
    services: Services
    principal: Principal | None = None
    auth_error: str | None = None
    loaders: Loaders

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def store(self) -> AssetStore:
        return AssetStore(self.services.client, self.services.settings)

    def require(self, role: Role) -> Principal:
        return require(self.principal, role, auth_error=self.auth_error)


Info = strawberry.Info[Context, None]


async def get_context(request: Request[Any, Any, Any]) -> Context:
    services: Services = request.app.state.services
    principal: Principal | None = None
    auth_error: str | None = None
    try:
        principal = app_keyring(request.app.state, services.settings).authenticate(
            key_from_headers(request.headers)
        )
    except Unauthorized as exc:
        auth_error = exc.message
    return Context(
        services=services, principal=principal, auth_error=auth_error, loaders=Loaders(services)
    )
