"""What a benchmark reports, in a form ``bench/run.py`` can gather: named figures.

Every script in ``bench/`` takes ``--smoke`` (a tiny input: the test suite runs it end to end
so an API change that breaks a benchmark fails the tests) and ``--figures PATH`` (write its
figures there as JSON). A figure is a number with its unit and which way is better; a
*ratio* is a figure the benchmark exists for (measured in one run, so it travels between
machines better than an absolute time). Printing stays each script's own business.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Literal

Better = Literal["higher", "lower"]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smoke", action="store_true", help="a tiny input, seconds (the test suite runs this)"
    )
    parser.add_argument("--figures", type=Path, help="write the figures here (JSON)")


class Figures:
    """The figures of one run of one benchmark."""

    def __init__(self, bench: str) -> None:
        self.bench = bench
        self.items: dict[str, dict[str, object]] = {}

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        better: Better,
        ratio: bool = False,
        target: float | None = None,
    ) -> float:
        if not math.isfinite(value):
            raise ValueError(f"{self.bench}: figure {name!r} is not a finite number: {value}")
        self.items[name] = {
            "value": float(value),
            "unit": unit,
            "better": better,
            "ratio": ratio,
            "target": target,
        }
        return value

    def write(self, path: Path | None) -> None:
        if path is None:
            return
        if not self.items:
            raise SystemExit(f"{self.bench}: no figure was measured")
        path.write_text(json.dumps({"bench": self.bench, "figures": self.items}, indent=1))
