"""OpenSearch going away and coming back, without stopping the shared node: the app talks to
it through a TCP proxy the test stops (listener closed, open connections severed) and starts
again on the same port.

While the store is away: GraphQL answers a STORE_UNAVAILABLE error (never "Unexpected
error."), REST answers 503 with Retry-After, /readyz 503. When it returns, the same app
instance — no restart — answers normally again, uploads included (the upload batcher
survives a failed batch).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opensearchpy import AsyncOpenSearch
from PIL import Image

from tagtrail.app import create_app
from tagtrail.config import Settings
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.usecases.runtime import Runtime
from tests.api.factories import A, T, create_assets
from tests.support.proxy import TcpProxy

pytestmark = pytest.mark.opensearch

QUERIES: dict[str, tuple[str, str]] = {
    "searchAssets": ("{ searchAssets { __typename ... on AssetSearch { totalCount } } }", ""),
    "asset": ('{ asset(id: "o1") { __typename } }', ""),
    "similarAssets": ('{ similarAssets(by: {assetId: "o1"}, k: 3) { __typename } }', ""),
    "reviewQueue": ("{ reviewQueue { __typename } }", ""),
    "explainTag": ('{ explainTag(assetId: "o1", attribute: "colour") { __typename } }', ""),
    "confirmTag": (
        'mutation($rev: Int!) { confirmTag(input: {assetId: "o1", attribute: "colour", '
        "expectedRevision: $rev}) { __typename ... on TagDecision { revision } } }",
        "rev",
    ),
    "confirmTags": (
        'mutation($rev: Int!) { confirmTags(input: {attribute: "colour", items: '
        '[{assetId: "o1", expectedRevision: $rev}]}) { __typename } }',
        "rev",
    ),
}
UP_TYPES = {
    "searchAssets": "AssetSearch",
    "asset": "Asset",
    "similarAssets": "SimilarAssets",
    "reviewQueue": "ReviewQueue",
    "explainTag": "TagExplanation",
    "confirmTag": "TagDecision",
    "confirmTags": "BulkTagDecision",
}


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (128, 128), (245, 245, 245))
    image.paste(Image.new("RGB", (70, 90), colour), (29, 19))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


@dataclass
class Rig:
    proxy: TcpProxy
    runtime: Runtime
    http: httpx.AsyncClient
    revision: int = 1

    async def graphql(self, name: str) -> dict[str, Any]:
        query, var = QUERIES[name]
        variables = {var: self.revision} if var else {}
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def upload(self, colour: tuple[int, int, int]) -> httpx.Response:
        files = {"image": (f"{colour}.jpg", _jpeg(colour), "image/jpeg")}
        return await self.http.post("/assets", files=files)


@pytest.fixture
async def rig(
    client: AsyncOpenSearch, settings: Settings, taxonomy: Taxonomy
) -> AsyncIterator[Rig]:
    """The app with its own OpenSearch client, pointed at a proxy in front of the node.

    ``client`` (the direct one) drops the test's indices afterwards, whatever the proxy did.
    """
    proxy = TcpProxy(settings.effective_opensearch_url)
    await proxy.start()
    s = settings.with_changes(opensearch_url=proxy.url, opensearch_timeout_s=2.0)
    runtime = Runtime(s)
    await runtime.store.ensure_indices()
    colour = (T(attribute="colour", value="navy", probability=0.8),)
    await create_assets(runtime.store.client, s, taxonomy, [A(id="o1", tags=colour, axis=3)])
    app = create_app(s, runtime)
    app.state.runtime = runtime  # no lifespan under the ASGI transport
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    try:
        yield Rig(proxy, runtime, http)
    finally:
        await http.aclose()
        await runtime.close()
        await proxy.stop()


async def _all_up(rig: Rig, colour: tuple[int, int, int]) -> None:
    for name, typename in UP_TYPES.items():
        body = await rig.graphql(name)
        assert not body.get("errors"), (name, body)
        assert body["data"][name]["__typename"] == typename, (name, body)
        if name in ("confirmTag", "confirmTags"):
            rig.revision += 1
    uploaded = await rig.upload(colour)
    assert uploaded.status_code == 201, uploaded.text
    assert (await rig.http.get("/readyz")).status_code == 200


async def _all_unavailable(rig: Rig, colour: tuple[int, int, int], retry_after: str) -> None:
    started = time.monotonic()
    for name in QUERIES:
        body = await rig.graphql(name)
        assert body["data"] is None or body["data"].get(name) is None, (name, body)
        [error] = body["errors"]
        assert error["extensions"] == {"code": "STORE_UNAVAILABLE"}, (name, error)
        assert error["path"] == [name]
        assert "OpenSearch" in error["message"]
        assert "try again" in error["message"]
        assert error["message"] != "Unexpected error."
    uploaded = await rig.upload(colour)
    assert uploaded.status_code == 503, uploaded.text
    assert uploaded.headers["retry-after"] == retry_after
    assert uploaded.json()["error"] == "store_unavailable"
    assert "OpenSearch" in uploaded.json()["message"]
    ready = await rig.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    # Refused or severed connections are answered at once, not after a timeout.
    assert time.monotonic() - started < 5.0


async def test_store_outage_then_recovery_without_restart(rig: Rig) -> None:
    await _all_up(rig, (27, 37, 65))

    await rig.proxy.stop()  # the node "dies": open connections cut, new ones refused
    await _all_unavailable(rig, (200, 50, 43), retry_after="5")

    await rig.proxy.start()  # ... and comes back on the same address
    await _all_up(rig, (30, 120, 60))
    # The upload refused during the outage can simply be sent again.
    assert (await rig.upload((200, 50, 43))).status_code == 201


async def test_overloaded_store_is_unavailable_with_a_shorter_retry(rig: Rig) -> None:
    await _all_up(rig, (27, 37, 65))
    await rig.proxy.answer_with(429)  # OpenSearch rejecting work: too many requests
    await _all_unavailable(rig, (200, 50, 43), retry_after="2")
    await rig.proxy.answer_with(None)
    await _all_up(rig, (30, 120, 60))


async def test_a_store_that_stops_answering_times_out_as_unavailable(rig: Rig) -> None:
    """Accepted connections that never answer cost TAGTRAIL_OPENSEARCH_TIMEOUT_S, then 503."""
    await rig.proxy.stall_answers(True)
    started = time.monotonic()
    body = await rig.graphql("searchAssets")
    assert body["errors"][0]["extensions"] == {"code": "STORE_UNAVAILABLE"}
    assert "ConnectionTimeout" in body["errors"][0]["message"]
    assert time.monotonic() - started < 2.0 * 2 + 1.0  # the 2 s timeout, not the 30 s default
    # A request in flight when the node dies fails at once, without waiting for its timeout.
    in_flight = asyncio.create_task(rig.graphql("asset"))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await rig.proxy.stop()
    body = await in_flight
    assert body["errors"][0]["extensions"] == {"code": "STORE_UNAVAILABLE"}
    assert time.monotonic() - started < 1.0
    await rig.proxy.stall_answers(False)
    await rig.proxy.start()
    body = await rig.graphql("searchAssets")
    assert body["data"]["searchAssets"]["__typename"] == "AssetSearch"
