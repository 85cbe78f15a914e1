#!/usr/bin/env python3
"""Fit the colour analyser's shipped calibration on generated photos with known colours.

    python scripts/fit_colour_calibration.py [--n 600] [--drift 0.6] [--seed 1000] [--out FILE]

Two catalogues of ``n`` photos are generated: exact palette swatches (seed) and swatches
drifted up to ``drift`` of the way toward a neighbour (seed + 1), each decoded the way
ingest decodes and measured by the analyser. Platt scaling is fitted on the top colour's
confidence against right/wrong and written to ``src/tagtrail/vision/colour_calibration.json``.
The held-out check (other seeds) is ``bench/colour_accuracy.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tagtrail.demo.catalogue import generate_catalogue  # noqa: E402
from tagtrail.learning.calibrate import fit_platt  # noqa: E402
from tagtrail.tagging.taxonomy_files import load_palette  # noqa: E402
from tagtrail.vision.colour import ColourAnalyser  # noqa: E402
from tagtrail.vision.colour_calibration import DEFAULT_FILE  # noqa: E402
from tagtrail.vision.decode import decode_image  # noqa: E402


def measure(n: int, seed: int, drift: float, analyser: ColourAnalyser) -> list[tuple[float, bool]]:
    palette_file = ROOT / "taxonomy" / "default" / "colours.yaml"
    out: list[tuple[float, bool]] = []
    with tempfile.TemporaryDirectory() as tmp:
        items = generate_catalogue(
            n, Path(tmp), palette=load_palette(palette_file), seed=seed, colour_drift=drift
        )
        for item in items:
            image = decode_image((Path(tmp) / item.filename).read_bytes(), name=item.filename)
            top = analyser.analyse(image.image).findings[0]
            out.append((top.confidence, top.name == item.colour))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=600, help="photos per catalogue")
    p.add_argument("--drift", type=float, default=0.6)
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--out", type=Path, default=DEFAULT_FILE)
    args = p.parse_args()
    analyser = ColourAnalyser(load_palette(ROOT / "taxonomy" / "default" / "colours.yaml"))
    rows = measure(args.n, args.seed, 0.0, analyser)
    rows += measure(args.n, args.seed + 1, args.drift, analyser)
    fitted = fit_platt([c for c, _ in rows], [float(ok) for _, ok in rows])
    fitted = msgspec.structs.replace(
        fitted,
        source=(
            f"shipped default: {len(rows)} generated photos (seeds {args.seed}, {args.seed + 1}; "
            f"half drifted up to {args.drift})"
        ),
    )
    args.out.write_bytes(msgspec.json.format(msgspec.json.encode(fitted)) + b"\n")
    right = sum(ok for _, ok in rows)
    print(f"{len(rows)} photos, {right} right; a={fitted.a:.3f} b={fitted.b:.3f}; "
          f"ECE {fitted.ece_before:.3f} -> {fitted.ece_after:.3f}; wrote {args.out}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
