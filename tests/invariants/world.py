"""The world the stateful test drives: one isolated index prefix on the real node, a
``Runtime`` per taxonomy in force, generated photos, and request-level fault injection.

Faults are injected at the store client's transport: after ``after`` requests of the next
write have landed, the next request either fails (``crash``: the process dies or the
connection breaks between two store requests) or first lets a reader in (``read``: a
reader arrives between two requests of a write). With ``match``, only requests whose URL
holds it are counted (``_bulk``: the k-th bulk request of a batch write). OpenSearch
itself is never stood in for.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tagtrail.config import Settings
from tagtrail.store import Store
from tagtrail.store.client import make_client
from tagtrail.store.indices import drop_indices, ensure_indices
from tagtrail.usecases.runtime import Runtime


class Crash(Exception):
    """Stands for a process dying, or a connection breaking, between two store requests."""


class SharedEncoder(Runtime):
    """Runtime whose vision encoder is loaded once for the whole test (3 s each time
    otherwise); everything else (taxonomy, tagger, champions) is its own."""

    def __init__(self, settings: Settings, store: Store, encoder: Any) -> None:
        super().__init__(settings, store=store)
        self.shared_encoder = encoder

    async def encoder(self) -> Any:
        return self.shared_encoder


class Faults:
    """Request-level fault injection on one OpenSearch client (see the module docstring)."""

    def __init__(self, client: Any) -> None:
        self.transport = client.transport
        self.inner = client.transport.perform_request
        self.armed: tuple[int, str] | None = None
        self.match: str | None = None  # count only the requests whose URL holds this
        self.seen = 0
        self.fired: str | None = None
        self.reader: Callable[[], Awaitable[None]] | None = None
        self.reading = False
        self.transport.perform_request = self.perform_request

    def arm(self, after: int, mode: str, match: str | None = None) -> None:
        self.armed, self.seen, self.fired, self.match = (after, mode), 0, None, match

    def disarm(self) -> None:
        self.armed = None

    async def perform_request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self.armed is not None and not self.reading:
            after, mode = self.armed
            counted = self.match is None or self.match in url
            if counted and self.seen == after:
                self.armed, self.fired = None, mode
                if mode == "crash":
                    raise Crash(f"before request {after + 1}: {method} {url}")
                if self.reader is not None:
                    self.reading = True
                    try:
                        await self.reader()
                    finally:
                        self.reading = False
            self.seen += counted
        return await self.inner(method, url, *args, **kwargs)


class World:
    """One example's store, runtime and photos (built and torn down by the machine)."""

    def __init__(self, base: Settings, encoder: Any, photos: list[bytes], tmp: Path) -> None:
        self.loop = asyncio.new_event_loop()
        prefix = f"tt-test-sm-{uuid.uuid4().hex[:8]}"
        self.settings = base.with_changes(index_prefix=prefix)
        self.encoder = encoder
        self.photos = photos
        self.tmp = tmp / prefix
        self.tmp.mkdir(parents=True)
        self.client = make_client(self.settings)
        self.faults = Faults(self.client)
        self.run(ensure_indices(self.client, self.settings))
        self.taxonomy_dir = Path(self.settings.taxonomy_dir)
        self.runtime = self.make_services(self.taxonomy_dir)

    def run(self, coro: Awaitable[Any]) -> Any:
        return self.loop.run_until_complete(coro)

    def make_services(self, taxonomy_dir: Path) -> Runtime:
        """Runtime on the taxonomy in ``taxonomy_dir`` (a process started on that folder)."""
        settings = self.settings.with_changes(taxonomy_dir=str(taxonomy_dir))
        return SharedEncoder(settings, Store(settings, client=self.client), self.encoder)

    def switch_taxonomy(self, taxonomy_dir: Path) -> None:
        self.taxonomy_dir = taxonomy_dir
        self.runtime = self.make_services(taxonomy_dir)

    def close(self) -> None:
        try:
            self.run(drop_indices(self.client, self.settings))
            self.run(self.client.close())
        finally:
            self.loop.close()
