"""GET /metrics through the real app: HTTP latency by route, GraphQL latency by operation,
review decisions, ingest outcomes and OpenSearch errors, against the real node.

Litestar's HTTP collectors are process-wide (every app in this test process shares them),
so those checks compare before and after; the domain collectors belong to each app's
Runtime, so their values are exact.
"""

from __future__ import annotations

import io
import socket

import httpx
import pytest
from litestar.testing import AsyncTestClient
from opensearchpy import AsyncOpenSearch
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from tagtrail.app import create_app
from tagtrail.config import Settings
from tests.api.conftest import Api
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

CONFIRM = """
mutation ConfirmOne($input: TagDecisionInput!) {
  confirmTag(input: $input) { __typename }
}"""


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def metrics(http: httpx.AsyncClient) -> str:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (128, 128), (245, 245, 245))
    image.paste(Image.new("RGB", (70, 90), colour), (29, 19))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


async def test_request_latency_by_route(api: Api) -> None:
    route = {"path": "/healthz", "method": "GET", "status_code": "200", "app_name": "tagtrail"}
    before = sample(await metrics(api.http), "tagtrail_request_duration_seconds_count", **route)
    for _ in range(3):
        assert (await api.http.get("/healthz")).status_code == 200
    text = await metrics(api.http)
    assert sample(text, "tagtrail_request_duration_seconds_count", **route) == before + 3
    assert sample(text, "tagtrail_requests_total", **route) >= before + 3
    # Scrapes are not requests worth timing.
    assert sample(text, "tagtrail_requests_total", path="/metrics") == 0


async def test_graphql_latency_by_operation_and_review_decisions(api: Api) -> None:
    await api.create([A(id="m1", tags=(T(attribute="category", value="jumper", probability=0.8),))])
    inp = {"assetId": "m1", "attribute": "category", "expectedRevision": 1}
    assert (await api.data(CONFIRM, {"input": inp}))["confirmTag"]["__typename"] == "TagDecision"
    stale = await api.data(CONFIRM, {"input": inp})
    assert stale["confirmTag"]["__typename"] == "Conflict"
    missing = await api.data(CONFIRM, {"input": {**inp, "assetId": "nope"}})
    assert missing["confirmTag"]["__typename"] == "NotFound"
    await api.data("query WhatVersion { version }")
    await api.data("{ version }")
    await api("{ version ")  # does not parse

    text = await metrics(api.http)
    op = "tagtrail_graphql_operation_duration_seconds_count"
    assert sample(text, op, operation="ConfirmOne", type="mutation") == 3
    assert sample(text, op, operation="WhatVersion", type="query") == 1
    assert sample(text, op, operation="anonymous", type="query") == 1
    assert sample(text, op, operation="invalid", type="unknown") == 1
    errors = "tagtrail_graphql_operation_errors_total"
    assert sample(text, errors, operation="invalid") == 1
    assert sample(text, errors, operation="ConfirmOne") == 0  # union results are not errors

    decisions = "tagtrail_review_decisions_total"
    assert sample(text, decisions, kind="confirmed", outcome="ok") == 1
    assert sample(text, decisions, kind="confirmed", outcome="conflict") == 1
    assert sample(text, decisions, kind="confirmed", outcome="not_found") == 1
    assert sample(text, decisions, kind="rejected") == 0


async def test_bulk_decisions_count_per_asset(api: Api) -> None:
    await api.create(
        [A(id=i, tags=(T(attribute="category", value="jumper", probability=0.8),)) for i in "xy"]
    )
    bulk = """mutation Bulk($input: BulkTagDecisionInput!) {
      rejectTags(input: $input) { ... on BulkTagDecision { succeeded failed } } }"""
    items = [{"assetId": "x", "expectedRevision": 1}, {"assetId": "y", "expectedRevision": 9}]
    result = await api.data(bulk, {"input": {"attribute": "category", "items": items}})
    assert result["rejectTags"] == {"succeeded": 1, "failed": 1}
    text = await metrics(api.http)
    assert sample(text, "tagtrail_review_decisions_total", kind="rejected", outcome="ok") == 1
    assert sample(text, "tagtrail_review_decisions_total", kind="rejected", outcome="conflict") == 1


async def test_ingest_outcomes_and_encoder_batches(
    settings: Settings, indexed: AsyncOpenSearch
) -> None:
    data = _jpeg((27, 37, 65))
    async with AsyncTestClient(create_app(settings)) as http:
        first = await http.post("/assets", files={"image": ("navy.jpg", data, "image/jpeg")})
        assert first.status_code == 201, first.text
        again = await http.post("/assets", files={"image": ("copy.jpg", data, "image/jpeg")})
        assert again.status_code == 200, again.text
        bad = await http.post("/assets", files={"image": ("notes.txt", b"hello", "text/plain")})
        assert bad.status_code == 400, bad.text
        text = await metrics(http)
    assert sample(text, "tagtrail_ingest_items_total", status="created") == 1
    assert sample(text, "tagtrail_ingest_items_total", status="exists") == 1
    assert sample(text, "tagtrail_ingest_items_total", status="rejected") == 1
    assert sample(text, "tagtrail_ingest_items_total", status="failed") == 0
    # Only the first upload needed a forward pass, of one image.
    assert sample(text, "tagtrail_encoder_batch_duration_seconds_count") == 1
    assert sample(text, "tagtrail_encoder_batch_duration_seconds_sum") > 0
    assert sample(text, "tagtrail_encoder_batch_size_sum") == 1
    route = {"path": "/assets", "method": "POST", "app_name": "tagtrail"}
    assert sample(text, "tagtrail_request_duration_seconds_count", status_code="201", **route) >= 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_opensearch_errors_by_kind(settings: Settings, indexed: AsyncOpenSearch) -> None:
    async with AsyncTestClient(create_app(settings)) as http:
        inp = {"assetId": "nope", "attribute": "category", "expectedRevision": 1}
        missing = await http.post("/graphql", json={"query": CONFIRM, "variables": {"input": inp}})
        assert missing.json()["data"]["confirmTag"]["__typename"] == "NotFound"
        text = await metrics(http)
    assert sample(text, "tagtrail_opensearch_errors_total", kind="not_found") >= 1
    assert sample(text, "tagtrail_opensearch_errors_total", kind="unreachable") == 0

    dead = settings.with_changes(opensearch_url=f"http://127.0.0.1:{_closed_port()}")
    async with AsyncTestClient(create_app(dead)) as http:
        text = await metrics(http)
        before = sample(text, "tagtrail_opensearch_errors_total", kind="unreachable")
        assert before >= 1  # the start-up index check already failed
        assert (await http.get("/readyz")).status_code == 503
        text = await metrics(http)
    assert sample(text, "tagtrail_opensearch_errors_total", kind="unreachable") > before
