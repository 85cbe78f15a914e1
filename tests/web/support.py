"""Seeding helpers for the browser tests (their own OpenSearch client, their own loop)."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
from PIL import Image

from tagtrail.config import Settings, load_settings
from tagtrail.domain.cadence import HeadEvent
from tagtrail.domain.records import Actor, event_id
from tagtrail.store import Store
from tagtrail.tagging.taxonomy_files import load_taxonomy
from tagtrail.usecases.runtime import Runtime
from tagtrail.vision.thumbnail import make_thumbnail
from tests.api.factories import MODEL, A, T, create_assets, model_event

SHADES = [(27, 37, 65), (160, 30, 40), (30, 120, 70), (200, 170, 60), (90, 90, 90)]


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` to completion on its own loop in another thread (Playwright's sync
    API owns this thread's event loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def photo(colour: tuple[int, int, int], size: tuple[int, int] = (480, 600)) -> bytes:
    """A small JPEG: a coloured garment-ish block on a light background."""
    img = Image.new("RGB", size, (236, 234, 230))
    w, h = size
    img.paste(colour, (w // 5, h // 6, 4 * w // 5, 5 * h // 6))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


async def prepare(settings: Settings) -> None:
    store = Store(settings)
    try:
        await store.ensure_indices()
    finally:
        await store.close()


async def drop(settings: Settings) -> None:
    store = Store(settings)
    try:
        await store.drop_indices()
    finally:
        await store.close()


async def create_with_thumbnails(
    settings: Settings, assets: Sequence[Any], *, thumbnails: bool = True
) -> None:
    store = Store(settings)
    taxonomy = load_taxonomy(Path(load_settings(environ={}).taxonomy_dir))
    try:
        await create_assets(store.client, settings, taxonomy, list(assets))
        thumbs = []
        for n, a in enumerate(assets if thumbnails else ()):
            assert isinstance(a, A)
            image = Image.open(io.BytesIO(photo(SHADES[n % len(SHADES)])))
            thumbs.append((a.id, make_thumbnail(image.convert("RGB"))))
        await store.thumbnails.put_many(thumbs)
        await store.refresh()
    finally:
        await store.close()


async def newer_head_says(
    settings: Settings, asset: A, tag: T, revision: int, *, head: str = "tuned:category:0a1b2c3d"
) -> None:
    """A re-tag by a newer head: one model event at the asset's next revision (beside a
    human decision it is a proposal, shown and never applied)."""
    store = Store(settings)
    taxonomy = load_taxonomy(Path(load_settings(environ={}).taxonomy_dir))
    proposal = msgspec.structs.replace(
        model_event(taxonomy, asset, 0, tag),
        event_id=event_id(asset.id, revision + 1, 0),
        seq=revision + 1,
        at="2026-03-01T00:00:00.000000Z",
        actor=Actor(type="model", id=MODEL, model_fingerprint=MODEL, head_version=head),
    )
    try:
        await store.assets.apply(asset.id, revision, lambda _: [proposal])
        await store.refresh()
    finally:
        await store.close()


async def sample_round(settings: Settings, round: str, attribute: str) -> None:
    """Draw audit round ``round`` of ``attribute``'s applied model tags (tagtrail audit sample)."""
    store = Store(settings)
    try:
        await Runtime(settings, store=store).audits.sample(round=round, attribute=attribute)
        await store.refresh()
    finally:
        await store.close()


async def append_head_events(settings: Settings, events: Sequence[HeadEvent]) -> None:
    """Append head events (trainings, promotions, ...) as the cadence or an admin would."""
    store = Store(settings)
    try:
        for event in events:
            assert await store.head_events.append(event), event.event_id
    finally:
        await store.close()
