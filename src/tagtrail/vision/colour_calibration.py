"""The colour analyser's shipped calibration: its ΔE-margin confidence → P(colour is right).

The raw confidence (ΔE₂ − ΔE₁)/(ΔE₂ + ΔE₁) ranks colours well but is not a probability: a
clear navy scores 0.7 and is right nearly always. ``colour_calibration.json`` holds Platt
scaling fitted on generated photos with known colours (half exact swatches, half drifted
toward a neighbour), written by ``scripts/fit_colour_calibration.py``. Reviewer decisions
replace it once there are enough (``tagtrail heads calibrate-colour``).
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
