"""Colour accuracy of the pixel analyser on a synthetic catalogue with ground truth.

    python bench/colour_accuracy.py [--n 400] [--seed 0] [--drift 0] [--keep DIR] [--verbose]
        [--smoke] [--figures F]

Generates a catalogue (JPEG/PNG/WebP with noise, lighting and patterns), decodes every image
the way ingest does (``decode_image``: the reduced RGB working copy), and scores the top
finding (largest coverage) against the true colour and family. Tiers: the shipped colour
calibration turns the confidence into a probability and the default taxonomy's colour
governance picks the tier, as the tagger does; the auto tier's share and precision are
reported (targets: ≥ 80 % auto, precision ≥ 0.98). ``--drift`` moves each colour up to that
fraction toward a palette neighbour (a harder catalogue; its targets are not the gate).
The seeds differ from the calibration's (1000, 1001). Timing covers the analyser only, not
decoding. Exit status 1 on FAIL.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from figures import Figures, add_common_arguments

from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.domain.governance import decide_tier
from tagtrail.tagging.taxonomy_files import load_palette, load_taxonomy
from tagtrail.vision.colour import ColourAnalyser
from tagtrail.vision.colour_calibration import load_colour_calibration
from tagtrail.vision.decode import decode_image

TARGET_EXACT = 0.95
TARGET_FAMILY = 0.99
TARGET_AUTO_SHARE = 0.80
TARGET_AUTO_PRECISION = 0.98
TAXONOMY = Path(__file__).resolve().parents[1] / "taxonomy" / "default"
PALETTE = TAXONOMY / "colours.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--palette", type=Path, default=PALETTE)
    parser.add_argument("--keep", type=Path, help="write the catalogue here instead of a temp dir")
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    parser.add_argument("--max-side", type=int, default=None, help="analyser working size")
    parser.add_argument("--drift", type=float, default=0.0, help="colour drift (harder set)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.n = 12

    palette = load_palette(args.palette)
    governance = load_taxonomy(TAXONOMY).attribute("colour").governance
    calibration = load_colour_calibration()
    tiers: Counter[str] = Counter()
    auto_right = 0
    analyser = ColourAnalyser(palette, **({"max_side": args.max_side} if args.max_side else {}))
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        t0 = time.perf_counter()
        items = generate_catalogue(
            args.n, out, palette=palette, seed=args.seed, colour_drift=args.drift
        )
        gen_s = time.perf_counter() - t0
        exact = family = 0
        spent = cpu = 0.0
        confidence: dict[bool, list[float]] = {True: [], False: []}
        misses: Counter[str] = Counter()
        for item in items:
            # Decoded exactly as ingest decodes (limits, orientation, the reduced working copy).
            image = decode_image((out / item.filename).read_bytes(), name=item.filename).image
            t, c = time.perf_counter(), time.process_time()
            analysis = analyser.analyse(image)
            spent += time.perf_counter() - t
            cpu += time.process_time() - c
            top = analysis.findings[0]
            confidence[top.name == item.colour].append(top.confidence)
            exact += top.name == item.colour
            tier = decide_tier(calibration.apply_one(top.confidence), governance).tier
            tiers[tier] += 1
            auto_right += tier == "auto_applied" and top.name == item.colour
            family += top.family == item.colour_family
            if top.name != item.colour:
                misses[f"{item.colour}->{top.name}"] += 1
                if args.verbose:
                    print(
                        f"  miss {item.filename}: {item.colour} -> {top.name} "
                        f"(measured {top.measured_hex}, ΔE {top.delta_e}, cov {top.coverage}, "
                        f"{item.category}/{item.pattern}/{item.shot_type}/{item.background})"
                    )
    n = max(len(items), 1)
    exact_rate, family_rate, ms = exact / n, family / n, 1000 * spent / n
    print(f"images           {len(items)} (generated in {gen_s:.1f} s)")
    print(f"exact colour     {exact_rate:.1%}  (target ≥ {TARGET_EXACT:.0%})")
    print(f"colour family    {family_rate:.1%}  (target ≥ {TARGET_FAMILY:.0%})")
    print(f"analyser         {ms:.1f} ms/image wall, {1000 * cpu / n:.1f} ms/image CPU")
    for hit, label in ((True, "hits"), (False, "misses")):
        if confidence[hit]:
            values = sorted(confidence[hit])
            print(
                f"confidence       {label}: median {values[len(values) // 2]:.2f}, "
                f"min {values[0]:.2f} (n={len(values)})"
            )
    if misses:
        print("misses           " + ", ".join(f"{k}×{v}" for k, v in misses.most_common(10)))
    auto = tiers["auto_applied"]
    share, precision = auto / n, auto_right / max(auto, 1)
    print(f"tiers            {dict(sorted(tiers.items()))} ({calibration.version})")
    print(
        f"auto tier        {share:.1%} of colour tags (target ≥ {TARGET_AUTO_SHARE:.0%}), "
        f"precision {precision:.3f} (target ≥ {TARGET_AUTO_PRECISION})"
    )
    ok = exact_rate >= TARGET_EXACT and family_rate >= TARGET_FAMILY
    ok = ok and share >= TARGET_AUTO_SHARE and precision >= TARGET_AUTO_PRECISION
    print("PASS" if ok else "FAIL")
    figures = Figures("colour_accuracy")
    figures.add("exact colour", exact_rate, "", better="higher", ratio=True, target=TARGET_EXACT)
    figures.add("colour family", family_rate, "", better="higher", ratio=True, target=TARGET_FAMILY)
    figures.add("auto tier share", share, "", better="higher", ratio=True, target=TARGET_AUTO_SHARE)
    figures.add(
        "auto tier precision",
        precision,
        "",
        better="higher",
        ratio=True,
        target=TARGET_AUTO_PRECISION,
    )
    figures.add("analyser wall", ms, "ms/image", better="lower")
    figures.write(args.figures)
    return 0 if ok or args.smoke else 1  # a tiny smoke input proves it runs, not its targets


if __name__ == "__main__":
    sys.exit(main())
