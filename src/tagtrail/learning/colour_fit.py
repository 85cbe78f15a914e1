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

from collections.abc import Iterable, Mapping, Sequence

import msgspec

from tagtrail.domain.calibration import Calibration
from tagtrail.domain.palette import Palette, nearest_colour
from tagtrail.learning.calibrate import fit_platt
from tagtrail.learning.stats import wilson_interval


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


class ThresholdRow(msgspec.Struct, kw_only=True, frozen=True):
    """What one ``high`` threshold does on one fitting set: auto share and precision."""

    high: float
    auto: int
    auto_right: int
    n: int

    @property
    def share(self) -> float:
        return self.auto / self.n if self.n else 0.0

    @property
    def precision(self) -> float:
        return self.auto_right / self.auto if self.auto else 1.0

    @property
    def precision_low(self) -> float:
        """Wilson 95 % lower bound of the precision."""
        return wilson_interval(self.auto_right, self.auto)[0] if self.auto else 1.0


def threshold_rows(
    calibration: Calibration, rows: Sequence[tuple[float, bool]], highs: Iterable[float]
) -> list[ThresholdRow]:
    """Auto share and precision of each ``high`` on (raw confidence, right) rows."""
    calibrated = [(calibration.apply_one(c), ok) for c, ok in rows]
    out = []
    for high in highs:
        auto = [ok for p, ok in calibrated if p >= high]
        out.append(ThresholdRow(high=high, auto=len(auto), auto_right=sum(auto), n=len(rows)))
    return out


def lowest_high(
    by_set: Mapping[str, list[ThresholdRow]], *, target: float, judged: Sequence[str]
) -> float:
    """The lowest ``high`` (of the rows, all sets sharing the same highs) at which every
    ``judged`` set's auto tier keeps a Wilson lower bound of at least ``target``, and every
    higher threshold does too: the threshold a tier's precision target allows."""
    highs = sorted({r.high for rows in by_set.values() for r in rows}, reverse=True)
    chosen = highs[0]
    for high in highs:
        rows = [next(r for r in by_set[name] if r.high == high) for name in judged]
        if any(r.precision_low < target for r in rows):
            break
        chosen = high
    return chosen
