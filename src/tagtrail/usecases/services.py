"""Long-lived services shared by the HTTP app, the CLI and tests.

Heavy things (taxonomy parsing, the CLIP model, text embeddings for the heads) are built
lazily, once, off the event loop, behind a lock so concurrent first requests share one load.
Every torch call runs on one dedicated inference thread, so forward passes never compete
with each other for the two cores or block the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from tagtrail.config import Settings
from tagtrail.errors import StoreUnavailable, TagtrailError
from tagtrail.store import Store
from tagtrail.store.client import request_share
from tagtrail.usecases.metrics import Metrics

if TYPE_CHECKING:
    from tagtrail.domain.taxonomy import Taxonomy
    from tagtrail.tagging.pipeline import Tagger
    from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce
    from tagtrail.vision.encode import ClipEncoder

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


class Services:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()  # this deployment's Prometheus collectors (/metrics)
        self.store = store or Store(settings, on_error=self.metrics.store_error)
        self._cache: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._inference = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tt-inference")
        self._components: dict[str, Any] = {}
        # What /readyz says about the tagging pipeline: not_loaded, loading, ready or
        # "unavailable: <why>". Search and review work without it; ingest does not.
        self.pipeline_state = "not_loaded"
        # The champion aliases the cached tagger was built with, and when they were checked.
        self._champions_seen: dict[str, str] | None = None
        self._champions_checked = 0.0
        # Set while the cached tagger was built without its stored heads because the store
        # could not answer (why): it is rebuilt on the first use after the store answers.
        self.heads_unread: str | None = None
        self._heads_retrying = False

    async def infer(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` (torch work) on the one inference thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._inference, lambda: fn(*args, **kwargs))

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
            if self.heads_unread is None:
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
        """The deployment's taxonomy in force (stored in OpenSearch, never this process's
        folder alone; followed every ``TAGTRAIL_TAXONOMY_REFRESH_S``)."""
        return await self.taxonomy_in_force.current()

    @property
    def taxonomy_in_force(self) -> TaxonomyInForce:
        from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce

        return self.component("taxonomy", lambda: TaxonomyInForce(self.store, self.settings))

    async def encoder(self) -> ClipEncoder:
        from tagtrail.vision.encode import load_encoder

        async def build() -> ClipEncoder:
            s = self.settings
            log.info("loading vision model %s", s.model)
            return await self.infer(
                load_encoder,
                s.model,
                device=s.model_device,
                dtype=s.model_dtype,
                batch_size=s.batch_size,
            )

        return await self._once("encoder", build)

    async def tagger(self) -> Tagger:
        """The tagger, with each attribute's champion head (and its challenger in shadow
        mode); rebuilt when a champion or challenger moved
        (checked at most every ``TAGTRAIL_HEADS_REFRESH_S``, so every server follows a
        promotion made on another)."""
        from tagtrail.tagging.pipeline import build_tagger

        async def build() -> Tagger:
            from tagtrail.usecases.champions import install_challengers, install_champions

            taxonomy = await self.taxonomy()
            encoder = await self.encoder()
            tagger = await self.infer(build_tagger, taxonomy, encoder)
            self._champions_checked = time.monotonic()
            try:
                self._champions_seen = await self._aliases()
                installed = await install_champions(self.store.heads, tagger)
                if self.settings.shadow:
                    shadows = await install_challengers(self.store.heads, tagger)
                    installed += [f"{v} (shadow)" for v in shadows]
            except StoreUnavailable as exc:
                self._heads_unreadable(exc.message)
            except Exception as exc:  # no heads index yet: zero-shot it is
                log.warning("champion heads not loaded (%r); zero-shot heads in use", exc)
            else:
                self._heads_read()
                if installed:
                    log.info("champion heads in use: %s", ", ".join(installed))
            return tagger

        tagger = await self._once("tagger", build)
        if await self._store_back():
            log.info("the store answers again: rebuilding the tagger with its stored heads")
            self.invalidate("tagger")
            tagger = await self._once("tagger", build)
        elif await self._champions_moved() or (
            # A taxonomy applied on any server re-maps this one's tags from then on.
            tagger.taxonomy.version != (await self.taxonomy()).version
        ):
            log.info("a champion head or the taxonomy in force moved: rebuilding the tagger")
            self.invalidate("tagger")
            tagger = await self._once("tagger", build)
        return tagger

    def _heads_unreadable(self, why: str) -> None:
        # Not final: zero-shot heads, the shipped colour calibration and no shadow would
        # otherwise stay for the life of the process after a brief outage.
        self.heads_unread = why
        self.pipeline_state = f"degraded: stored heads unreadable, zero-shot heads in use ({why})"
        log.warning(
            "champion heads not loaded (%s): zero-shot heads and the shipped colour "
            "calibration in use until the store answers",
            why,
        )

    def _heads_read(self) -> None:
        if self.heads_unread is not None:
            log.info("stored heads loaded after the store came back")
            self.heads_unread = None
            self.pipeline_state = "ready"

    async def _store_back(self) -> bool:
        """Whether a tagger built without its stored heads can now read them (one try at a
        time: meanwhile other callers go on with the tagger they have)."""
        if self.heads_unread is None or self._heads_retrying:
            return False
        self._heads_retrying = True
        try:
            await self._aliases()
        except Exception:  # still away: keep what we have, try again on the next use
            return False
        finally:
            self._heads_retrying = False
        return True

    async def _champions_moved(self) -> bool:
        ttl = self.settings.heads_refresh_s
        now = time.monotonic()
        if ttl <= 0 or self._champions_seen is None or now - self._champions_checked < ttl:
            return False
        self._champions_checked = now  # before awaiting: concurrent callers check once
        try:
            current = await self._aliases()
        except Exception:  # the store is away: keep what we have
            return False
        return current != self._champions_seen

    async def _aliases(self) -> dict[str, str]:
        """Champions and challengers (shadow mode follows the challenger)."""
        heads = self.store.heads
        champions, challengers = await heads.aliases("champion"), await heads.aliases("challenger")
        return {
            **{f"champion:{k}": v for k, v in champions.items()},
            **{f"challenger:{k}": v for k, v in challengers.items()},
        }

    def request_share(self) -> contextlib.AbstractContextManager[None]:
        """Work started in this block (one HTTP request) holds at most
        ``opensearch_connections_per_request`` store connections at once."""
        return request_share(self.settings.opensearch_connections_per_request)

    def invalidate(self, key: str) -> None:
        """Drop a cached service (``tagger`` after a promotion): rebuilt on next use."""
        self._cache.pop(key, None)

    def component(self, key: str, build: Callable[[], T]) -> T:
        """A long-lived helper built once on first use (its ``close()`` runs at shutdown)."""
        if key not in self._components:
            self._components[key] = build()
        return self._components[key]  # type: ignore[no-any-return]

    async def close(self) -> None:
        for component in self._components.values():
            close = getattr(component, "close", None)
            if close is not None:
                await close()
        self._inference.shutdown(wait=False, cancel_futures=True)
        await self.store.close()
