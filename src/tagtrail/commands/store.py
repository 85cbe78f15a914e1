"""The embedded node and the indices: start/stop, mappings, rebuilding tags from events."""

from __future__ import annotations

import msgspec

from tagtrail.config import Settings
from tagtrail.usecases.runtime import Runtime


def opensearch(
    settings: Settings, action: str, *, wipe: bool = False, nodes: int | None = 1
) -> int:
    from tagtrail.embedded.manage import opensearch_command

    return opensearch_command(settings, action, wipe=wipe, nodes=nodes)


async def init_indices(settings: Settings) -> int:
    async with Runtime(settings) as runtime:
        for state in await runtime.admin.init_indices():
            print(msgspec.json.encode(state).decode())
    return 0


async def reproject(settings: Settings, asset_ids: list[str] | None) -> int:
    """Rebuild asset tags from their events; prints how many documents changed."""
    async with Runtime(settings) as runtime:
        report = await runtime.admin.reproject(asset_ids)
    print(msgspec.json.encode(report).decode())
    return 0
