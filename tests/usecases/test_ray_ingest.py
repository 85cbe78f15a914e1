"""Ingest on Ray Data (a local Ray with two CPUs) against the real node, compared with the
in-process ingest of the same files: same assets, tags, events and thumbnails apart from
time, the same per-file outcomes, and re-runs that add nothing.

The encoder is ``random-init:tiny``: a small, randomly initialised CLIP built from a config
with the real transformers code (no weights are downloaded; its tags say UNTRAINED).
"""

from __future__ import annotations

import asyncio
import csv
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from tagtrail.commands import ingest_directory
from tagtrail.config import Settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.store import Store
from tagtrail.tagging.taxonomy_files import load_palette
from tagtrail.usecases.ray_ingest import RayOptions, ingest_on_ray

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def shoot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated photos with a manifest, one file twice, one that is no image, one whose
    metadata is refused."""
    out = tmp_path_factory.mktemp("shoot")
    palette = load_palette(Path(Settings().taxonomy_dir) / "colours.yaml")
    generate_catalogue(20, out, palette=palette, seed=5)
    first = sorted(p for p in out.iterdir() if p.suffix != ".csv")[0]
    shutil.copy(first, out / "again.jpg")
    (out / "notes.jpg").write_bytes(b"not a photo at all")
    shutil.copy(sorted(p for p in out.iterdir() if p.suffix != ".csv")[3], out / "baddate.jpg")
    with (out / "manifest.csv").open("a", newline="") as fh:
        writer = csv.writer(fh)
        header = (out / "manifest.csv").read_text().splitlines()[0].split(",")
        writer.writerow(
            [
                "baddate.jpg" if h == "filename" else ("yesterday" if h == "shoot_date" else "")
                for h in header
            ]
        )
    return out


def _prefixed(settings: Settings, name: str) -> Settings:
    return settings.with_changes(index_prefix=f"{settings.index_prefix}-{name}")


def _manifest(folder: Path) -> dict[str, dict[str, Any]]:
    with (folder / "manifest.csv").open(newline="") as fh:
        return {
            r["filename"]: {k: v for k, v in r.items() if k != "filename"}
            for r in csv.DictReader(fh)
        }


def _timeless(value: Any) -> Any:
    if isinstance(value, dict):
        # Times: "at", "ingested_at", "decided_at", "oldest_pending_at", ...
        return {k: _timeless(v) for k, v in value.items() if k != "at" and not k.endswith("_at")}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


async def _snapshot(settings: Settings) -> dict[str, Any]:
    """Every asset's document, events and thumbnail, read back from the node."""
    store = Store(settings)
    try:
        await store.refresh()
        resp = await store.client.search(
            index=store.assets.index, body={"query": {"match_all": {}}, "size": 1000}
        )
        ids = sorted(hit["_id"] for hit in resp["hits"]["hits"])
        docs = {a: (await store.assets.get(a)).source for a in ids}
        events = {a: [msgspec.to_builtins(e) for e in await store.events.for_asset(a)] for a in ids}
        thumbs = await store.thumbnails.get_many(ids)
        return {
            "docs": docs,
            "events": events,
            "thumbs": {a: t.etag if t else None for a, t in zip(ids, thumbs, strict=True)},
        }
    finally:
        await store.close()


async def _drop(*all_settings: Settings) -> None:
    for settings in all_settings:
        store = Store(settings)
        try:
            await store.client.indices.delete(
                index=f"{settings.index_prefix}-*",
                ignore_unavailable=True,
                allow_no_indices=True,
                expand_wildcards="all",
            )
        finally:
            await store.close()


def _assert_same(local: dict[str, Any], distributed: dict[str, Any]) -> None:
    assert sorted(local["docs"]) == sorted(distributed["docs"])
    assert local["thumbs"] == distributed["thumbs"]
    for asset_id, doc in local["docs"].items():
        other = distributed["docs"][asset_id]
        # Float arithmetic may differ in the last bits between batch compositions.
        np.testing.assert_allclose(doc.pop("vector"), other.pop("vector"), atol=1e-5)
        assert _difference(_timeless(doc), _timeless(other)) is None, asset_id
        events = local["events"][asset_id], distributed["events"][asset_id]
        assert _difference(_timeless(events[0]), _timeless(events[1])) is None, asset_id


def _difference(a: Any, b: Any, path: str = "$") -> str | None:
    """Where two JSON values first differ (floats to 4 places), or None if they agree."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}: keys {sorted(set(a) ^ set(b))}"
        return next((d for k in a if (d := _difference(a[k], b[k], f"{path}.{k}"))), None)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} != {len(b)} items"
        pairs = enumerate(zip(a, b, strict=True))
        found = (_difference(x, y, f"{path}[{i}]") for i, (x, y) in pairs)
        return next((d for d in found if d), None)
    if isinstance(a, float) and isinstance(b, float):
        return None if round(a, 4) == round(b, 4) else f"{path}: {a} != {b}"
    return None if a == b else f"{path}: {a!r} != {b!r}"


def test_ray_ingest_matches_the_in_process_ingest(
    local_ray: None, shoot: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    local, distributed = _prefixed(settings, "local"), _prefixed(settings, "ray")
    try:
        assert asyncio.run(ingest_directory(local, shoot, batch_size=8)) == 1  # bad files
        printed = capsys.readouterr()
        options = RayOptions(batch_size=8)
        outcomes = ingest_on_ray(distributed, str(shoot), _manifest(shoot), options)
        by_name = {o.name: o for o in outcomes}
        files = sorted(p.name for p in shoot.iterdir() if p.name != "manifest.csv")
        assert sorted(by_name) == files
        statuses = ("created", "exists", "rejected")
        counts = {s: sum(o.status == s for o in outcomes) for s in statuses}
        assert counts == {"created": 20, "exists": 1, "rejected": 2}
        # The in-process command printed the same counts and the same reasons.
        assert "created=20 exists=1 rejected=2" in printed.out
        for name in ("notes.jpg", "baddate.jpg"):
            error = by_name[name].error or ""
            assert name in error
            assert error in printed.err
        assert "shoot_date" in (by_name["baddate.jpg"].error or "")

        before = asyncio.run(_snapshot(distributed))
        _assert_same(asyncio.run(_snapshot(local)), before)

        # Idempotent: the same files again add no asset and no event.
        again = ingest_on_ray(distributed, str(shoot), _manifest(shoot), options)
        assert {o.status for o in again} == {"exists", "rejected"}
        after = asyncio.run(_snapshot(distributed))
        assert after["events"] == before["events"]
        assert sorted(after["docs"]) == sorted(before["docs"])
    finally:
        asyncio.run(_drop(local, distributed))


def test_ray_ingest_resumes_and_reports_unreadable_files(
    local_ray: None, shoot: Path, settings: Settings, tmp_path: Path
) -> None:
    """A run that stopped halfway (here: over half the files) is finished by a second run
    over all of them, which writes only the rest; a file that cannot be read is a failure of
    its own, not of the run."""
    distributed = _prefixed(settings, f"resume{uuid.uuid4().hex[:4]}")
    half = tmp_path / "half"
    half.mkdir()
    photos = sorted(p for p in shoot.iterdir() if p.suffix == ".jpg" and p.stem[0] != "n")
    for path in photos[:8]:
        shutil.copy(path, half / path.name)
    try:
        first = ingest_on_ray(distributed, str(half), {}, RayOptions(batch_size=4, actors=1))
        assert {o.status for o in first} == {"created"}
        full = tmp_path / "full"
        shutil.copytree(shoot, full)
        # A regular file whose bytes cannot be read (EIO): kernel memory through a link.
        (full / "unreadable.jpg").symlink_to("/proc/self/mem")
        second = ingest_on_ray(distributed, str(full), _manifest(full), RayOptions(batch_size=4))
        by_name = {o.name: o for o in second}
        assert all(by_name[p.name].status == "exists" for p in photos[:8])
        failed = by_name["unreadable.jpg"]
        assert failed.status == "failed"
        assert "unreadable.jpg: cannot read" in (failed.error or "")
        created = {o.asset_id for o in second if o.status == "created"}
        assert len(created) == 20 - 8
        assert created.isdisjoint({o.asset_id for o in first})
        snapshot = asyncio.run(_snapshot(distributed))
        assert len(snapshot["docs"]) == 20
    finally:
        asyncio.run(_drop(distributed))


def test_cli_ingest_on_ray_reports_like_the_local_path(
    local_ray: None,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tagtrail.cli import main

    for key, value in (
        ("OPENSEARCH_URL", settings.effective_opensearch_url),
        ("INDEX_PREFIX", settings.index_prefix),
        ("MODEL", settings.model),
    ):
        monkeypatch.setenv(f"TAGTRAIL_{key}", value)
    folder = tmp_path / "shoot"
    assert main(["demo-catalogue", "5", str(folder), "--seed", "9"]) == 0
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    capsys.readouterr()
    try:
        assert main(["ingest", str(folder), "--ray", "--batch-size", "4"]) == 1
        out, err = capsys.readouterr()
        assert "created=5 rejected=1" in out
        assert "rejected: broken.jpg:" in err
        # Bad options are refused before anything runs, naming the option.
        assert main(["ingest", str(folder), "--ray", "--actors", "0"]) == 2
        assert "--actors: at least one encoder actor" in capsys.readouterr().err
        assert main(["ingest", str(folder), "--actors", "2"]) == 2
        assert "--actors needs --ray" in capsys.readouterr().err
    finally:
        asyncio.run(_drop(settings))


# Ray's ``local://`` scheme (the only URI this offline machine can serve) is deprecated.
@pytest.mark.filterwarnings("ignore:.*paths in Ray Data are deprecated")
def test_ray_ingest_reads_a_uri_through_ray_data(
    local_ray: None, settings: Settings, tmp_path: Path
) -> None:
    """A source given as a URI is listed and read by Ray Data's own readers (object storage
    works the same way); ``local://`` is Ray's scheme for the local disk. The manifest and
    hidden files in the folder are not photos; names are paths under the source."""
    import hashlib

    folder = tmp_path / "bucket"
    palette = load_palette(Path(Settings().taxonomy_dir) / "colours.yaml")
    generate_catalogue(4, folder, palette=palette, seed=21)
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    photos = sorted(p for p in folder.iterdir() if p.name.startswith("TT-"))
    distributed = _prefixed(settings, "uri")
    try:
        outcomes = ingest_on_ray(
            distributed, f"local://{folder}", _manifest(folder), RayOptions(batch_size=2)
        )
        by_name = {o.name: o for o in outcomes}
        assert sorted(by_name) == sorted([*(p.name for p in photos), "broken.jpg"])
        assert by_name["broken.jpg"].status == "rejected"
        for photo in photos:
            assert by_name[photo.name].status == "created"
            assert by_name[photo.name].asset_id == hashlib.sha256(photo.read_bytes()).hexdigest()
        docs = asyncio.run(_snapshot(distributed))["docs"]
        skus = _manifest(folder)
        # The manifest's metadata reached the assets, matched by name under the source.
        assert {d["sku"] for d in docs.values()} == {skus[p.name]["sku"] for p in photos}
    finally:
        asyncio.run(_drop(distributed))


def test_actors_refuse_crops_cut_for_another_model(
    local_ray: None, settings: Settings, tmp_path: Path
) -> None:
    """The driver cut crops one way, the encoder on the node would preprocess another (say,
    TAGTRAIL_MODEL names another model there): the actors refuse to start, and the driver
    says why in tagtrail's words, before a single asset is written."""
    from tagtrail.errors import ConfigError
    from tagtrail.usecases.ray_ingest import prepare_ray_job, run_on_ray
    from tagtrail.vision.encode import ImageSettings

    palette = load_palette(Path(Settings().taxonomy_dir) / "colours.yaml")
    generate_catalogue(2, tmp_path, palette=palette, seed=2)
    distributed = _prefixed(settings, "crops")
    try:
        job = asyncio.run(prepare_ray_job(distributed, str(tmp_path)))
        with pytest.raises(ConfigError, match="TAGTRAIL_MODEL must name the same model"):
            run_on_ray(
                distributed,
                job.sources,
                {},
                image=ImageSettings(200, 200),
                palette=job.palette,
                options=RayOptions(batch_size=2),
                store_id=job.store_id,
            )
        assert asyncio.run(_snapshot(distributed))["docs"] == {}
    finally:
        asyncio.run(_drop(distributed))
