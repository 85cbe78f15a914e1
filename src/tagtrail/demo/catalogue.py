"""A synthetic product-photo catalogue with ground truth, for benchmarks and tests.

Images are drawn, not downloaded (the machine is offline and the truth must be exact):
garment silhouettes filled with a palette colour, optionally patterned with a second colour
that covers clearly less area, on white, light grey or textured paper backdrops, shot as a
top-down flat-lay (slightly rotated), on a ghost mannequin (upright, neck/waist opening
showing the darker inside) or as a fabric close-up. Lighting gradients, vignettes, fabric
shading, sensor noise and JPEG/WebP compression keep the measurement honest.

The ground-truth colour must be measurable, so a garment is never put on a backdrop it
cannot be told from (Lab distance < 14 between colour and backdrop, e.g. ivory or optic
white on white): the backdrop is drawn from the ones that contrast. Close-ups have no backdrop
(``background == "none"``). Everything is a function of ``seed``: same seed, same files.

``colour_drift`` makes colour hard on purpose (real dyes miss their swatch): each garment's
colour is moved a random fraction (up to ``colour_drift``) of the way toward one of its three
nearest palette neighbours, while its label stays the original swatch, as a merchandiser
would label it. Past the boundary the neighbour is the nearest colour and a correct
measurement names it: against the label that reads as a miss, so a calibration is fitted
against the painted colour instead (below).

``colour_mode`` chooses where garment colours come from (the default, ``"swatch"``, is the
palette swatch, drifted as above). ``"uniform"`` draws each garment colour uniformly from
CIELAB within the sRGB gamut (L* in 0..100; a*, b* over the gamut's range; a draw outside the
gamut, or one no backdrop contrasts with, is drawn again), so most colours sit between
swatches, as real products do. ``"boundary"`` paints each garment near the CIEDE2000 boundary
between its swatch and one of its three nearest neighbours, where naming is hardest. In both
the label is the palette colour nearest (CIEDE2000) to the colour painted: what a correct
measurement names. :func:`generate_painted` also returns the painted colour of every item
(before lighting and noise), the truth a calibration is fitted against.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import msgspec
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tagtrail.demo.garment_colour import (
    BACKDROP_RGB,
    COLOUR_MODES,
    MIN_BACKDROP_DE,
    ColourMode,
    de,
    de76,
    paint,
)
from tagtrail.demo.garment_colour import drifted_rgb as drifted_rgb  # callers import it here
from tagtrail.demo.silhouettes import SILHOUETTES
from tagtrail.domain.palette import Palette, hex_to_rgb, srgb_to_lab
from tagtrail.errors import InvalidInput

CATEGORIES = (
    "peacoat",
    "trench_coat",
    "puffer_jacket",
    "cardigan",
    "jumper",
    "dress",
    "t_shirt",
    "shirt",
    "trousers",
    "skirt",
    "sneakers",
    "tote_bag",
)
PATTERNS = ("solid", "stripe", "check", "dot")
SHOT_TYPES = ("flat_lay", "ghost_mannequin", "detail")
BACKGROUNDS = ("white", "light_grey", "textured")
BRANDS = ("Northwind", "Atelier Sud", "Kobo", "Maison Lark", "Fjell & Co")
COLLECTIONS = ("FW24", "SS25", "FW25", "SS26", "FW26")
PHOTOGRAPHERS = ("A. Moreau", "K. Tanaka", "L. Okafor", "S. Lindqvist")

_MIN_PATTERN_DE = 20.0  # ΔE00 between main and pattern colour: a pattern is visibly another
_ON_FORM_ONLY = ("sneakers", "tote_bag")  # no ghost mannequin for these: flat-lay or detail


class CatalogueItem(msgspec.Struct, kw_only=True, frozen=True):
    filename: str
    sku: str
    brand: str
    collection: str
    season: str
    photographer: str
    shoot_date: str
    category: str
    colour: str
    colour_family: str
    pattern: str
    shot_type: str
    background: str


class PaintedItem(msgspec.Struct, kw_only=True, frozen=True):
    """A catalogue item with the colour its garment was painted (before lighting and noise)."""

    item: CatalogueItem
    rgb: tuple[int, int, int]
    lab: tuple[float, float, float]


def _fields() -> tuple[str, ...]:
    return CatalogueItem.__struct_fields__


def _smooth(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: folds, paper blotches, lighting unevenness."""
    small = Image.fromarray(rng.normal(size=(cells, cells)).astype(np.float32), mode="F")
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 1.5


def _pattern_layer(
    rng: np.random.Generator,
    side: int,
    main: tuple[int, int, int],
    second: tuple[int, int, int],
    pattern: str,
    zoom: float,
) -> Image.Image:
    """Main colour with stripes/checks/dots in the second colour covering ≤ ~35%."""
    layer = Image.new("RGB", (side, side), main)
    draw = ImageDraw.Draw(layer)
    period = float(rng.uniform(26, 56) * zoom * side / 768)
    if pattern == "stripe":
        width = period * float(rng.uniform(0.25, 0.35))
        vertical = bool(rng.random() < 0.4)
        for k in range(int(side / period) + 2):
            a = k * period + float(rng.uniform(0, 1))
            box = (a, 0, a + width, side) if vertical else (0, a, side, a + width)
            draw.rectangle(box, fill=second)
    elif pattern == "check":
        width = period * float(rng.uniform(0.12, 0.16))
        for k in range(int(side / period) + 2):
            a = k * period
            draw.rectangle((a, 0, a + width, side), fill=second)
            draw.rectangle((0, a, side, a + width), fill=second)
    elif pattern == "dot":
        radius = period * math.sqrt(float(rng.uniform(0.12, 0.2)) / math.pi)
        for row in range(int(side / period) + 2):
            for col in range(int(side / period) + 2):
                cx = col * period + (period / 2 if row % 2 else 0)
                cy = row * period
                draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=second)
    return layer


def _garment(
    rng: np.random.Generator,
    side: int,
    category: str,
    shot: str,
    fabric: Image.Image,
    main: tuple[int, int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Colour (H, W, 3) and alpha (H, W) of the garment at 2× size, before downsampling."""
    scale = float(rng.uniform(0.72, 0.86)) * side
    ox = (side - scale) / 2 + float(rng.uniform(-0.04, 0.04)) * side
    oy = (side - scale) / 2 + float(rng.uniform(-0.04, 0.04)) * side
    shape = [(ox + x * scale, oy + y * scale) for x, y in SILHOUETTES[category]]
    alpha = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(alpha)
    draw.polygon(shape, fill=255)
    colour = fabric.copy()
    paint = ImageDraw.Draw(colour)
    dark = tuple(int(c * 0.55) for c in main)
    if category == "tote_bag":
        w = int(scale * 0.05)
        for x0 in (0.3, 0.52):
            box = (ox + x0 * scale, oy + 0.12 * scale, ox + (x0 + 0.2) * scale, oy + 0.7 * scale)
            draw.arc(box, 180, 360, fill=255, width=w)
    if category == "sneakers":  # a white rubber sole, like most sneakers
        sole = (ox + 0.06 * scale, oy + 0.61 * scale, ox + 0.94 * scale, oy + 0.67 * scale)
        draw.rectangle(sole, fill=255)
        paint.rectangle(sole, fill=(238, 238, 236))
    if category in ("peacoat", "cardigan", "shirt"):  # buttons: small, darker
        r = scale * 0.015
        for k in range(5):
            cx, cy = ox + 0.5 * scale, oy + (0.36 + 0.1 * k) * scale
            paint.ellipse((cx - r, cy - r, cx + r, cy + r), fill=dark)
    if category == "puffer_jacket":  # quilting seams in a darker shade
        seam = tuple(int(c * 0.8) for c in main)
        for k in range(5):
            y = oy + (0.3 + 0.11 * k) * scale
            paint.line((ox, y, ox + scale, y), fill=seam, width=max(1, int(scale * 0.008)))
    if shot == "ghost_mannequin":  # the open neck or waist shows the garment's darker inside
        top = min(y for _, y in shape)
        cx = ox + 0.5 * scale
        rx, ry = scale * 0.1, scale * 0.035
        paint.ellipse((cx - rx, top, cx + rx, top + 2 * ry), fill=dark)
    rgb = np.asarray(colour, dtype=np.float32)
    a = np.asarray(alpha, dtype=np.float32) / 255.0
    if shot == "ghost_mannequin":  # a body inside: gently darker towards the sides
        xs = (np.arange(side, dtype=np.float32) - ox - scale / 2) / (scale / 2)
        rgb = rgb * (1.0 - 0.06 * np.clip(xs, -1, 1) ** 2)[None, :, None]
    else:
        angle = float(rng.uniform(-10, 10))
        rgb = np.asarray(
            Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).rotate(
                angle, Image.Resampling.BICUBIC
            ),
            dtype=np.float32,
        )
        a = (
            np.asarray(
                Image.fromarray((a * 255).astype(np.uint8)).rotate(
                    angle, Image.Resampling.BILINEAR
                ),
                dtype=np.float32,
            )
            / 255.0
        )
    return rgb, a


def _backdrop(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    base = np.array(BACKDROP_RGB[kind], dtype=np.float32) + float(rng.uniform(-4, 4))
    img = np.broadcast_to(base, (size, size, 3)).copy()
    if kind == "textured":  # paper: blotches plus fine grain
        img *= 1 + 0.025 * _smooth(rng, size, size, 12)[..., None]
        img += rng.normal(0, 3.0, (size, size, 1)).astype(np.float32)
    return img


def _render(
    rng: np.random.Generator,
    item: CatalogueItem,
    palette: Palette,
    size: int,
    main: tuple[int, int, int],
) -> Image.Image:
    second = main
    if item.pattern != "solid":
        candidates = [c for c in palette.colours if de(main, hex_to_rgb(c.hex)) >= _MIN_PATTERN_DE]
        second = hex_to_rgb(candidates[int(rng.integers(len(candidates)))].hex)
    side = 2 * size  # draw at 2× and box-downsample: antialiased edges
    zoom = 2.5 if item.shot_type == "detail" else 1.0
    fabric = _pattern_layer(rng, side, main, second, item.pattern, zoom)
    if item.shot_type == "detail":
        out: np.ndarray = np.asarray(fabric.resize((size, size), Image.Resampling.BOX), float)
        out = out * (1 + 0.04 * _smooth(rng, size, size, 4)[..., None])
    else:
        rgb, alpha = _garment(rng, side, item.category, item.shot_type, fabric, main)
        rgb = np.asarray(
            Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).resize(
                (size, size), Image.Resampling.BOX
            ),
            dtype=np.float32,
        )
        a_img = Image.fromarray((alpha * 255).astype(np.uint8)).resize(
            (size, size), Image.Resampling.BOX
        )
        a = np.asarray(a_img, dtype=np.float32)[..., None] / 255.0
        shadow = a_img.filter(ImageFilter.GaussianBlur(size * 0.02)).transform(
            (size, size), Image.Transform.AFFINE, (1, 0, -size * 0.01, 0, 1, -size * 0.015)
        )
        bg = _backdrop(rng, size, item.background)
        bg *= 1 - 0.06 * np.asarray(shadow, dtype=np.float32)[..., None] / 255.0
        folds = 1 + 0.05 * _smooth(rng, size, size, 7)[..., None]
        out = bg * (1 - a) + rgb * folds * a
    out *= 1 + 0.012 * rng.normal(size=(size, size, 1)).astype(np.float32)  # weave / grain
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1) * 2 - 1
    theta = float(rng.uniform(0, 2 * math.pi))
    gain = 1 + float(rng.uniform(0.0, 0.07)) * (xs * math.cos(theta) + ys * math.sin(theta)) / 1.42
    gain -= float(rng.uniform(0.0, 0.06)) * (xs**2 + ys**2) / 2  # vignette
    cast = 1 + rng.uniform(-0.015, 0.015, 3).astype(np.float32)  # white balance a bit off
    out = out * gain[..., None] * cast + rng.normal(0, float(rng.uniform(1.5, 3.5)), out.shape)
    return Image.fromarray(out.clip(0, 255).round().astype(np.uint8))


def _item(
    rng: np.random.Generator,
    index: int,
    palette: Palette,
    colouring: tuple[np.random.Generator, ColourMode, float],
) -> tuple[CatalogueItem, str, tuple[int, int, int]]:
    swatch = palette.colours[int(rng.integers(len(palette.colours)))]
    colour_rng, mode, drift = colouring
    main, colour = paint(colour_rng, palette, swatch, mode, drift)
    category = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
    r = float(rng.random())
    shot = "detail" if r < 0.1 else "ghost_mannequin"
    if shot != "detail" and (r < 0.55 or category in _ON_FORM_ONLY):
        shot = "flat_lay"
    background = "none"
    if shot != "detail":
        # A swatch catalogue picks the backdrop for the swatch (as it always has); the others
        # for the colour actually painted.
        rgb = hex_to_rgb(colour.hex) if mode == "swatch" else main
        fits = [b for b in BACKGROUNDS if de76(rgb, BACKDROP_RGB[b]) >= MIN_BACKDROP_DE]
        background = fits[int(rng.integers(len(fits)))] if fits else "light_grey"
    pattern = PATTERNS[int(rng.choice(4, p=[0.55, 0.15, 0.15, 0.15]))]
    collection = COLLECTIONS[int(rng.integers(len(COLLECTIONS)))]
    season, year = collection[:2], 2000 + int(collection[2:])
    month = int(rng.integers(3, 10) if season == "FW" else rng.integers(1, 6))
    fmt = rng.random()
    ext = "png" if fmt < 0.05 else "webp" if fmt < 0.1 else "jpg"
    sku = f"TT-{index + 1:06d}"
    item = CatalogueItem(
        filename=f"{sku}.{ext}",
        sku=sku,
        brand=BRANDS[int(rng.integers(len(BRANDS)))],
        collection=collection,
        season=season,
        photographer=PHOTOGRAPHERS[int(rng.integers(len(PHOTOGRAPHERS)))],
        shoot_date=f"{year}-{month:02d}-{int(rng.integers(1, 29)):02d}",
        category=category,
        colour=colour.name,
        colour_family=colour.family,
        pattern=pattern,
        shot_type=shot,
        background=background,
    )
    return item, ext, main


def generate_catalogue(
    n: int,
    out_dir: Path,
    *,
    palette: Palette,
    seed: int = 0,
    size: int = 384,
    colour_drift: float = 0.0,
    colour_mode: ColourMode = "swatch",
) -> list[CatalogueItem]:
    """Write ``n`` images and ``manifest.csv`` into ``out_dir``; deterministic per ``seed``."""
    painted = generate_painted(
        n,
        out_dir,
        palette=palette,
        seed=seed,
        size=size,
        colour_drift=colour_drift,
        colour_mode=colour_mode,
    )
    return [p.item for p in painted]


def generate_painted(
    n: int,
    out_dir: Path,
    *,
    palette: Palette,
    seed: int = 0,
    size: int = 384,
    colour_drift: float = 0.0,
    colour_mode: ColourMode = "swatch",
) -> list[PaintedItem]:
    """:func:`generate_catalogue`, each item with the colour its garment was painted."""
    if n < 0 or size < 64:
        raise InvalidInput("n must be ≥ 0 and size ≥ 64", field="n" if n < 0 else "size")
    if not 0.0 <= colour_drift <= 1.0:
        raise InvalidInput("colour_drift must be within [0, 1]", field="colour_drift")
    if colour_mode not in COLOUR_MODES:
        raise InvalidInput(f"colour_mode must be one of {COLOUR_MODES}", field="colour_mode")
    out_dir.mkdir(parents=True, exist_ok=True)
    items: list[PaintedItem] = []
    for index in range(n):
        rng = np.random.default_rng([seed, index])  # per item: items do not shift each other
        # Its own stream: a drifted or drawn colour never shifts the rest of an item's draws.
        colour_rng = np.random.default_rng([seed, index, 1])
        item, ext, main = _item(rng, index, palette, (colour_rng, colour_mode, colour_drift))
        image = _render(rng, item, palette, size, main)
        path = out_dir / item.filename
        if ext == "jpg":
            image.save(path, "JPEG", quality=int(rng.integers(70, 93)))
        elif ext == "webp":
            image.save(path, "WEBP", quality=int(rng.integers(75, 93)), method=4)
        else:
            image.save(path, "PNG")
        lab = srgb_to_lab(np.array(main, dtype=np.float64))
        items.append(
            PaintedItem(item=item, rgb=main, lab=(float(lab[0]), float(lab[1]), float(lab[2])))
        )
    write_manifest(out_dir / "manifest.csv", [p.item for p in items])
    return items


def write_manifest(path: Path, items: list[CatalogueItem]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(_fields())
        for item in items:
            writer.writerow([getattr(item, f) for f in _fields()])


def read_manifest(path: Path) -> list[CatalogueItem]:
    """Read a ``manifest.csv``; the header must name exactly the :class:`CatalogueItem` fields."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != _fields():
            raise InvalidInput(
                f"{path}: header {reader.fieldnames} is not {list(_fields())}", field="manifest"
            )
        return [CatalogueItem(**{f: row[f] for f in _fields()}) for row in reader]
