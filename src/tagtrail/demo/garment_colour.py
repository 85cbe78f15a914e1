"""Garment colours for the synthetic catalogue: swatches, drifted swatches, colours drawn
uniformly from the gamut, and colours near the boundary between palette neighbours.

Split from :mod:`tagtrail.demo.catalogue` (which draws the photos) because these are the
colour truth a calibration is fitted and checked against; the catalogue's notes say how each
mode is labelled.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from tagtrail.domain.palette import (
    Palette,
    PaletteColour,
    delta_e_2000,
    hex_to_rgb,
    nearest_colour,
    srgb_to_lab,
)
from tagtrail.errors import InvalidInput

ColourMode = Literal["swatch", "uniform", "boundary"]
COLOUR_MODES: tuple[ColourMode, ...] = ("swatch", "uniform", "boundary")

# Lab distance (ΔE76) a garment colour keeps from its backdrop, so the truth is measurable.
# ΔE76, not ΔE00: the product/backdrop mask is a Lab distance, and ΔE00 shrinks differences in
# lightness near white, which would wrongly forbid light grey on white.
MIN_BACKDROP_DE = 14.0
BACKDROP_RGB = {
    "white": (250, 250, 249),
    "light_grey": (204, 204, 203),
    "textured": (236, 231, 222),
}


def de(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    lab = srgb_to_lab(np.array([a, b], dtype=np.float64))
    return float(delta_e_2000(lab[0], lab[1]))


def de76(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    lab = srgb_to_lab(np.array([a, b], dtype=np.float64))
    return float(np.linalg.norm(lab[0] - lab[1]))


def palette_colour(palette: Palette, name: str) -> PaletteColour:
    colour = palette.by_name(name)
    if colour is None:
        raise InvalidInput(f"colour {name!r} is not in the palette", field="colour")
    return colour


def neighbours(palette: Palette, name: str) -> list[PaletteColour]:
    """The three palette colours nearest (CIEDE2000) to the swatch ``name``."""
    main = hex_to_rgb(palette_colour(palette, name).hex)
    others = (c for c in palette.colours if c.name != name)
    return sorted(others, key=lambda c: de(main, hex_to_rgb(c.hex)))[:3]


def drifted_rgb(
    rng: np.random.Generator, palette: Palette, name: str, drift: float
) -> tuple[int, int, int]:
    """The swatch ``name`` moved up to ``drift`` of the way toward a near palette neighbour."""
    main = hex_to_rgb(palette_colour(palette, name).hex)
    if drift <= 0:
        return main
    others = neighbours(palette, name)
    target = np.array(hex_to_rgb(others[int(rng.integers(len(others)))].hex), dtype=float)
    t = float(rng.uniform(0.0, drift))
    mixed = (1 - t) * np.array(main, dtype=float) + t * target
    r, g, b = (int(v) for v in mixed.round().clip(0, 255))
    return r, g, b


# The sRGB gamut's extent in CIELAB (D65), a little generous: the box uniform draws start from.
_LAB_BOX = ((0.0, 100.0), (-90.0, 100.0), (-110.0, 96.0))
_M_XYZ_TO_RGB = np.linalg.inv(
    np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
)


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB (…, 3), D65 → sRGB (…, 3) in 0..255, unclipped (outside 0..255: out of gamut)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    eps, kappa = 216 / 24389, 24389 / 27
    xyz = np.where(f**3 > eps, f**3, (116 * f - 16) / kappa) * np.array([0.95047, 1.0, 1.08883])
    linear = xyz @ _M_XYZ_TO_RGB.T
    srgb = np.where(
        linear <= 0.0031308,
        12.92 * linear,
        1.055 * np.abs(linear) ** (1 / 2.4) * np.sign(linear) - 0.055,
    )
    return np.asarray(srgb * 255.0)


def measurable(rgb: tuple[int, int, int]) -> bool:
    """Some backdrop contrasts with it, so a shot of it on a backdrop can be measured."""
    return any(de76(rgb, backdrop) >= MIN_BACKDROP_DE for backdrop in BACKDROP_RGB.values())


def uniform_rgb(rng: np.random.Generator) -> tuple[int, int, int]:
    """A colour drawn uniformly from CIELAB within the sRGB gamut (rejection sampling), among
    those some backdrop contrasts with; rounded to 8 bits."""
    lo, hi = np.array(_LAB_BOX).T
    while True:
        for lab in rng.uniform(lo, hi, size=(64, 3)):
            srgb = lab_to_srgb(lab)
            if np.all((srgb >= -0.5) & (srgb <= 255.5)):
                r, g, b = (int(v) for v in srgb.round().clip(0, 255))
                if measurable((r, g, b)):
                    return r, g, b


def boundary_rgb(rng: np.random.Generator, palette: Palette, name: str) -> tuple[int, int, int]:
    """The swatch ``name`` moved toward one of its three nearest neighbours to near where the
    nearest palette colour (CIEDE2000) changes: within ±0.2 of that point along the line."""
    main = np.array(hex_to_rgb(palette_colour(palette, name).hex), dtype=float)
    others = neighbours(palette, name)
    target = np.array(hex_to_rgb(others[int(rng.integers(len(others)))].hex), dtype=float)
    steps = np.linspace(0.0, 1.0, 101)
    line = (1 - steps)[:, None] * main + steps[:, None] * target
    distances = delta_e_2000(srgb_to_lab(line)[:, None, :], palette.lab_array()[None, :, :])
    own = [c.name for c in palette.colours].index(name)
    left = np.flatnonzero(distances.argmin(axis=1) != own)
    crossing = float(steps[left[0]]) if len(left) else 0.5
    t = float(np.clip(crossing + rng.uniform(-0.2, 0.2), 0.0, 1.0))
    r, g, b = (int(v) for v in ((1 - t) * main + t * target).round().clip(0, 255))
    return r, g, b


def paint(
    rng: np.random.Generator,
    palette: Palette,
    swatch: PaletteColour,
    mode: ColourMode,
    drift: float,
) -> tuple[tuple[int, int, int], PaletteColour]:
    """The garment's painted colour, and the palette colour it is labelled with."""
    if mode == "swatch":  # the label stays the swatch, even drifted (a merchandiser's label)
        return drifted_rgb(rng, palette, swatch.name, drift), swatch
    main = uniform_rgb(rng) if mode == "uniform" else boundary_rgb(rng, palette, swatch.name)
    return main, nearest_colour(palette, srgb_to_lab(np.array(main, dtype=np.float64)))[0]
