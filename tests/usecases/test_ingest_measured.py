"""The two halves of distributed ingest without Ray: a store that cannot be reached fails
the batch's files one by one (each with its reason), never the run, and files already
refused keep their own outcome.

The encoder is ``random-init:tiny``: a small, randomly initialised CLIP built from a config
with the real transformers code (no weights are downloaded; its tags say UNTRAINED).
"""

from __future__ import annotations

import socket
from pathlib import Path

from tagtrail.config import Settings, load_settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.tagging.pipeline import build_tagger
from tagtrail.tagging.taxonomy_files import load_palette, load_taxonomy
from tagtrail.usecases.ingest import IngestItem, Rejected
from tagtrail.usecases.ingest_measured import measure, store_measured
from tagtrail.usecases.runtime import Runtime
from tagtrail.vision.colour import ColourAnalyser
from tagtrail.vision.encode import ImageSettings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nobody listens


async def test_an_unreachable_store_fails_each_file_of_the_batch(tmp_path: Path) -> None:
    palette = load_palette(Path(Settings().taxonomy_dir) / "colours.yaml")
    generate_catalogue(3, tmp_path, palette=palette, seed=4)
    photos = sorted(p for p in tmp_path.iterdir() if p.name != "manifest.csv")
    items: list[IngestItem | Rejected | None] = [
        *(IngestItem(name=p.name, data=p.read_bytes()) for p in photos),
        IngestItem(name="notes.jpg", data=b"no photo"),
        Rejected("gone.jpg: cannot read: [Errno 5] Input/output error", status="failed"),
    ]
    names = [*(p.name for p in photos), "notes.jpg", "gone.jpg"]
    measured = measure(items, ImageSettings(224, 224), ColourAnalyser(palette), names=names)
    assert [m.name for m in measured] == names
    assert all(m.crop and m.thumbnail and m.colour for m in measured[:3])

    settings = load_settings(
        environ={},
        opensearch_url=f"http://127.0.0.1:{_closed_port()}",
        model="random-init:tiny",
        opensearch_timeout_s=2,
    )
    runtime = Runtime(settings)
    try:
        # The taxonomy in force cannot be read either: the folder's stands in, zero-shot heads.
        taxonomy = load_taxonomy(Path(settings.taxonomy_dir))
        tagger = build_tagger(taxonomy, await runtime.tagging.encoder())
        outcomes = await store_measured(runtime.ingest, tagger, measured)
    finally:
        await runtime.close()
    by_name = {o.name: o for o in outcomes}
    assert [o.name for o in outcomes] == names
    for photo in photos:
        outcome = by_name[photo.name]
        assert outcome.status == "failed"
        assert outcome.asset_id
        assert outcome.error is not None
        assert outcome.error.startswith(f"{photo.name}: OpenSearch is unreachable")
    assert by_name["notes.jpg"].status == "rejected"
    assert by_name["gone.jpg"].status == "failed"
    assert "cannot read" in (by_name["gone.jpg"].error or "")
