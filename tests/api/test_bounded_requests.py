"""Bounded work per request, on a real ``tagtrail serve`` process over a slow store path.

A TCP proxy in front of the real node holds every store request that names a ``slow-`` asset
for minutes, as a wedged loop or a stuck shard would; everything else passes at once. Slow
requests must be cut at their deadline, stop when their client hangs up, leave store
connections for the others (a missing-id lookup still answers at once), and SIGTERM must
end the server within seconds while they are in flight.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tagtrail.config import Settings
from tests.support.proxy import TcpProxy
from tests.support.server import ServerProcess, serving

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

DEADLINE_S = 6.0
GRACE_S = 1
POOL, SHARE = 10, 4
HOLD_S = 300.0  # how long the proxy holds a slow store request: far beyond every bound here
LOOKUP = "query($id: ID!) { asset(id: $id) { __typename } }"
BULK = """mutation($items: [BulkItemInput!]!) {
  confirmTags(input: {attribute: "category", items: $items}) { __typename } }"""


def _env(settings: Settings, proxy: TcpProxy) -> dict[str, str]:
    return {
        "TAGTRAIL_OPENSEARCH_URL": proxy.url,
        "TAGTRAIL_INDEX_PREFIX": settings.index_prefix,
        "TAGTRAIL_MODEL": "random-init:tiny",
        "TAGTRAIL_BATCH_SIZE": "8",
        "TAGTRAIL_DEV": "true",
        "TAGTRAIL_API_KEYS": "",
        "TAGTRAIL_API_KEYS_FILE": "",
        "TAGTRAIL_LOG_FORMAT": "text",
        "TAGTRAIL_REQUEST_TIMEOUT_S": str(DEADLINE_S),
        "TAGTRAIL_SHUTDOWN_GRACE_S": str(GRACE_S),
        # The pool: ten connections, which ten held store calls used to take whole.
        "TAGTRAIL_OPENSEARCH_POOL_SIZE": str(POOL),
        "TAGTRAIL_OPENSEARCH_CONNECTIONS_PER_REQUEST": str(SHARE),
    }


@pytest.fixture
async def slow_store(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[ServerProcess, TcpProxy]]:
    proxy = TcpProxy(settings.effective_opensearch_url)
    await proxy.start()
    try:
        async with serving(["bounded"], _env(settings, proxy), tmp_path) as [server]:
            proxy.delay_requests(b"slow-", HOLD_S)
            yield server, proxy
    finally:
        await proxy.stop()


async def _until(check: Callable[[], bool], within_s: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > within_s:
            pytest.fail(f"{what}: not within {within_s} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def _bulk(http: httpx.AsyncClient, tag: str) -> httpx.Response:
    items = [{"assetId": f"slow-{tag}-{n}", "expectedRevision": 1} for n in range(8)]
    return await http.post("/graphql", json={"query": BULK, "variables": {"items": items}})


async def _lookup_s(http: httpx.AsyncClient) -> float:
    started = time.monotonic()
    answer = await http.post("/graphql", json={"query": LOOKUP, "variables": {"id": "no-such"}})
    elapsed = time.monotonic() - started
    found = (answer.json().get("data") or {}).get("asset") or {}
    assert found.get("__typename") == "NotFound", f"after {elapsed:.1f} s: {answer.text}"
    return elapsed


async def test_slow_requests_hit_their_deadline_and_leave_connections_to_others(
    slow_store: tuple[ServerProcess, TcpProxy],
) -> None:
    server, proxy = slow_store
    async with httpx.AsyncClient(base_url=server.url, timeout=HOLD_S) as http:
        started = time.monotonic()
        # Two bulk decisions: 16 store reads in parallel, each held (the wedge: ten
        # held loops took the whole pool, and every other call waited 30 s for a connection).
        slow = [asyncio.create_task(_bulk(http, tag)) for tag in "ab"]
        await _until(lambda: proxy.delayed >= 2 * SHARE, 10, "the slow reads reach the store")
        await asyncio.sleep(0.5)
        assert proxy.delayed == 2 * SHARE, "a request held more than its share of the pool"
        lookup_s = await _lookup_s(http)
        assert lookup_s < 1.0, f"a missing-id lookup beside slow requests took {lookup_s:.1f} s"
        answers = await asyncio.gather(*slow)
        elapsed = time.monotonic() - started
    assert elapsed < DEADLINE_S + 3, f"slow requests answered after {elapsed:.1f} s"
    for answer in answers:
        assert answer.status_code == 503, answer.text
        error = answer.json()["errors"][0]
        assert error["extensions"]["code"] == "TIMEOUT"
        assert "TAGTRAIL_REQUEST_TIMEOUT_S" in error["message"]
        assert answer.headers["Retry-After"] == "1"


async def test_a_request_stops_when_its_client_hangs_up(
    slow_store: tuple[ServerProcess, TcpProxy],
) -> None:
    server, proxy = slow_store
    slow = {"query": LOOKUP, "variables": {"id": "slow-hang-up"}}
    async with httpx.AsyncClient(base_url=server.url, timeout=1.0) as http:
        with pytest.raises(httpx.ReadTimeout):  # the client gives up and hangs up
            await http.post("/graphql", json=slow)
    # The server stops the request (and its store call) at once, not at its deadline.
    await _until(lambda: proxy.abandoned >= 1, 2.5, "the store call dropped after the hang-up")
    await _until(lambda: "POST /graphql 499" in server.log_tail(200), 2, "499 in the access log")
    async with httpx.AsyncClient(base_url=server.url, timeout=HOLD_S) as http:
        assert await _lookup_s(http) < 1.0


async def test_sigterm_ends_the_server_within_seconds_with_requests_in_flight(
    slow_store: tuple[ServerProcess, TcpProxy],
) -> None:
    server, proxy = slow_store
    async with httpx.AsyncClient(base_url=server.url, timeout=HOLD_S) as http:
        slow = [asyncio.create_task(_bulk(http, tag)) for tag in "cd"]
        await _until(lambda: proxy.delayed >= 2, 10, "the slow reads reach the store")
        server.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        exited_s = await _until(lambda: server.proc.poll() is not None, 15, "exit after SIGTERM")
        # Before the deadline cuts the requests: the grace period is what ended them.
        assert exited_s < GRACE_S + 3.5, f"SIGTERM took {exited_s:.1f} s"
        assert time.monotonic() - signalled < DEADLINE_S
        outcomes: list[Any] = await asyncio.gather(*slow, return_exceptions=True)
    assert all(isinstance(o, httpx.HTTPError) or o.status_code >= 500 for o in outcomes)
