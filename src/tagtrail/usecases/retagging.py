"""Re-running the heads in force over stored vectors (``tagtrail retag``), and its preview."""

from __future__ import annotations

from collections.abc import Callable

from tagtrail.store import Store
from tagtrail.usecases.retag import RetagReport, retag_all
from tagtrail.usecases.retag_preview import RetagPreview, retag_preview
from tagtrail.usecases.tagger_provider import TaggerProvider
from tagtrail.usecases.workers import Worker


class Retag:
    def __init__(
        self,
        store: Store,
        tagging: TaggerProvider,
        inference: Worker,
        *,
        repropose_min_probability: float,
    ) -> None:
        self._store = store
        self._tagging = tagging
        self._inference = inference
        self._minimum = repropose_min_probability

    async def run(
        self, *, page: int = 256, progress: Callable[[int], None] | None = None
    ) -> RetagReport:
        """Propose again wherever the heads in force now disagree with a machine tag."""
        return await retag_all(
            self._store,
            await self._tagging.tagger(),
            self._inference,
            repropose_min_probability=self._minimum,
            page=page,
            progress=progress,
        )

    async def preview(
        self,
        *,
        attribute: str | None = None,
        sample: int = 3,
        page: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> RetagPreview:
        """What :meth:`run` would change now (optionally for one attribute); writes nothing."""
        return await retag_preview(
            self._store,
            await self._tagging.tagger(),
            self._inference,
            repropose_min_probability=self._minimum,
            attribute=attribute,
            sample=sample,
            page=page,
            progress=progress,
        )
