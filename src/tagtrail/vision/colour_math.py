"""Numeric helpers of the colour analyser: sRGB→CIELAB, nearest centres, robust medians,
morphology on small masks, and the frame geometry of the backdrop model.

Kept apart from :mod:`tagtrail.vision.colour` (the analysis itself); tuned for small
working images where numpy's per-call overhead dominates.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

_BORDER = 3  # px (at working size) of frame that models the backdrop
_FLAT_STEP = 6.0  # ΔE76 to a neighbour above which a pixel counts as on a colour edge
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
_EPS, _KAPPA = 216 / 24389, 24389 / 27
_LEVELS = np.arange(256) / 255.0  # sRGB decoding per 8-bit level, then linear RGB → XYZ / white
_LINEAR = np.where(_LEVELS <= 0.04045, _LEVELS / 12.92, ((_LEVELS + 0.055) / 1.055) ** 2.4)
_LINEAR = _LINEAR.astype(np.float32)
_TO_XYZ = (_M_RGB_TO_XYZ / _WHITE[:, None]).astype(np.float32)
_FROM_XYZ = [[float(v) for v in row] for row in np.linalg.inv(_M_RGB_TO_XYZ) * _WHITE]


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) → float32 Lab planes (3, H, W); a lookup table replaces the per-pixel
    gamma power."""
    lab = np.take(_LINEAR, rgb.reshape(-1, 3).T)  # linear RGB, then reused for the result
    f = _TO_XYZ @ lab
    low = f <= _EPS
    toe = (_KAPPA * f[low] + 16) / 116  # the linear toe of the Lab curve (very dark pixels)
    np.cbrt(f, out=f)  # in place throughout: fresh large temporaries cost more than the maths
    f[low] = toe
    np.multiply(f[1], 116, out=lab[0])
    lab[0] -= 16
    np.subtract(f[0], f[1], out=lab[1])
    lab[1] *= 500
    np.subtract(f[1], f[2], out=lab[2])
    lab[2] *= 200
    return lab.reshape(3, *rgb.shape[:2])


def sq_dist(points: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Squared ΔE76 of planar points (3, …) to a centre (3,) or to matching points."""
    d = points - (centre.reshape(3, *[1] * (points.ndim - 1)) if centre.ndim == 1 else centre)
    d *= d
    total: np.ndarray = d[0] + d[1]
    total += d[2]
    return total


def nearest(points: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre (first on ties, as argmin) of planar points (3, N), and its squared
    distance: a loop over the few centres beats an argmin over a short axis."""
    best = sq_dist(points, centres[0])
    labels = np.zeros(best.shape, dtype=np.intp)
    for j in range(1, len(centres)):
        d2 = sq_dist(points, centres[j])
        closer = d2 < best
        labels[closer] = j
        np.minimum(best, d2, out=best)
    return labels, best


def _group_medians(keys: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Medians (as ``np.median``) per group 0..n-1 of the given non-zero sizes, from keys
    ``value + group · span`` (C, N), span above the values' range, so one sort serves every
    group. Still offset by ``group · span``; the keys round values by ~1e-13."""
    ordered = np.sort(keys, axis=-1)
    lo = np.cumsum(counts) - counts + (counts - 1) // 2
    hi = lo + (counts + 1) % 2
    return np.asarray((ordered.take(lo, axis=-1) + ordered.take(hi, axis=-1)) / 2)


def modes(points: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Robust centres (n, 3) of planar points (3, N) per group 0..n-1 (none empty): a median,
    re-taken over the nearer half of each group's points until it settles on the dense core, so
    a tail of blended or shaded pixels does not drag it."""
    # Lab of 8-bit sRGB lies within ±128 and its squared ΔE76 below 2¹⁸: the sort-key spans.
    keys = points + groups * 256.0
    base, base_d2, counts = np.arange(n) * 256.0, np.arange(n) * 2.0**18, np.bincount(groups)
    centres = _group_medians(keys, counts) - base  # (3, n)
    for _ in range(2):
        d2 = sq_dist(points, centres.take(groups, axis=1))
        limit = _group_medians(d2 + groups * 2.0**18, counts) - base_d2
        # At least half of each group's points are this near (the slack covers the rounding).
        near = d2 <= np.maximum(16.0, limit).take(groups) + 1e-6
        kept = np.bincount(groups.compress(near), minlength=n)
        centres = _group_medians(keys.compress(near, axis=1), kept) - base
    return np.ascontiguousarray(centres.T)


def delta_e(p: list[float], q: list[float]) -> float:
    """``tagging.palette.delta_e_2000`` of two Lab triples in plain floats (agrees to ~1e-13):
    for a few centres numpy's per-call overhead costs several times the arithmetic."""
    (l1, a1, b1), (l2, a2, b2) = p, q
    c7 = ((math.hypot(a1, b1) + math.hypot(a2, b2)) / 2) ** 7
    g = 1.5 - 0.5 * math.sqrt(c7 / (c7 + 25.0**7))
    c1, c2 = math.hypot(g * a1, b1), math.hypot(g * a2, b2)
    h1, h2 = math.degrees(math.atan2(b1, g * a1)) % 360, math.degrees(math.atan2(b2, g * a2)) % 360
    dh = h2 - h1
    dh = dh - 360 if dh > 180 else dh + 360 if dh < -180 else dh
    if c1 * c2 == 0:
        dh, h_bar = 0.0, h1 + h2
    elif abs(h1 - h2) <= 180:
        h_bar = (h1 + h2) / 2
    else:
        h_bar = (h1 + h2 + 360) / 2 if h1 + h2 < 360 else (h1 + h2 - 360) / 2
    d_h = 2 * math.sqrt(c1 * c2) * math.sin(math.radians(dh) / 2)
    l_bar, c_bar = (l1 + l2) / 2, (c1 + c2) / 2
    t = 1 - 0.17 * math.cos(math.radians(h_bar - 30)) + 0.24 * math.cos(math.radians(2 * h_bar))
    t += 0.32 * math.cos(math.radians(3 * h_bar + 6))
    t -= 0.20 * math.cos(math.radians(4 * h_bar - 63))
    r_t = -math.sin(math.radians(60 * math.exp(-(((h_bar - 275) / 25) ** 2))))
    r_t *= 2 * math.sqrt(c_bar**7 / (c_bar**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    dl, dc, dhs = (l2 - l1) / s_l, (c2 - c1) / (1 + 0.045 * c_bar), d_h / (1 + 0.015 * c_bar * t)
    return math.sqrt(dl * dl + dc * dc + dhs * dhs + r_t * dc * dhs)


def lab_to_hex(lab: np.ndarray) -> str:
    """One Lab triple → '#RRGGBB' (clipped to the sRGB gamut)."""
    lightness, a, b = (float(v) for v in lab)
    fy = (lightness + 16) / 116
    f = (fy + a / 500, fy, fy - b / 200)
    xyz = [t**3 if t**3 > _EPS else (116 * t - 16) / _KAPPA for t in f]
    out = ""
    for row in _FROM_XYZ:  # plain floats: numpy's per-call overhead dwarfs 3 values
        linear = min(max(row[0] * xyz[0] + row[1] * xyz[1] + row[2] * xyz[2], 0.0), 1.0)
        srgb = 12.92 * linear if linear <= 0.0031308 else 1.055 * linear ** (1 / 2.4) - 0.055
        out += f"{round(srgb * 255):02X}"
    return "#" + out


def dilate(mask: np.ndarray) -> np.ndarray:
    """3×3 binary dilation by shifted ORs (no scipy needed at this size)."""
    out = mask.copy()
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    row = out.copy()
    # Horizontal shifts on the flat array (fast, contiguous), then the two edge columns redone.
    out.reshape(-1)[1:] |= row.reshape(-1)[:-1]
    out.reshape(-1)[:-1] |= row.reshape(-1)[1:]
    out[:, 0] = row[:, 0] | row[:, 1]
    out[:, -1] = row[:, -1] | row[:, -2]
    return out


def erode(mask: np.ndarray) -> np.ndarray:
    # Outside the frame counts as product so a product cut by the edge is not eaten away.
    return ~dilate(~mask)


def box3(values: np.ndarray) -> np.ndarray:
    """3×3 mean with edge padding: smooths per-pixel noise before thresholding."""
    rows = values.copy()
    rows[1:] += values[:-1]
    rows[:-1] += values[1:]
    rows[0] += values[0]
    rows[-1] += values[-1]
    total = rows.copy()
    total.reshape(-1)[1:] += rows.reshape(-1)[:-1]  # flat shifts, then the edge columns redone
    total.reshape(-1)[:-1] += rows.reshape(-1)[1:]
    total[:, 0] = rows[:, 0] + rows[:, 1] + rows[:, 0]
    total[:, -1] = rows[:, -1] + rows[:, -2] + rows[:, -1]
    total /= 9.0
    return total


def flat(lab: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Product pixels in locally uniform areas. Pixels on colour edges (pattern lines one or
    two pixels wide at working size, JPEG ringing) are blends of two colours, and a fine
    check of scarlet on cognac would otherwise read as a third colour, warm red."""
    w = lab.shape[2]
    planes = lab.reshape(3, -1)  # neighbours by flat offsets: contiguous, hence fast
    step = np.zeros(planes.shape[1], dtype=np.float32)
    dx = sq_dist(planes[:, 1:], planes[:, :-1])
    dx[w - 1 :: w] = 0  # pairs that wrap from a row's end to the next row's start
    dy = sq_dist(planes[:, w:], planes[:, :-w])
    step[1:] = dx
    np.maximum(step[:-1], dx, out=step[:-1])
    np.maximum(step[w:], dy, out=step[w:])
    np.maximum(step[:-w], dy, out=step[:-w])
    # A fixed step: after the box downscale, noise steps are ~1, well below it.
    flat = core & (step <= _FLAT_STEP**2).reshape(core.shape)
    enough = max(_FLAT_MIN_PIXELS, _FLAT_MIN * int(np.count_nonzero(core)))
    return flat if np.count_nonzero(flat) >= enough else core


def median(values: np.ndarray) -> float:
    """``np.median`` of a non-empty 1-D array, by partition (np.median's overhead is larger)."""
    n = len(values)
    part = np.partition(values, [(n - 1) // 2, n // 2])
    return float((part[(n - 1) // 2] + part[n // 2]) / 2)


def quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile`` (linear interpolation) of a non-empty 1-D array, by partition."""
    at = q * (len(values) - 1)
    lo, hi = int(at), min(int(at) + 1, len(values) - 1)
    part = np.partition(values, [lo, hi])
    return float(part[lo] + (part[hi] - part[lo]) * (at - lo))


@functools.lru_cache(maxsize=8)
def frame(h: int, w: int) -> tuple[np.ndarray, ...]:
    """Per-size geometry of the backdrop model: x (W,) and y (H,) in [-1, 1], x·y (H, W), the
    border pixels' flat indices and the surface's terms 1, x, y, x², y², xy there (6, N)."""
    b = max(1, min(_BORDER, h // 4, w // 4))
    x = np.arange(w, dtype=np.float32) / max(w - 1, 1) * 2 - 1
    y = np.arange(h, dtype=np.float32) / max(h - 1, 1) * 2 - 1
    border = np.zeros((h, w), dtype=bool)
    border[:b, :] = border[-b:, :] = True
    border[:, :b] = border[:, -b:] = True
    index = np.flatnonzero(border)
    bx, by = x[index % w].astype(np.float64), y[index // w].astype(np.float64)
    basis = np.stack([np.ones_like(bx), bx, by, bx * bx, by * by, bx * by])
    frame = (x, y, y[:, None] * x[None, :], index, basis)
    for array in frame:
        array.flags.writeable = False  # shared between calls
    return frame


class Backdrop(NamedTuple):
    mask: np.ndarray  # bool (H, W): product pixels
    core: np.ndarray  # bool (H, W): product pixels away from the outline
    hex: str
