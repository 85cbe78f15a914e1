"""The shipped colour calibration's fitting data: right means the painted colour's nearest name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tagtrail.demo.catalogue import generate_painted
from tagtrail.domain.calibration import Calibration
from tagtrail.domain.palette import Palette, delta_e_2000, nearest_colour
from tagtrail.learning.colour_fit import (
    FittingPhoto,
    fit_shipped,
    lowest_high,
    outcomes,
    threshold_rows,
    truth,
)
from tagtrail.tagging.taxonomy_files import load_palette

PALETTE_FILE = Path(__file__).resolve().parents[2] / "taxonomy" / "default" / "colours.yaml"


@pytest.fixture(scope="module")
def palette() -> Palette:
    return load_palette(PALETTE_FILE)


def test_a_drift_across_a_boundary_is_right_when_the_neighbour_is_named(
    palette: Palette, tmp_path: Path
) -> None:
    painted = generate_painted(
        24, tmp_path, palette=palette, seed=4, size=64, colour_drift=0.6, colour_mode="swatch"
    )
    # The drift moved these past the boundary: the swatch they left is no longer the nearest.
    crossed = [p for p in painted if nearest_colour(palette, p.lab)[0].name != p.item.colour]
    assert crossed, "no drift crossed a boundary: the case under test is missing"
    p = crossed[0]
    nearest = truth(palette, p.lab)
    photos = [
        FittingPhoto(painted_lab=p.lab, named=nearest, confidence=0.3),
        FittingPhoto(painted_lab=p.lab, named=p.item.colour, confidence=0.3),
    ]
    # Naming the neighbour it now sits nearest to is right; naming the swatch it left is not.
    assert outcomes(palette, photos) == [(0.3, True), (0.3, False)]


def test_uniform_photos_are_labelled_by_the_nearest_colour_of_what_was_painted(
    palette: Palette, tmp_path: Path
) -> None:
    painted = generate_painted(8, tmp_path, palette=palette, seed=5, size=64, colour_mode="uniform")
    off_swatch = 0
    for p in painted:
        de = delta_e_2000(np.array(p.lab)[None, :], palette.lab_array())
        nearest = palette.colours[int(np.argmin(de))].name
        off_swatch += float(de.min()) > 1.0
        assert truth(palette, p.lab) == nearest == p.item.colour
        photo = FittingPhoto(painted_lab=p.lab, named=nearest, confidence=0.5)
        assert outcomes(palette, [photo]) == [(0.5, True)]
    assert off_swatch >= 6  # the painted colours are not swatches


def test_the_fit_learns_from_painted_truth(palette: Palette) -> None:
    # Wrong only at small confidence: the fitted probability rises with the confidence.
    navy, black = palette.by_name("navy"), palette.by_name("black")
    assert navy is not None
    assert black is not None
    rng = np.random.default_rng(0)
    photos = []
    for c in rng.uniform(0, 1, 400):
        right = rng.random() < c
        photos.append(
            FittingPhoto(painted_lab=navy.lab, named="navy" if right else "black", confidence=c)
        )
    fitted = fit_shipped(palette, photos, source="test")
    assert fitted.source == "test"
    assert fitted.n == 400
    assert fitted.a > 0
    assert fitted.apply_one(0.1) < 0.5 < fitted.apply_one(0.9)


def test_the_lowest_high_keeps_every_judged_set_above_the_target() -> None:
    identity = Calibration()
    highs = [0.95, 0.9, 0.85, 0.8]
    # Confidence is the probability here (identity): 300 right at 0.96, then 100 at each
    # lower step, right but for 1 at 0.92, 10 at 0.87 and 40 at 0.82.
    rows = [(0.96, True)] * 300
    rows += [(0.92, i > 0) for i in range(100)]
    rows += [(0.87, i >= 10) for i in range(100)]
    rows += [(0.82, i >= 40) for i in range(100)]
    table = threshold_rows(identity, rows, highs)
    assert [r.auto for r in table] == [300, 400, 500, 600]
    assert table[1].precision == pytest.approx(399 / 400)
    assert table[0].precision_low < 1.0  # an interval, not the point estimate
    easy = threshold_rows(identity, [(0.99, True)] * 500, highs)
    # 0.85: 489/500 right, Wilson low ≈ 0.961 < 0.98: the lowest safe threshold is 0.9.
    assert lowest_high({"uniform": table, "swatch": easy}, target=0.98, judged=["uniform"]) == 0.9
    # A set that is not judged does not hold the threshold back; a judged one does.
    assert lowest_high({"uniform": easy}, target=0.98, judged=["uniform"]) == 0.8
    hard = threshold_rows(identity, [(0.96, i % 10 != 0) for i in range(100)], highs)
    assert lowest_high({"hard": hard}, target=0.98, judged=["hard"]) == 0.95  # never lower
