"""Strategies and rule helpers shared by the stateful test's rule modules."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import precondition

# None: no fault; (k, mode): after k store requests of the write, crash or let a reader in.
# "@bulk": before the k-th bulk request of the write (k = n % 3: between a claim and the
# rest of its revision, or between the steps of a batch write).
MODES = ("crash", "read", "crash@bulk", "read@bulk")
FAULT = st.one_of(st.none(), st.none(), st.tuples(st.integers(0, 12), st.sampled_from(MODES)))
PICK = st.integers(0, 10_000)
ACTOR = "rita"
CHECKS = (
    "revisions",
    "fold",
    "unchanged",
    "humans",
    "hierarchy",
    "training",
    "undo",
    "preview",
    "split",
    "resend",
)


def on(group: str) -> Any:
    return precondition(lambda self: group in self.groups and bool(self.ids))
