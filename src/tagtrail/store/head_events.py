"""The head event log: every step of training, shadowing and promotion (``heads`` index).

Events are stored put-if-absent under their id and never updated: an id that names only the
step and version (the cadence's verdicts) is stored once however often it is taken.
"""

from __future__ import annotations

from typing import Any

import msgspec
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConflictError

from tagtrail.config import Settings
from tagtrail.domain.cadence import HeadEvent, HeadStep

#: Newest first; the event id breaks ties in time so pages are exact.
_SORT = [{"at": "desc"}, {"event_id": "asc"}]


class HeadEventPage(msgspec.Struct, kw_only=True, frozen=True):
    events: tuple[HeadEvent, ...]
    after: tuple[int, str] | None  # sort values of the last event (epoch ms, id) if more


class HeadEventLog:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name("heads")

    async def append(self, event: HeadEvent) -> bool:
        """Store ``event`` unless an event with its id exists; False when it did."""
        body = {
            "doc_type": "head_event",
            "event_id": event.event_id,
            "attribute": event.attribute,
            "version": event.version,
            "step": event.step,
            "at": event.at,
            "actor": event.actor,
            "detail": msgspec.to_builtins(event),
        }
        try:
            # Visible to the next read once stored: listings never force a refresh.
            await self.client.create(
                index=self.index, id=f"event:{event.event_id}", body=body, refresh="wait_for"
            )
        except ConflictError:
            return False
        return True

    async def exists(self, event_id: str) -> bool:
        found: bool = await self.client.exists(index=self.index, id=f"event:{event_id}")
        return found

    async def page(
        self,
        *,
        size: int,
        attribute: str | None = None,
        steps: tuple[HeadStep, ...] = (),
        version: str | None = None,
        after: tuple[int, str] | None = None,
        between: tuple[str, str] | None = None,
    ) -> HeadEventPage:
        """Up to ``size`` events, newest first, after the cursor ``after`` (and taken at or
        after ``between[0]``, before ``between[1]``, ISO-8601)."""
        filters: list[dict[str, Any]] = [{"term": {"doc_type": "head_event"}}]
        if between is not None:
            filters.append({"range": {"at": {"gte": between[0], "lt": between[1]}}})
        if attribute:
            filters.append({"term": {"attribute": attribute}})
        if steps:
            filters.append({"terms": {"step": list(steps)}})
        if version:
            filters.append({"term": {"version": version}})
        body: dict[str, Any] = {
            "query": {"bool": {"filter": filters}},
            "size": size,
            "sort": _SORT,
            "_source": ["detail"],
        }
        if after is not None:
            body["search_after"] = list(after)
        hits = (await self.client.search(index=self.index, body=body))["hits"]["hits"]
        events = tuple(msgspec.convert(h["_source"]["detail"], HeadEvent) for h in hits)
        last = (int(hits[-1]["sort"][0]), str(hits[-1]["sort"][1])) if hits else None
        return HeadEventPage(events=events, after=last if len(hits) == size else None)

    async def latest(self, attribute: str, steps: tuple[HeadStep, ...]) -> HeadEvent | None:
        """The newest event of ``attribute`` with one of ``steps``."""
        found = await self.page(size=1, attribute=attribute, steps=steps)
        return found.events[0] if found.events else None
