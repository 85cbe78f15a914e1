"""Health, readiness and the GraphQL mount, against the real node (and a dead port)."""

from __future__ import annotations

import socket

import pytest
from litestar.testing import AsyncTestClient
from opensearchpy import AsyncOpenSearch

from tagtrail.app import create_app
from tagtrail.config import Settings
from tagtrail.store.indices import drop_indices

pytestmark = pytest.mark.opensearch


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_readyz_200_when_node_up_and_indices_applied(
    settings: Settings, client: AsyncOpenSearch
) -> None:
    async with AsyncTestClient(create_app(settings)) as http:
        assert (await http.get("/healthz")).json()["status"] == "ok"
        response = await http.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["opensearch_version"] == "2.19.1"
        assert response.json()["pipeline"] in ("not_loaded", "loading", "ready")
        graphql = await http.post("/graphql", json={"query": "{ version health { opensearch } }"})
        assert graphql.json()["data"]["health"]["opensearch"] is True


async def test_readyz_503_names_missing_indices(
    settings: Settings, client: AsyncOpenSearch
) -> None:
    async with AsyncTestClient(create_app(settings)) as http:
        await drop_indices(client, settings)
        response = await http.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert f"{settings.index_prefix}-assets" in body["reason"]


async def test_readyz_503_when_opensearch_unreachable(settings: Settings) -> None:
    dead = settings.with_changes(opensearch_url=f"http://127.0.0.1:{_closed_port()}")
    async with AsyncTestClient(create_app(dead)) as http:
        assert (await http.get("/healthz")).status_code == 200
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert "unreachable" in response.json()["reason"]
        assert dead.effective_opensearch_url in response.json()["reason"]


async def test_unusable_model_is_reported_not_fatal(
    settings: Settings, client: AsyncOpenSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline with no local weights: the server stays up, /readyz says why ingest cannot work."""
    import asyncio

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = settings.with_changes(model="openai/clip-vit-base-patch32")
    async with AsyncTestClient(create_app(offline)) as http:
        for _ in range(300):
            body = (await http.get("/readyz")).json()
            if body.get("pipeline", "").startswith("unavailable"):
                break
            await asyncio.sleep(0.1)
        assert body["status"] == "ready"  # search and review still work
        assert body["pipeline"].startswith("unavailable")
        assert "TAGTRAIL_MODEL" in body["pipeline"]
