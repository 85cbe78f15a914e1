"""Shadow mode: how a challenger's never-applied proposals agree with reviewers.

The report reads only the decisions made since the challenger was created (and the
histories of the photos they judged), and does its counting and any proposals it computes
on a worker thread of its own: never on the inference thread that uploads wait for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np

from tagtrail.domain.asset import Asset
from tagtrail.domain.records import TagEvent
from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.mapping import AssetContext, map_label
from tagtrail.errors import InvalidInput, NotFound
from tagtrail.learning.dataset import DECISION_KINDS
from tagtrail.learning.shadow import ShadowReport, shadow_report, unrecorded
from tagtrail.store import HeadDocument, Store
from tagtrail.tagging.heads import Head
from tagtrail.usecases.champions import CALIBRATION, CHALLENGER, fitted_head
from tagtrail.usecases.tagger_provider import TaggerProvider
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce

_CHUNK = 500  # assets per history or vector read


class Shadow:
    def __init__(self, store: Store, taxonomy: TaxonomyInForce, tagging: TaggerProvider) -> None:
        self._store = store
        self._taxonomy = taxonomy
        self._tagging = tagging

    async def challenger_agreement(
        self, attribute: str, version: str | None = None
    ) -> ShadowReport:
        """The shadow report of ``version`` (default: the attribute's challenger)."""
        (await self._taxonomy.current()).attribute(attribute)  # InvalidInput: known ones named
        doc = await self._head(attribute, version)
        since = doc.created_at
        decided = await self._store.events.decisions(attribute, sorted(DECISION_KINDS), since=since)
        events = await self._histories(attribute, sorted({e.asset_id for e in decided}))
        computed = await self._computed(doc, events, since)
        return await asyncio.to_thread(
            shadow_report, events, attribute, doc.version, since=since, computed=computed
        )

    async def _head(self, attribute: str, version: str | None) -> HeadDocument:
        if version is None:
            version = (await self._store.heads.alias(CHALLENGER, attribute)).version
            if version is None:
                raise NotFound(f"{attribute!r} has no challenger; train one first")
        doc = await self._store.heads.get(version)
        if doc is None or doc.attribute != attribute:
            raise NotFound(f"no head version {version!r} for attribute {attribute!r}")
        if doc.kind == CALIBRATION:
            raise InvalidInput(
                f"{version} is a colour calibration: it proposes no values, so it has no "
                "shadow report (its evaluation is on the head version)",
                field="version",
            )
        return doc

    async def _histories(self, attribute: str, asset_ids: list[str]) -> list[TagEvent]:
        out: list[TagEvent] = []
        for start in range(0, len(asset_ids), _CHUNK):
            chunk = asset_ids[start : start + _CHUNK]
            out.extend(await self._store.events.of_attribute(attribute, chunk))
        return out

    async def _computed(
        self, doc: HeadDocument, events: list[TagEvent], since: str | None
    ) -> dict[str, str | None]:
        """Proposals of ``doc`` on judged photos that recorded none, by model event id,
        from the stored vectors of the encoder it was trained on. Without a creation time
        nothing is computed: a decision might have trained it."""
        if since is None:
            return {}
        models = await asyncio.to_thread(unrecorded, events, doc.attribute, doc.version, since)
        if not models:
            return {}
        tagger = await self._tagging.tagger()
        head, why = fitted_head(doc, tagger)
        if head is None or why is not None:
            return {}  # it cannot run on this tagger's vectors: recorded proposals only
        ids = sorted({m.asset_id for m in models})
        usable: dict[str, tuple[Asset, list[float]]] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            assets = await self._store.assets.get_many(chunk)
            vectors = await self._store.assets.vectors(chunk)
            for asset_id, asset, vector in zip(chunk, assets, vectors, strict=True):
                fits = asset is not None and asset.model_fingerprint == tagger.model_fingerprint
                if asset is not None and vector is not None and fits:
                    usable[asset_id] = (asset, vector)
        rows = [m for m in models if m.asset_id in usable]
        values = await asyncio.to_thread(
            _propose, head, tagger.taxonomy, [usable[m.asset_id] for m in rows]
        )
        return {m.event_id: v for m, v in zip(rows, values, strict=True)}


def _propose(
    head: Head, taxonomy: Taxonomy, rows: Sequence[tuple[Asset, list[float]]]
) -> list[str | None]:
    """The head's value for each photo, mapped as the tagger maps a shadow proposal."""
    if not rows:
        return []
    vectors = np.asarray([v for _, v in rows], dtype=np.float32)
    out: list[str | None] = []
    for (asset, _), prediction in zip(rows, head.predict(vectors), strict=True):
        context = AssetContext(season=asset.season, brand=asset.brand, collection=asset.collection)
        mapped = map_label(taxonomy, prediction.attribute, prediction.label, context)
        out.append(mapped.value if mapped is not None else None)
    return out
