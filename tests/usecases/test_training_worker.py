"""Training runs on its own worker thread: a head trains while every forward pass waits
(a busy inference thread), and uploads never queue behind a training run."""

from __future__ import annotations

import asyncio
import threading

import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.store import Store
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api
from tests.api.test_shadow import _batch, _review

pytestmark = pytest.mark.opensearch


async def test_a_head_trains_while_the_inference_thread_is_busy(
    api: Api, settings: Settings, indexed: AsyncOpenSearch
) -> None:
    runtime = Runtime(settings, Store(settings, indexed))
    fingerprint = (await runtime.tagging.tagger()).model_fingerprint  # built: no model load
    decided = _batch("w", fingerprint, 6, 11)
    await api.create([a for a, _ in decided])
    await _review(api, decided, 1)

    release = threading.Event()
    busy = asyncio.ensure_future(runtime.inference.run(release.wait, 120))
    try:
        trained = await asyncio.wait_for(runtime.heads.train("shot_type", actor="ml"), 60)
        assert not busy.done()  # the forward-pass thread was held the whole time
    finally:
        release.set()
        await busy
    assert trained.created
    assert trained.n_examples >= len(decided)
    await runtime.close()
