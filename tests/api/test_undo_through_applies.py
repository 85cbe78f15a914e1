"""An undo returns to a value the asset no longer held when taxonomy applies moved it (the
reviewer's value was in force, so no event of the asset carried the older one): it follows
every apply since, in turn, and is refused only when one retired it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from opensearchpy import AsyncOpenSearch

from tagtrail.store import Store
from tagtrail.tagging.taxonomy_files import load_taxonomy
from tagtrail.usecases.runtime import Runtime
from tests.api.conftest import Api, ApiFactory
from tests.api.factories import A, T
from tests.api.test_undo_migrations import _do

pytestmark = pytest.mark.opensearch


def _edit(source: Path, target: Path, renames: dict[str, str], steps: list[Any]) -> Path:
    """``source`` with category values renamed and ``migrations.yaml`` holding ``steps``."""
    shutil.copytree(source, target)
    path = target / "taxonomy.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    category = data["attributes"]["category"]
    for entry in (*category["values"], *category["vocabulary"], *category["rules"]):
        for key in ("id", "maps_to", "then"):
            if entry.get(key) in renames:
                entry[key] = renames[entry[key]]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (target / "migrations.yaml").write_text(yaml.safe_dump({"migrations": steps}), "utf-8")
    return target


def _rename(old: str, new: str) -> dict[str, Any]:
    return {"id": f"{old}-{new}", "attribute": "category", "rename": {"from": old, "to": new}}


async def test_undo_follows_two_renames_of_a_value_the_asset_no_longer_held(
    api: Api, make_api: ApiFactory, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    await api.create(
        [A(id="twice", tags=(T(attribute="category", value="peacoat", probability=0.8),))]
    )
    assert (await _do(api, "correctTag", "twice", 1, value="trench_coat"))["revision"] == 2
    runtime = Runtime(api.settings, Store(api.settings, indexed))
    first = _edit(
        Path(api.settings.taxonomy_dir),
        tmp_path / "v2",
        {"peacoat": "pea_coat"},
        [_rename("peacoat", "pea_coat")],
    )
    await runtime.taxonomy_changes.apply(first)
    second = _edit(
        first, tmp_path / "v3", {"pea_coat": "reefer_coat"}, [_rename("pea_coat", "reefer_coat")]
    )
    await runtime.taxonomy_changes.apply(second)
    new_api = await make_api(taxonomy_dir=str(second))
    assert (await new_api.source("twice"))["revision"] == 2  # no apply wrote on the asset
    undone = await _do(new_api, "reopenTag", "twice", 2)
    assert undone["__typename"] == "TagDecision", undone
    version = load_taxonomy(second).attribute_version("category")
    # Before the fix: refused ("would bring back category 'peacoat' ... no longer has").
    assert undone["asset"]["tag"] == {
        "value": "reefer_coat",
        "state": "flagged",
        "values": ["reefer_coat", "coat", "outerwear"],
        "needsReview": True,
        "reviewed": False,
        "source": "model",
        "taxonomyVersion": version,
    }


async def test_undo_to_a_retired_value_is_still_refused(
    api: Api, make_api: ApiFactory, indexed: AsyncOpenSearch, tmp_path: Path
) -> None:
    await api.create(
        [A(id="retired", tags=(T(attribute="category", value="peacoat", probability=0.8),))]
    )
    assert (await _do(api, "correctTag", "retired", 1, value="trench_coat"))["revision"] == 2
    new = _edit(
        Path(api.settings.taxonomy_dir),
        tmp_path / "v2",
        {"peacoat": "pea_coat"},
        [_rename("peacoat", "pea_coat")],
    )
    data = yaml.safe_load((new / "taxonomy.yaml").read_text(encoding="utf-8"))
    category = data["attributes"]["category"]
    category["values"] = [v for v in category["values"] if v["id"] != "pea_coat"]
    category["vocabulary"] = [v for v in category["vocabulary"] if v.get("maps_to") != "pea_coat"]
    (new / "taxonomy.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    retire = {"id": "no-peacoat", "attribute": "category", "retire": ["peacoat"]}
    (new / "migrations.yaml").write_text(yaml.safe_dump({"migrations": [retire]}), "utf-8")
    await Runtime(api.settings, Store(api.settings, indexed)).taxonomy_changes.apply(new)
    new_api = await make_api(taxonomy_dir=str(new))
    refused = await _do(new_api, "reopenTag", "retired", 2)
    assert refused["__typename"] == "InvalidInput", refused
    assert "'peacoat'" in refused["message"]
    assert (await new_api.source("retired"))["revision"] == 2  # nothing written
