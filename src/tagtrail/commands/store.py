"""The embedded node and the indices: start/stop, mappings, rebuilding tags from events."""

from __future__ import annotations

import msgspec

from tagtrail.config import Settings
from tagtrail.usecases import admin
from tagtrail.usecases.services import Services


def opensearch(
    settings: Settings, action: str, *, wipe: bool = False, nodes: int | None = 1
) -> int:
    from tagtrail.embedded.manage import opensearch_command

    return opensearch_command(settings, action, wipe=wipe, nodes=nodes)


async def init_indices(settings: Settings) -> int:
    services = Services(settings)
    try:
        for state in await admin.init_indices(services):
            print(msgspec.json.encode(state).decode())
    finally:
        await services.close()
    return 0


async def reproject(settings: Settings, asset_ids: list[str] | None) -> int:
    """Rebuild asset tags from their events; prints how many documents changed."""
    from tagtrail.usecases.reproject import reproject as rebuild

    services = Services(settings)
    try:
        report = await rebuild(services, asset_ids)
    finally:
        await services.close()
    print(msgspec.json.encode(report).decode())
    return 0
