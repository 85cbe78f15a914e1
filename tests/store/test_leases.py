"""Leases on the real node: one holder at a time, renewals, release, and a holder that was
killed (a real process, SIGKILLed while holding it) losing the lease when it expires."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.store import Store

pytestmark = pytest.mark.opensearch

ROOT = Path(__file__).resolve().parents[2]

HOLD = """
import asyncio, sys
from tagtrail.config import load_settings
from tagtrail.store import Store

async def main() -> None:
    store = Store(load_settings())
    lease = await store.leases.acquire("retraining", "killed-holder", float(sys.argv[1]))
    print("held" if lease else "refused", flush=True)
    await asyncio.sleep(3600)  # holds it, renewing nothing, until killed

asyncio.run(main())
"""


async def test_one_holder_at_a_time_renew_and_release(
    settings: Settings, indexed: AsyncOpenSearch
) -> None:
    leases = Store(settings, client=indexed).leases
    a = await leases.acquire("retraining", "a", 30)
    assert a is not None
    assert a.holder == "a"
    assert await leases.acquire("retraining", "b", 30) is None  # a holds it
    again = await leases.acquire("retraining", "a", 30)  # the holder may take it again
    assert again is not None
    assert await leases.renew(a, 30) is None  # that guard is spent: the lease moved on
    renewed = await leases.renew(again, 30)
    assert renewed is not None
    assert renewed.expires_at_ms >= again.expires_at_ms
    holder = await leases.holder("retraining")
    assert holder is not None
    assert holder.holder == "a"
    await leases.release(again)  # a stale guard releases nothing
    assert await leases.acquire("retraining", "b", 30) is None
    await leases.release(renewed)
    assert await leases.holder("retraining") is None
    b = await leases.acquire("retraining", "b", 30)
    assert b is not None
    assert b.holder == "b"


async def test_servers_racing_for_a_free_lease_get_it_once(
    settings: Settings, indexed: AsyncOpenSearch
) -> None:
    leases = Store(settings, client=indexed).leases
    for round_ in range(5):
        name = f"race-{round_}"
        won = await asyncio.gather(*(leases.acquire(name, f"s{i}", 30) for i in range(6)))
        assert sum(lease is not None for lease in won) == 1, won


async def test_a_killed_holder_loses_the_lease_when_it_expires(
    settings: Settings, indexed: AsyncOpenSearch
) -> None:
    leases = Store(settings, client=indexed).leases
    ttl = 3.0
    env = {
        **os.environ,
        "TAGTRAIL_OPENSEARCH_URL": settings.effective_opensearch_url,
        "TAGTRAIL_INDEX_PREFIX": settings.index_prefix,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD, str(ttl), env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() == b"held"
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    holder = await leases.holder("retraining")
    assert holder is not None
    assert holder.holder == "killed-holder"
    assert await leases.acquire("retraining", "survivor", 30) is None  # not expired yet
    deadline = time.monotonic() + ttl + 10
    taken = None
    while taken is None and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        taken = await leases.acquire("retraining", "survivor", 30)
    assert taken is not None
    assert taken.holder == "survivor"
    assert holder.expired(int(time.time() * 1000))
