"""Measure a product's colours from its pixels and name them from the palette.

Independent of CLIP on purpose: retail colour names are SKU-level ("warm red" is not "cherry"),
which a zero-shot model guesses but pixels can measure. The pipeline, all numpy:

1. downscale (box filter, which also averages away sensor and JPEG noise);
2. model the backdrop from the border pixels as a smooth quadratic surface in CIELAB (so a
   lighting gradient or vignette on the backdrop is part of the model, not "product"), mask
   pixels far from it, clean the mask morphologically, and peel off the product's outline
   (edge pixels blend product and backdrop). If there is no plausible backdrop (detail
   close-ups, patterned fabric filling the frame) the centre region is the product;
3. k-means in CIELAB on the product pixels, then merge clusters closer than lighting
   variation and fold tiny ones, with per-channel medians as robust centres;
4. name each dominant cluster by its nearest palette colour under CIEDE2000.

Confidence of a name is the relative margin to the runner-up,
``(ΔE₂ − ΔE₁) / (ΔE₂ + ΔE₁)``: 1 when the measurement sits on a palette colour, 0 when it is
halfway between two, scale-free so dark and light colours read alike.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec
import numpy as np
from PIL import Image

from tagtrail.errors import ImageRejected
from tagtrail.tagging.palette import Palette, delta_e_2000

ANALYSER_NAME = "tagtrail.colour"
ANALYSER_VERSION = "1.0.0"

_BORDER = 3  # px (at working size) of frame that models the backdrop
_MIN_INLIERS = 0.6  # share of border pixels that must fit the backdrop model
_STRICT_INLIERS = 0.9  # ... when the backdrop is not light and neutral (may be fabric)
_MASK_MIN, _MASK_MAX = 6.0, 14.0  # ΔE76 bounds of the product/backdrop threshold
_FG_MIN, _FG_MAX = 0.02, 0.97  # foreground shares outside these mean the mask is wrong
_CENTRE = 0.7  # side share of the centre region used when there is no backdrop
_SAMPLES = 2000  # pixels fed to k-means; assignment then runs on all product pixels
_ITERATIONS = 15
_MERGE_DE = 6.0  # ΔE00: closer clusters are one colour under lighting and shading
_FOLD_SHARE = 0.03  # clusters smaller than this are folded into their nearest neighbour
_MIN_COVERAGE = 0.08  # clusters below this are not reported as product colours
_ALTERNATIVES = 3
_FLAT_STEP = 6.0  # ΔE76 to a neighbour above which a pixel counts as on a colour edge
_REACH = 20.0  # ΔE76 from a centre within which a pixel counts towards its coverage
_FLAT_MIN = 0.02  # use all product pixels when fewer than this share are away from edges
_FLAT_MIN_PIXELS = 40  # ... or fewer than this many

_M_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])


class ColourAlternative(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    family: str
    delta_e: float


class ColourFinding(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    label: str
    family: str
    hex: str  # the palette colour's hex
    measured_hex: str  # the cluster's robust centre
    lab: tuple[float, float, float]  # the cluster's robust centre
    coverage: float  # share of product pixels
    delta_e: float  # CIEDE2000 from the measurement to the named colour
    alternatives: tuple[ColourAlternative, ...]
    confidence: float  # (ΔE₂ − ΔE₁) / (ΔE₂ + ΔE₁), in [0, 1]


class ColourAnalysis(msgspec.Struct, kw_only=True, frozen=True):
    analyser: str
    findings: tuple[ColourFinding, ...]  # by coverage, largest first
    foreground_share: float  # share of the frame analysed as product
    background_hex: str  # backdrop at the frame centre (border median when none was found)


def _rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) → float32 Lab; a lookup table replaces the per-pixel gamma power and
    the 3×3 matrix is spelled out (a BLAS call costs more than it saves at this size)."""
    lut = np.arange(256, dtype=np.float64) / 255.0
    lut = np.where(lut <= 0.04045, lut / 12.92, ((lut + 0.055) / 1.055) ** 2.4).astype(np.float32)
    r, g, b = lut[rgb[..., 0]], lut[rgb[..., 1]], lut[rgb[..., 2]]
    m = (_M_RGB_TO_XYZ / _WHITE[:, None]).astype(np.float32)
    eps, kappa = 216 / 24389, 24389 / 27
    f = []
    for row in m:
        v = row[0] * r + row[1] * g + row[2] * b
        f.append(np.where(v > eps, np.cbrt(v), (kappa * v + 16) / 116))
    out = np.empty((*rgb.shape[:-1], 3), dtype=np.float32)
    out[..., 0] = 116 * f[1] - 16
    out[..., 1] = 500 * (f[0] - f[1])
    out[..., 2] = 200 * (f[1] - f[2])
    return out


def lab_to_hex(lab: np.ndarray) -> str:
    """One Lab triple → '#RRGGBB' (clipped to the sRGB gamut)."""
    lightness, a, b = (float(v) for v in lab)
    fy = (lightness + 16) / 116
    f = np.array([fy + a / 500, fy, fy - b / 200])
    eps, kappa = 216 / 24389, 24389 / 27
    xyz = np.where(f**3 > eps, f**3, (116 * f - 16) / kappa) * _WHITE
    linear = np.clip(np.linalg.solve(_M_RGB_TO_XYZ, xyz), 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    r, g, bl = (round(float(v) * 255) for v in srgb)
    return f"#{r:02X}{g:02X}{bl:02X}"


def _dilate(mask: np.ndarray) -> np.ndarray:
    """3×3 binary dilation by shifted ORs (no scipy needed at this size)."""
    out = mask.copy()
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    row = out.copy()
    out[:, 1:] |= row[:, :-1]
    out[:, :-1] |= row[:, 1:]
    return out


def _erode(mask: np.ndarray) -> np.ndarray:
    # Outside the frame counts as product so a product cut by the edge is not eaten away.
    return ~_dilate(~mask)


def _box3(values: np.ndarray) -> np.ndarray:
    """3×3 mean with edge padding: smooths per-pixel noise before thresholding."""
    p = np.pad(values, 1, mode="edge")
    h, w = values.shape
    total = np.zeros_like(values)
    for dy in range(3):
        for dx in range(3):
            total += p[dy : dy + h, dx : dx + w]
    return total / 9.0


def _mode(points: np.ndarray) -> np.ndarray:
    """Robust centre: a median, re-taken over the nearer half of the points until it settles
    on the dense core, so a tail of blended or shaded pixels does not drag it."""
    centre = np.median(points, axis=0)
    for _ in range(2):
        d2 = ((points - centre) ** 2).sum(-1)
        near = points[d2 <= max(16.0, float(np.median(d2)))]
        if len(near) == 0:
            break
        centre = np.median(near, axis=0)
    return np.asarray(centre, dtype=np.float64)


def _flat(lab: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Product pixels in locally uniform areas. Pixels on colour edges (pattern lines one or
    two pixels wide at working size, JPEG ringing) are blends of two colours, and a fine
    check of scarlet on cognac would otherwise read as a third colour, warm red."""
    step = np.zeros(lab.shape[:2])
    dx = ((lab[:, 1:] - lab[:, :-1]) ** 2).sum(-1)
    dy = ((lab[1:] - lab[:-1]) ** 2).sum(-1)
    step[:, 1:] = dx
    step[:, :-1] = np.maximum(step[:, :-1], dx)
    step[1:] = np.maximum(step[1:], dy)
    step[:-1] = np.maximum(step[:-1], dy)
    # A fixed step: after the box downscale, noise steps are ~1, well below it.
    flat = core & (step <= _FLAT_STEP**2)
    return flat if flat.sum() >= max(_FLAT_MIN_PIXELS, _FLAT_MIN * core.sum()) else core


class _Backdrop(NamedTuple):
    mask: np.ndarray  # bool (H, W): product pixels
    core: np.ndarray  # bool (H, W): product pixels away from the outline
    hex: str


class ColourAnalyser:
    """Measures product colours against a palette; stateless after construction."""

    def __init__(self, palette: Palette, *, max_side: int = 160, max_clusters: int = 4) -> None:
        if not palette.colours:
            raise ValueError("the palette has no colours")
        if max_side < 16 or max_clusters < 1:
            raise ValueError("max_side must be ≥ 16 and max_clusters ≥ 1")
        self._palette = palette
        self._palette_lab = palette.lab_array()
        self._max_side = max_side
        self._k = max_clusters

    @property
    def version(self) -> str:
        return f"{ANALYSER_NAME}/{ANALYSER_VERSION}"

    def analyse(self, image: Image.Image) -> ColourAnalysis:
        if image.width < 1 or image.height < 1:
            raise ImageRejected("the image is empty", field="image")
        if image.mode != "RGB":
            image = image.convert("RGB")
        scale = self._max_side / max(image.width, image.height)
        if scale < 1:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.BOX)
        lab = _rgb_to_lab(np.asarray(image, dtype=np.uint8))
        backdrop = self._separate(lab)
        # Centres come from pixels away from colour edges. Coverage counts every product pixel
        # within reach of a centre, so a busy pattern is not under-counted, while a pattern too
        # fine to form its own cluster is not credited to whichever colour happens to be nearer.
        centres = self._cluster(lab[_flat(lab, backdrop.core)])
        product = lab[backdrop.core]
        d2 = ((product[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        labels = np.where(d2.min(axis=1) <= _REACH**2, d2.argmin(axis=1), len(centres))
        shares = np.bincount(labels, minlength=len(centres) + 1)[:-1] / len(labels)
        findings = [
            self._name(centres[c], float(shares[c]))
            for c in np.argsort(-shares, kind="stable")
            if shares[c] >= _MIN_COVERAGE or c == int(np.argmax(shares))
        ]
        return ColourAnalysis(
            analyser=self.version,
            findings=tuple(findings),
            foreground_share=round(float(backdrop.mask.mean()), 4),
            background_hex=backdrop.hex,
        )

    # -- product / backdrop separation ------------------------------------------------------

    def _separate(self, lab: np.ndarray) -> _Backdrop:
        h, w = lab.shape[:2]
        b = max(1, min(_BORDER, h // 4, w // 4))
        if min(h, w) < 16:  # too small to tell a backdrop from a product
            return self._centre(lab, np.median(lab.reshape(-1, 3), axis=0))
        x = (np.arange(w, dtype=np.float32) / max(w - 1, 1) * 2 - 1)[None, :]
        y = (np.arange(h, dtype=np.float32) / max(h - 1, 1) * 2 - 1)[:, None]
        border = np.zeros((h, w), dtype=bool)
        border[:b, :] = border[-b:, :] = True
        border[:, :b] = border[:, -b:] = True
        bx, by = np.broadcast_to(x, (h, w))[border], np.broadcast_to(y, (h, w))[border]
        # Quadratic surface: captures gradients and radial vignettes on the backdrop.
        a_border = np.stack([np.ones_like(bx), bx, by, bx * bx, by * by, bx * by], axis=-1)
        a_border = a_border.astype(np.float64)
        lab_border = lab[border].astype(np.float64)
        border_median = np.median(lab_border, axis=0)
        inliers = np.ones(len(lab_border), dtype=bool)
        coef = np.zeros((a_border.shape[-1], 3))
        for _ in range(3):  # refit without border pixels that belong to the product
            a_in = a_border[inliers]
            # Normal equations (a 6×6 solve, far cheaper than lstsq's SVD); the tiny ridge keeps
            # it solvable when the inliers sit on one edge (then the inlier check rejects it).
            gram = a_in.T @ a_in + 1e-3 * np.eye(a_in.shape[1])
            coef = np.linalg.solve(gram, a_in.T @ lab_border[inliers])
            resid = np.linalg.norm(lab_border - a_border @ coef, axis=1)
            scale = float(np.median(resid[inliers]))
            inliers = resid <= max(4.0, 3.0 * scale)
            if inliers.sum() < a_border.shape[-1] * 4:
                return self._centre(lab, border_median)
        c = coef.astype(np.float32)[:, None, None, :]
        x3, y3 = x[..., None], y[..., None]
        model = c[0] + x3 * c[1] + y3 * c[2] + x3 * x3 * c[3] + y3 * y3 * c[4] + x3 * y3 * c[5]
        distance = _box3(np.linalg.norm(lab - model, axis=-1))
        threshold = float(
            np.clip(3.0 * np.quantile(distance[border][inliers], 0.9), _MASK_MIN, _MASK_MAX)
        )
        centre_colour = model[h // 2, w // 2]
        light_neutral = centre_colour[0] >= 55 and float(np.hypot(*centre_colour[1:])) <= 15
        inlier_share = float(inliers.mean())
        if inlier_share < _MIN_INLIERS or (not light_neutral and inlier_share < _STRICT_INLIERS):
            return self._centre(lab, border_median)
        mask = distance > threshold
        mask = _dilate(_erode(mask))  # opening: drop specks of backdrop texture
        mask = _erode(_dilate(mask))  # closing: fill pinholes in the product
        share = float(mask.mean())
        if not _FG_MIN <= share <= _FG_MAX or self._scattered(mask):
            return self._centre(lab, border_median)
        core = _erode(_erode(mask))
        if core.sum() < 0.3 * mask.sum():
            core = mask
        return _Backdrop(mask=mask, core=core, hex=lab_to_hex(centre_colour))

    @staticmethod
    def _scattered(mask: np.ndarray) -> bool:
        """Pattern elements on fabric, not a product on a backdrop: the "product" spans the
        frame but fills little of it (stripes, dots of a close-up whose ground looks like a
        light backdrop)."""
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        box = (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)
        return bool(box >= 0.8 * mask.size and mask.sum() < 0.4 * box)

    @staticmethod
    def _centre(lab: np.ndarray, border_median: np.ndarray) -> _Backdrop:
        h, w = lab.shape[:2]
        mask = np.zeros((h, w), dtype=bool)
        mh, mw = round(h * (1 - _CENTRE) / 2), round(w * (1 - _CENTRE) / 2)
        mask[mh : h - mh, mw : w - mw] = True  # never empty: _CENTRE > 0
        return _Backdrop(mask=mask, core=mask, hex=lab_to_hex(border_median))

    # -- clustering -------------------------------------------------------------------------

    def _cluster(self, pixels: np.ndarray) -> np.ndarray:
        """Robust centres of the product's colours, after merging and folding."""
        rng = np.random.default_rng(0)  # deterministic: same image, same answer
        if len(pixels) > _SAMPLES:  # a sample fixes the centres; coverage uses every pixel
            pixels = pixels[rng.choice(len(pixels), _SAMPLES, replace=False)]
        centres = self._kmeans(pixels, min(self._k, len(pixels)), rng)
        labels = self._assign(pixels, centres)
        centres, labels = self._medians(pixels, labels)
        while len(centres) > 1:
            shares = np.bincount(labels, minlength=len(centres)) / len(labels)
            small = int(np.argmin(shares))
            de = delta_e_2000(centres[:, None, :], centres[None, :, :])
            np.fill_diagonal(de, np.inf)
            i, j = np.unravel_index(int(np.argmin(de)), de.shape)
            if de[i, j] < _MERGE_DE:
                labels = np.where(labels == j, i, labels)
            elif shares[small] < _FOLD_SHARE:
                others = np.delete(np.arange(len(centres)), small)
                # Reassign by nearest remaining centre, not wholesale: the folded pixels are
                # usually blends of two neighbours.
                labels = others[self._assign(pixels, centres[others])]
            else:
                nearest = np.argmin(
                    delta_e_2000(centres[:, None, :], self._palette_lab[None, :, :]), axis=1
                )
                if len(set(nearest.tolist())) == len(centres):
                    break
                # Two clusters carry the same name: report them as one colour.
                first = {int(n): c for c, n in reversed(list(enumerate(nearest)))}
                labels = np.array([first[int(n)] for n in nearest])[labels]
            centres, labels = self._medians(pixels, labels)
        return centres

    @staticmethod
    def _kmeans(sample: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        centres = [sample[rng.integers(len(sample))]]
        for _ in range(1, k):  # k-means++ seeding
            d2 = np.min(((sample[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
            total = float(d2.sum())
            if total <= 0:
                break
            centres.append(sample[rng.choice(len(sample), p=d2 / total)])
        c = np.array(centres)
        for _ in range(_ITERATIONS):
            labels = ColourAnalyser._assign(sample, c)
            counts = np.bincount(labels, minlength=len(c))[:, None]
            sums = np.stack(
                [np.bincount(labels, weights=sample[:, i], minlength=len(c)) for i in range(3)],
                axis=1,
            )
            updated = np.where(counts > 0, sums / np.maximum(counts, 1), c)
            if np.allclose(updated, c, atol=0.05):
                break
            c = updated
        return c

    @staticmethod
    def _assign(pixels: np.ndarray, centres: np.ndarray) -> np.ndarray:
        d2 = ((pixels[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        return np.asarray(np.argmin(d2, axis=1), dtype=np.intp)

    @staticmethod
    def _medians(pixels: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Drop empty clusters, renumber densely, and take robust centres (see ``_mode``):
        JPEG ringing and outline pixels would drag a mean."""
        used, dense = np.unique(labels, return_inverse=True)
        dense = dense.reshape(labels.shape)
        centres = np.array([_mode(pixels[dense == i]) for i in range(len(used))])
        return centres, dense

    # -- naming -----------------------------------------------------------------------------

    def _name(self, lab: np.ndarray, coverage: float) -> ColourFinding:
        de = delta_e_2000(lab[None, :], self._palette_lab)
        order = np.argsort(de, kind="stable")
        best = self._palette.colours[int(order[0])]
        d1 = float(de[order[0]])
        d2 = float(de[order[1]]) if len(order) > 1 else d1
        confidence = 1.0 if d1 + d2 <= 0 or len(order) == 1 else (d2 - d1) / (d2 + d1)
        alternatives = tuple(
            ColourAlternative(
                name=self._palette.colours[int(i)].name,
                family=self._palette.colours[int(i)].family,
                delta_e=round(float(de[i]), 2),
            )
            for i in order[1 : 1 + _ALTERNATIVES]
        )
        return ColourFinding(
            name=best.name,
            label=best.label,
            family=best.family,
            hex=best.hex,
            measured_hex=lab_to_hex(lab),
            lab=(round(float(lab[0]), 2), round(float(lab[1]), 2), round(float(lab[2]), 2)),
            coverage=round(coverage, 4),
            delta_e=round(d1, 2),
            alternatives=alternatives,
            confidence=round(float(np.clip(confidence, 0.0, 1.0)), 3),
        )
