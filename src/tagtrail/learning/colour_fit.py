"""The shipped colour calibration's fitting data: generated photos with a known painted colour.

A fitting photo counts as right when the analyser names the palette colour nearest
(CIEDE2000) to the colour the generator painted: that is what the analyser claims to
measure. A photo drifted 60 % of the way toward a neighbouring swatch may now be nearest to
the neighbour, and naming the neighbour is then right; labelling it with the swatch it left
taught moderate margins to be unreliable and made the calibration far too timid.

Pure computation: the photos are generated and measured by the caller
(``scripts/fit_colour_calibration.py``).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from tagtrail.domain.calibration import Calibration
from tagtrail.domain.palette import Palette, nearest_colour
from tagtrail.learning.calibrate import fit_platt


class FittingPhoto(msgspec.Struct, kw_only=True, frozen=True):
    """One generated photo as measured: the colour painted and what the analyser made of it."""

    painted_lab: tuple[float, float, float]  # the garment's colour before lighting and noise
    named: str  # the analyser's dominant colour
    confidence: float  # its raw confidence


def truth(palette: Palette, painted_lab: tuple[float, float, float]) -> str:
    """The palette colour a correct measurement of ``painted_lab`` names."""
    return nearest_colour(palette, painted_lab)[0].name


def outcomes(palette: Palette, photos: Iterable[FittingPhoto]) -> list[tuple[float, bool]]:
    """(raw confidence, right) per photo, right meaning the painted colour's nearest name."""
    return [(p.confidence, p.named == truth(palette, p.painted_lab)) for p in photos]


def fit_shipped(palette: Palette, photos: Iterable[FittingPhoto], *, source: str) -> Calibration:
    """Platt scaling of the raw confidence against right/wrong as :func:`outcomes` labels it."""
    rows = outcomes(palette, photos)
    fitted = fit_platt([c for c, _ in rows], [float(ok) for _, ok in rows])
    return msgspec.structs.replace(fitted, source=source)
