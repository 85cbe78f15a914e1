"""Faceted search, filtered k-NN, the review queue: typed requests in, raw hits out.

The API builds the typed filters (:mod:`tagtrail.domain.filters`) and shapes the answer;
this module picks the request body, adds the CLIP text vector when text is given, and asks
the store.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec

from tagtrail.domain.asset import FieldValue, Hit, hit_of
from tagtrail.domain.filters import AssetFilter, FacetResult, FacetSpec
from tagtrail.domain.limits import MAX_TEXT_CHARS, check_free_text
from tagtrail.errors import InvalidInput, ModelUnavailable
from tagtrail.store import SearchIndex
from tagtrail.store import queries as q
from tagtrail.store import review_queue as rq
from tagtrail.store.holdout import split_queue
from tagtrail.usecases.tagger_provider import TaggerProvider
from tagtrail.usecases.taxonomy_in_force import TaxonomyInForce
from tagtrail.usecases.workers import Worker

log = logging.getLogger(__name__)
MAX_TEXT_NEIGHBOURS = 1000
#: Lucene explores max(k, ef_search) candidates; 100 keeps recall@10 high on filtered sets.
EF_SEARCH = 100


class SearchRequest(msgspec.Struct, kw_only=True, frozen=True):
    filter: AssetFilter
    facets: tuple[FacetSpec, ...] = ()
    text: str | None = None
    text_neighbours: int = 100
    include_suggested: bool = False
    size: int = 20
    sort: str = "newest"
    search_after: list[FieldValue] | None = None


class SearchPage(msgspec.Struct, kw_only=True, frozen=True):
    hits: list[Hit]
    has_next: bool
    total: int
    facets: list[FacetResult]
    text_mode: str  # none, lexical or hybrid


def check_text(text: str | None, field: str = "text") -> str | None:
    """Stripped text (None when empty); InvalidInput when longer than the cap."""
    return check_free_text(text, field, max_chars=MAX_TEXT_CHARS)


def check_after(sort: str, search_after: list[FieldValue] | None, field: str = "after") -> None:
    """A cursor's values must be what this sort's hits carry (see ``SORT_VALUE_KINDS``)."""
    if search_after is not None and not q.search_after_fits(sort, search_after):
        raise InvalidInput(f"{field} is not a cursor of this sort", field=field)


class Search:
    """Faceted search, filtered k-NN and the review queue over the asset index."""

    def __init__(
        self,
        index: SearchIndex,
        taxonomy: TaxonomyInForce,
        tagging: TaggerProvider,
        inference: Worker,
        *,
        holdout_share: float,
    ) -> None:
        self._index = index
        self._taxonomy = taxonomy
        self._tagging = tagging
        self._inference = inference
        self._holdout_share = holdout_share

    async def text_vector(self, text: str) -> list[float] | None:
        """The CLIP embedding of ``text``; None (lexical only) when the model is unavailable."""
        try:
            encoder = await self._tagging.encoder()
            vectors = await self._inference.run(encoder.encode_text, [text])
        except (ModelUnavailable, ImportError) as exc:
            log.warning("text search without CLIP: %s", exc)
            return None
        return [float(x) for x in vectors[0]]

    async def search(self, request: SearchRequest) -> SearchPage:
        if not 0 <= request.text_neighbours <= MAX_TEXT_NEIGHBOURS:
            raise InvalidInput(
                f"textNeighbours must be 0..{MAX_TEXT_NEIGHBOURS}", field="textNeighbours"
            )
        text = check_text(request.text)
        check_after(request.sort, request.search_after)
        vector = await self.text_vector(text) if text and request.text_neighbours else None
        mode = "none" if not text else "hybrid" if vector else "lexical"
        body = q.search_body(
            request.filter,
            root="candidates" if request.include_suggested else "applied",
            text=text,
            text_vector=vector,
            text_k=request.text_neighbours,
            facets=list(request.facets),
            size=request.size + 1,
            sort=request.sort,
            search_after=request.search_after,
        )
        result = await self._index.search(body)
        hits = result["hits"]["hits"]
        return SearchPage(
            hits=[hit_of(h) for h in hits[: request.size]],
            has_next=len(hits) > request.size,
            total=result["hits"]["total"]["value"],
            facets=q.parse_facets(result.get("aggregations", {}), list(request.facets)),
            text_mode=mode,
        )

    async def nearest(
        self,
        vector: Sequence[float],
        k: int,
        f: AssetFilter,
        *,
        include_suggested: bool = False,
        min_score: float | None = None,
    ) -> list[Hit]:
        """Filtered k-NN hits (the filter runs inside the k-NN query, so k come back)."""
        body = q.knn_body(
            list(vector),
            k,
            f,
            root="candidates" if include_suggested else "applied",
            min_score=min_score,
            ef_search=EF_SEARCH,
        )
        hits: list[dict[str, Any]] = (await self._index.search(body))["hits"]["hits"]
        return [hit_of(h) for h in hits]

    async def review_queue(
        self,
        f: AssetFilter,
        attributes: Sequence[str],
        *,
        order: rq.ReviewOrder,
        size: int,
        search_after: list[FieldValue] | None,
        reason: rq.ReviewReason = "pending",
    ) -> tuple[list[Hit], bool, int]:
        """Assets awaiting review (pending tags, or human decisions a newer model disagrees
        with): (hits, has_next, total)."""
        taxonomy = await self._taxonomy.current()
        for name in attributes:
            taxonomy.attribute(name)  # unknown attribute → InvalidInput
        check_after(review_sort(order, reason), search_after)
        medium = rq.ReviewMedium(
            by_attribute={a.name: a.governance.medium for a in taxonomy.attributes}
        )
        body = rq.review_body(
            f,
            attributes,
            order=order,
            size=size + 1,
            search_after=search_after,
            reason=reason,
            medium=medium,
        )
        if reason != "disagreement":  # pending tags of hold-out assets: only in their queue
            share = self._holdout_share
            body = split_queue(body, holdout=reason == "holdout", share=share)
        result = await self._index.search(body)
        hits = result["hits"]["hits"]
        page = [hit_of(h) for h in hits[:size]]
        return page, len(hits) > size, int(result["hits"]["total"]["value"])


def review_sort(order: rq.ReviewOrder, reason: rq.ReviewReason) -> str:
    """The sort a review queue's cursors belong to: the hold-out has its own order."""
    return "holdout" if reason == "holdout" else order
