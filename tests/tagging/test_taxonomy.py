from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.errors import TaxonomyError
from tagtrail.tagging.taxonomy_files import load_taxonomy

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "taxonomy" / "default"

CATALOGUE_LEAVES = (
    *("peacoat", "trench_coat", "puffer_jacket", "cardigan", "jumper", "dress"),
    *("t_shirt", "shirt", "trousers", "skirt", "sneakers", "tote_bag"),
)


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(DEFAULT_ROOT)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    copy = tmp_path / "default"
    shutil.copytree(DEFAULT_ROOT, copy)
    return copy


def _edit(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _ids(taxonomy: Taxonomy, attribute: str) -> set[str]:
    return {v.id for v in taxonomy.attribute(attribute).values}


def test_default_taxonomy_loads(taxonomy: Taxonomy) -> None:
    assert taxonomy.name == "default"
    assert re.fullmatch(r"default-2026\.11\+[0-9a-f]{12}", taxonomy.version)
    assert set(CATALOGUE_LEAVES) <= _ids(taxonomy, "category")
    assert {"solid", "stripe", "check", "dot"} <= _ids(taxonomy, "pattern")
    assert {"flat_lay", "on_model", "ghost_mannequin", "detail"} == _ids(taxonomy, "shot_type")
    assert {"spring_summer", "autumn_winter", "all_season"} == _ids(taxonomy, "season_window")
    for name in ("category", "neckline", "sleeve_length", "material"):
        assert taxonomy.attribute(name).source == "model"


def test_catalogue_leaves_are_leaves(taxonomy: Taxonomy) -> None:
    parents = {v.parent for v in taxonomy.attribute("category").values}
    assert not parents & set(CATALOGUE_LEAVES)


def test_colour_values_are_the_palette(taxonomy: Taxonomy) -> None:
    colour = taxonomy.attribute("colour")
    assert colour.source == "colour_analyser"
    assert [v.id for v in colour.values] == [c.name for c in taxonomy.palette.colours]
    assert taxonomy.colour_family("navy") == "blue"
    assert taxonomy.colour_family("no_such_colour") is None
    assert taxonomy.ancestors("colour", "cherry") == ("cherry", "red")
    assert taxonomy.ancestors("colour", "orange") == ("orange",)  # named like its family


def test_governance(taxonomy: Taxonomy) -> None:
    category = taxonomy.attribute("category").governance
    assert (category.high, category.medium, category.cap) == (0.95, 0.75, "auto_applied")
    assert taxonomy.attribute("material").governance.cap == "suggested"


def test_ancestors(taxonomy: Taxonomy) -> None:
    assert taxonomy.ancestors("category", "peacoat") == ("peacoat", "coat", "outerwear")
    assert taxonomy.ancestors("category", "knitwear") == ("knitwear",)
    assert taxonomy.ancestors("pattern", "tartan") == ("tartan", "check")


def test_vocabulary_prompt_ensembles(taxonomy: Taxonomy) -> None:
    (cardigan,) = [m for m in taxonomy.attribute("category").vocabulary if m.label == "cardigan"]
    assert "a product photo of a cardigan" in cardigan.prompts
    assert "a button-up knitted cardigan" in cardigan.prompts
    assert all("{" not in p for a in taxonomy.attributes for m in a.vocabulary for p in m.prompts)


def test_mapping_order_puts_conditions_first(taxonomy: Taxonomy) -> None:
    order = taxonomy.mapping_order
    assert set(order) == set(taxonomy.attribute_names)
    assert order.index("season_window") < order.index("category")


def test_search_terms(taxonomy: Taxonomy) -> None:
    assert taxonomy.search_terms("category", "jumper") == ("Jumper", "sweater", "pullover", "knit")
    northwind = taxonomy.search_terms("category", "puffer_jacket", "Northwind")
    assert northwind[:2] == ("Down Jacket", "Puffer Jacket")


def test_brand_overlay(taxonomy: Taxonomy) -> None:
    assert taxonomy.brand("Northwind") is taxonomy.brand("northwind")
    assert taxonomy.brand("Northwind Outdoor") is taxonomy.brand("northwind")
    brand = taxonomy.brand("Linen & Loom")
    assert brand is not None
    assert brand.id == "linen_loom"
    assert taxonomy.brand("Acme") is None
    assert taxonomy.value("category", "storm_parka") is None
    parka = taxonomy.value("category", "storm_parka", "Northwind")
    assert parka is not None
    assert parka.label == "Storm Parka"
    assert taxonomy.ancestors("category", "storm_parka", "Northwind") == (
        "storm_parka",
        "outerwear",
    )
    renamed = taxonomy.value("category", "puffer_jacket", "Northwind")
    assert renamed is not None
    assert renamed.label == "Down Jacket"
    plain = taxonomy.value("category", "puffer_jacket", "Linen & Loom")
    assert plain is not None
    assert plain.label == "Puffer Jacket"
    midnight = taxonomy.value("colour", "navy", "northwind")
    assert midnight is not None
    assert midnight.label == "Midnight"
    labels = {m.label for m in taxonomy.vocabulary_for("category", "northwind")}
    assert "storm parka" in labels
    assert "storm parka" not in {m.label for m in taxonomy.vocabulary_for("category")}


def test_version_changes_with_any_file(root: Path) -> None:
    before = load_taxonomy(root).version

    def tweak_hex(data: Any) -> None:
        data["colours"][0]["hex"] = "#C8322C"

    _edit(root / "colours.yaml", tweak_hex)
    after_palette = load_taxonomy(root).version
    assert after_palette != before
    assert after_palette.startswith("default-2026.11+")

    def rename(data: Any) -> None:
        data["attributes"]["category"]["labels"]["gilet"] = "Vest"

    _edit(root / "brands" / "northwind.yaml", rename)
    assert load_taxonomy(root).version not in (before, after_palette)


def test_version_ignores_comments_and_layout(root: Path) -> None:
    before = load_taxonomy(root).version
    main = root / "taxonomy.yaml"
    main.write_text("# a new comment\n" + main.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_taxonomy(root).version == before


def _cat(data: Any) -> Any:
    return data["attributes"]["category"]


BROKEN: list[tuple[str, str, Callable[[Any], None], str, str]] = [
    (
        "unknown_parent",
        "taxonomy.yaml",
        lambda d: _cat(d)["values"][3].update(parent="outerwaer"),
        "attributes.category.values[3].parent",
        "unknown parent 'outerwaer'",
    ),
    (
        "unknown_key",
        "taxonomy.yaml",
        lambda d: _cat(d)["values"][2].update(colour="navy"),
        "attributes.category.values[2].colour",
        "unknown key 'colour'",
    ),
    (
        "missing_field",
        "taxonomy.yaml",
        lambda d: _cat(d)["values"][0].pop("id"),
        "attributes.category.values[0].id",
        "missing required field",
    ),
    (
        "duplicate_id",
        "taxonomy.yaml",
        lambda d: _cat(d)["values"].append({"id": "peacoat"}),
        "attributes.category.values[",
        "duplicate value id 'peacoat'",
    ),
    (
        "parent_cycle",
        "taxonomy.yaml",
        lambda d: _cat(d)["values"][0].update(parent="peacoat"),
        "attributes.category.values[0].parent",
        "parent cycle: outerwear → peacoat → coat → outerwear",
    ),
    (
        "rule_unknown_value",
        "taxonomy.yaml",
        lambda d: _cat(d)["rules"][0].update(then="coatigen"),
        "attributes.category.rules[0].then",
        "unknown category value 'coatigen'",
    ),
    (
        "rule_unknown_label",
        "taxonomy.yaml",
        lambda d: _cat(d)["rules"][0].update(when_label=["longline cardigan", "cardi"]),
        "attributes.category.rules[0].when_label[1]",
        "unknown model label 'cardi'",
    ),
    (
        "maps_to_unknown_value",
        "taxonomy.yaml",
        lambda d: _cat(d)["vocabulary"][0].update(maps_to="pea_coat"),
        "attributes.category.vocabulary[0].maps_to",
        "unknown category value 'pea_coat'",
    ),
    (
        "unknown_season",
        "taxonomy.yaml",
        lambda d: _cat(d)["rules"][0].update(when={"season": "summer"}),
        "attributes.category.rules[0].when.season",
        "unknown season 'summer'",
    ),
    (
        "condition_unknown_value",
        "taxonomy.yaml",
        lambda d: _cat(d)["rules"][0].update(when={"shot_type": "packshot"}),
        "attributes.category.rules[0].when.shot_type",
        "unknown shot_type value 'packshot'",
    ),
    (
        "condition_cycle",
        "taxonomy.yaml",
        lambda d: d["attributes"]["season_window"].update(
            rules=[
                {
                    "id": "x",
                    "when_label": "summer clothing",
                    "when": {"category": "outerwear"},
                    "then": "autumn_winter",
                }
            ]
        ),
        "attributes.",
        "rule conditions form a cycle",
    ),
    (
        "threshold_out_of_range",
        "taxonomy.yaml",
        lambda d: d["attributes"]["pattern"].update(governance={"high": 1.5}),
        "attributes.pattern.governance.high",
        "threshold must be in [0, 1]",
    ),
    (
        "medium_above_high",
        "taxonomy.yaml",
        lambda d: d.update(governance_defaults={"high": 0.8, "medium": 0.9}),
        "governance_defaults.medium",
        "medium 0.9 > high 0.8",
    ),
    (
        "unknown_cap",
        "taxonomy.yaml",
        lambda d: d["attributes"]["material"].update(governance={"cap": "never"}),
        "attributes.material.governance.cap",
        "unknown tier 'never'",
    ),
    (
        "bad_kind",
        "taxonomy.yaml",
        lambda d: d["attributes"]["pattern"].update(kind="many"),
        "attributes.pattern.kind",
        "unknown kind 'many'",
    ),
    (
        "colour_with_values",
        "taxonomy.yaml",
        lambda d: d["attributes"]["colour"].update(values=[{"id": "navy"}]),
        "attributes.colour.values",
        "colour values come from colours.yaml",
    ),
    (
        "template_without_label",
        "taxonomy.yaml",
        lambda d: d["prompt_templates"].append("a product photo of a {lable}"),
        "prompt_templates[3]",
        "must contain '{label}'",
    ),
    (
        "overlay_unknown_brand",
        "brands/northwind.yaml",
        lambda d: d.update(brand="southwind"),
        "brand",
        "unknown brand 'southwind'",
    ),
    (
        "overlay_unknown_attribute",
        "brands/northwind.yaml",
        lambda d: d["attributes"].update(fit={"labels": {}}),
        "attributes.fit",
        "unknown key 'fit'",
    ),
    (
        "overlay_rename_unknown_value",
        "brands/northwind.yaml",
        lambda d: d["attributes"]["category"]["labels"].update(anorak="Anorak"),
        "attributes.category.labels.anorak",
        "unknown key 'anorak'",
    ),
    (
        "overlay_duplicate_value",
        "brands/northwind.yaml",
        lambda d: d["attributes"]["category"]["values"].append({"id": "parka"}),
        "attributes.category.values[1].id",
        "duplicate value id 'parka'",
    ),
    (
        "overlay_rule_unknown_value",
        "brands/northwind.yaml",
        lambda d: d["attributes"]["category"]["rules"][0].update(then="stormparka"),
        "attributes.category.rules[0].then",
        "unknown category value 'stormparka'",
    ),
    (
        "palette_bad_hex",
        "colours.yaml",
        lambda d: d["colours"][0].update(hex="#C8322"),
        "colours[0] (warm_red).hex",
        "expected '#RRGGBB'",
    ),
]


@pytest.mark.parametrize(
    ("file", "change", "path", "message"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_validation_errors_name_file_and_path(
    root: Path, file: str, change: Callable[[Any], None], path: str, message: str
) -> None:
    _edit(root / file, change)
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(root)
    error = info.value
    assert error.file == str(root / file)
    assert error.path.startswith(path)
    assert message in error.message
    assert str(error).startswith(f"{root / file}: {error.path}: ")


def test_error_message_format(root: Path) -> None:
    _edit(root / "taxonomy.yaml", lambda d: _cat(d)["values"][3].update(parent="outerwaer"))
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(root)
    expected = (
        f"{root / 'taxonomy.yaml'}: attributes.category.values[3].parent: "
        "unknown parent 'outerwaer'"
    )
    assert str(info.value) == expected


def test_invalid_yaml_names_file(root: Path) -> None:
    (root / "brands" / "northwind.yaml").write_text("brand: [unclosed\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not valid YAML") as info:
        load_taxonomy(root)
    assert info.value.file.endswith("northwind.yaml")


def test_overlay_file_name_must_match_brand(root: Path) -> None:
    shutil.copy(root / "brands" / "northwind.yaml", root / "brands" / "linen_loom.yaml")
    with pytest.raises(TaxonomyError, match=r"must live in brands/northwind\.yaml"):
        load_taxonomy(root)


def test_attribute_versions_move_only_with_what_the_attribute_depends_on(root: Path) -> None:
    before = load_taxonomy(root)
    assert set(before.attribute_versions) == set(before.attribute_names)
    assert before.attribute_version("colour").startswith("default+colour:")

    def tweak_hex(data: Any) -> None:
        data["colours"][0]["hex"] = "#C8322C"

    _edit(root / "colours.yaml", tweak_hex)
    palette = load_taxonomy(root)
    moved = {
        a
        for a in before.attribute_names
        if palette.attribute_version(a) != before.attribute_version(a)
    }
    assert moved == {"colour"}  # a palette edit touches colour only

    def relabel(data: Any) -> None:
        _cat(data)["values"][0]["label"] = "Renamed"

    _edit(root / "taxonomy.yaml", relabel)
    label = load_taxonomy(root)
    moved = {
        a
        for a in before.attribute_names
        if label.attribute_version(a) != palette.attribute_version(a)
    }
    assert "category" in moved
    assert "colour" not in moved
    assert "pattern" not in moved
    # An attribute whose rules read season_window moves when season_window does.
    readers = {
        a.name
        for a in before.attributes
        if any(c.key == "season_window" for r in a.rules for c in r.when)
    }
    assert readers == {"category"}

    def window(data: Any) -> None:
        data["attributes"]["season_window"]["values"][0]["label"] = "Spring & Summer"

    _edit(root / "taxonomy.yaml", window)
    after = load_taxonomy(root)
    assert after.attribute_version("category") != label.attribute_version("category")
    assert after.attribute_version("pattern") == label.attribute_version("pattern")
