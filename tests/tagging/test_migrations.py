"""Migrations that say something ambiguous are refused, naming the migration: a rename onto
a value that already exists (a merge must be said as a merge), a rename or retirement of a
value that stays, a chain or cycle, a value in two migrations. Relabelling the taxonomy's
release moves no attribute."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.changes import tag_changes
from tagtrail.domain.taxonomy.migrations import (
    Migrations,
    follow,
    follow_value,
    parse_migrations,
    validate_migrations,
)
from tagtrail.errors import InvalidInput
from tagtrail.tagging.taxonomy_files import load_taxonomy

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "taxonomy" / "default"


@pytest.fixture(scope="module")
def old() -> Taxonomy:
    return load_taxonomy(DEFAULT_ROOT)


def _new(tmp_path: Path, change: Callable[[list[dict[str, Any]]], None] | None = None) -> Taxonomy:
    """The default taxonomy with ``change`` applied to its category values."""
    root = tmp_path / "new"
    shutil.copytree(DEFAULT_ROOT, root)
    path = root / "taxonomy.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if change is not None:
        category = data["attributes"]["category"]
        before = {v["id"] for v in category["values"]}
        change(category["values"])
        gone = before - {v["id"] for v in category["values"]}
        category["vocabulary"] = [e for e in category["vocabulary"] if e.get("maps_to") not in gone]
        category["rules"] = [r for r in category["rules"] if r.get("then") not in gone]
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return load_taxonomy(root)


def _steps(*steps: dict[str, Any]) -> Migrations:
    return parse_migrations({"migrations": list(steps)}, file="migrations.yaml")


def _without(*ids: str) -> Callable[[list[dict[str, Any]]], None]:
    def change(values: list[dict[str, Any]]) -> None:
        values[:] = [v for v in values if v["id"] not in ids]

    return change


def _renamed(old_id: str, new_id: str) -> Callable[[list[dict[str, Any]]], None]:
    def change(values: list[dict[str, Any]]) -> None:
        values.append({**next(v for v in values if v["id"] == old_id), "id": new_id})

    return change


def test_a_rename_onto_an_existing_value_must_be_said_as_a_merge(
    old: Taxonomy, tmp_path: Path
) -> None:
    new = _new(tmp_path, _without("knitted_vest"))
    rename = {
        "id": "vests",
        "attribute": "category",
        "rename": {"from": "knitted_vest", "to": "cardigan"},
    }
    with pytest.raises(InvalidInput, match=r"'vests'.*already exists.*merge") as refused:
        validate_migrations(old, new, _steps(rename))
    assert refused.value.field == "migrations"
    merge = {
        "id": "vests",
        "attribute": "category",
        "merge": {"from": ["knitted_vest", "cardigan"], "to": "cardigan"},
    }
    validate_migrations(old, new, _steps(merge))  # said as a merge: accepted


def test_a_rename_or_retirement_of_a_value_that_stays_is_refused(
    old: Taxonomy, tmp_path: Path
) -> None:
    new = _new(tmp_path, _renamed("cardigan", "cardigan_knit"))  # cardigan stays
    rename = {
        "id": "knit",
        "attribute": "category",
        "rename": {"from": "cardigan", "to": "cardigan_knit"},
    }
    with pytest.raises(InvalidInput, match=r"'knit'.*cardigan stays in the new taxonomy"):
        validate_migrations(old, new, _steps(rename))
    retire = {"id": "no-cardigans", "attribute": "category", "retire": ["cardigan"]}
    with pytest.raises(InvalidInput, match=r"'no-cardigans'.*cardigan stays"):
        validate_migrations(old, new, _steps(retire))


def test_a_rename_cycle_or_chain_is_refused(old: Taxonomy, tmp_path: Path) -> None:
    new = _new(tmp_path)  # both values stay: the cycle would flip decisions on every apply
    cycle = _steps(
        {"id": "a", "attribute": "category", "rename": {"from": "cardigan", "to": "knitted_vest"}},
        {"id": "b", "attribute": "category", "rename": {"from": "knitted_vest", "to": "cardigan"}},
    )
    with pytest.raises(InvalidInput, match=r"migration 'a'.*'b' moves on: a chain or cycle"):
        validate_migrations(old, new, cycle)
    chain_to = _new(tmp_path / "chain", _without("playsuit", "knitted_vest"))
    chain = _steps(
        {"id": "a", "attribute": "category", "rename": {"from": "playsuit", "to": "knitted_vest"}},
        {"id": "b", "attribute": "category", "merge": {"from": ["knitted_vest"], "to": "cardigan"}},
    )
    with pytest.raises(InvalidInput, match=r"'a'.*chain or cycle"):
        validate_migrations(old, chain_to, chain)


def test_a_value_in_two_migrations_is_refused(old: Taxonomy, tmp_path: Path) -> None:
    new = _new(tmp_path, _without("knitted_vest"))
    twice = _steps(
        {"id": "a", "attribute": "category", "retire": ["knitted_vest"]},
        {"id": "b", "attribute": "category", "merge": {"from": ["knitted_vest"], "to": "cardigan"}},
    )
    with pytest.raises(InvalidInput, match=r"'b'.*knitted_vest is also in migration 'a'"):
        validate_migrations(old, new, twice)


def test_relabelling_the_release_moves_no_attribute(old: Taxonomy, tmp_path: Path) -> None:
    root = tmp_path / "relabelled"
    shutil.copytree(DEFAULT_ROOT, root)
    path = root / "taxonomy.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            f"label: {old.label}", "label: default-2026.12", 1
        ),
        encoding="utf-8",
    )
    new = load_taxonomy(root)
    assert new.label == "default-2026.12"
    assert new.version != old.version
    assert new.attribute_versions == old.attribute_versions


def test_a_value_follows_each_apply_in_turn_and_stops_at_a_retirement() -> None:
    """What an undo carries an older value through: rename, then merge, then split (its
    first target, as the product's split does); a retirement leaves nowhere to go."""
    first = parse_migrations(
        {
            "migrations": [
                {
                    "id": "r",
                    "attribute": "category",
                    "rename": {"from": "peacoat", "to": "pea_coat"},
                },
            ]
        },
        file="m1",
    )
    second = parse_migrations(
        {
            "migrations": [
                {
                    "id": "m",
                    "attribute": "category",
                    "merge": {"from": ["pea_coat", "reefer"], "to": "reefer"},
                },
                {
                    "id": "s",
                    "attribute": "colour",
                    "split": {"from": "navy", "to": ["ink", "marine"]},
                },
                {"id": "x", "attribute": "material", "retire": ["mohair"]},
            ]
        },
        file="m2",
    )
    changes = [first.steps, second.steps]
    assert follow_value("category", "peacoat", changes) == "reefer"
    assert follow_value("category", "peacoat", changes[:1]) == "pea_coat"
    assert follow_value("category", "trench_coat", changes) == "trench_coat"
    assert follow_value("colour", "navy", changes) == "ink"
    # Only a split chooses a target for the value: an undo through it goes back to review.
    assert follow("colour", "navy", changes).split
    assert not follow("category", "peacoat", changes).split
    assert follow_value("material", "mohair", changes) is None
    gone = parse_migrations(
        {"migrations": [{"id": "n", "retire_attribute": "category"}]}, file="m3"
    )
    assert follow_value("category", "peacoat", [*changes, gone.steps]) is None


def test_a_merge_moves_its_sources_and_leaves_its_target(old: Taxonomy, tmp_path: Path) -> None:
    """The merge's target is among its sources; its tags (and the tags a first, crashed
    apply already moved onto it) need no change, or each re-run writes them again."""
    new = _new(tmp_path, _without("knitted_vest"))
    merge = _steps(
        {
            "id": "vests",
            "attribute": "category",
            "merge": {"from": ["knitted_vest", "cardigan"], "to": "cardigan"},
        }
    )

    def tag(taxonomy: Taxonomy, value: str, version: str) -> dict[str, Any]:
        found = taxonomy.value("category", value, None)
        return {
            "attribute": "category",
            "slot": None,
            "value": value,
            "state": "confirmed",
            "source": "human",
            "label": found.label if found else value,
            "family": None,
            "values": list(taxonomy.ancestors("category", value, None)),
            "taxonomy_version": version,
        }

    before = old.attribute_version("category")
    moved = tag_changes([tag(old, "knitted_vest", before)], new, merge, None, old)
    assert [(c.step, c.old_value, c.new_value) for c in moved] == [
        ("vests", "knitted_vest", "cardigan")
    ]
    on_target = [
        tag(old, "cardigan", before),
        tag(new, "cardigan", new.attribute_version("category")),
    ]
    assert tag_changes(on_target, new, merge, None, old) == []


def test_a_retired_attribute_applied_again_is_accepted(old: Taxonomy, tmp_path: Path) -> None:
    """Applying a finished retirement again (a resent apply: the version it names is in force)
    changes nothing instead of refusing; an attribute that never existed is still refused,
    and one the taxonomy in force still has is never retired."""
    root = tmp_path / "retired"
    shutil.copytree(DEFAULT_ROOT, root)
    path = root / "taxonomy.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["attributes"].pop("sleeve_length")
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    new = load_taxonomy(root)
    retire = _steps({"id": "no-sleeves", "retire_attribute": "sleeve_length"})
    validate_migrations(old, new, retire)
    validate_migrations(new, new, retire)  # in force already: accepted
    typo = _steps({"id": "typo", "retire_attribute": "sleeve_lenght"})
    with pytest.raises(InvalidInput, match=r"'typo'.*not an attribute"):
        validate_migrations(old, new, typo)
    kept = _steps({"id": "no-colour", "retire_attribute": "colour"})
    with pytest.raises(InvalidInput, match=r"'no-colour' retires 'colour', but"):
        validate_migrations(new, new, kept)
