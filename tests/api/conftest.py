"""API test fixtures: the real app over the real OpenSearch node, per-test indices."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.app import create_app
from tagtrail.config import Settings, load_settings
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.store import Store
from tagtrail.tagging.taxonomy_files import load_taxonomy
from tagtrail.usecases.runtime import Runtime
from tests.api.factories import A, create_assets


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy(Path(load_settings(environ={}).taxonomy_dir))


class Api:
    """POSTs GraphQL to /graphql; returns the decoded JSON body."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        client: AsyncOpenSearch,
        settings: Settings,
        taxonomy: Taxonomy,
    ) -> None:
        self.http = http
        self.client = client
        self.settings = settings
        self.taxonomy = taxonomy

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        body = await self(query, variables, key=key)
        assert not body.get("errors"), json.dumps(body["errors"], indent=1)
        data: dict[str, Any] = body["data"]
        return data

    async def create(self, assets: Sequence[A]) -> dict[str, dict[str, Any]]:
        return await create_assets(self.client, self.settings, self.taxonomy, assets)

    async def refresh(self) -> None:
        """Search is near-real-time (1 s refresh): make the writes searchable now."""
        await self.client.indices.refresh(index=self.settings.index_name("assets"))

    async def events(self, asset_id: str) -> list[dict[str, Any]]:
        index = self.settings.index_name("tag_events")
        await self.client.indices.refresh(index=index)
        result = await self.client.search(
            index=index,
            body={"query": {"term": {"asset_id": asset_id}}, "size": 100, "sort": [{"seq": "asc"}]},
        )
        return [h["_source"] for h in result["hits"]["hits"]]

    async def source(self, asset_id: str) -> dict[str, Any]:
        doc = await self.client.get(
            index=self.settings.index_name("assets"), id=asset_id, _source_excludes=["vector"]
        )
        source: dict[str, Any] = doc["_source"]
        return source


ApiFactory = Callable[..., Coroutine[Any, Any, Api]]


@pytest.fixture
async def make_api(
    indexed: AsyncOpenSearch, settings: Settings, taxonomy: Taxonomy
) -> AsyncIterator[ApiFactory]:
    """Build an Api over the test's indices, optionally with changed settings (auth, limits).

    The app runs in the test's own event loop (httpx ASGI transport), so it can share the
    test's OpenSearch client; the lifespan is replaced by setting the runtime directly
    (the indices already exist).
    """
    clients: list[httpx.AsyncClient] = []

    async def factory(**changes: Any) -> Api:
        s = settings.with_changes(**changes) if changes else settings
        runtime = Runtime(s, store=Store(s, client=indexed))
        app = create_app(s, runtime)
        app.state.runtime = runtime
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        http = httpx.AsyncClient(transport=transport, base_url="http://test")
        clients.append(http)
        return Api(http, indexed, s, taxonomy)

    yield factory
    for http in clients:
        await http.aclose()


@pytest.fixture
async def api(make_api: ApiFactory) -> Api:
    return await make_api()
