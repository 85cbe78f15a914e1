from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tagtrail.domain.taxonomy import Taxonomy
from tagtrail.domain.taxonomy.mapping import AssetContext, map_label, map_labels, normalise_season
from tagtrail.errors import InvalidInput
from tagtrail.tagging.taxonomy_files import load_taxonomy

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "taxonomy" / "default"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(DEFAULT_ROOT)


def _value(taxonomy: Taxonomy, attribute: str, label: str, **context: Any) -> str | None:
    mapped = map_label(taxonomy, attribute, label, AssetContext(**context))
    return None if mapped is None else mapped.value


@pytest.mark.parametrize(
    ("season", "expected", "rule_id"),
    [
        ("SS", "coatigan", "longline_cardigan_ss"),
        ("SS26", "coatigan", "longline_cardigan_ss"),
        ("FW", "cardigan", "longline_cardigan_fw"),
        ("AW", "cardigan", "longline_cardigan_fw"),
        ("fw25", "cardigan", "longline_cardigan_fw"),
        (None, "cardigan", "longline_cardigan_default"),
    ],
)
def test_longline_cardigan_depends_on_season(
    taxonomy: Taxonomy, season: str | None, expected: str, rule_id: str
) -> None:
    mapped = map_label(taxonomy, "category", "longline cardigan", AssetContext(season=season))
    assert mapped is not None
    assert (mapped.value, mapped.rule_id, mapped.rule_brand) == (expected, rule_id, None)
    assert mapped.model_label == "longline cardigan"
    if expected == "coatigan":
        assert mapped.ancestors == ("coatigan", "outerwear")
    else:
        assert mapped.ancestors == ("cardigan", "knitwear")


def test_condition_on_another_attribute(taxonomy: Taxonomy) -> None:
    summer = AssetContext(mapped={"season_window": "spring_summer"})
    assert _value(taxonomy, "category", "longline cardigan", mapped=summer.mapped) == "coatigan"
    # The asset's own season outranks the predicted window (its rule comes first).
    assert (
        _value(taxonomy, "category", "longline cardigan", season="FW", mapped=summer.mapped)
        == "cardigan"
    )


def test_map_labels_uses_dependency_order(taxonomy: Taxonomy) -> None:
    result = map_labels(
        taxonomy,
        {
            "category": "longline cardigan",
            "season_window": "summer clothing",
            "neckline": "no neckline",
        },
        AssetContext(),
    )
    assert result["season_window"][0].value == "spring_summer"
    assert result["category"][0].value == "coatigan"
    assert result["category"][0].rule_id == "longline_cardigan_ss_window"
    assert "neckline" not in result  # mapped to nothing
    materials = map_labels(taxonomy, {"material": ["satin", "silk", "wool"]}, AssetContext())
    assert [m.value for m in materials["material"]] == ["silk", "wool"]  # many-to-one deduped


def test_map_labels_rejects_unknown_attribute(taxonomy: Taxonomy) -> None:
    with pytest.raises(InvalidInput, match="unknown attribute 'fit'"):
        map_labels(taxonomy, {"fit": "slim"}, AssetContext())


def test_many_to_one(taxonomy: Taxonomy) -> None:
    results = [
        map_label(taxonomy, "category", label, AssetContext())
        for label in ("puffer jacket", "down jacket", "quilted jacket")
    ]
    assert all(r is not None and r.value == "puffer_jacket" for r in results)
    assert len({r.rule_id for r in results if r is not None}) == 3
    assert _value(taxonomy, "category", "sweater") == "jumper"
    assert _value(taxonomy, "pattern", "plaid") == "check"


def test_catalogue_leaves_are_reachable(taxonomy: Taxonomy) -> None:
    targets = {r.then for r in taxonomy.attribute("category").rules}
    leaves = "peacoat trench_coat puffer_jacket cardigan jumper dress t_shirt shirt trousers skirt"
    assert set(leaves.split()) | {"sneakers", "tote_bag"} <= targets


def test_brand_only_value(taxonomy: Taxonomy) -> None:
    mapped = map_label(taxonomy, "category", "storm parka", AssetContext(brand="Northwind"))
    assert mapped is not None
    assert (mapped.value, mapped.label, mapped.rule_brand) == (
        "storm_parka",
        "Storm Parka",
        "northwind",
    )
    assert mapped.ancestors == ("storm_parka", "outerwear")
    # The brand's vocabulary and rules do not exist for other brands.
    assert _value(taxonomy, "category", "storm parka", brand="Linen & Loom") is None
    assert _value(taxonomy, "category", "storm parka") is None


def test_brand_rule_overrides_base_rule(taxonomy: Taxonomy) -> None:
    assert _value(taxonomy, "category", "parka", brand="Northwind", season="FW26") == "storm_parka"
    assert _value(taxonomy, "category", "parka", brand="Northwind", season="SS26") == "parka"
    assert _value(taxonomy, "category", "parka", season="FW26") == "parka"


def test_brand_renames_label(taxonomy: Taxonomy) -> None:
    mapped = map_label(taxonomy, "category", "down jacket", AssetContext(brand="northwind"))
    assert mapped is not None
    assert (mapped.value, mapped.label) == ("puffer_jacket", "Down Jacket")


def test_co_ord_set_one_sku_or_two(taxonomy: Taxonomy) -> None:
    one = map_label(taxonomy, "category", "co-ord set", AssetContext(brand="Acme"))
    assert one is not None
    assert (one.value, one.rule_id, one.ancestors) == (
        "co_ord_sets",
        "co_ord_set",
        ("co_ord_sets",),
    )
    two = map_label(taxonomy, "category", "co-ord set", AssetContext(brand="Linen & Loom"))
    assert two is not None
    assert two.value == "co_ord_separates"
    assert two.rule_id == "linen_loom_co_ord_separates"
    assert two.ancestors == ("co_ord_separates", "co_ord_sets")


def test_no_rule_gives_none(taxonomy: Taxonomy) -> None:
    assert _value(taxonomy, "neckline", "no neckline") is None
    assert _value(taxonomy, "category", "spaceship") is None


def test_colour_is_identity_with_family(taxonomy: Taxonomy) -> None:
    navy = map_label(taxonomy, "colour", "navy", AssetContext(brand="Northwind"))
    assert navy is not None
    assert (navy.value, navy.label, navy.rule_id, navy.ancestors) == (
        "navy",
        "Midnight",
        "palette",
        ("navy", "blue"),
    )
    assert _value(taxonomy, "colour", "sky") is None


def test_normalise_season() -> None:
    assert normalise_season("SS26") == "SS"
    assert normalise_season("aw") == "FW"
    assert normalise_season("Fall/Winter") == "FW"
    assert normalise_season("resort") is None
    assert normalise_season(None) is None


def test_collection_brand_and_ancestor_conditions(tmp_path: Path) -> None:
    root = tmp_path / "t"
    shutil.copytree(DEFAULT_ROOT, root)
    path = root / "taxonomy.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["attributes"]["category"]["rules"][:0] = [
        {
            "id": "resort_cardigan",
            "when_label": "cardigan",
            "when": {"collection": ["Resort Capsule"], "brand": "northwind"},
            "then": "coatigan",
        }
    ]
    data["attributes"]["sleeve_length"]["rules"] = [
        {
            "id": "outerwear_long",
            "when_label": ["short sleeves", "cap sleeves"],
            "when": {"category": "outerwear"},  # a parent value holds for its descendants
            "then": "long_sleeve",
        }
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    taxonomy = load_taxonomy(root)
    assert taxonomy.mapping_order.index("category") < taxonomy.mapping_order.index("sleeve_length")
    resort = {"collection": "resort capsule"}
    assert _value(taxonomy, "category", "cardigan", brand="Northwind", **resort) == "coatigan"
    assert _value(taxonomy, "category", "cardigan", brand="Linen & Loom", **resort) == "cardigan"
    assert _value(taxonomy, "category", "cardigan", brand="Northwind") == "cardigan"
    on_coat = {"category": "peacoat"}
    assert _value(taxonomy, "sleeve_length", "cap sleeves", mapped=on_coat) == "long_sleeve"
    assert _value(taxonomy, "sleeve_length", "cap sleeves") == "short_sleeve"
    result = map_labels(
        taxonomy, {"sleeve_length": "short sleeves", "category": "peacoat"}, AssetContext()
    )
    assert result["sleeve_length"][0].value == "long_sleeve"
