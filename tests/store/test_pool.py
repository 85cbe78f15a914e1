"""The store client's pool: a bounded number of calls in flight, a bounded wait for one, and
a per-request share, against the real node behind a proxy that holds marked requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.errors import StoreUnavailable
from tagtrail.store.client import make_client, request_share
from tests.support.proxy import TcpProxy

pytestmark = pytest.mark.opensearch


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(settings.effective_opensearch_url)
    await proxy.start()
    proxy.delay_requests(b"slow-", 60)
    yield proxy
    await proxy.stop()


async def _slow_get(client: AsyncOpenSearch, n: int) -> None:
    await client.exists(index="tt-pool-none", id=f"slow-{n}")


async def _wait_for(check: Callable[[], bool], within_s: float) -> None:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within_s
        await asyncio.sleep(0.02)


async def test_a_busy_pool_answers_unavailable_after_the_wait(
    settings: Settings, proxy: TcpProxy
) -> None:
    changed = settings.with_changes(
        opensearch_url=proxy.url,
        opensearch_pool_size=2,
        opensearch_pool_wait_s=0.5,
        opensearch_connections_per_request=1,
    )
    client = make_client(changed)
    held = [asyncio.create_task(_slow_get(client, n)) for n in range(2)]
    try:
        await _wait_for(lambda: proxy.delayed == 2, 10)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="all 2 store connections stayed busy"):
            await client.info()
        assert time.monotonic() - started < 2.0  # the pool wait, not the 30 s timeout
    finally:
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        await client.close()


async def test_one_request_takes_at_most_its_share(settings: Settings, proxy: TcpProxy) -> None:
    changed = settings.with_changes(opensearch_url=proxy.url)  # pool 20
    client = make_client(changed)
    with request_share(3):
        held = [asyncio.create_task(_slow_get(client, n)) for n in range(8)]
    try:
        await _wait_for(lambda: proxy.delayed >= 3, 10)
        await asyncio.sleep(0.5)
        assert proxy.delayed == 3  # the other five wait for the request's share
        assert (await client.info())["version"]["number"]  # outside the request: at once
    finally:
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        await client.close()
