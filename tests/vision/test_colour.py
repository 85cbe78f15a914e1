"""The pixel colour analyser: exact names, coverage, confidence, backdrop handling."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tagtrail.domain.evidence import ColourAnalysis, ColourFinding
from tagtrail.domain.palette import Palette, hex_to_rgb
from tagtrail.errors import ImageRejected
from tagtrail.tagging.taxonomy_files import load_palette
from tagtrail.vision.colour import ColourAnalyser, lab_to_hex

PALETTE_FILE = Path(__file__).resolve().parents[2] / "taxonomy" / "default" / "colours.yaml"
SHIRT = [
    (70, 30),
    (110, 40),
    (146, 40),
    (186, 30),
    (236, 80),
    (210, 120),
    (186, 104),
    (186, 236),
    (70, 236),
    (70, 104),
    (46, 120),
    (20, 80),
]


@pytest.fixture(scope="module")
def palette() -> Palette:
    return load_palette(PALETTE_FILE)


@pytest.fixture(scope="module")
def analyser(palette: Palette) -> ColourAnalyser:
    return ColourAnalyser(palette)


def _rgb(palette: Palette, name: str) -> tuple[int, int, int]:
    colour = palette.by_name(name)
    assert colour is not None
    return hex_to_rgb(colour.hex)


def _photo(
    main: tuple[int, int, int],
    *,
    stripes: tuple[int, int, int] | None = None,
    backdrop: tuple[int, int, int] = (250, 250, 249),
    seed: int = 0,
    full_frame: bool = False,
) -> Image.Image:
    """A garment on a backdrop (or fabric filling the frame), with a lighting gradient,
    sensor noise and a JPEG round trip."""
    fabric = Image.new("RGB", (256, 256), main)
    if stripes is not None:  # stripes 8 px of every 24: a third of the fabric
        draw = ImageDraw.Draw(fabric)
        for y in range(0, 256, 24):
            draw.rectangle((0, y, 255, y + 7), fill=stripes)
    if full_frame:
        image = fabric
    else:
        mask = Image.new("L", (256, 256), 0)
        ImageDraw.Draw(mask).polygon(SHIRT, fill=255)
        image = Image.composite(fabric, Image.new("RGB", (256, 256), backdrop), mask)
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=np.float64)
    gain = 1 + 0.04 * np.linspace(-1, 1, 256)[None, :, None]
    pixels = pixels * gain + rng.normal(0, 2.5, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=80)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def test_navy_and_black_on_white_are_told_apart(palette: Palette, analyser: ColourAnalyser) -> None:
    navy = analyser.analyse(_photo(_rgb(palette, "navy")))
    black = analyser.analyse(_photo(_rgb(palette, "black")))
    assert navy.findings[0].name == "navy"
    assert black.findings[0].name == "black"
    assert navy.findings[0].family == "blue"
    assert black.findings[0].family == "black"


@pytest.mark.parametrize("name", ["warm_red", "cherry", "tomato"])
def test_reds_are_told_apart(palette: Palette, analyser: ColourAnalyser, name: str) -> None:
    for seed in range(3):
        top = analyser.analyse(_photo(_rgb(palette, name), seed=seed)).findings[0]
        assert top.name == name
        assert top.family == "red"
        assert top.delta_e < 4
        assert top.confidence > 0.5


def test_finding_carries_measurement_and_alternatives(
    palette: Palette, analyser: ColourAnalyser
) -> None:
    analysis = analyser.analyse(_photo(_rgb(palette, "emerald")))
    assert analysis.analyser == analyser.version == "tagtrail.colour/2.0.0"
    top = analysis.findings[0]
    assert top.hex == "#0F8A5F"
    assert top.measured_hex.startswith("#")
    assert len(top.measured_hex) == 7
    assert len(top.alternatives) == 3
    assert top.name not in {a.name for a in top.alternatives}
    distances = [top.delta_e] + [a.delta_e for a in top.alternatives]
    assert distances == sorted(distances)
    assert 0.3 < analysis.foreground_share < 0.7  # the shirt covers about half the frame
    assert (
        sum(
            abs(a - b) for a, b in zip(hex_to_rgb(analysis.background_hex), (250,) * 3, strict=True)
        )
        < 30
    )


def test_two_colour_stripes_have_sensible_coverage(
    palette: Palette, analyser: ColourAnalyser
) -> None:
    analysis = analyser.analyse(_photo(_rgb(palette, "warm_red"), stripes=_rgb(palette, "navy")))
    names = [f.name for f in analysis.findings]
    assert names[:2] == ["warm_red", "navy"]
    coverage = {f.name: f.coverage for f in analysis.findings}
    assert 0.85 <= sum(coverage.values()) <= 1.0
    assert coverage["warm_red"] == pytest.approx(2 / 3, abs=0.12)
    assert coverage["navy"] == pytest.approx(1 / 3, abs=0.12)
    assert [f.coverage for f in analysis.findings] == sorted(
        (f.coverage for f in analysis.findings), reverse=True
    )


def test_confidence_drops_halfway_between_palette_colours(
    palette: Palette, analyser: ColourAnalyser
) -> None:
    royal, cobalt = palette.by_name("royal_blue"), palette.by_name("cobalt")
    assert royal is not None
    assert cobalt is not None
    middle = hex_to_rgb(lab_to_hex((np.array(royal.lab) + np.array(cobalt.lab)) / 2))
    exact = analyser.analyse(_photo(hex_to_rgb(royal.hex))).findings[0]
    halfway = analyser.analyse(_photo(middle)).findings[0]
    assert exact.name == "royal_blue"
    assert halfway.name in {"royal_blue", "cobalt"}
    assert halfway.confidence < 0.25 < exact.confidence
    assert halfway.alternatives[0].name in {"royal_blue", "cobalt"}


def test_confidence_follows_the_margin_in_delta_e_not_the_ratio(analyser: ColourAnalyser) -> None:
    rng = np.random.default_rng(3)
    measured = [
        ColourFinding(
            name="",
            label="",
            family="",
            hex="",
            measured_hex="",
            lab=(float(lab[0]), float(lab[1]), float(lab[2])),
            coverage=1.0,
            delta_e=0.0,
            alternatives=(),
            confidence=0.0,
        )
        for lab in rng.uniform((5, -60, -60), (95, 60, 60), size=(200, 3))
    ]
    stored = ColourAnalysis(
        analyser="x", findings=tuple(measured), foreground_share=1.0, background_hex="#FFFFFF"
    )
    named = analyser.rename(stored).findings
    margins = np.array([f.alternatives[0].delta_e - f.delta_e for f in named])
    ratios = margins / np.array([f.alternatives[0].delta_e + f.delta_e for f in named])
    confidence = np.array([f.confidence for f in named])
    # 1 − exp(−margin / 3 ΔE), from the rounded ΔEs the finding carries.
    assert confidence == pytest.approx(1 - np.exp(-margins / 3), abs=0.005)
    # A clear call far from any swatch outranks a coin toss near one, whatever their ratios.
    order = np.argsort(ratios)
    (flips,) = np.nonzero(np.diff(margins[order]) < -1.0)  # a higher ratio, a smaller margin
    assert flips.size
    for k in flips:
        assert confidence[order[k]] > confidence[order[k + 1]]


def test_fabric_filling_the_frame_is_measured_not_taken_for_backdrop(
    palette: Palette, analyser: ColourAnalyser
) -> None:
    # A light ground with dark stripes looks like a backdrop with "product" stripes.
    image = _photo(_rgb(palette, "sand"), stripes=_rgb(palette, "chocolate"), full_frame=True)
    assert analyser.analyse(image).findings[0].name == "sand"
    solid = analyser.analyse(_photo(_rgb(palette, "teal"), full_frame=True))
    assert solid.findings[0].name == "teal"


def test_light_garment_on_grey_backdrop(palette: Palette, analyser: ColourAnalyser) -> None:
    image = _photo(_rgb(palette, "optic_white"), backdrop=(204, 204, 203))
    assert analyser.analyse(image).findings[0].name == "optic_white"


def test_deterministic_and_mode_tolerant(palette: Palette, analyser: ColourAnalyser) -> None:
    image = _photo(_rgb(palette, "mustard"), stripes=_rgb(palette, "navy"))
    assert analyser.analyse(image) == analyser.analyse(image)
    assert analyser.analyse(image.convert("RGBA")).findings[0].name == "mustard"


def test_empty_image_is_rejected(analyser: ColourAnalyser) -> None:
    with pytest.raises(ImageRejected):
        analyser.analyse(Image.new("RGB", (0, 0)))
