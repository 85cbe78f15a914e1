"""Long-lived services shared by the HTTP app, the CLI and tests.

Heavy things (taxonomy parsing, the CLIP model, text embeddings for the heads) are built
lazily, once, off the event loop, behind a lock so concurrent first requests share one load.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.errors import TagtrailError
from tagtrail.store.client import make_client

if TYPE_CHECKING:
    from tagtrail.ingest.encode import ClipEncoder
    from tagtrail.ingest.pipeline import Tagger
    from tagtrail.tagging.taxonomy import Taxonomy

log = logging.getLogger(__name__)
T = TypeVar("T")


class Services:
    def __init__(self, settings: Settings, client: AsyncOpenSearch | None = None) -> None:
        self.settings = settings
        self.client = client or make_client(settings)
        self._cache: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # What /readyz says about the tagging pipeline: not_loaded, loading, ready or
        # "unavailable: <why>". Search and review work without it; ingest does not.
        self.pipeline_state = "not_loaded"

    async def warm_up(self) -> None:
        """Build the tagging pipeline now (server start-up), recording how that went."""
        self.pipeline_state = "loading"
        try:
            await self.tagger()
        except TagtrailError as exc:
            self.pipeline_state = f"unavailable: {exc.message}"
            log.error(
                "vision model unavailable (ingest and text/image search will fail): %s", exc.message
            )
        except Exception as exc:
            self.pipeline_state = f"unavailable: {type(exc).__name__}"
            log.exception("warming up the tagging pipeline failed")
        else:
            self.pipeline_state = "ready"

    async def _once(self, key: str, build: Callable[[], Awaitable[T]]) -> T:
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._cache:
                self._cache[key] = await build()
        return self._cache[key]  # type: ignore[no-any-return]

    async def taxonomy(self) -> Taxonomy:
        from pathlib import Path

        from tagtrail.tagging.taxonomy import load_taxonomy

        async def build() -> Taxonomy:
            return await asyncio.to_thread(load_taxonomy, Path(self.settings.taxonomy_dir))

        return await self._once("taxonomy", build)

    async def encoder(self) -> ClipEncoder:
        from tagtrail.ingest.encode import load_encoder

        async def build() -> ClipEncoder:
            s = self.settings
            log.info("loading vision model %s", s.model)
            return await asyncio.to_thread(
                load_encoder,
                s.model,
                device=s.model_device,
                dtype=s.model_dtype,
                batch_size=s.batch_size,
            )

        return await self._once("encoder", build)

    async def tagger(self) -> Tagger:
        from tagtrail.ingest.pipeline import build_tagger

        async def build() -> Tagger:
            taxonomy = await self.taxonomy()
            encoder = await self.encoder()
            return await asyncio.to_thread(build_tagger, taxonomy, encoder)

        return await self._once("tagger", build)

    async def close(self) -> None:
        await self.client.close()
