"""Worker threads for blocking work, each one thread so its jobs queue instead of competing.

Two per process: the *inference* worker runs every forward pass (uploads, retag, text
search), so forward passes never compete with each other for the two cores and the event
loop stays free; the *training* worker fits heads and calibrations, so a training run never
queues uploads behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


class Worker:
    def __init__(self, name: str) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tt-{name}")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on this worker's thread and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
