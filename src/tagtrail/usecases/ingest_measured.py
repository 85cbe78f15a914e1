"""Ingest in two halves that may run in different processes or on different machines.

Distributed ingest (:mod:`tagtrail.usecases.ray_ingest`) runs :func:`measure` in CPU tasks
next to the files — decode, metadata checks, thumbnail, CLIP centre crop, colour measurement
— and :func:`store_measured` in the encoder actors — what the store already holds, forward
pass, heads, taxonomy, tiers, bulk writes. Both halves are the in-process pipeline's own
stages (``decode_all``, ``triage``, ``Ingest.skip_stored``, ``Ingest.tag_and_write``), so
both paths give the same assets, tags and events; only :class:`MeasuredImage` travels in
between.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import msgspec
import numpy as np

from tagtrail.domain.metadata import AssetMetadata
from tagtrail.errors import TagtrailError
from tagtrail.tagging.pipeline import Tagger
from tagtrail.usecases.ingest import (
    ImageFacts,
    Ingest,
    IngestItem,
    IngestOutcome,
    Prepared,
    Rejected,
    decode_all,
    triage,
)
from tagtrail.vision.colour import ColourAnalyser, ColourAnalysis
from tagtrail.vision.decode import DecodedImage, DecodeLimits
from tagtrail.vision.encode import ImageSettings, crop_images
from tagtrail.vision.thumbnail import Thumbnail, make_thumbnails

log = logging.getLogger(__name__)


class MeasuredImage(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One file after the CPU half: everything the encoder half needs, or why it stops."""

    name: str
    rejected: Rejected | None = None
    asset_id: str | None = None
    facts: ImageFacts | None = None
    metadata: AssetMetadata | None = None
    colour: ColourAnalysis | None = None
    crop: bytes = b""  # the CLIP centre crop, (side, side, 3) uint8
    crop_side: int = 0
    thumbnail: Thumbnail | None = None


def measure(
    items: Sequence[IngestItem | Rejected | None],
    image: ImageSettings,
    analyser: ColourAnalyser,
    names: Sequence[str] | None = None,
) -> list[MeasuredImage]:
    """The CPU half for a batch, in order. An item may already be a rejection (a file that
    could not be read; ``names`` then gives its name)."""
    readable = [(i, it) for i, it in enumerate(items) if isinstance(it, IngestItem)]
    decoded = decode_all([it for _, it in readable], DecodeLimits())
    out: list[MeasuredImage | None] = [None] * len(items)
    for i, item in enumerate(items):
        if isinstance(item, Rejected):
            out[i] = MeasuredImage(name=names[i] if names else "", rejected=item)
    good = []
    for (i, item), result in zip(readable, decoded, strict=True):
        if isinstance(result, Rejected):
            out[i] = MeasuredImage(name=item.name, rejected=result)
        else:
            good.append((i, item.name, *result))
    for i, name, decoded_image, meta in good:
        out[i] = _measure_one(name, decoded_image, meta, image, analyser)
    return [m for m in out if m is not None]


def _measure_one(
    name: str,
    decoded: DecodedImage,
    meta: AssetMetadata,
    image: ImageSettings,
    analyser: ColourAnalyser,
) -> MeasuredImage:
    """Crop, thumbnail and colour of one decoded file; what fails stops this file only."""
    try:
        crop = crop_images([decoded.image], image)[0]
        (thumbnail,) = make_thumbnails([decoded.image])
        colour = analyser.analyse(decoded.image)
    except TagtrailError as exc:
        message = exc.message if name in exc.message else f"{name}: {exc.message}"
        return MeasuredImage(name=name, rejected=Rejected(message))
    except Exception as exc:  # a library's bug on one odd file must not end the batch
        log.exception("measuring %s failed", name)
        problem = f"{name}: cannot be measured: {type(exc).__name__}: {exc}"
        return MeasuredImage(name=name, rejected=Rejected(problem, status="failed"))
    return MeasuredImage(
        name=name,
        asset_id=decoded.sha256,
        facts=ImageFacts.of(decoded),
        metadata=meta,
        colour=colour,
        crop=crop.tobytes(),
        crop_side=int(crop.shape[0]),
        thumbnail=thumbnail,
    )


async def store_measured(
    ingest: Ingest, tagger: Tagger, measured: Sequence[MeasuredImage]
) -> list[IngestOutcome]:
    """The encoder half for a batch: one outcome per item, in order. A store outage fails
    this batch's items (reported one by one), never the whole run; re-running resumes."""
    names = [m.name for m in measured]
    try:
        return await _store(ingest, tagger, measured, names)
    except Exception as exc:  # this batch's files fail, one by one; the run goes on
        if isinstance(exc, TagtrailError):
            why = exc.message
        else:
            log.exception("storing a batch of %d files failed", len(measured))
            why = f"store write failed: {type(exc).__name__}: {exc}"
        return [
            IngestOutcome(name=m.name, status=m.rejected.status, error=m.rejected.message)
            if m.rejected is not None
            else IngestOutcome(
                name=m.name, status="failed", asset_id=m.asset_id, error=f"{m.name}: {why}"
            )
            for m in measured
        ]


async def _store(
    ingest: Ingest, tagger: Tagger, measured: Sequence[MeasuredImage], names: list[str]
) -> list[IngestOutcome]:
    results = [m.rejected or m.asset_id or "" for m in measured]
    outcomes, fresh = triage(names, results, seen=set())
    thumbnails = [(a, t) for a, i in fresh.items() if (t := measured[i].thumbnail) is not None]
    await ingest.keep_thumbnails(thumbnails)
    resume = await ingest.skip_stored(names, outcomes, fresh)
    order = list(fresh.items())
    rows = [measured[i] for _, i in order]
    crops = (
        np.stack(
            [np.frombuffer(r.crop, np.uint8).reshape(r.crop_side, r.crop_side, 3) for r in rows]
        )
        if rows
        else np.empty((0, 0, 0, 3), np.uint8)
    )
    facts, colours = [r.facts for r in rows], [r.colour for r in rows]
    if any(f is None for f in facts) or any(c is None for c in colours):
        raise ValueError("a measured file without facts or colour reached the encoder half")
    prepared = Prepared(
        names=names,
        outcomes=outcomes,
        order=order,
        facts=[f for f in facts if f is not None],
        metas=[r.metadata or AssetMetadata() for r in rows],
        resume=resume,
        work=tagger.prepared_from(crops, [c for c in colours if c is not None]),
    )
    return await ingest.tag_and_write(prepared, tagger)
