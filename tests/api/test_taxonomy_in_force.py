"""One taxonomy in force per deployment, stored in OpenSearch (issue 17, "Servers disagree
on the taxonomy in force"). Two servers and a CLI process over one real store: an apply
made through the CLI reaches both servers within their refresh interval, after which they
refuse a retired value; a preview from a process whose folder is already the new taxonomy
still compares against the stored version in force; concurrent applies are told Conflict
and an apply that stopped half-way resumes."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from opensearchpy import AsyncOpenSearch

from tagtrail.config import Settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.errors import Conflict, InvalidInput
from tagtrail.store import Store
from tagtrail.store.indices import ensure_indices
from tagtrail.tagging.taxonomy_files import load_taxonomy_source
from tagtrail.usecases.ingest import IngestItem
from tagtrail.usecases.runtime import Runtime
from tagtrail.usecases.taxonomy_in_force import begin_apply, change_start, finish_apply
from tests.api.conftest import Api, ApiFactory
from tests.api.factories import A, T

pytestmark = pytest.mark.opensearch

REFRESH_S = 0.5
CORRECT = """
mutation($input: TagCorrectionInput!) { correctTag(input: $input) {
  __typename ... on InvalidInput { message field } } }"""
VERSION = "{ taxonomy { version } }"


def _cli(settings: Settings, client: AsyncOpenSearch, **changes: Any) -> Runtime:
    """Another process over the same store (a `tagtrail taxonomy ...` command)."""
    s = settings.with_changes(**changes)
    return Runtime(s, Store(s, client))


#: Jumpers to migrate (a Northwind one, one without a brand), a coatigan and a dress the
#: change leaves alone.
ASSETS = [
    A(id="jumper-nw", tags=(T(attribute="category", value="jumper"),)),
    A(id="jumper", brand=None, tags=(T(attribute="category", value="jumper", probability=0.8),)),
    A(id="coatigan", tags=(T(attribute="category", value="coatigan"),)),
    A(id="untouched", tags=(T(attribute="category", value="dress"),)),
]


def new_taxonomy(settings: Settings, root: Path) -> Path:
    """The default taxonomy with ``jumper`` renamed to ``knit_sweater`` (and its migration)."""
    new = root / "taxonomy-v2"
    shutil.copytree(settings.taxonomy_dir, new)
    main = new / "taxonomy.yaml"
    text = main.read_text(encoding="utf-8")
    assert "{id: jumper, label: Jumper," in text
    text = text.replace("{id: jumper, label: Jumper,", "{id: knit_sweater, label: Knit Sweater,")
    main.write_text(text.replace("maps_to: jumper", "maps_to: knit_sweater"), encoding="utf-8")
    steps = [
        {"id": "knit", "attribute": "category", "rename": {"from": "jumper", "to": "knit_sweater"}}
    ]
    (new / "migrations.yaml").write_text(yaml.safe_dump({"migrations": steps}), encoding="utf-8")
    return new


def _rows(report: Any) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(r) for r in report.rows]


def _relabel_navy(colours: Path) -> None:
    """Another change: the navy swatch relabelled (no migration needed)."""
    data = yaml.safe_load(colours.read_text(encoding="utf-8"))
    next(c for c in data["colours"] if c["name"] == "navy")["label"] = "Ink"
    colours.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _report(report: Any) -> dict[str, Any]:
    return {k: v for k, v in msgspec.to_builtins(report).items() if k != "in_force"}


async def _correct(api: Api, asset_id: str, value: str) -> dict[str, Any]:
    revision = (await api.source(asset_id))["revision"]
    base = {"assetId": asset_id, "attribute": "category", "expectedRevision": revision}
    result: dict[str, Any] = (await api.data(CORRECT, {"input": {**base, "value": value}}))[
        "correctTag"
    ]
    return result


async def test_every_server_follows_an_apply_and_refuses_retired_values(
    make_api: ApiFactory, settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    a = await make_api(taxonomy_refresh_s=REFRESH_S)
    b = await make_api(taxonomy_refresh_s=REFRESH_S)
    await a.create(ASSETS)
    old = (await a.data(VERSION))["taxonomy"]["version"]
    assert (await b.data(VERSION))["taxonomy"]["version"] == old  # both on the seeded version
    uploads = _cli(settings, indexed, taxonomy_refresh_s=REFRESH_S)  # a third process
    assert (await uploads.tagging.tagger()).taxonomy.version == old
    new = new_taxonomy(settings, tmp_path)

    report = await _cli(settings, indexed).taxonomy_changes.apply(new)
    assert report.conflicts == 0
    assert report.in_force == report.new_version != old

    deadline = time.monotonic() + REFRESH_S + 5  # within the refresh interval (plus slack)
    while (await b.data(VERSION))["taxonomy"]["version"] != report.new_version:
        assert time.monotonic() < deadline, "server B never followed the apply"
        await asyncio.sleep(0.1)
    # Before: B kept its folder and answered TagDecision, a value that no longer exists.
    for api in (a, b):
        refused = await _correct(api, "untouched", "jumper")
        assert refused["__typename"] == "InvalidInput", refused
        assert "jumper" in refused["message"]
    assert (await _correct(b, "untouched", "knit_sweater"))["__typename"] == "TagDecision"
    # New photos are mapped onto the version in force too: the tagger is rebuilt.
    while (await uploads.tagging.tagger()).taxonomy.version != report.new_version:
        assert time.monotonic() < deadline, "the tagger never followed the apply"
        await asyncio.sleep(0.1)


async def test_preview_compares_with_the_stored_version_not_the_folder(
    api: Api,
    settings: Settings,
    indexed: AsyncOpenSearch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await api.create(ASSETS)
    server = _cli(settings, indexed)
    # Photos of this encoder too: the model re-decides their attributes that moved.
    photos = tmp_path / "photos"
    generate_catalogue(8, photos, palette=(await server.taxonomy.current()).palette, seed=3)
    files = sorted(p for p in photos.iterdir() if p.suffix != ".csv")
    await server.ingest.batch([IngestItem(name=p.name, data=p.read_bytes()) for p in files])
    await server.store.refresh()
    new = new_taxonomy(settings, tmp_path)
    expected = await server.taxonomy_changes.preview(new, sample=2)
    assert expected.attributes_moved == ["category"]

    # A process started with the new folder before the apply: it says so and compares
    # against the stored version in force. Before: it compared the folder with itself and
    # found nothing to migrate (current_version == new_version, 0 assets).
    switched = _cli(settings, indexed, taxonomy_dir=str(new))
    with caplog.at_level(logging.WARNING, logger="tagtrail.usecases.taxonomy_in_force"):
        found = await switched.taxonomy_changes.preview(new, sample=2)
        assert (await switched.taxonomy.current()).version == expected.current_version
    assert found.current_version == expected.current_version != found.new_version
    assert found.attributes_moved == expected.attributes_moved
    assert (found.assets_changed, found.events) == (expected.assets_changed, expected.events)
    assert _rows(found) == _rows(expected)
    assert any(
        f"holds taxonomy {found.new_version}, but {found.current_version} is in force" in r.message
        for r in caplog.records
    ), caplog.text


async def test_concurrent_applies_are_detected(
    api: Api, settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    await api.create(ASSETS)
    new = new_taxonomy(settings, tmp_path)
    taxonomy, source = load_taxonomy_source(new)
    one, two = _cli(settings, indexed), _cli(settings, indexed)
    starts = [await change_start(s.taxonomy, taxonomy) for s in (one, two)]
    marked = await begin_apply(one.taxonomy, starts[0], source)
    assert marked is not None
    with pytest.raises(Conflict, match="taxonomy in force changed meanwhile"):
        await begin_apply(two.taxonomy, starts[1], source)
    # A rerun takes the unfinished apply over: the first run can no longer finish it.
    resumed = await begin_apply(two.taxonomy, await change_start(two.taxonomy, taxonomy), source)
    assert resumed is not None
    assert resumed.replaces == starts[0].old.version
    with pytest.raises(Conflict):
        await finish_apply(one.taxonomy, marked)


async def test_an_apply_stopped_half_way_resumes(
    make_api: ApiFactory, settings: Settings, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    server = await make_api(taxonomy_refresh_s=REFRESH_S)
    await server.create(ASSETS)
    new = new_taxonomy(settings, tmp_path)
    cli = _cli(settings, indexed)
    expected = await cli.taxonomy_changes.preview(new, sample=2)
    taxonomy, source = load_taxonomy_source(new)
    # The apply put the new version in force, then stopped before migrating any asset.
    start = await change_start(cli.taxonomy, taxonomy)
    assert await begin_apply(cli.taxonomy, start, source) is not None
    await asyncio.sleep(REFRESH_S + 0.1)
    assert (await _correct(server, "untouched", "jumper"))["__typename"] == "InvalidInput"

    other = tmp_path / "v3"  # another change (a relabelled colour) must wait for it
    shutil.copytree(settings.taxonomy_dir, other)
    _relabel_navy(other / "colours.yaml")
    with pytest.raises(InvalidInput, match=re.escape(f"apply of taxonomy {taxonomy.version} (")):
        await _cli(settings, indexed).taxonomy_changes.preview(other)
    again = await _cli(settings, indexed).taxonomy_changes.preview(new, sample=2)
    assert again.in_force == taxonomy.version
    # Still everything to migrate, from the version the unfinished apply replaces.
    assert _report(again) == _report(expected)

    applied = await _cli(settings, indexed).taxonomy_changes.apply(new, sample=2)
    assert (applied.assets_changed, applied.conflicts) == (expected.assets_changed, 0)
    state = await cli.store.taxonomies.in_force()
    assert state is not None
    assert (state.version, state.applying) == (taxonomy.version, False)
    done = await _cli(settings, indexed).taxonomy_changes.apply(new)
    assert (done.assets_changed, done.current_version) == (0, taxonomy.version)


async def test_processes_starting_together_agree_on_the_seeded_version(
    settings: Settings, client: AsyncOpenSearch, tmp_path: Path
) -> None:
    """A fresh store: whichever process seeds first, every process uses that version."""
    await ensure_indices(client, settings)  # not `indexed`: that one seeds already
    other = tmp_path / "other"
    shutil.copytree(settings.taxonomy_dir, other)
    _relabel_navy(other / "colours.yaml")
    processes = [
        _cli(settings, client, taxonomy_dir=str(d))
        for d in (settings.taxonomy_dir, other, settings.taxonomy_dir, other)
    ]
    versions = await asyncio.gather(*(p.taxonomy.current() for p in processes))
    assert len({v.version for v in versions}) == 1
    state = await processes[0].store.taxonomies.in_force()
    assert state is not None
    assert state.version == versions[0].version
