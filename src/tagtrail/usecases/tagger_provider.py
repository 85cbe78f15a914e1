"""The vision model and the tagger built on it: loaded once, lazily, and kept current.

Loading is behind a lock so concurrent first requests share one load, and runs on the
inference thread. The tagger follows the deployment: it is rebuilt when a champion or
challenger head moved (checked at most every ``TAGTRAIL_HEADS_REFRESH_S``, so every server
follows a promotion made on another), when the taxonomy in force moved, and when the store
answers again after the tagger was built without its stored heads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from tagtrail.config import Settings
from tagtrail.errors import StoreUnavailable, TagtrailError
from tagtrail.store import HeadRepository
from tagtrail.usecases.champions import install_challengers, install_champions
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce
from tagtrail.usecases.workers import Worker

if TYPE_CHECKING:
    from tagtrail.tagging.pipeline import Tagger
    from tagtrail.vision.encode import ClipEncoder

log = logging.getLogger(__name__)


class TaggerProvider:
    def __init__(
        self,
        settings: Settings,
        heads: HeadRepository,
        taxonomy: TaxonomyInForce,
        inference: Worker,
    ) -> None:
        self._settings = settings
        self._heads = heads
        self._taxonomy = taxonomy
        self._inference = inference
        self._encoder: ClipEncoder | None = None
        self._tagger: Tagger | None = None
        self._lock = asyncio.Lock()
        # What /readyz says about the tagging pipeline: not_loaded, loading, ready or
        # "unavailable: <why>". Search and review work without it; ingest does not.
        self.state = "not_loaded"
        # The champion aliases the cached tagger was built with, and when they were checked.
        self._champions_seen: dict[str, str] | None = None
        self._champions_checked = 0.0
        # Set while the cached tagger was built without its stored heads because the store
        # could not answer (why): it is rebuilt on the first use after the store answers.
        self.heads_unread: str | None = None
        self._heads_retrying = False

    async def warm_up(self) -> None:
        """Build the tagging pipeline now (server start-up), recording how that went."""
        self.state = "loading"
        try:
            await self.tagger()
        except TagtrailError as exc:
            self.state = f"unavailable: {exc.message}"
            log.error(
                "vision model unavailable (ingest and text/image search will fail): %s", exc.message
            )
        except Exception as exc:
            self.state = f"unavailable: {type(exc).__name__}"
            log.exception("warming up the tagging pipeline failed")
        else:
            if self.heads_unread is None:
                self.state = "ready"

    async def encoder(self) -> ClipEncoder:
        if self._encoder is None:
            async with self._lock:
                if self._encoder is None:
                    self._encoder = await self._load_encoder()
        return self._encoder

    async def _load_encoder(self) -> ClipEncoder:
        from tagtrail.vision.encode import load_encoder

        s = self._settings
        log.info("loading vision model %s", s.model)
        return await self._inference.run(
            load_encoder,
            s.model,
            device=s.model_device,
            dtype=s.model_dtype,
            batch_size=s.batch_size,
        )

    async def tagger(self) -> Tagger:
        """The tagger, with each attribute's champion head (and its challenger in shadow
        mode), rebuilt when what it was built from moved."""
        tagger = self._tagger
        if tagger is None:
            return await self._rebuild(None)
        if await self._store_back():
            log.info("the store answers again: rebuilding the tagger with its stored heads")
            return await self._rebuild(tagger)
        if await self._champions_moved() or (
            # A taxonomy applied on any server re-maps this one's tags from then on.
            tagger.taxonomy.version != (await self._taxonomy.current()).version
        ):
            log.info("a champion head or the taxonomy in force moved: rebuilding the tagger")
            return await self._rebuild(tagger)
        return tagger

    def invalidate(self) -> None:
        """Rebuild the tagger on next use (after a promotion made by this process)."""
        self._tagger = None

    async def _rebuild(self, stale: Tagger | None) -> Tagger:
        encoder = await self.encoder()
        async with self._lock:  # concurrent callers share one build
            if self._tagger is not None and self._tagger is not stale:
                return self._tagger
            self._tagger = await self._build(encoder)
            return self._tagger

    async def _build(self, encoder: ClipEncoder) -> Tagger:
        from tagtrail.tagging.pipeline import build_tagger

        taxonomy = await self._taxonomy.current()
        tagger = await self._inference.run(build_tagger, taxonomy, encoder)
        self._champions_checked = time.monotonic()
        try:
            self._champions_seen = await self._aliases()
            installed = await install_champions(self._heads, tagger)
            if self._settings.shadow:
                shadows = await install_challengers(self._heads, tagger)
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

    def _heads_unreadable(self, why: str) -> None:
        # Not final: zero-shot heads, the shipped colour calibration and no shadow would
        # otherwise stay for the life of the process after a brief outage.
        self.heads_unread = why
        self.state = f"degraded: stored heads unreadable, zero-shot heads in use ({why})"
        log.warning(
            "champion heads not loaded (%s): zero-shot heads and the shipped colour "
            "calibration in use until the store answers",
            why,
        )

    def _heads_read(self) -> None:
        if self.heads_unread is not None:
            log.info("stored heads loaded after the store came back")
            self.heads_unread = None
            self.state = "ready"

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
        ttl = self._settings.heads_refresh_s
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
        champions = await self._heads.aliases("champion")
        challengers = await self._heads.aliases("challenger")
        return {
            **{f"champion:{k}": v for k, v in champions.items()},
            **{f"challenger:{k}": v for k, v in challengers.items()},
        }
