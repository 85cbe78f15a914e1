"""Deterministic, stratified examples for impact reports (retag and taxonomy previews).

Each stratum keeps the ``size`` items whose ids hash smallest: the same catalogue gives the
same examples whatever order the scan meets them in, and memory stays bounded.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, TypeVar

from tagtrail.learning.stats import unit_hash

T = TypeVar("T")


class StratifiedSample(Generic[T]):
    def __init__(self, size: int, salt: str) -> None:
        self.size = max(0, size)
        self.salt = salt
        self._heaps: dict[Hashable, list[tuple[float, str, int, T]]] = {}
        self._seen = 0

    def offer(self, stratum: Hashable, item_id: str, item: T) -> None:
        if self.size == 0:
            return
        heap = self._heaps.setdefault(stratum, [])
        self._seen += 1  # a tie-breaker: items themselves need not be comparable
        # A max-heap on the hash (negated) keeps the `size` smallest hashes.
        entry = (-unit_hash(self.salt, item_id), item_id, -self._seen, item)
        if len(heap) < self.size:
            heapq.heappush(heap, entry)
        elif entry[:3] > heap[0][:3]:
            heapq.heapreplace(heap, entry)

    def take(self, stratum: Hashable) -> list[T]:
        """The stratum's examples, smallest hash first."""
        entries = sorted(self._heaps.get(stratum, []), key=lambda e: e[:3], reverse=True)
        return [e[3] for e in entries]
