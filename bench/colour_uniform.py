"""Colour on garment colours drawn uniformly from the gamut, as a benchmark of its own.

    python bench/colour_uniform.py [colour_accuracy.py's options] [--figures F]

``colour_accuracy.py --uniform`` (seed 500: a distribution the shipped calibration is not
fitted to), so ``bench/run.py`` repeats it with its defaults beside the swatch set: the auto
tier's share and precision (targets ≥ 80 %, ≥ 0.98), the misses by ΔE margin, and what the
calibration learned from 100 reviewer decisions does, out of fold and on the other photos.
"""

from __future__ import annotations

import sys

from colour_accuracy import main

if __name__ == "__main__":
    sys.exit(main(["--uniform", *sys.argv[1:]], bench="colour_uniform"))
