"""The synthetic catalogue: determinism, manifest round trip, decodable, measurable truth."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tagtrail.demo.catalogue import (
    BACKGROUNDS,
    CATEGORIES,
    PATTERNS,
    SHOT_TYPES,
    CatalogueItem,
    drifted_rgb,
    generate_catalogue,
    generate_painted,
    read_manifest,
)
from tagtrail.demo.garment_colour import BACKDROP_RGB, uniform_rgb
from tagtrail.domain.palette import (
    Palette,
    delta_e_2000,
    hex_to_rgb,
    nearest_colour,
    srgb_to_lab,
)
from tagtrail.errors import InvalidInput
from tagtrail.tagging.taxonomy_files import load_palette
from tagtrail.vision.colour import ColourAnalyser

PALETTE_FILE = Path(__file__).resolve().parents[2] / "taxonomy" / "default" / "colours.yaml"
FIELDS = [
    "filename",
    "sku",
    "brand",
    "collection",
    "season",
    "photographer",
    "shoot_date",
    "category",
    "colour",
    "colour_family",
    "pattern",
    "shot_type",
    "background",
]


@pytest.fixture(scope="module")
def palette() -> Palette:
    return load_palette(PALETTE_FILE)


@pytest.fixture(scope="module")
def catalogue(
    tmp_path_factory: pytest.TempPathFactory, palette: Palette
) -> tuple[Path, list[CatalogueItem]]:
    out = tmp_path_factory.mktemp("catalogue")
    return out, generate_catalogue(40, out, palette=palette, seed=7, size=256)


def test_same_seed_same_catalogue(tmp_path: Path, palette: Palette) -> None:
    first = generate_catalogue(6, tmp_path / "a", palette=palette, seed=1, size=128)
    second = generate_catalogue(6, tmp_path / "b", palette=palette, seed=1, size=128)
    other = generate_catalogue(6, tmp_path / "c", palette=palette, seed=2, size=128)
    assert first == second
    assert first != other
    for item in first:
        assert (tmp_path / "a" / item.filename).read_bytes() == (
            tmp_path / "b" / item.filename
        ).read_bytes()


def test_manifest_round_trip(catalogue: tuple[Path, list[CatalogueItem]]) -> None:
    out, items = catalogue
    with (out / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == FIELDS
    assert read_manifest(out / "manifest.csv") == items


def test_manifest_with_wrong_header_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.csv"
    bad.write_text("filename,sku\nTT-000001.jpg,TT-000001\n", encoding="utf-8")
    with pytest.raises(InvalidInput):
        read_manifest(bad)


def test_every_image_decodes(catalogue: tuple[Path, list[CatalogueItem]]) -> None:
    out, items = catalogue
    formats = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
    for item in items:
        with Image.open(out / item.filename) as image:
            assert image.format == formats[item.filename.rsplit(".", 1)[1]]
            image.load()
            assert image.convert("RGB").size == (256, 256)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [item.filename for item in items] + ["manifest.csv"]
    )


def test_metadata_is_consistent(
    catalogue: tuple[Path, list[CatalogueItem]], palette: Palette
) -> None:
    _, items = catalogue
    assert [item.sku for item in items] == [f"TT-{i:06d}" for i in range(1, len(items) + 1)]
    for item in items:
        colour = palette.by_name(item.colour)
        assert colour is not None
        assert colour.family == item.colour_family
        assert item.category in CATEGORIES
        assert item.pattern in PATTERNS
        assert item.shot_type in SHOT_TYPES
        assert item.season == item.collection[:2] in {"FW", "SS"}
        assert item.shoot_date[:4] == f"20{item.collection[2:]}"
        if item.shot_type == "detail":
            assert item.background == "none"
        else:
            assert item.background in BACKGROUNDS
        if item.colour in ("optic_white", "ivory"):  # never on a backdrop it blends into
            assert item.background in ("light_grey", "none")


def test_generated_colour_is_measurable(
    catalogue: tuple[Path, list[CatalogueItem]], palette: Palette
) -> None:
    out, items = catalogue
    analyser = ColourAnalyser(palette)
    hits = 0
    for item in items:
        with Image.open(out / item.filename) as image:
            hits += analyser.analyse(image.convert("RGB")).findings[0].name == item.colour
    assert hits >= 0.9 * len(items)


def test_rejects_bad_arguments(tmp_path: Path, palette: Palette) -> None:
    with pytest.raises(InvalidInput):
        generate_catalogue(-1, tmp_path, palette=palette)
    with pytest.raises(InvalidInput, match="colour_drift"):
        generate_catalogue(1, tmp_path, palette=palette, colour_drift=1.5)


def test_drift_moves_colours_toward_a_neighbour_but_keeps_the_label(
    tmp_path: Path, palette: Palette
) -> None:
    plain = generate_catalogue(12, tmp_path / "a", palette=palette, seed=4, size=128)
    drifted = generate_catalogue(
        12, tmp_path / "b", palette=palette, seed=4, size=128, colour_drift=0.6
    )
    assert drifted == plain  # same items, same labels: only the pixels moved
    rng = np.random.default_rng(0)
    moved = [drifted_rgb(rng, palette, item.colour, 0.6) for item in plain]
    swatches = [hex_to_rgb(palette.by_name(item.colour).hex) for item in plain]  # type: ignore[union-attr]
    assert sum(m != s for m, s in zip(moved, swatches, strict=True)) >= 10
    assert drifted_rgb(rng, palette, plain[0].colour, 0.0) == swatches[0]
    differ = 0
    for item in plain:
        with (
            Image.open(tmp_path / "a" / item.filename) as a,
            Image.open(tmp_path / "b" / item.filename) as b,
        ):
            differ += (
                np.asarray(a.convert("RGB")).tobytes() != np.asarray(b.convert("RGB")).tobytes()
            )
    assert differ >= 10


def test_uniform_colours_span_the_gamut_not_just_the_swatches(palette: Palette) -> None:
    labs = np.array(
        [
            srgb_to_lab(np.array(uniform_rgb(np.random.default_rng([9, i])), float))
            for i in range(600)
        ]
    )
    lightness, a, b = labs.T
    assert lightness.min() < 10 < 90 < lightness.max()
    assert a.min() < -60 < 70 < a.max()
    assert b.min() < -70 < 70 < b.max()
    chroma, hue = np.hypot(a, b), np.degrees(np.arctan2(b, a)) % 360
    sectors = set((hue[chroma > 20] // 30).astype(int).tolist())
    assert sectors == set(range(12))  # every hue, not only the palette's
    margins = np.array([nearest_colour(palette, lab)[1] for lab in labs])
    to_swatch = delta_e_2000(labs[:, None, :], palette.lab_array()[None, :, :]).min(axis=1)
    assert np.median(to_swatch) > 4  # most lie between swatches ...
    assert 0.3 < np.mean(margins >= 3) < 0.8  # ... some clearly nearest to one, some not
    assert np.mean(margins < 1) > 0.05


def test_uniform_and_boundary_items_are_labelled_by_the_nearest_colour_painted(
    tmp_path: Path, palette: Palette
) -> None:
    for mode in ("uniform", "boundary"):
        painted = generate_painted(
            10, tmp_path / mode, palette=palette, seed=3, size=96, colour_mode=mode
        )
        margins = []
        for p in painted:
            nearest, margin = nearest_colour(palette, srgb_to_lab(np.array(p.rgb, float)))
            margins.append(margin)
            assert p.item.colour == nearest.name
            assert p.item.colour_family == nearest.family
            assert p.lab == pytest.approx(tuple(srgb_to_lab(np.array(p.rgb, float))))
            if p.item.background != "none":  # a backdrop it can be told from
                backdrop = np.array(BACKDROP_RGB[p.item.background], float)
                assert np.linalg.norm(srgb_to_lab(backdrop) - np.array(p.lab)) >= 14
        assert read_manifest(tmp_path / mode / "manifest.csv") == [p.item for p in painted]
        if mode == "boundary":
            assert np.median(margins) < 3  # near the boundary between neighbours


def test_swatch_items_are_painted_their_swatch_and_catalogue_is_unchanged(
    tmp_path: Path, palette: Palette
) -> None:
    painted = generate_painted(6, tmp_path / "a", palette=palette, seed=1, size=128)
    plain = generate_catalogue(6, tmp_path / "b", palette=palette, seed=1, size=128)
    assert [p.item for p in painted] == plain
    for p in painted:
        assert p.rgb == hex_to_rgb(palette.by_name(p.item.colour).hex)  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="colour_mode"):
        generate_catalogue(1, tmp_path, palette=palette, colour_mode="pastel")  # type: ignore[arg-type]
