"""Failures the stateful test's deep profile found, replayed step by step as plain tests.

Each drives ``TrailMachine`` (the same rules and invariant checks as the stateful test)
through the shrunk sequence Hypothesis printed, on the real node with the random-init tiny
CLIP; its docstring says what broke.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tagtrail.config import Settings
from tagtrail.demo.catalogue import generate_catalogue
from tagtrail.tagging.taxonomy_files import load_taxonomy
from tagtrail.vision.encode import load_encoder
from tests.invariants.machine import CHECKS, TrailMachine

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

GROUPS = frozenset(
    {"upload", "decide", "bulk", "values", "reopen", "retag", "train", "taxonomy", "read", "faults"}
)


@pytest.fixture
def machine(opensearch_url: str, settings: Settings, tmp_path: Path) -> Iterator[TrailMachine]:
    """The deep profile's machine: eight photos, every rule group and every check."""
    base = settings.with_changes(batch_size=4)
    taxonomy = load_taxonomy(Path(base.taxonomy_dir))
    generate_catalogue(8, tmp_path / "photos", palette=taxonomy.palette, seed=11, size=96)
    photos = [p.read_bytes() for p in sorted((tmp_path / "photos").iterdir()) if p.suffix != ".csv"]
    encoder = load_encoder(
        base.model, device=base.model_device, dtype=base.model_dtype, batch_size=base.batch_size
    )
    state = TrailMachine(base, encoder, photos, tmp_path, GROUPS, frozenset(CHECKS))
    try:
        yield state
    finally:
        state.teardown()


def test_a_crashed_merge_resumed_writes_one_revision_each(machine: TrailMachine) -> None:
    """Deep profile, first failure: a merge apply that crashed at its 7th store request and
    was run again left two assets two revisions on instead of one."""
    state = machine
    state.first_uploads()
    state.trail_holds()
    state.read()
    state.trail_holds()
    state.review_many(kind="confirmed", n=4, pick=807)
    state.trail_holds()
    state.read()
    state.trail_holds()
    state.change_taxonomy(fault=None, op="move", pick=4161)
    state.trail_holds()
    state.train_and_promote()
    state.trail_holds()
    state.review_many(kind="rejected", n=2, pick=1442)
    state.trail_holds()
    state.change_taxonomy(fault=None, op="merge", pick=1)
    state.trail_holds()
    state.review_many(kind="rejected", n=3, pick=2330)
    state.trail_holds()
    for _ in range(4):
        state.read()
        state.trail_holds()
    state.train_and_promote()
    state.trail_holds()
    state.change_taxonomy(fault=None, op="retire_attribute", pick=1091)
    state.trail_holds()
    state.review_many(kind="confirmed", n=2, pick=1196)
    state.trail_holds()
    state.review_many(kind="confirmed", n=3, pick=395)
    state.trail_holds()
    state.change_taxonomy(fault=(7, "crash"), op="merge", pick=4096)
    state.trail_holds()


def test_a_finished_apply_resent_changes_nothing(machine: TrailMachine) -> None:
    """Deep profile, second failure: an attribute's retirement crashed at its 11th store
    request, after the apply had finished; the resent apply (the version now in force)
    refused: "'sleeve_length' is not an attribute of the current taxonomy"."""
    state = machine
    state.first_uploads()
    state.trail_holds()
    state.retag(fault=(0, "crash"))
    state.trail_holds()
    state.review(fault=None, kind="rejected", pick=86, value=5041)
    state.trail_holds()
    state.change_taxonomy(fault=(10, "crash"), op="retire_attribute", pick=2239)
    state.trail_holds()


def test_a_rename_cut_off_mid_write_is_finished_by_one_rerun(machine: TrailMachine) -> None:
    """Deep profile, third failure: a rename apply that crashed at its 12th store request and
    was run again stayed unfinished, so the next change was refused ("the apply of taxonomy
    ... is unfinished")."""
    state = machine
    state.first_uploads()
    state.trail_holds()
    state.change_taxonomy(fault=None, op="merge", pick=4564)
    state.trail_holds()
    state.review(fault=(1, "crash"), kind="rejected", pick=33, value=5324)
    state.trail_holds()
    state.review(fault=(0, "read"), kind="corrected", pick=1366, value=748)
    state.trail_holds()
    state.change_taxonomy(fault=(11, "crash"), op="rename", pick=1682)
    state.trail_holds()
    state.change_taxonomy(fault=None, op="merge", pick=9975)
    state.trail_holds()


def test_an_undo_through_a_split_returns_a_confirmation_to_review(machine: TrailMachine) -> None:
    """Deep profile, on this stop's merge (unshrunk, 58 steps): an asset's category was
    confirmed, then rejected; a split carried the rejection to its first target; undoing the
    rejection restored the confirmation as *confirmed* of a value the split had chosen, and
    training learnt it as a positive. It now comes back to review (flagged), as a split does
    to a confirmation in force; ``tests/domain/test_split_fold.py`` has the plain case."""
    state = machine
    state.first_uploads()
    state.trail_holds()
    state.upload(fault=None, photo=2062)
    state.trail_holds()
    state.change_taxonomy(fault=None, op="split", pick=10)
    state.trail_holds()
    state.train_and_promote()
    state.trail_holds()
    state.review_category(fault=None, kind="confirmed", pick=3, value=1)
    state.trail_holds()
    state.read()
    state.trail_holds()
    state.read()
    state.trail_holds()
    state.read()
    state.trail_holds()
    state.retag(fault=(4, "read@bulk"))
    state.trail_holds()
    state.further_value(add=True, fault=None, pick=1801, value=504)
    state.trail_holds()
    state.review_many(kind="confirmed", n=2, pick=2392)
    state.trail_holds()
    state.retag(fault=None)
    state.trail_holds()
    state.change_taxonomy(fault=(10, "crash@bulk"), op="retire_attribute", pick=195)
    state.trail_holds()
    state.train_and_promote()
    state.trail_holds()
    state.read()
    state.trail_holds()
    state.review(fault=None, kind="rejected", pick=936, value=6787)
    state.trail_holds()
    state.review_category(fault=None, kind="confirmed", pick=125, value=5508)
    state.trail_holds()
    state.further_value(add=False, fault=None, pick=625, value=333)
    state.trail_holds()
    state.review_many(kind="rejected", n=4, pick=2529)
    state.trail_holds()
    state.upload(fault=None, photo=82)
    state.trail_holds()
    state.train_and_promote()
    state.trail_holds()
    state.read()
    state.trail_holds()
    state.change_taxonomy(fault=None, op="rename", pick=6633)
    state.trail_holds()
    state.retag(fault=(8, "crash@bulk"))
    state.trail_holds()
    state.review(fault=None, kind="corrected", pick=1009, value=1)
    state.trail_holds()
    state.change_taxonomy(fault=None, op="split", pick=2207)
    state.trail_holds()
    state.change_taxonomy(fault=(4, "read@bulk"), op="rename", pick=2897)
    state.trail_holds()
    state.retag(fault=None)
    state.trail_holds()
    state.upload(fault=None, photo=61)
    state.trail_holds()
    state.review(fault=None, kind="corrected", pick=142, value=5410)
    state.trail_holds()
    state.retag(fault=(0, "crash@bulk"))
    state.trail_holds()
    state.further_value(add=True, fault=None, pick=1967, value=512)
    state.trail_holds()
    state.retag(fault=None)
    state.trail_holds()
    state.retag(fault=(9, "read@bulk"))
    state.trail_holds()
    state.change_taxonomy(fault=None, op="split", pick=4563)
    state.trail_holds()
    state.review_category(fault=None, kind="rejected", pick=9246, value=150)
    state.trail_holds()
    state.review_category(fault=None, kind="rejected", pick=492, value=471)
    state.trail_holds()
    state.read()
    state.trail_holds()
    state.review_category(fault=(2, "read"), kind="corrected", pick=531, value=118)
    state.trail_holds()
    state.change_taxonomy(fault=None, op="move", pick=7813)
    state.trail_holds()
    state.reopen(fault=None, pick=748)
    state.trail_holds()
    state.review_category(fault=(4, "read@bulk"), kind="rejected", pick=281, value=10000)
    state.trail_holds()
    state.reopen(fault=None, pick=785)
    state.trail_holds()
    state.change_taxonomy(fault=None, op="retire_attribute", pick=3049)
    state.trail_holds()
    state.read()
    state.trail_holds()
    state.review(fault=(12, "read"), kind="confirmed", pick=503, value=1326)
    state.trail_holds()
    state.reopen(fault=None, pick=4051)
    state.trail_holds()
    state.upload(fault=(11, "read@bulk"), photo=42)
    state.trail_holds()
    state.review_many(kind="rejected", n=3, pick=10000)
    state.trail_holds()
    state.review_many(kind="rejected", n=2, pick=1941)
    state.trail_holds()
    state.upload(fault=None, photo=2190)
    state.trail_holds()
    state.reopen(fault=None, pick=5914)
    state.trail_holds()
    state.upload(fault=(5, "crash@bulk"), photo=4116)
    state.trail_holds()
    state.reopen(fault=(9, "crash"), pick=416)
    state.trail_holds()
    state.review_many(kind="confirmed", n=4, pick=1218)
    state.trail_holds()
    state.upload(fault=None, photo=141)
    state.trail_holds()
    state.upload(fault=None, photo=1151)
    state.trail_holds()
    state.reopen(fault=(2, "read"), pick=459)
    state.trail_holds()
