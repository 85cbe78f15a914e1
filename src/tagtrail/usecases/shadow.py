"""Shadow mode: how a challenger's never-applied proposals agree with reviewers."""

from __future__ import annotations

from tagtrail.errors import NotFound
from tagtrail.learning.dataset import DECISION_KINDS
from tagtrail.learning.shadow import ShadowReport, shadow_report
from tagtrail.store import Store
from tagtrail.usecases.champions import CHALLENGER
from tagtrail.usecases.inference import Inference
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce


class Shadow:
    def __init__(self, store: Store, taxonomy: TaxonomyInForce, inference: Inference) -> None:
        self._store = store
        self._taxonomy = taxonomy
        self._inference = inference

    async def challenger_agreement(
        self, attribute: str, version: str | None = None
    ) -> ShadowReport:
        """The shadow report of ``version`` (default: the attribute's challenger)."""
        (await self._taxonomy.current()).attribute(attribute)  # InvalidInput: known ones named
        if version is None:
            version = (await self._store.heads.alias(CHALLENGER, attribute)).version
            if version is None:
                raise NotFound(f"{attribute!r} has no challenger; train one first")
        events = await self._store.events.decisions(
            attribute, ["model_tagged", *sorted(DECISION_KINDS)]
        )
        return await self._inference.run(shadow_report, events, attribute, version)
