"""The colour analyser's shipped calibration: its ΔE-margin confidence → P(colour is right).

The raw confidence 1 − exp(−(ΔE₂ − ΔE₁)/3) ranks colours well but is not a probability.
``colour_calibration.json`` holds Platt scaling fitted by ``scripts/fit_colour_calibration.py``
on generated photos of palette swatches, of colours drawn uniformly from the gamut and of
colours near palette boundaries, right meaning the palette colour nearest the painted one
(``learning.colour_fit``); ``bench/colour_accuracy.py`` measures it on held-out swatches and,
with ``--uniform``, held-out uniformly drawn colours. Reviewer decisions replace it once there
are enough (``tagtrail heads calibrate-colour``).
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from tagtrail.domain.calibration import Calibration

DEFAULT_FILE = Path(__file__).with_name("colour_calibration.json")


def load_colour_calibration(path: Path = DEFAULT_FILE) -> Calibration:
    """The calibration in ``path`` (the shipped default unless told otherwise)."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=Calibration)
    except (OSError, msgspec.DecodeError) as exc:
        raise RuntimeError(f"colour calibration {path} cannot be read: {exc}") from exc
