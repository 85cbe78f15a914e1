"""Head listings page through every stored version (search_after): no silent cap."""

from __future__ import annotations

import pytest
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.store import HeadDocument, Store

pytestmark = pytest.mark.opensearch


async def test_versions_are_listed_past_one_page(
    settings: Settings, indexed: AsyncOpenSearch
) -> None:
    heads = Store(settings, client=indexed).heads
    heads.page = 2
    for n in range(5):
        doc = HeadDocument(
            version=f"tuned:pattern:{n:012d}",
            attribute="pattern",
            created_at=f"2026-01-0{n + 1}T00:00:00.000Z",
        )
        assert await heads.save(doc)
    listed = await heads.versions("pattern")
    assert [d.version for d in listed] == [f"tuned:pattern:{n:012d}" for n in (4, 3, 2, 1, 0)]
