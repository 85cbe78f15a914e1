"""Searching the asset index: faceted search, filtered k-NN and counts.

Request bodies come from :mod:`tagtrail.store.queries`; this module only sends them. A
request OpenSearch refuses as malformed (HTTP 400, for example date math it cannot parse)
is the caller's input, so it becomes InvalidInput naming OpenSearch's reason.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import RequestError

from tagtrail.config import Settings
from tagtrail.errors import InvalidInput


def _reason(exc: RequestError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error")
    if not isinstance(error, dict):
        return str(exc.error)
    causes = error.get("root_cause") or [error]
    cause = causes[0] if causes and isinstance(causes[0], dict) else {}
    return str(cause.get("reason") or exc.error)


class SearchIndex:
    def __init__(self, client: AsyncOpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name("assets")

    async def search(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await self.client.search(index=self.index, body=body)
        except RequestError as exc:
            raise InvalidInput(f"the search was refused: {_reason(exc)}", field="filter") from exc
        return result

    async def count(self) -> int:
        return int((await self.client.count(index=self.index))["count"])

    async def refresh(self) -> None:
        await self.client.indices.refresh(index=self.index)
