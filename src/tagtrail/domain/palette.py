"""The named colour palette (``colours.yaml``) and the colour science it needs.

Colours are measured, not guessed: the analyser compares pixels with these entries in CIELAB
using CIEDE2000, so the palette carries each colour's Lab value, derived once from its hex.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import numpy as np

from tagtrail.errors import TaxonomyError

_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class PaletteColour(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    label: str
    hex: str
    family: str
    lab: tuple[float, float, float]
    synonyms: tuple[str, ...] = ()


class Palette(msgspec.Struct, kw_only=True, frozen=True):
    families: tuple[str, ...]
    colours: tuple[PaletteColour, ...]

    def by_name(self, name: str) -> PaletteColour | None:
        for colour in self.colours:
            if colour.name == name:
                return colour
        return None

    def lab_array(self) -> np.ndarray:
        """(n, 3) float64 Lab values in palette order."""
        return np.array([c.lab for c in self.colours], dtype=np.float64)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (…, 3) in 0..255 → CIELAB (…, 3), D65 white."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = c @ m.T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return np.asarray(lab)


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference, broadcasting over leading axes of (…, 3) arrays."""
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c1 = np.hypot(a1, b1)
    c2 = np.hypot(a2, b2)
    c_bar7 = ((c1 + c2) / 2) ** 7
    g = 0.5 * (1 - np.sqrt(c_bar7 / (c_bar7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl = l2 - l1
    dc = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, dh)
    dh = np.where(dh < -180, dh + 360, dh)
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    d_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    l_bar = (l1 + l2) / 2
    c_bar = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(
        c1p * c2p == 0,
        h_sum,
        np.where(
            np.abs(h1p - h2p) <= 180,
            h_sum / 2,
            np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
        ),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    c_bar7p = c_bar**7
    r_c = 2 * np.sqrt(c_bar7p / (c_bar7p + 25.0**7))
    s_l = 1 + (0.015 * (l_bar - 50) ** 2) / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * c_bar
    s_h = 1 + 0.015 * c_bar * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.asarray(
        np.sqrt(
            (dl / s_l) ** 2 + (dc / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (dc / s_c) * (d_h / s_h)
        )
    )


def nearest_colour(palette: Palette, lab: object) -> tuple[PaletteColour, float]:
    """The palette colour nearest to one Lab triple under CIEDE2000, and its margin
    ΔE₂ − ΔE₁ over the runner-up: how clearly it is the nearest (0: on a boundary)."""
    de = delta_e_2000(np.asarray(lab, dtype=np.float64)[None, :], palette.lab_array())
    order = np.argsort(de, kind="stable")  # ties: palette order, as the analyser names them
    margin = float(de[order[1]] - de[order[0]]) if len(order) > 1 else float("inf")
    return palette.colours[int(order[0])], margin


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def _fail(file: str, path: str, message: str) -> TaxonomyError:
    return TaxonomyError(message, file=file, path=path)


def parse_palette(raw: Any, *, file: str) -> Palette:
    """Validate a decoded ``colours.yaml`` document; errors name the file and entry path."""
    if not isinstance(raw, dict):
        raise _fail(file, "$", "expected a mapping with 'families' and 'colours'")
    families = raw.get("families")
    if (
        not isinstance(families, list)
        or not families
        or not all(isinstance(f, str) and _NAME.match(f) for f in families)
    ):
        raise _fail(file, "families", "expected a non-empty list of lowercase family names")
    entries = raw.get("colours")
    if not isinstance(entries, list) or not entries:
        raise _fail(file, "colours", "expected a non-empty list of colours")
    seen: set[str] = set()
    colours: list[PaletteColour] = []
    for i, entry in enumerate(entries):
        where = f"colours[{i}]"
        if not isinstance(entry, dict):
            raise _fail(file, where, "expected a mapping with name, label, hex, family")
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _fail(file, f"{where}.name", f"invalid colour name {name!r} (use a_z0_9)")
        where = f"colours[{i}] ({name})"
        if name in seen:
            raise _fail(file, f"{where}.name", f"duplicate colour {name!r}")
        seen.add(name)
        hex_value = entry.get("hex")
        if not isinstance(hex_value, str) or not _HEX.match(hex_value):
            raise _fail(file, f"{where}.hex", f"expected '#RRGGBB', got {hex_value!r}")
        family = entry.get("family")
        if not isinstance(family, str) or family not in families:
            raise _fail(file, f"{where}.family", f"unknown family {family!r}; known: {families}")
        synonyms = entry.get("synonyms", [])
        if not isinstance(synonyms, list) or not all(isinstance(s, str) for s in synonyms):
            raise _fail(file, f"{where}.synonyms", "expected a list of strings")
        lab = srgb_to_lab(np.array(hex_to_rgb(hex_value), dtype=np.float64))
        colours.append(
            PaletteColour(
                name=name,
                label=str(entry.get("label") or name.replace("_", " ").title()),
                hex=hex_value.upper(),
                family=family,
                lab=(float(lab[0]), float(lab[1]), float(lab[2])),
                synonyms=tuple(synonyms),
            )
        )
    return Palette(families=tuple(families), colours=tuple(colours))
