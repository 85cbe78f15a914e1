"""The whole flow with a standard client: gql + schema introspection against real uvicorn.

Buyer query → review queue → confirm → stale confirm (Conflict) → correct → explainTag,
every effect checked through the API (asset and history). The server runs create_app in a
thread with its own event loop and OpenSearch client, exactly as `tagtrail serve` would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from gql import Client, GraphQLRequest, gql
from gql.transport.aiohttp import AIOHTTPTransport

from tagtrail.app import create_app
from tagtrail.config import Settings
from tests.api.conftest import Api
from tests.api.factories import A, T
from tests.api.test_search import BUYER_FILTER, BUYER_QUERY, CATALOGUE

pytestmark = pytest.mark.opensearch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/graphql"
    srv.should_exit = True
    thread.join(timeout=10)


QUEUE = """query { reviewQueue(attributes: ["category"], order: LOWEST_CONFIDENCE_FIRST) {
  ... on ReviewQueue { items { asset { id revision } pendingTags { attribute value } } } } }"""
CONFIRM = """mutation($input: TagDecisionInput!) { confirmTag(input: $input) {
  __typename ... on TagDecision { revision asset { revision history(attribute: "category") {
      kind actorId } } } ... on Conflict { currentRevision } } }"""
CORRECT = """mutation($input: TagCorrectionInput!) { correctTag(input: $input) {
  __typename ... on TagDecision { revision asset { tag(attribute: "colour") { value state } } }
} }"""
EXPLAIN = """query { explainTag(assetId: "q1", attribute: "colour") { ... on TagExplanation {
  current { value } decision { kind value } reviewed { rawLabel tierReason }
  history { kind toValue } } } }"""


async def test_standard_client_runs_the_whole_flow(
    server: str, indexed: Any, make_api: Any
) -> None:
    api: Api = await make_api()
    await api.create(
        [
            *CATALOGUE,
            A(
                id="q1",
                tags=(
                    T(attribute="category", value="jumper", probability=0.8),
                    T(attribute="colour", value="navy", probability=0.9),
                ),
            ),
        ]
    )
    transport = AIOHTTPTransport(url=server)
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        assert session.client.schema is not None  # introspected: queries validate client-side
        buyer = await session.execute(
            GraphQLRequest(BUYER_QUERY, variable_values={"filter": BUYER_FILTER})
        )
        assert {e["node"]["id"] for e in buyer["searchAssets"]["edges"]} == {"a1", "a2"}

        queue = (await session.execute(gql(QUEUE)))["reviewQueue"]["items"]
        assert queue[0]["asset"]["id"] == "q1"
        inp = {"assetId": "q1", "attribute": "category", "expectedRevision": 1}
        done = await session.execute(GraphQLRequest(CONFIRM, variable_values={"input": inp}))
        assert done["confirmTag"]["revision"] == 2
        assert [h["kind"] for h in done["confirmTag"]["asset"]["history"]] == [
            "model_tagged",
            "confirmed",
        ]
        stale = await session.execute(GraphQLRequest(CONFIRM, variable_values={"input": inp}))
        assert stale["confirmTag"] == {"__typename": "Conflict", "currentRevision": 2}

        fix = {"assetId": "q1", "attribute": "colour", "expectedRevision": 2, "value": "black"}
        fixed = await session.execute(GraphQLRequest(CORRECT, variable_values={"input": fix}))
        assert fixed["correctTag"]["asset"]["tag"] == {"value": "black", "state": "corrected"}
        explained = (await session.execute(gql(EXPLAIN)))["explainTag"]
        assert explained["current"]["value"] == "black"
        assert explained["decision"] == {"kind": "corrected", "value": "black"}  # in force
        assert explained["reviewed"]["rawLabel"] == "raw navy"
        assert [h["kind"] for h in explained["history"]] == ["model_tagged", "corrected"]
