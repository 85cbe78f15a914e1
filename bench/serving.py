"""Start tagtrail under uvicorn in a subprocess for a benchmark (its own interpreter, as in
production), and wait until its model warm-up has settled so it does not compete with the
measured requests for the CPU."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tagtrail.config import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    settings: Settings, *, timeout_s: float = 120.0
) -> tuple[subprocess.Popen[bytes], str]:
    """(process, base URL) of a dev-mode server on ``settings``' store, prefix and model."""
    port = free_port()
    env = {
        **os.environ,
        "TAGTRAIL_OPENSEARCH_URL": settings.effective_opensearch_url,
        "TAGTRAIL_INDEX_PREFIX": settings.index_prefix,
        "TAGTRAIL_DEV": "1",
        "TAGTRAIL_MODEL": settings.model,
        "TAGTRAIL_MODEL_DTYPE": settings.model_dtype,
        "TAGTRAIL_BATCH_SIZE": str(settings.batch_size),
        "TAGTRAIL_API_KEYS": "",
        "TAGTRAIL_API_KEYS_FILE": "",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tagtrail.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"{url}/readyz", timeout=1)
            if ready.status_code == 200 and ready.json().get("pipeline") not in (
                "loading",
                "not_loaded",
            ):
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """A server on ``settings``' store for the block (its base URL); afterwards the server
    stops and the indices of its prefix are dropped."""
    proc, url = start_server(settings)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        asyncio.run(_drop(settings))


async def _drop(settings: Settings) -> None:
    from tagtrail.store import Store

    store = Store(settings)
    await store.drop_indices()
    await store.close()


async def ingest_demo(runtime: Any, settings: Settings, n: int) -> tuple[list[Any], list[Any]]:
    """Ingest ``n`` generated demo photos (seed 5) through ``runtime``: (catalogue, outcomes)."""
    from tagtrail.usecases.admin import write_demo_catalogue
    from tagtrail.usecases.ingest import IngestItem

    with tempfile.TemporaryDirectory() as tmp:
        catalogue = write_demo_catalogue(settings, n, Path(tmp), seed=5)
        batch = [
            IngestItem(name=c.filename, data=(Path(tmp) / c.filename).read_bytes())
            for c in catalogue
        ]
        outcomes = await runtime.ingest.batch(batch)
    return list(catalogue), list(outcomes)
