"""A stateful, model-based test of the trail on the real OpenSearch node.

Hypothesis drives the use cases (upload, review single and bulk, further values, undo,
retag, train and promote, taxonomy preview and apply of generated migrations, readers) with
faults between any two store requests of a write and resent requests; ``reference.py`` says
what every human-decided tag must be, and ``checks.py`` holds the invariants checked after
every step.

Profiles: the default one runs in the test command (a few examples, bounded steps,
derandomized); ``TAGTRAIL_STATEFUL_PROFILE=deep`` runs many more, randomly. To narrow a
failure, ``TAGTRAIL_STATEFUL_RULES=decide,reopen,taxonomy`` enables only those rule groups
(upload always runs): upload, decide, bulk, values, reopen, retag, train, taxonomy, read,
faults. ``TAGTRAIL_STATEFUL_SKIP=unchanged,training`` leaves out invariants (to look past a
known break): revisions, fold, unchanged, humans, hierarchy, training, undo, preview, split,
resend. ``TAGTRAIL_STATEFUL_OPS=rename,move`` narrows the generated migrations: rename, move,
merge, split, retire, retire_attribute, palette_rename.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import settings as profile_settings
from hypothesis.stateful import run_state_machine_as_test

from tagtrail.config import Settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.tagging.taxonomy_files import load_taxonomy
from tagtrail.vision.encode import load_encoder
from tests.invariants.machine import TrailMachine
from tests.invariants.strategies import CHECKS
from tests.invariants.taxonomy_edits import OPS

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

GROUPS = (
    "upload",
    "decide",
    "bulk",
    "values",
    "reopen",
    "retag",
    "train",
    "taxonomy",
    "read",
    "faults",
)


def _profile() -> tuple[profile_settings, int]:
    """Hypothesis settings and the number of photos, by TAGTRAIL_STATEFUL_PROFILE."""
    common: dict[str, Any] = {
        "deadline": None,
        "suppress_health_check": list(HealthCheck),
        "report_multiple_bugs": False,
    }
    if os.environ.get("TAGTRAIL_STATEFUL_PROFILE") == "deep":
        if os.environ.get("TAGTRAIL_STATEFUL_SHRINK") == "0":  # first look for any failure
            common["phases"] = [Phase.explicit, Phase.reuse, Phase.generate]
        return profile_settings(max_examples=60, stateful_step_count=60, **common), 8
    # No shrinking here: on the real node it takes minutes; the deep profile shrinks.
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    return profile_settings(
        max_examples=10, stateful_step_count=30, derandomize=True, phases=phases, **common
    ), 4


def _checks() -> frozenset[str]:
    raw = os.environ.get("TAGTRAIL_STATEFUL_SKIP", "")
    skipped = frozenset(c.strip() for c in raw.split(",") if c.strip())
    unknown = skipped - set(CHECKS)
    if unknown:
        raise ValueError(f"TAGTRAIL_STATEFUL_SKIP: unknown checks {sorted(unknown)}")
    return frozenset(CHECKS) - skipped


def _ops() -> frozenset[str]:
    raw = os.environ.get("TAGTRAIL_STATEFUL_OPS", "")
    chosen = frozenset(o.strip() for o in raw.split(",") if o.strip()) or frozenset(OPS)
    unknown = chosen - set(OPS)
    if unknown:
        raise ValueError(f"TAGTRAIL_STATEFUL_OPS: unknown migrations {sorted(unknown)}")
    return chosen


def _groups() -> frozenset[str]:
    raw = os.environ.get("TAGTRAIL_STATEFUL_RULES", "")
    chosen = frozenset(g.strip() for g in raw.split(",") if g.strip()) or frozenset(GROUPS)
    unknown = chosen - set(GROUPS)
    if unknown:
        raise ValueError(f"TAGTRAIL_STATEFUL_RULES: unknown groups {sorted(unknown)}")
    return chosen | {"upload"}


def test_the_trail_keeps_every_decision(
    opensearch_url: str, settings: Settings, tmp_path: Path
) -> None:
    profile, n_photos = _profile()
    base = settings.with_changes(batch_size=4)
    taxonomy = load_taxonomy(Path(base.taxonomy_dir))
    generate_catalogue(n_photos, tmp_path / "photos", palette=taxonomy.palette, seed=11, size=96)
    photos = [p.read_bytes() for p in sorted((tmp_path / "photos").iterdir()) if p.suffix != ".csv"]
    encoder = load_encoder(
        base.model, device=base.model_device, dtype=base.model_dtype, batch_size=base.batch_size
    )
    groups, checked, ops = _groups(), _checks(), _ops()
    run_state_machine_as_test(
        lambda: TrailMachine(base, encoder, photos, tmp_path, groups, checked, ops),
        settings=profile,
    )
